"""A next business day after the real tiny pipeline run, for the alert digest's tests.

The session's warehouse is copied (never changed: other tests read it), moved one day on with
three changes a merchant would be alerted to (a SKU falling below its low-stock threshold, a batch
reaching the 90-day expiry level, a customer turning at risk), all at the first merchant, so the
others have nothing new; the digest asset is materialized on the copy (twice: a rerun replaces),
and the copy is published as the serving copy of a home of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.assets.alert_digests import alert_digests
from pipelines.resources import WarehouseResource
from pipelines.serving import publish
from tests.conftest import PipelineRun


@dataclass(frozen=True)
class NextDay:
    home: Path
    first_as_of: date
    as_of: date
    low_stock: tuple[int, str, str]  # merchant_id, kind, item_key
    near_expiry: tuple[int, str, str]
    churn_risk: tuple[int, str, str]
    run_ids: tuple[str, ...]

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.home / "serving" / "warehouse.duckdb"


def materialize_digest(warehouse: Path) -> str:
    result = dg.materialize([alert_digests], resources={"warehouse": WarehouseResource(path=str(warehouse))})
    assert result.success
    return result.run_id


def one_row(conn: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    row = conn.execute(sql).fetchone()
    assert row is not None, f"the tiny network has no row for: {sql}"
    return row


def move_one_day_on(warehouse: Path) -> tuple[tuple, tuple, tuple]:
    """The changes of the next day; returns what each should put in the digest as new."""
    with duckdb.connect(str(warehouse)) as conn:
        low = one_row(
            conn,
            """SELECT f.merchant_id, f.warehouse_code, f.sku_code, f.product_id FROM marts.fct_inventory_flags f
               JOIN marts.dim_products p USING (product_id)
               WHERE NOT f.is_low_stock AND p.is_active ORDER BY f.merchant_id, f.sku_code, f.warehouse_code LIMIT 1""",
        )
        conn.execute(
            "UPDATE marts.fct_inventory_flags SET is_low_stock = true, available = 1"
            " WHERE merchant_id = ? AND warehouse_code = ? AND sku_code = ?",
            list(low[:3]),
        )
        conn.execute("UPDATE marts.dim_products SET low_stock_threshold = 1200 WHERE product_id = ?", [low[3]])
        batch = one_row(
            conn,
            """SELECT merchant_id, warehouse_code, batch_id FROM marts.fct_near_expiry_batches
               WHERE near_expiry_level = 180 ORDER BY merchant_id, batch_id LIMIT 1""",
        )
        conn.execute(
            "UPDATE marts.fct_near_expiry_batches SET near_expiry_level = 90, days_to_expiry = 90"
            " WHERE merchant_id = ? AND warehouse_code = ? AND batch_id = ?",
            list(batch),
        )
        customer = one_row(
            conn,
            """SELECT merchant_id, customer_code FROM ml.churn_scores
               WHERE status = 'active' ORDER BY merchant_id, customer_code LIMIT 1""",
        )
        conn.execute(
            "UPDATE ml.churn_scores SET status = 'at_risk', churn_risk = 0.75, reasons = ['falling_frequency']"
            " WHERE merchant_id = ? AND customer_code = ?",
            list(customer),
        )
        conn.execute("UPDATE marts.dim_merchants SET as_of = as_of + 1")
    return (
        (low[0], "low_stock", f"{low[1]}/{low[2]}"),
        (batch[0], "near_expiry", f"{batch[1]}/{batch[2]}"),
        (customer[0], "churn_risk", customer[1]),
    )


def build_next_day(pipeline: PipelineRun, home: Path) -> NextDay:
    home.mkdir(parents=True, exist_ok=True)
    warehouse = home / "warehouse.duckdb"
    shutil.copy(pipeline.home / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        (first_as_of,) = conn.execute("SELECT max(as_of) FROM marts.dim_merchants").fetchone()
    low, batch, customer = move_one_day_on(warehouse)
    run_ids = (materialize_digest(warehouse), materialize_digest(warehouse))
    publish(warehouse, home / "serving" / "warehouse.duckdb")
    return NextDay(home, first_as_of, date.fromordinal(first_as_of.toordinal() + 1), low, batch, customer, run_ids)


@pytest.fixture(scope="session")
def next_day(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> NextDay:
    return build_next_day(pipeline_run, tmp_path_factory.mktemp("next_day_home"))
