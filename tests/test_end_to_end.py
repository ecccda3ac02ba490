"""simulate → run at tiny scale, then check what a user would check."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import psycopg
import pytest

from pipelines.exports import SUMMARY_SHEET
from tests.api_support import ServedPorts, answers
from tests.conftest import OUTBOUND_REQUESTS, REPO_ROOT, PipelineRun, pristine_pipeline_folder, run_cli
from tests.outbound import recording_proxy
from transactional import purchasing

pytestmark = pytest.mark.slow(minutes=3)


@pytest.fixture(scope="module")
def serving(pipeline_run: PipelineRun):
    conn = duckdb.connect(str(pipeline_run.home / "serving" / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


def test_revenue_in_the_marts_equals_the_order_lines_in_postgresql(pipeline_run: PipelineRun, serving) -> None:
    with psycopg.connect(pipeline_run.database_url) as pg:
        source = dict(
            pg.execute(
                """SELECT m.merchant_code, sum(l.line_amount)
                   FROM core.order_lines l JOIN core.orders o USING (order_id)
                   JOIN core.merchants m ON m.merchant_id = o.merchant_id
                   WHERE o.status <> 'cancelled' GROUP BY m.merchant_code"""
            ).fetchall()
        )
    marts = {
        code: Decimal(str(total))
        for code, total in serving.execute(
            "SELECT merchant_code, sum(revenue) FROM marts.fct_daily_sales GROUP BY merchant_code"
        ).fetchall()
    }
    assert source, "the simulator produced no orders"
    assert marts == source


def test_a_sku_the_simulator_stopped_selling_is_flagged_slow_moving(pipeline_run: PipelineRun, serving) -> None:
    as_of = dict(serving.execute("SELECT merchant_code, as_of FROM marts.dim_merchants").fetchall())
    with psycopg.connect(pipeline_run.database_url) as pg:
        stopped = pg.execute(
            "SELECT merchant_code, sku_code, stopped_selling_on FROM sim.sku_lifecycle"
            " WHERE stopped_selling_on IS NOT NULL ORDER BY merchant_code, sku_code"
        ).fetchall()
    long_stopped = [
        (merchant, sku) for merchant, sku, stopped_on in stopped if stopped_on < as_of[merchant] - timedelta(days=91)
    ]
    assert long_stopped, "the simulator stopped no SKU long enough ago"
    flagged = set(
        serving.execute(
            "SELECT merchant_code, sku_code FROM marts.fct_inventory_flags WHERE is_slow_moving AND on_hand > 0"
        ).fetchall()
    )
    in_stock = set(
        serving.execute("SELECT merchant_code, sku_code FROM marts.fct_inventory_flags WHERE on_hand > 0").fetchall()
    )
    still_stocked = [key for key in long_stopped if key in in_stock]
    assert still_stocked, "no stopped SKU still has stock"
    assert set(still_stocked) <= flagged


def test_forecasts_cover_90_days_after_as_of(serving) -> None:
    rows = serving.execute(
        """SELECT f.merchant_code, f.sku_code, min(f.date) - m.as_of, count(*), count(DISTINCT f.run_id),
                  bool_and(f.yhat_lower_95 <= f.yhat_lower_80 AND f.yhat_lower_80 <= f.yhat
                           AND f.yhat <= f.yhat_upper_80 AND f.yhat_upper_80 <= f.yhat_upper_95)
           FROM ml.demand_forecasts f JOIN marts.dim_merchants m
             ON m.merchant_id = f.merchant_id AND m.as_of = f.as_of
           GROUP BY f.merchant_code, f.sku_code, m.as_of"""
    ).fetchall()
    assert rows
    assert {(row[2], row[3], row[4], row[5]) for row in rows} == {(1, 90, 1, True)}


def test_the_workbook_has_one_sheet_per_supplier(pipeline_run: PipelineRun, serving) -> None:
    merchants = serving.execute("SELECT merchant_code, as_of FROM marts.dim_merchants ORDER BY 1").fetchall()
    supplier_sheets = 0
    for merchant_code, as_of in merchants:
        workbook = pipeline_run.home / "exports" / f"replenishment_{merchant_code}_{as_of.isoformat()}.xlsx"
        suppliers = serving.execute(
            """SELECT DISTINCT supplier_code FROM marts.fct_replenishment_suggestions
               WHERE merchant_code = ? AND suggested_qty > 0 ORDER BY 1""",
            [merchant_code],
        ).fetchall()
        sheets = openpyxl.load_workbook(workbook, read_only=True).sheetnames
        assert sheets[0] == SUMMARY_SHEET
        assert [name.split(" ", 1)[0] for name in sheets[1:]] == [code for (code,) in suppliers]
        supplier_sheets += len(sheets) - 1
    assert supplier_sheets > 0, "no merchant has anything to order, so no supplier sheet was checked"


DRAFT_LINES_SQL = """
SELECT m.merchant_code, s.supplier_code, w.warehouse_code, p.sku_code, l.quantity, po.po_no
FROM core.purchase_orders po
JOIN core.purchase_order_lines l USING (purchase_order_id)
JOIN core.merchants m ON m.merchant_id = po.merchant_id
JOIN core.suppliers s ON s.supplier_id = po.supplier_id
JOIN core.warehouses w ON w.warehouse_id = po.warehouse_id
JOIN core.products p ON p.product_id = l.product_id
WHERE po.status = 'draft'
ORDER BY 1, 2, 3, 4
"""


def test_forecast_suggest_approve_and_export(pipeline_run: PipelineRun, serving) -> None:
    """The weekly loop at tiny scale: the run forecast and planned; procurement approves the
    suggestions as draft purchase orders, one per supplier and warehouse, and gets the workbook."""
    suggested = serving.execute(
        """SELECT merchant_code, supplier_code, warehouse_code, sku_code, suggested_qty
           FROM marts.fct_replenishment_suggestions WHERE suggested_qty > 0 ORDER BY 1, 2, 3, 4"""
    ).fetchall()
    assert suggested, "the tiny network should have something to reorder"
    explained = serving.execute(
        """SELECT count(*) FILTER (WHERE reason IN ('below_reorder_point', 'capped_by_shelf_life')
                                     AND forecast_model IS NOT NULL AND reorder_point IS NOT NULL
                                     AND days_of_cover IS NOT NULL)
           FROM marts.fct_replenishment_suggestions WHERE suggested_qty > 0"""
    ).fetchone()[0]
    assert explained == len(suggested), "every suggestion carries its forecast, reorder point, cover and reason"

    preview = run_cli(pipeline_run, "replenish")
    assert "--approve" in preview.stdout
    mistyped = run_cli(pipeline_run, "replenish", "--merchant", "M999", check=False)
    assert mistyped.returncode == 1 and "no merchant with code 'M999'" in mistyped.stderr
    with psycopg.connect(pipeline_run.database_url) as pg:
        assert pg.execute(DRAFT_LINES_SQL).fetchall() == []
        approved = run_cli(pipeline_run, "replenish", "--approve")
        drafts = pg.execute(DRAFT_LINES_SQL).fetchall()
        assert [row[:5] for row in drafts] == [tuple(row) for row in suggested]
        orders = {(merchant, supplier, warehouse): po_no for merchant, supplier, warehouse, *_, po_no in drafts}
        assert len(set(orders.values())) == len(orders), "one purchase order per merchant × supplier × warehouse"
        for po_no in orders.values():
            assert po_no in approved.stdout

        again = run_cli(pipeline_run, "replenish", "--approve")
        assert "already on draft" in again.stdout
        assert pg.execute(DRAFT_LINES_SQL).fetchall() == drafts, "approving twice orders nothing twice"

        # The dashboard's approval tests order on this session's database too, and leave out what
        # a draft already holds: cancelled, these drafts hold nothing.
        for purchase_order_id, po_no in pg.execute(
            "SELECT purchase_order_id, po_no FROM core.purchase_orders WHERE status = 'draft'"
        ).fetchall():
            assert po_no in orders.values()
            purchasing.cancel_purchase_order(pg, purchase_order_id, datetime.now(UTC))

    # The session's shared database: the drafts are ingested, so the warehouse is level with
    # PostgreSQL again for the tests after this one (the new-data sensor's expects no change).
    run_cli(pipeline_run, "ingest")
    run_cli(pipeline_run, "export", "replenishment")
    for merchant_code, as_of in serving.execute("SELECT merchant_code, as_of FROM marts.dim_merchants").fetchall():
        workbook = openpyxl.load_workbook(
            pipeline_run.home / "exports" / f"replenishment_{merchant_code}_{as_of.isoformat()}.xlsx", read_only=True
        )
        drafted_suppliers = sorted({supplier for merchant, supplier, _ in orders if merchant == merchant_code})
        assert [name.split(" ", 1)[0] for name in workbook.sheetnames[1:]] == drafted_suppliers


def test_rerunning_keeps_one_forecast_per_as_of_and_publishes_again(pipeline_run: PipelineRun, serving) -> None:
    before = serving.execute("SELECT count(*) FROM ml.demand_forecasts").fetchone()
    run_cli(pipeline_run, "forecast")
    warehouse = duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True)
    try:
        after = warehouse.execute("SELECT count(*), count(DISTINCT run_id) FROM ml.demand_forecasts").fetchone()
    finally:
        warehouse.close()
    assert after == (before[0], 1)


def test_a_bad_as_of_is_refused_with_one_line(pipeline_run: PipelineRun) -> None:
    result = run_cli(pipeline_run, "run", "--as-of", "31/10/2026", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "--as-of must be a date" in result.stderr


def test_an_as_of_before_the_first_order_is_refused_and_the_serving_copy_kept(
    pipeline_run: PipelineRun, serving
) -> None:
    served = (pipeline_run.home / "serving" / "warehouse.duckdb").stat().st_mtime_ns
    with psycopg.connect(pipeline_run.database_url) as conn:
        first = conn.execute("SELECT min((ordered_at AT TIME ZONE 'Asia/Shanghai')::date) FROM core.orders").fetchone()[
            0
        ]
    day_before = first - timedelta(days=1)
    result = run_cli(pipeline_run, "run", "--as-of", day_before.isoformat(), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: --as-of {day_before} is before the first order ({first}): nothing would be left to report"
    )
    assert (pipeline_run.home / "serving" / "warehouse.duckdb").stat().st_mtime_ns == served


def test_simulate_and_run_ask_nothing_of_the_internet(
    pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> None:
    """The platform runs offline: the tests' pipeline was built behind a proxy that records every
    request (tests/pipeline_build.py); a version check, telemetry or download would be there."""
    requests = (pristine_pipeline_folder(tmp_path_factory, worker_id) / OUTBOUND_REQUESTS).read_text().splitlines()
    assert requests == []


def test_serve_starts_the_dashboard_the_api_and_the_dagster_ui_then_stops_cleanly(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    ports = ServedPorts.free()
    urls = ports.urls()
    output = tmp_path / "serve.log"
    with output.open("w") as log, recording_proxy() as proxy:
        server = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", *ports.options()],
            cwd=REPO_ROOT,
            env={**pipeline_run.env(), **proxy.environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 180
            while not all(answers(url) for url in urls):
                assert server.poll() is None, "coopcast serve exited before the UIs and the API answered"
                assert time.monotonic() < deadline, "the UIs did not answer within 3 minutes"
                time.sleep(1)
        finally:
            server.send_signal(signal.SIGTERM)
            returncode = server.wait(timeout=60)
    assert returncode == 0
    assert proxy.requests == []
    assert not any(answers(url) for url in urls)
    # What ops read when the servers start: no library warnings, and no lookup of the machine's
    # public address on the internet (Streamlit's "External URL", or its failure message offline).
    printed = output.read_text()
    assert f"URL: http://localhost:{ports.dashboard}" in printed, printed[-3000:]
    assert not re.search(r"\w+Warning: ", printed), printed[-3000:]
    assert "External URL" not in printed and "external IP" not in printed, printed[-3000:]


def test_status_reports_each_merchant_and_the_last_run(pipeline_run: PipelineRun, serving) -> None:
    result = run_cli(pipeline_run, "status")
    codes = [code for (code,) in serving.execute("SELECT merchant_code FROM marts.dim_merchants").fetchall()]
    assert codes and all(code in result.stdout for code in codes)
    assert "Last run    SUCCESS" in result.stdout
