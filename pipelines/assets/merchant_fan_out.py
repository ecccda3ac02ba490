"""Partitions by merchant, so that a cluster can fan the forecast's per-series fits out over many runs.

ml/demand_forecasts is one step over the whole network: LightGBM learns across all merchants,
Prophet's series are drawn network-wide, and the choice pools every series of a demand class.
What takes most of its time, the per-series families (baselines, ETS/Theta, the intermittent
models), depends on each series alone. Two assets take that part out:

- ml/forecast_series (one step, in the warehouse's pool): every merchant's active daily series as
  the forecast sees them, one Parquet file per merchant under `<fan-out dir>/series/`; it
  registers a partition per merchant code;
- ml/per_merchant_series_fits (partitioned by merchant code; no pool: it never opens the
  warehouse, so any number run at once): one merchant's per-series fits, written under
  `<fan-out dir>/fits/<merchant_code>/` and stamped with the digest of the series they were made on.

ml/demand_forecasts takes a merchant's stored fits only when their digest matches the series it
reads from the warehouse itself, and fits every other merchant in its own process: a partition
not run, failed, or run on older data costs time, never a different forecast.

On one machine nothing runs the partitions (the full, nightly and weekly jobs leave this group
out) and the forecast fits everything itself, as before. On a cluster, COOPCAST_MERCHANT_FAN_OUT=1
starts the schedule that writes the series on Monday at 03:00 Beijing time, and the sensor that
then launches runs over the merchant partitions, COOPCAST_FAN_OUT_MERCHANTS_PER_RUN (10) to a run,
so the fits are ready for the weekly forecast at 04:00.
"""

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.forecasting.pipeline import (
    PerSeriesFits,
    fit_per_series,
    merchant_of,
    merge_per_series_fits,
    network_series,
    series_classes,
    series_digest,
)
from models.settings import whole_number_setting
from pipelines import warehouse as duck
from pipelines.assets.forecast_inputs import FORECAST_INPUTS, read_forecast_inputs
from pipelines.ops.schedules import BUSINESS_TIMEZONE
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

MERCHANT_PARTITIONS = dg.DynamicPartitionsDefinition(name="merchant")
FORECAST_SERIES = dg.AssetKey(["ml", "forecast_series"])
PER_MERCHANT_SERIES_FITS = dg.AssetKey(["ml", "per_merchant_series_fits"])
FAN_OUT_GROUP = "ml_fan_out"
FORECAST_SERIES_JOB = "coopcast_forecast_series"
PER_MERCHANT_FITS_JOB = "coopcast_per_merchant_fits"
FAN_OUT_SETTING = "COOPCAST_MERCHANT_FAN_OUT"
MERCHANTS_PER_RUN_SETTING = "COOPCAST_FAN_OUT_MERCHANTS_PER_RUN"
# A merchant's fits take seconds (≈ 2.6 s at the county), a run pod tens of seconds to start:
# several merchants to a run keep the start-up from costing more than the work.
DEFAULT_MERCHANTS_PER_RUN = 10
# The tags with which Dagster's own backfills run one run over a range of partitions.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
SERIES_DIGEST_KEY = b"coopcast_series_digest"
FIT_SECONDS_KEY = b"coopcast_fit_seconds"


def fan_out_enabled() -> bool:
    return os.environ.get(FAN_OUT_SETTING, "").strip().lower() in {"1", "true", "yes", "on"}


def merchants_per_run() -> int:
    return whole_number_setting(MERCHANTS_PER_RUN_SETTING, DEFAULT_MERCHANTS_PER_RUN, "merchants")


def series_file(directory: Path, merchant_code: str) -> Path:
    return directory / "series" / f"{merchant_code}.parquet"


def fits_files(directory: Path, merchant_code: str) -> tuple[Path, Path]:
    """The merchant's backtest rows and candidate forecasts."""
    folder = directory / "fits" / merchant_code
    return folder / "backtests.parquet", folder / "forecasts.parquet"


def write_parquet(frame: pd.DataFrame, path: Path, stamps: dict[bytes, str] | None = None) -> None:
    """Write `frame` with `stamps` in the file's metadata; staged beside and renamed into place,
    so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    encoded = {key: value.encode() for key, value in (stamps or {}).items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **encoded})
    # A name no other writer uses: run pods of two nodes may well share a process id.
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    pq.write_table(table, staged)
    os.replace(staged, path)


def write_fits(directory: Path, merchant_code: str, fits: PerSeriesFits, digest: str) -> None:
    seconds = json.dumps({"backtest": fits.backtest_seconds, "forecast": fits.forecast_seconds})
    backtests_path, forecasts_path = fits_files(directory, merchant_code)
    write_parquet(fits.backtests, backtests_path, {SERIES_DIGEST_KEY: digest, FIT_SECONDS_KEY: seconds})
    write_parquet(fits.forecasts, forecasts_path, {SERIES_DIGEST_KEY: digest})


def stored_fits(directory: Path, merchant_code: str, digest: str) -> PerSeriesFits | None:
    """The merchant's stored fits if both files were made on series with this digest, else None.

    Each file's stamp is checked on the very table read (a partition run may replace the file
    meanwhile), so rows are only ever taken from a file made on these series."""
    tables = []
    for path in fits_files(directory, merchant_code):
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            return None
        if (table.schema.metadata or {}).get(SERIES_DIGEST_KEY) != digest.encode():
            return None
        tables.append(table)
    backtests, forecasts = tables
    seconds = json.loads(backtests.schema.metadata[FIT_SECONDS_KEY])
    return PerSeriesFits(
        backtests=backtests.to_pandas(),
        forecasts=forecasts.to_pandas(),
        backtest_seconds=seconds["backtest"],
        forecast_seconds=seconds["forecast"],
    )


class FanOutFitter:
    """`fit_series` for forecast_network: each merchant's stored fits where they were made on its
    current series, fitted here for the other merchants; remembers which merchant went which way."""

    def __init__(self, directory: Path, merchant_codes: dict[int, str]) -> None:
        self.directory = directory
        self.merchant_codes = merchant_codes
        self.from_partitions: list[str] = []
        self.fitted_here: list[str] = []

    def __call__(self, series: pd.DataFrame, classes: pd.DataFrame, horizon: int) -> PerSeriesFits:
        merchants = merchant_of(series)
        fanned_out = (self.directory / "fits").is_dir()
        parts, unfitted = [], []
        for merchant_id, rows in series.groupby(merchants, sort=True):
            code = self.merchant_codes[int(merchant_id)]
            stored = stored_fits(self.directory, code, series_digest(rows, horizon)) if fanned_out else None
            if stored is None:
                unfitted.append(merchant_id)
                self.fitted_here.append(code)
            else:
                parts.append(stored)
                self.from_partitions.append(code)
        if not parts:
            # Nothing fanned out (always so on one machine): one fit of every series, as without partitions.
            return fit_per_series(series, classes, horizon)
        if unfitted:
            parts.append(fit_per_series(series[merchants.isin(unfitted)], classes, horizon))
        return merge_per_series_fits(parts)


@dg.asset(
    key=FORECAST_SERIES,
    group_name=FAN_OUT_GROUP,
    kinds={"python", "duckdb", "parquet"},
    deps=FORECAST_INPUTS,
    pool=DUCKDB_WRITER_POOL,
    description="Every merchant's active daily demand series, as ml/demand_forecasts reads them, one Parquet "
    "file per merchant for the merchant partitions of ml/per_merchant_series_fits (which it registers).",
)
def forecast_series(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    conn = duck.connect(warehouse.warehouse_path(), read_only=True)
    try:
        inputs = read_forecast_inputs(conn)
    finally:
        conn.close()
    as_of_by_merchant = inputs.as_of_by_merchant
    series = network_series(inputs.sales, as_of_by_merchant)
    by_merchant = dict(tuple(series.groupby(merchant_of(series))))
    directory = warehouse.forecast_fan_out_dir()
    codes = sorted(inputs.merchant_codes[merchant_id] for merchant_id in as_of_by_merchant)
    for merchant_id in as_of_by_merchant:
        # A merchant without active series gets an empty file: its partition then fits nothing.
        rows = by_merchant.get(merchant_id, series.iloc[:0]).reset_index(drop=True)
        write_parquet(rows, series_file(directory, inputs.merchant_codes[merchant_id]))
    known = set(context.instance.get_dynamic_partitions(MERCHANT_PARTITIONS.name))
    context.instance.add_dynamic_partitions(MERCHANT_PARTITIONS.name, [code for code in codes if code not in known])
    return dg.MaterializeResult(
        metadata={
            "merchants": dg.MetadataValue.json(codes),
            "series": int(series["unique_id"].nunique()),
            "directory": dg.MetadataValue.path(str(directory / "series")),
        }
    )


@dg.asset(
    key=PER_MERCHANT_SERIES_FITS,
    group_name=FAN_OUT_GROUP,
    kinds={"python", "statsforecast", "parquet"},
    deps=[FORECAST_SERIES],
    partitions_def=MERCHANT_PARTITIONS,
    description="One merchant's per-series forecasting fits (baselines, ETS/Theta, intermittent models: "
    "backtest and final forecast), stamped with its series' digest; ml/demand_forecasts uses them when "
    "that digest matches the warehouse's series.",
)
def per_merchant_series_fits(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    directory = warehouse.forecast_fan_out_dir()
    fitted = {}
    for code in context.partition_keys:
        path = series_file(directory, code)
        if not path.exists():
            raise dg.Failure(description=f"{path} does not exist: materialize ml/forecast_series first")
        series = pd.read_parquet(path)
        started = time.perf_counter()
        if not series.empty:
            write_fits(directory, code, fit_per_series(series, series_classes(series)), series_digest(series))
        fitted[code] = {
            "series": int(series["unique_id"].nunique()),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return dg.MaterializeResult(metadata={"merchants": dg.MetadataValue.json(fitted)})


forecast_series_job = dg.define_asset_job(
    FORECAST_SERIES_JOB,
    selection=dg.AssetSelection.assets(FORECAST_SERIES),
    description="Write every merchant's forecast series for the per-merchant fits (the fan-out's first step).",
)
per_merchant_fits_job = dg.define_asset_job(
    PER_MERCHANT_FITS_JOB,
    selection=dg.AssetSelection.assets(PER_MERCHANT_SERIES_FITS),
    partitions_def=MERCHANT_PARTITIONS,
    description="Merchants' per-series forecasting fits; the fan-out sensor starts runs of several merchants.",
)


def _default_status() -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if fan_out_enabled() else dg.DefaultScheduleStatus.STOPPED


forecast_series_schedule = dg.ScheduleDefinition(
    name="coopcast_forecast_series_schedule",
    job=forecast_series_job,
    cron_schedule="0 3 * * 1",
    execution_timezone=BUSINESS_TIMEZONE,
    default_status=_default_status(),
    description="Mondays at 03:00 Beijing time, an hour before the weekly forecast, when "
    f"{FAN_OUT_SETTING}=1: the series the per-merchant fits are made on.",
)


def merchant_batches(registered: list[str], wanted: list[str], size: int) -> list[list[str]]:
    """`wanted` merchants in runs of at most `size`, each a stretch of consecutive `registered`
    partitions (a run covers a partition range, which must hold no merchant left out)."""
    wanted_codes = set(wanted)
    batches: list[list[str]] = []
    stretch: list[str] = []
    for code in registered:
        if code in wanted_codes and len(stretch) < size:
            stretch.append(code)
            continue
        if stretch:
            batches.append(stretch)
        stretch = [code] if code in wanted_codes else []
    if stretch:
        batches.append(stretch)
    return batches


@dg.asset_sensor(
    asset_key=FORECAST_SERIES,
    job=per_merchant_fits_job,
    name="coopcast_merchant_fan_out_sensor",
    default_status=dg.DefaultSensorStatus(_default_status().value),
    description="After ml/forecast_series is written, runs of ml/per_merchant_series_fits over every merchant, "
    f"{DEFAULT_MERCHANTS_PER_RUN} to a run unless {MERCHANTS_PER_RUN_SETTING} says otherwise.",
)
def merchant_fan_out_sensor(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> Iterator[dg.RunRequest]:
    materialization = asset_event.asset_materialization
    wanted = materialization.metadata["merchants"].value if materialization else []
    registered = context.instance.get_dynamic_partitions(MERCHANT_PARTITIONS.name)
    for batch in merchant_batches(registered, wanted, merchants_per_run()):
        first, last = batch[0], batch[-1]
        # One run per stretch and series run: a sensor tick evaluated twice starts nothing twice.
        yield dg.RunRequest(
            run_key=f"{asset_event.run_id}:{first}:{last}",
            tags={PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last},
        )
