"""The forecast asset on the warehouse of a real tiny pipeline run: its three ml tables, and a
rerun that replaces its as_of's rows and keeps the others."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from models.forecasting.pipeline import ACTIVE_DAYS, MODEL_FAMILIES, MODEL_VERSION
from models.forecasting.series import HORIZON_DAYS
from pipelines.assets.ml import DEMAND_FORECASTS, FORECAST_BACKTESTS, demand_forecasts
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_ml_tables
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

OLDER_AS_OF_DAYS = 7
FORECAST_TABLES = ("ml.demand_forecasts", "ml.demand_forecast_periods", "ml.forecast_backtests")


@pytest.fixture(scope="module")
def warehouse_copy(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("forecast_asset") / "warehouse.duckdb"
    shutil.copy(pipeline_run.home / "warehouse.duckdb", copy)
    return copy


@pytest.fixture(scope="module")
def rerun(warehouse_copy: Path) -> dg.ExecuteInProcessResult:
    """Rows of an older as_of planted in every table, then the asset run again on the same data."""
    with duckdb.connect(str(warehouse_copy)) as conn:
        for table in FORECAST_TABLES:
            conn.execute(
                f"INSERT INTO {table} SELECT * REPLACE (as_of - {OLDER_AS_OF_DAYS} AS as_of, 'older-run' AS run_id)"
                f" FROM {table}"
            )
    result = dg.materialize([demand_forecasts], resources={"warehouse": WarehouseResource(path=str(warehouse_copy))})
    assert result.success
    return result


@pytest.fixture(scope="module")
def warehouse(rerun: dg.ExecuteInProcessResult, warehouse_copy: Path):
    conn = duckdb.connect(str(warehouse_copy), read_only=True)
    yield conn
    conn.close()


def current(table: str) -> str:
    return f"(SELECT t.* FROM {table} t JOIN marts.dim_merchants m USING (merchant_id) WHERE t.as_of = m.as_of)"


def test_every_active_series_is_forecast_90_days_after_its_as_of(warehouse) -> None:
    active = set(
        warehouse.execute(
            f"""SELECT s.merchant_id, s.sku_code FROM marts.fct_daily_sales s
                JOIN marts.dim_merchants m USING (merchant_id)
                WHERE s.quantity > 0 AND s.sales_date > m.as_of - {ACTIVE_DAYS} AND s.sales_date <= m.as_of
                GROUP BY ALL"""
        ).fetchall()
    )
    rows = warehouse.execute(
        f"""SELECT merchant_id, sku_code, count(*), count(DISTINCT date), min(date - as_of), max(date - as_of),
                   bool_and(yhat_lower_95 >= 0 AND yhat_lower_95 <= yhat_lower_80 AND yhat_lower_80 <= yhat
                            AND yhat <= yhat_upper_80 AND yhat_upper_80 <= yhat_upper_95),
                   bool_and(warehouse_code IS NULL AND model_version = '{MODEL_VERSION}')
            FROM {current("ml.demand_forecasts")} GROUP BY ALL"""
    ).fetchall()
    assert active, "the tiny run sold nothing in its last 90 days"
    assert {(merchant_id, sku_code) for merchant_id, sku_code, *_ in rows} == active
    for *_, days, distinct_days, first, last, nested, labelled in rows:
        assert (days, distinct_days, first, last) == (HORIZON_DAYS, HORIZON_DAYS, 1, HORIZON_DAYS)
        assert nested and labelled


def test_every_series_has_weeks_and_months_that_add_up_its_days(warehouse) -> None:
    periods = warehouse.execute(
        f"""SELECT p.merchant_id, p.sku_code, p.period_grain, sum(p.days_covered), sum(p.yhat), any_value(d.yhat),
                   bool_and(p.yhat_lower_95 >= 0 AND p.yhat_lower_95 <= p.yhat_lower_80 AND p.yhat_lower_80 <= p.yhat
                            AND p.yhat <= p.yhat_upper_80 AND p.yhat_upper_80 <= p.yhat_upper_95),
                   bool_and(p.model = d.model AND p.model_version = '{MODEL_VERSION}'
                            AND p.merchant_code = d.merchant_code)
            FROM {current("ml.demand_forecast_periods")} p
            JOIN (SELECT merchant_id, sku_code, sum(yhat) AS yhat, any_value(model) AS model,
                         any_value(merchant_code) AS merchant_code
                  FROM {current("ml.demand_forecasts")} GROUP BY ALL) d USING (merchant_id, sku_code)
            GROUP BY ALL"""
    ).fetchall()
    series = warehouse.execute(f"SELECT count(DISTINCT (merchant_id, sku_code)) FROM {current('ml.demand_forecasts')}")
    assert len(periods) == 2 * series.fetchone()[0] > 0
    for *_, days, period_units, day_units, nested, labelled in periods:
        assert days == HORIZON_DAYS and period_units == pytest.approx(day_units)
        assert nested and labelled


def test_backtests_have_three_origins_and_mark_the_model_each_series_is_forecast_with(warehouse) -> None:
    origins = warehouse.execute(
        f"SELECT min(n), count(*) FROM (SELECT count(DISTINCT origin) n FROM {current('ml.forecast_backtests')}"
        " GROUP BY merchant_id, sku_code)"
    ).fetchone()
    assert origins[0] >= 3 and origins[1] > 0
    mismatched = warehouse.execute(
        f"""SELECT b.merchant_id, b.sku_code, b.model, f.model
            FROM (SELECT DISTINCT merchant_id, sku_code, model FROM {current("ml.forecast_backtests")}
                  WHERE chosen) b
            LEFT JOIN (SELECT DISTINCT merchant_id, sku_code, model FROM {current("ml.demand_forecasts")}) f
              USING (merchant_id, sku_code)
            WHERE f.model IS DISTINCT FROM b.model"""
    ).fetchall()
    assert mismatched == []
    # The error the choice ranked by is stored beside MASE for every row with a scale.
    without_rmsse = warehouse.execute(
        f"SELECT count(*) FROM {current('ml.forecast_backtests')} WHERE mase IS NOT NULL AND rmsse IS NULL"
    ).fetchone()[0]
    assert without_rmsse == 0
    merchant_codes = warehouse.execute(
        f"""SELECT count(*) FROM {current("ml.forecast_backtests")} b JOIN marts.dim_merchants m USING (merchant_id)
            WHERE b.merchant_code <> m.merchant_code"""
    ).fetchone()[0]
    assert merchant_codes == 0


def test_a_warehouse_made_before_rmsse_was_stored_gains_the_column(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "older.duckdb")) as conn:
        conn.execute("CREATE SCHEMA ml")
        conn.execute("CREATE TABLE ml.forecast_backtests (merchant_id BIGINT, mase DOUBLE)")
        create_ml_tables(conn)
        create_ml_tables(conn)
        columns = [row[0] for row in conn.execute("DESCRIBE ml.forecast_backtests").fetchall()]
    assert columns == ["merchant_id", "mase", "rmsse", "rmse", "actual_units", "forecast_units"]


def test_a_rerun_replaces_its_as_of_and_keeps_older_ones(warehouse, rerun: dg.ExecuteInProcessResult) -> None:
    for table in FORECAST_TABLES:
        runs = warehouse.execute(f"SELECT DISTINCT run_id FROM {current(table)}").fetchall()
        assert runs == [(rerun.run_id,)], table
        older, newer = warehouse.execute(
            f"""SELECT count(*) FILTER (t.as_of = m.as_of - {OLDER_AS_OF_DAYS}), count(*) FILTER (t.as_of = m.as_of)
                FROM {table} t JOIN marts.dim_merchants m USING (merchant_id)"""
        ).fetchone()
        assert older == newer > 0, table
        planted = warehouse.execute(f"SELECT DISTINCT run_id FROM {table} WHERE run_id = 'older-run'").fetchall()
        assert planted == [("older-run",)]


def test_the_run_records_timings_and_the_backtest_summary(rerun: dg.ExecuteInProcessResult) -> None:
    metadata = {
        event.asset_key: event.step_materialization_data.materialization.metadata
        for event in rerun.get_asset_materialization_events()
    }
    timings = metadata[DEMAND_FORECASTS]["timings"].value
    assert timings["series"] > 0 and timings["backtest_seconds"] > 0 and timings["final_forecast_seconds"] > 0
    assert set(timings["family_series_per_second"]) == set(MODEL_FAMILIES)
    assert "seasonal_naive" in metadata[FORECAST_BACKTESTS]["last_origin_mase"].value
    assert metadata[FORECAST_BACKTESTS]["dagster/row_count"].value > 0
