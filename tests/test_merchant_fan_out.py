"""Partitions by merchant: the per-series fits made one merchant per run, picked up by the forecast
only when made on the warehouse's current series, and the same forecasts as a run without them."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from models.forecasting.pipeline import merchant_of
from pipelines.assets.merchant_fan_out import (
    MERCHANT_PARTITIONS,
    MERCHANTS_PER_RUN_SETTING,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PER_MERCHANT_FITS_JOB,
    fits_files,
    forecast_series,
    merchant_batches,
    merchant_fan_out_sensor,
    per_merchant_fits_job,
    per_merchant_series_fits,
    series_file,
)
from pipelines.assets.ml import DEMAND_FORECASTS, demand_forecasts
from pipelines.resources import WarehouseResource
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

CURRENT_ROWS = """SELECT t.* EXCLUDE (run_id) FROM {table} t JOIN marts.dim_merchants m USING (merchant_id)
    WHERE t.as_of = m.as_of ORDER BY ALL"""


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def warehouse(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> WarehouseResource:
    copy = tmp_path_factory.mktemp("fan_out") / "warehouse.duckdb"
    shutil.copy(pipeline_run.home / "warehouse.duckdb", copy)
    return WarehouseResource(path=str(copy))


@pytest.fixture(scope="module")
def merchant_codes(warehouse: WarehouseResource) -> list[str]:
    with duckdb.connect(str(warehouse.warehouse_path()), read_only=True) as conn:
        rows = conn.execute("SELECT merchant_code FROM marts.dim_merchants WHERE as_of IS NOT NULL ORDER BY 1")
        return [code for (code,) in rows.fetchall()]


@pytest.fixture(scope="module")
def series_run(instance, warehouse: WarehouseResource) -> dg.ExecuteInProcessResult:
    result = dg.materialize([forecast_series], instance=instance, resources={"warehouse": warehouse})
    assert result.success
    return result


@pytest.fixture(scope="module")
def fanned_out_forecast(
    instance, warehouse: WarehouseResource, merchant_codes: list[str], series_run
) -> dg.ExecuteInProcessResult:
    """Every merchant's partitions fitted; the last merchant's on a series one day short, as if its
    run had read the warehouse before the latest day was built."""
    directory = warehouse.forecast_fan_out_dir()
    stale = merchant_codes[-1]
    path = series_file(directory, stale)
    series = pd.read_parquet(path)
    series[series["ds"] < series["ds"].max()].to_parquet(path, index=False)
    # The first merchant in a run of its own, then every merchant in one run over the whole
    # range, as the fan-out sensor asks for several merchants to a run.
    first = dg.materialize(
        [per_merchant_series_fits],
        instance=instance,
        partition_key=merchant_codes[0],
        resources={"warehouse": warehouse},
    )
    assert first.success
    job = dg.Definitions(
        assets=[forecast_series, per_merchant_series_fits],
        jobs=[per_merchant_fits_job],
        resources={"warehouse": warehouse},
    ).resolve_job_def(PER_MERCHANT_FITS_JOB)
    ranged = job.execute_in_process(
        instance=instance,
        tags={PARTITION_RANGE_START_TAG: merchant_codes[0], PARTITION_RANGE_END_TAG: merchant_codes[-1]},
    )
    assert ranged.success
    fitted = ranged.asset_materializations_for_node("ml__per_merchant_series_fits")
    assert sorted(event.partition for event in fitted) == merchant_codes
    result = dg.materialize([demand_forecasts], instance=instance, resources={"warehouse": warehouse})
    assert result.success
    return result


def test_the_series_asset_writes_each_merchants_series_and_registers_its_partition(
    instance, warehouse: WarehouseResource, merchant_codes: list[str], series_run
) -> None:
    assert len(merchant_codes) >= 2
    assert sorted(instance.get_dynamic_partitions(MERCHANT_PARTITIONS.name)) == merchant_codes
    directory = warehouse.forecast_fan_out_dir()
    for code in merchant_codes:
        series = pd.read_parquet(series_file(directory, code))
        assert not series.empty
        assert list(series.columns) == ["unique_id", "ds", "y"]
        assert merchant_of(series).nunique() == 1


def test_the_forecast_takes_fits_made_on_current_series_and_refits_the_others(
    fanned_out_forecast: dg.ExecuteInProcessResult, merchant_codes: list[str], warehouse: WarehouseResource
) -> None:
    materialization = fanned_out_forecast.asset_materializations_for_node("demand_forecasts")
    metadata = next(event for event in materialization if event.asset_key == DEMAND_FORECASTS).metadata
    assert metadata["per_series_fits"].value == {
        "from_partitions": merchant_codes[:-1],
        "fitted_here": merchant_codes[-1:],
    }
    for code in merchant_codes:
        assert all(path.exists() for path in fits_files(warehouse.forecast_fan_out_dir(), code))


@pytest.mark.parametrize("table", ["ml.demand_forecasts", "ml.demand_forecast_periods", "ml.forecast_backtests"])
def test_forecasts_and_backtests_equal_those_of_a_run_without_partitions(
    fanned_out_forecast, pipeline_run: PipelineRun, warehouse: WarehouseResource, table: str
) -> None:
    def current(path: Path) -> pd.DataFrame:
        with duckdb.connect(str(path), read_only=True) as conn:
            return conn.execute(CURRENT_ROWS.format(table=table)).df()

    fanned_out = current(warehouse.warehouse_path())
    whole = current(pipeline_run.home / "warehouse.duckdb")
    assert len(fanned_out) == len(whole) > 0
    numeric = [column for column in whole.columns if pd.api.types.is_float_dtype(whole[column])]
    pd.testing.assert_frame_equal(fanned_out.drop(columns=numeric), whole.drop(columns=numeric))
    for column in numeric:
        np.testing.assert_allclose(fanned_out[column], whole[column], rtol=1e-9, atol=1e-12, err_msg=column)


@pytest.mark.parametrize("merchants_per_run", [1, 10])
def test_the_sensor_starts_runs_over_every_merchant_after_the_series_are_written(
    instance, series_run: dg.ExecuteInProcessResult, merchant_codes: list[str], merchants_per_run: int, monkeypatch
) -> None:
    monkeypatch.setenv(MERCHANTS_PER_RUN_SETTING, str(merchants_per_run))
    requests = list(merchant_fan_out_sensor(dg.build_sensor_context(instance=instance)))
    ranges = [(request.tags[PARTITION_RANGE_START_TAG], request.tags[PARTITION_RANGE_END_TAG]) for request in requests]
    if merchants_per_run == 1:
        assert ranges == [(code, code) for code in merchant_codes]
    else:
        assert ranges == [(merchant_codes[0], merchant_codes[-1])]
    assert len({request.run_key for request in requests}) == len(requests)
    assert all(request.job_name in (None, PER_MERCHANT_FITS_JOB) for request in requests)


def test_a_run_covers_a_stretch_of_consecutive_partitions_and_never_one_left_out() -> None:
    registered = ["M001", "M002", "M003", "M004", "M005", "M006"]
    assert merchant_batches(registered, registered, 4) == [["M001", "M002", "M003", "M004"], ["M005", "M006"]]
    # M003 has no series this time: no range may include it.
    wanted = ["M001", "M002", "M004", "M005", "M006"]
    assert merchant_batches(registered, wanted, 10) == [["M001", "M002"], ["M004", "M005", "M006"]]
    assert merchant_batches(registered, [], 10) == []


def test_the_range_tags_are_dagsters_own() -> None:
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    assert (PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG) == (
        ASSET_PARTITION_RANGE_START_TAG,
        ASSET_PARTITION_RANGE_END_TAG,
    )
