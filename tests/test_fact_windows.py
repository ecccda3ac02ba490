"""The nightly run rebuilds only the days of the daily facts whose rows changed, and gets the
same numbers a full rebuild gets: no day when nothing changed, and the days from an older order
that was cancelled."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from pipelines.assets import fact_windows
from pipelines.assets.dbt import PARSE_STATE, PARTITIONED_TAG, WINDOWED_BUILD_OPTIONS, prepared_dbt_project
from pipelines.resources import RunSettings
from tests.conftest import PipelineRun, dbt_build, run_cli
from tests.test_daily_fact_partitions import materialize_facts
from tests.test_dashboard_apptest import use_home
from transactional import orders

pytestmark = pytest.mark.slow(minutes=7)

FACTS_TOTALS = """
    SELECT merchant_code, sales_date, orders, revenue, cost FROM marts.fct_merchant_daily_sales
    ORDER BY merchant_code, sales_date
"""
# Revenue per merchant and business day straight from the raw copy: lines of orders placed on
# or before the merchant's as_of and not cancelled by then.
RAW_REVENUE = """
    WITH as_of AS (SELECT merchant_id, as_of FROM intermediate.int_merchants_as_of),
    live AS (
        SELECT o.order_id, o.merchant_id, CAST(timezone('Asia/Shanghai', o.ordered_at) AS DATE) AS day
        FROM raw.orders o JOIN as_of USING (merchant_id)
        WHERE CAST(timezone('Asia/Shanghai', o.ordered_at) AS DATE) <= as_of.as_of
          AND (o.cancelled_at IS NULL OR CAST(timezone('Asia/Shanghai', o.cancelled_at) AS DATE) > as_of.as_of)
    )
    SELECT live.merchant_id, live.day, sum(l.line_amount) AS revenue
    FROM live JOIN raw.order_lines l USING (order_id)
    GROUP BY ALL ORDER BY ALL
"""


def _query(pipeline: PipelineRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(pipeline.home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _build_state(pipeline: PipelineRun) -> tuple:
    return _query(pipeline, "SELECT rebuilt_from, reason FROM raw._facts_build_state")[0]


def _nightly_plan(pipeline: PipelineRun) -> fact_windows.FactWindow:
    """The window the next nightly build would rebuild, planned as the facts' asset plans it."""
    manifest = json.loads(prepared_dbt_project().manifest_path.read_text())
    facts = [
        (node["schema"], node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and PARTITIONED_TAG in node["tags"]
    ]
    checksum = fact_windows.models_checksum(manifest, PARTITIONED_TAG)
    with duckdb.connect(str(pipeline.home / "warehouse.duckdb"), read_only=True) as conn:
        return fact_windows.plan_window(conn, facts, "", checksum, full_refresh_requested=False)


def _last_facts_invocation(pipeline: PipelineRun) -> Path:
    """The target directory of the last build's dbt invocation of the daily facts."""
    invocations = (pipeline.home / "dbt" / "target" / "runs").glob("*-dbt_daily_facts")
    return max(invocations, key=lambda path: path.stat().st_mtime)


def test_nightly_builds_rebuild_only_the_changed_days_and_match_a_full_rebuild(
    own_pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = own_pipeline_run
    # `coopcast run` built the daily facts whole, as a first build does.
    assert _build_state(pipeline)[0] is None
    first = _query(pipeline, FACTS_TOTALS)

    # With nothing new the nightly build plans an empty window, and dbt given it changes nothing
    # (the facts alone, as the asset runs them: a whole `coopcast build` here would only repeat
    # the first).
    unchanged = _nightly_plan(pipeline)
    assert (unchanged.full_refresh, unchanged.reason) == (False, "nothing changed since the last build")
    dbt_build(
        pipeline.home / "warehouse.duckdb",
        tmp_path,
        "--select",
        f"tag:{PARTITIONED_TAG}",
        *WINDOWED_BUILD_OPTIONS,
        "--vars",
        json.dumps(unchanged.dbt_vars()),
    )
    assert _query(pipeline, FACTS_TOTALS) == first

    with psycopg.connect(pipeline.database_url, autocommit=True) as conn:
        # The oldest order still open, cancelled a minute after its merchant's last order (so on
        # its last business day): the day it was ordered loses revenue, though nothing new is
        # dated that day.
        open_order, open_ordered_at, merchant_last_at = conn.execute(
            "SELECT o.order_id, o.ordered_at,"
            " (SELECT max(ordered_at) FROM core.orders WHERE merchant_id = o.merchant_id)"
            " FROM core.orders o WHERE o.status IN ('received', 'reviewed', 'confirmed')"
            " ORDER BY o.ordered_at LIMIT 1"
        ).fetchone()
        orders.cancel_order(conn, open_order, merchant_last_at + timedelta(minutes=1))

    # The saved parse a home kept before it was kept per warehouse path; the next build drops it.
    unfingerprinted_parse = pipeline.home / "dbt" / "target" / PARSE_STATE
    unfingerprinted_parse.write_bytes(b"")
    run_cli(pipeline, "ingest")
    run_cli(pipeline, "build")
    assert not unfingerprinted_parse.exists()
    rebuilt_from, reason = _build_state(pipeline)
    assert rebuilt_from is not None, f"expected an incremental build, got a full one: {reason}"
    assert rebuilt_from <= (open_ordered_at + timedelta(hours=8)).date()
    # The window reached dbt as run vars in the environment: the facts' SQL filters on it, and
    # dbt parsed again only the files that read them, not the whole project. The home is a copy
    # of one built elsewhere, so this build's first step took a parse for the new warehouse path.
    invocation = _last_facts_invocation(pipeline)
    compiled = next((invocation / "compiled").rglob("fct_daily_sales.sql")).read_text()
    assert f"ordered_date >= date '{rebuilt_from.isoformat()}'" in compiled
    dbt_log = (invocation / "dbt.log").read_text()
    assert "Partial parsing enabled" in dbt_log and "Unable to do partial parsing" not in dbt_log
    incremental = _query(pipeline, FACTS_TOTALS)
    assert incremental != first

    sku_revenue = "SELECT merchant_id, sales_date, revenue - amount_only_revenue FROM marts.fct_merchant_daily_sales"
    merchant_revenue = {(merchant, day): revenue for merchant, day, revenue in _query(pipeline, sku_revenue)}
    raw_revenue = {(merchant, day): revenue for merchant, day, revenue in _query(pipeline, RAW_REVENUE)}
    assert merchant_revenue == raw_revenue

    # The full rebuild to match, as `coopcast build --full-refresh` and the Sunday nightly ask for
    # it (their run config sets this resource), of the facts alone: the rest of a whole build
    # would only repeat the one above.
    use_home(monkeypatch, pipeline.home)
    assert materialize_facts(pipeline.home / "warehouse.duckdb", RunSettings(full_refresh=True)).success
    assert _build_state(pipeline) == (None, "a full refresh was asked for")
    assert _query(pipeline, FACTS_TOTALS) == incremental
