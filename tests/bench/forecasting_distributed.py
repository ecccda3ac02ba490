"""Series per second of the per-series statsforecast models (baselines, intermittent, AutoETS and
AutoTheta; backtest and 90-day forecast) in this process and on a Dask cluster, on one fixed sample.

    python -m tests.bench.forecasting_distributed [--scheduler tcp://host:8786] [--repeats 2]
        [--output bench/forecasting_distributed.json]

Without `--scheduler` the cluster is a `distributed.LocalCluster` of two worker processes with
one thread each, started here, so on a 2-core machine it shows what the second core buys against
what shipping the series to the workers costs. The sample is synthetic (numpy, SAMPLE_SEED): a
year of daily demand for SAMPLE_SERIES series, a quarter of each demand class, so every
per-series model family fits. The first call on each side is a warm-up (the workers import
statsforecast and compile its models) and is reported apart, not timed with the rest. The
forecasts on both sides are compared; the figures are only written if they are the same.

The global LightGBM model stays in one process; `global_model_on_dask` records why: mlforecast's
`DistributedMLForecast` with `DaskLGBMForecast`, same features and settings, fitted on the same
series split into one partition and into one per worker, against the single-process fit's
28-day forecast (total absolute difference over total forecast, and the largest difference).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster
from mlforecast.distributed import DistributedMLForecast
from mlforecast.distributed.models.dask.lgb import DaskLGBMForecast

from models.forecasting.backtest import BACKTEST_HORIZON_DAYS, backtest_forecasts
from models.forecasting.candidates import forecast_candidates
from models.forecasting.demand_classes import classify_demand
from models.forecasting.distributed import SCHEDULER_SETTING
from models.forecasting.global_model import GLOBAL_MODEL, LIGHTGBM_PARAMETERS, engine, feature_settings, threads
from models.forecasting.pipeline import PER_SERIES_FAMILIES
from models.forecasting.series import HISTORY_DAYS, HORIZON_DAYS
from tests.bench.figures import rates, spread, write_result

SAMPLE_SERIES = 120
SAMPLE_SEED = 0
REPEATS = 2
WORKERS = 2
WEEKLY_PROFILE = np.array([2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 8.0])


def sample_series(size: int = SAMPLE_SERIES, seed: int = SAMPLE_SEED, days: int = HISTORY_DAYS) -> pd.DataFrame:
    """`size` daily series of `days`, cycling through smooth, erratic, intermittent and lumpy demand."""
    random = np.random.default_rng(seed)
    weekly = np.tile(WEEKLY_PROFILE, days // 7 + 1)[:days]
    makers: list[Callable[[], np.ndarray]] = [
        lambda: np.maximum(1, np.round(weekly * random.uniform(1, 4) + random.normal(0, 1.5, days))),
        lambda: np.maximum(1, np.round(random.lognormal(1.5, 1.0, days))),
        lambda: (random.random(days) < 0.3) * random.integers(2, 4, days),
        lambda: (random.random(days) < 0.2) * np.maximum(1, np.round(random.lognormal(1.0, 1.2, days))),
    ]
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    frames = [
        pd.DataFrame({"unique_id": f"{index:04d}", "ds": dates, "y": makers[index % len(makers)]().astype(float)})
        for index in range(size)
    ]
    return pd.concat(frames, ignore_index=True)


def per_series_models(
    series: pd.DataFrame, classes: pd.DataFrame, names: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a per-series family does in a run: the rolling-origin backtest, then the 90-day forecast."""
    return backtest_forecasts(series, classes, only=names), forecast_candidates(series, HORIZON_DAYS, classes, names)


def every_family(series: pd.DataFrame, classes: pd.DataFrame) -> dict[str, tuple[float, object]]:
    """Each per-series family's seconds and result, one family after the other as a run fits them."""
    done = {}
    for family, names in PER_SERIES_FAMILIES.items():
        started = time.perf_counter()
        result = per_series_models(series, classes, names)
        done[family] = (time.perf_counter() - started, result)
    return done


def with_scheduler(address: str | None, action: Callable[[], object]) -> object:
    """`action()` with COOPCAST_DASK_SCHEDULER set to `address` (unset for None), restored after."""
    previous = os.environ.pop(SCHEDULER_SETTING, None)
    if address is not None:
        os.environ[SCHEDULER_SETTING] = address
    try:
        return action()
    finally:
        os.environ.pop(SCHEDULER_SETTING, None)
        if previous is not None:
            os.environ[SCHEDULER_SETTING] = previous


def side(address: str | None, series: pd.DataFrame, classes: pd.DataFrame, repeats: int) -> dict:
    """One side's warm-up seconds, the seconds of the same small call once warm (what going there
    costs beside the series), each repeat's seconds per family, and the last repeat's results."""
    started = time.perf_counter()
    with_scheduler(address, lambda: every_family(first_series(series), classes))
    warm_up = time.perf_counter() - started
    started = time.perf_counter()
    with_scheduler(address, lambda: every_family(first_series(series), classes))
    small_call = time.perf_counter() - started
    repeated = [with_scheduler(address, lambda: every_family(series, classes)) for _ in range(repeats)]
    return {
        "warm_up_seconds": round(warm_up, 2),
        "small_call_seconds": round(small_call, 2),
        "family_seconds": {family: [done[family][0] for done in repeated] for family in PER_SERIES_FAMILIES},
        "seconds": [sum(seconds for seconds, _ in done.values()) for done in repeated],
        "results": [result for _, result in repeated[-1].values()],
    }


def first_series(series: pd.DataFrame, count: int = 4) -> pd.DataFrame:
    """The first `count` series: enough to make every family's first fit, little else."""
    return series[series["unique_id"].isin(series["unique_id"].drop_duplicates().head(count))]


@contextmanager
def cluster_at(scheduler: str | None) -> Iterator[str]:
    """The given scheduler's address, or a LocalCluster's started for the measurement."""
    if scheduler is not None:
        yield scheduler
        return
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def global_model_on_dask(address: str, series: pd.DataFrame) -> dict[str, dict[str, float]]:
    """How far the global model's forecast on Dask is from the single-process one, per partition count."""
    single = engine().fit(series, dropna=False).predict(BACKTEST_HORIZON_DAYS)
    total = float(single[GLOBAL_MODEL].abs().sum())
    differences = {}
    with Client(address) as client:
        for partitions in sorted({1, WORKERS}):
            model = DaskLGBMForecast(**LIGHTGBM_PARAMETERS, n_jobs=threads(), random_state=0)
            distributed = DistributedMLForecast(
                models={GLOBAL_MODEL: model}, engine=client, num_partitions=partitions, **feature_settings()
            )
            distributed.fit(dd.from_pandas(series, npartitions=partitions), dropna=False)
            forecast = distributed.predict(BACKTEST_HORIZON_DAYS).compute()
            forecast = forecast.astype({"unique_id": series["unique_id"].dtype, "ds": single["ds"].dtype})
            paired = single.merge(forecast, on=["unique_id", "ds"], suffixes=("", "_dask"), validate="one_to_one")
            if len(paired) != len(single):
                raise AssertionError("the distributed global model forecast other series or days")
            difference = np.abs(paired[f"{GLOBAL_MODEL}_dask"] - paired[GLOBAL_MODEL]).to_numpy()
            differences[f"{partitions}_partitions"] = {
                "relative_difference": round(float(difference.sum()) / total, 4),
                "max_abs_difference": round(float(difference.max()), 3),
                "mean_forecast": round(float(single[GLOBAL_MODEL].mean()), 3),
            }
    return differences


def measure(scheduler: str | None, repeats: int = REPEATS) -> dict:
    series = sample_series()
    classes = classify_demand(series)
    count = int(series["unique_id"].nunique())
    with cluster_at(scheduler) as address:
        in_process = side(None, series, classes, repeats)
        on_cluster = side(address, series, classes, repeats)
        global_model = global_model_on_dask(address, series)
    for single, distributed in zip(in_process["results"], on_cluster["results"], strict=True):
        for single_frame, distributed_frame in zip(single, distributed, strict=True):
            pd.testing.assert_frame_equal(distributed_frame, single_frame, check_exact=False, rtol=1e-9)
    single_rates = rates(count, in_process["seconds"])
    cluster_rates = rates(count, on_cluster["seconds"])
    return {
        "series": count,
        "sample": f"{SAMPLE_SERIES} synthetic series of {HISTORY_DAYS} days, seed {SAMPLE_SEED}",
        "classes": classes["demand_class"].value_counts().sort_index().to_dict(),
        "cluster": f"LocalCluster, {WORKERS} worker processes × 1 thread" if scheduler is None else scheduler,
        "single_process_series_per_s": spread(single_rates, 2),
        "cluster_series_per_s": spread(cluster_rates, 2),
        "cluster_over_single_process": round(statistics.median(cluster_rates) / statistics.median(single_rates), 3),
        "family_seconds": {
            family: {
                "single_process": spread(in_process["family_seconds"][family], 2),
                "cluster": spread(on_cluster["family_seconds"][family], 2),
            }
            for family in PER_SERIES_FAMILIES
        },
        "cluster_warm_up_seconds": on_cluster["warm_up_seconds"],
        "small_call_seconds": {
            "single_process": in_process["small_call_seconds"],
            "cluster": on_cluster["small_call_seconds"],
        },
        "same_forecasts": True,
        "global_model_on_dask_against_single_process": global_model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scheduler", help="a running Dask scheduler; default: a local cluster started here")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--output", type=Path, default=Path("bench/forecasting_distributed.json"))
    arguments = parser.parse_args()
    write_result(arguments.output, "forecasting_distributed", measure(arguments.scheduler, arguments.repeats))


if __name__ == "__main__":
    main()
