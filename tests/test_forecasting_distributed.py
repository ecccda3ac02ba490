"""The per-series statsforecast fits on a real Dask cluster (COOPCAST_DASK_SCHEDULER) give the
single-process forecasts and backtests, and the network forecast built on them is the same.

A `distributed.LocalCluster` of two worker processes with one thread each stands in for the
cluster; the series are synthetic (fixed seeds) and cover every demand class, a history too
short for conformal intervals over 90 days, and one too short to backtest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from models.forecasting.backtest import backtest_forecasts
from models.forecasting.candidates import forecast_candidates
from models.forecasting.demand_classes import ERRATIC, INTERMITTENT, LUMPY, SMOOTH, classify_demand
from models.forecasting.distributed import SCHEDULER_SETTING, scheduler_address
from models.forecasting.pipeline import IN_PROCESS, forecast_network
from models.forecasting.series import daily_demand_series

AS_OF = {1: date(2026, 10, 31), 2: date(2026, 9, 30)}
HISTORY_DAYS = 220
WEEKLY_PROFILE = np.array([2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 8.0])
# Float tolerance only: the cluster runs the same fits on the same numbers.
RELATIVE_TOLERANCE = 1e-9
T = TypeVar("T")


def sales_rows(merchant_id: int, sku_code: str, quantities: np.ndarray) -> pd.DataFrame:
    """fct_daily_sales-like rows (days with sales only) of a history that ends at the merchant's as_of."""
    days = [AS_OF[merchant_id] - timedelta(days=offset) for offset in range(len(quantities) - 1, -1, -1)]
    frame = pd.DataFrame({"merchant_id": merchant_id, "sku_code": sku_code, "sales_date": days, "quantity": quantities})
    return frame[frame["quantity"] > 0].astype({"quantity": "int64"})


def smooth(seed: int, days: int = HISTORY_DAYS) -> np.ndarray:
    random = np.random.RandomState(seed)
    level = np.tile(WEEKLY_PROFILE, days // 7 + 1)[:days] * 3
    return np.maximum(1, np.round(level + random.normal(0.0, 1.5, days)))


def erratic(seed: int) -> np.ndarray:
    random = np.random.RandomState(seed)
    return np.maximum(1, np.round(random.lognormal(1.5, 1.0, HISTORY_DAYS)))


def intermittent(seed: int) -> np.ndarray:
    """Sold on about a third of the days, two or three at a time."""
    random = np.random.RandomState(seed)
    return (random.rand(HISTORY_DAYS) < 0.3) * random.randint(2, 4, HISTORY_DAYS)


def lumpy(seed: int) -> np.ndarray:
    """Sold on about a fifth of the days, in sizes from one to dozens."""
    random = np.random.RandomState(seed)
    return (random.rand(HISTORY_DAYS) < 0.2) * np.maximum(1, np.round(random.lognormal(1.0, 1.2, HISTORY_DAYS)))


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return pd.concat(
        [
            sales_rows(1, "SMOOTH", smooth(1)),
            sales_rows(1, "ERRATIC", erratic(2)),
            sales_rows(1, "INTERMITTENT", intermittent(3)),
            sales_rows(1, "LUMPY", lumpy(4)),
            # Too short for conformal intervals over 90 days, long enough to backtest.
            sales_rows(2, "YOUNG", smooth(5, days=150)),
            # Too short to backtest: forecast by the fallback.
            sales_rows(2, "NEW", smooth(6, days=60)),
            sales_rows(2, "SMOOTH", smooth(7)),
            sales_rows(2, "LUMPY", lumpy(8)),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def series(sales: pd.DataFrame) -> pd.DataFrame:
    return daily_demand_series(sales, AS_OF)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


@pytest.fixture(autouse=True)
def single_process_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The single-process side is single-process even where the environment names a scheduler."""
    monkeypatch.delenv(SCHEDULER_SETTING, raising=False)


def executed_tasks(cluster: LocalCluster) -> dict[str, int]:
    """How many tasks each worker of the cluster has run so far."""
    with Client(cluster.scheduler_address, set_as_default=False) as observer:
        return observer.run(lambda dask_worker: dask_worker.state.executed_count)


def on_the_cluster(cluster: LocalCluster, run: Callable[[], T]) -> tuple[T, int]:
    """`run()` with COOPCAST_DASK_SCHEDULER pointed at the cluster, and how many tasks its workers ran meanwhile."""
    before = executed_tasks(cluster)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SCHEDULER_SETTING, cluster.scheduler_address)
        result = run()
    after = executed_tasks(cluster)
    return result, sum(after.values()) - sum(before.values())


def assert_same_rows(in_process: pd.DataFrame, distributed: pd.DataFrame) -> None:
    assert len(in_process) > 0
    pd.testing.assert_frame_equal(distributed, in_process, check_exact=False, rtol=RELATIVE_TOLERANCE)


def test_the_series_cover_every_demand_class(series: pd.DataFrame) -> None:
    assert {SMOOTH, ERRATIC, INTERMITTENT, LUMPY} <= set(classify_demand(series)["demand_class"])


def test_the_setting_is_off_unless_it_names_a_scheduler() -> None:
    assert scheduler_address({}) is None
    assert scheduler_address({SCHEDULER_SETTING: "  "}) is None
    assert scheduler_address({SCHEDULER_SETTING: "tcp://10.0.0.5:8786"}) == "tcp://10.0.0.5:8786"


def test_candidate_forecasts_on_the_cluster_equal_the_single_process_ones(
    series: pd.DataFrame, cluster: LocalCluster
) -> None:
    distributed, tasks = on_the_cluster(cluster, lambda: forecast_candidates(series))
    assert tasks > 0, "no task ran on the cluster: the setting was not followed"
    in_process = forecast_candidates(series)
    assert_same_rows(in_process, distributed)
    assert set(in_process["model"]) >= {"auto_ets", "auto_theta", "tsb", "croston_optimized", "moving_average"}


def test_backtests_on_the_cluster_equal_the_single_process_ones(series: pd.DataFrame, cluster: LocalCluster) -> None:
    distributed, tasks = on_the_cluster(cluster, lambda: backtest_forecasts(series))
    assert tasks > 0, "no task ran on the cluster: the setting was not followed"
    in_process = backtest_forecasts(series)
    assert_same_rows(in_process, distributed)
    assert in_process["cutoff"].nunique() >= 3


def test_the_network_forecast_on_the_cluster_equals_the_single_process_one(
    sales: pd.DataFrame, cluster: LocalCluster
) -> None:
    distributed, tasks = on_the_cluster(cluster, lambda: forecast_network(sales, AS_OF))
    assert tasks > 0, "no task ran on the cluster: the setting was not followed"
    in_process = forecast_network(sales, AS_OF)
    assert_same_rows(in_process.forecasts, distributed.forecasts)
    assert_same_rows(in_process.backtests, distributed.backtests)
    assert distributed.timings["backtested_series"] == in_process.timings["backtested_series"]
    assert distributed.timings["per_series_fits_on"] == cluster.scheduler_address
    assert in_process.timings["per_series_fits_on"] == IN_PROCESS
