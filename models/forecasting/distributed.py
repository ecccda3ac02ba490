"""The per-series statsforecast fits on a Dask cluster, when COOPCAST_DASK_SCHEDULER names one.

Unset, `forecast` and `cross_validation` run statsforecast in this process, as always. Set to a
scheduler's address (`tcp://host:8786`), they hand statsforecast's fugue backend a Dask DataFrame
of the series; it partitions them by unique_id and fits them on the cluster's workers with the
same models and code, and the result comes back here as the pandas frame (rows, columns' dtypes)
the single-process fit gives. The connection lasts one call, and the client is dask's default
while it is open, because fugue computes through the default client.

`StatsForecastOnDask` says how the backend is changed (float64 output, one statsforecast call per
partition rather than per series), so that each series' numbers are the ones the single-process
fit computes and the model choice downstream is the same.

The workers need this project and its pinned libraries importable (the same image as the run):
the fits run `StatsForecastOnDask`'s methods there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
from distributed import Client
from fugue import transform
from fugue_dask.execution_engine import DaskExecutionEngine
from statsforecast import StatsForecast
from statsforecast.distributed.fugue import FugueBackend
from triad import Schema

from models.forecasting.series import INTERVAL_LEVELS

SCHEDULER_SETTING = "COOPCAST_DASK_SCHEDULER"
# Seconds to wait for the scheduler before the run fails (a wrong address should not hang it).
CONNECT_TIMEOUT_SECONDS = 30


class StatsForecastOnDask(FugueBackend):
    """statsforecast's fugue backend: its own fitting code on each partition, with two changes that
    keep every number it computes.

    - Forecast columns declared float64: the backend declares float32, which rounds every value to
      about seven digits and could reorder candidates whose errors are that close.
    - Each task fits all the series of its partition in one statsforecast call (fugue's "coarse"
      partitioning: rows hashed by unique_id, so a series is never split). The backend's own
      partitioning calls statsforecast once per series, which cost about 10 ms a series: 8x the
      baselines' fitting time on a year of daily data.
    """

    def _get_output_schema(self, **kwargs) -> Schema:
        declared = super()._get_output_schema(**kwargs)
        return Schema(
            [pa.field(field.name, pa.float64()) if field.type == pa.float32() else field for field in declared.fields]
        )

    def forecast_series(self, series: dd.DataFrame, engine: StatsForecast, horizon: int) -> dd.DataFrame:
        """`engine`'s forecast of every series, `horizon` days past its end, as statsforecast's wide frame."""
        return self._by_partition(series, self._forecast_noX, "forecast", engine, h=horizon, prediction_intervals=None)

    def cross_validate_series(
        self, series: dd.DataFrame, engine: StatsForecast, h: int, n_windows: int, step_size: int
    ) -> dd.DataFrame:
        """`engine`'s rolling-origin forecasts of every series, as statsforecast's wide frame."""
        return self._by_partition(
            series,
            self._cv,
            "cv",
            engine,
            h=h,
            n_windows=n_windows,
            step_size=step_size,
            test_size=None,
            input_size=None,
            refit=True,
            fitted=False,
            prediction_intervals=None,
        )

    def _by_partition(
        self, series: dd.DataFrame, fit: Callable, mode: str, engine: StatsForecast, **fit_parameters: Any
    ) -> dd.DataFrame:
        columns = {"id_col": "unique_id", "time_col": "ds", "target_col": "y"}
        levels = list(INTERVAL_LEVELS)
        return transform(
            series,
            fit,
            params={
                "models": engine.models,
                "freq": engine.freq,
                "fallback_model": engine.fallback_model,
                "level": levels,
                **columns,
                **fit_parameters,
            },
            schema=self._get_output_schema(df=series, models=engine.models, level=levels, mode=mode, **columns),
            partition={"by": "unique_id", "algo": "coarse"},
            engine=self._engine,
            engine_conf=self._conf,
        )


def scheduler_address(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Dask scheduler the per-series fits run on, or None to fit them in this process."""
    return environ.get(SCHEDULER_SETTING, "").strip() or None


def forecast(engine: StatsForecast, series: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """`engine.forecast` of `series` with INTERVAL_LEVELS: on the Dask cluster when one is set."""
    address = scheduler_address()
    if address is None:
        return engine.forecast(h=horizon, df=series, level=list(INTERVAL_LEVELS))
    with Client(address, timeout=CONNECT_TIMEOUT_SECONDS) as client:
        backend = StatsForecastOnDask(DaskExecutionEngine(dask_client=client))
        wide = backend.forecast_series(partitioned(series, client), engine, horizon)
        return collected(wide, series, ["unique_id", "ds"])


def cross_validation(
    engine: StatsForecast, series: pd.DataFrame, h: int, n_windows: int, step_size: int
) -> pd.DataFrame:
    """`engine.cross_validation` of `series` with INTERVAL_LEVELS: on the Dask cluster when one is set."""
    address = scheduler_address()
    if address is None:
        return engine.cross_validation(
            h=h, df=series, n_windows=n_windows, step_size=step_size, level=list(INTERVAL_LEVELS)
        )
    with Client(address, timeout=CONNECT_TIMEOUT_SECONDS) as client:
        backend = StatsForecastOnDask(DaskExecutionEngine(dask_client=client))
        wide = backend.cross_validate_series(partitioned(series, client), engine, h, n_windows, step_size)
        return collected(wide, series, ["unique_id", "cutoff", "ds"])


def partitioned(series: pd.DataFrame, client: Client) -> dd.DataFrame:
    """`series` as a Dask DataFrame of one partition per worker thread, to spread the upload.

    fugue then hashes the rows by unique_id into twice as many partitions as the cluster has
    threads, so a series split here is still fitted whole.
    """
    threads = sum(client.nthreads().values())
    return dd.from_pandas(series, npartitions=max(1, min(threads, series["unique_id"].nunique())))


def collected(wide: dd.DataFrame, series: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The cluster's result as pandas, in the single-process fit's row order and dtypes.

    Dask hands strings back as Arrow strings and datetimes at its own resolution; the callers
    compare and merge with the input's own dtypes.
    """
    frame = wide.compute() if isinstance(wide, dd.DataFrame) else wide
    time_columns = [column for column in ("ds", "cutoff") if column in frame.columns]
    frame = frame.astype(
        {"unique_id": series["unique_id"].dtype, **dict.fromkeys(time_columns, series["ds"].dtype)}
    ).astype({column: float for column in frame.columns if column not in ("unique_id", *time_columns)})
    return frame.sort_values(keys, ignore_index=True)
