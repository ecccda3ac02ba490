"""The alert digest asset end to end: the real tiny pipeline's first digest, then a next day with
three newly flagged items (tests/alert_digest_support.py), rerun once."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.assets.alert_digests import ALERT_DIGEST_SUMMARIES, ALERT_DIGESTS
from pipelines.definitions import build_definitions
from pipelines.ops.schedules import BUSINESS_TIMEZONE, NIGHTLY_JOB
from pipelines.warehouse import create_ml_tables
from tests import alert_digest_support
from tests.conftest import PipelineRun

next_day = alert_digest_support.next_day

# What the marts flag, read here independently of the asset's code.
FLAGGED_SQL = """
SELECT f.merchant_id, 'low_stock', f.warehouse_code || '/' || f.sku_code
FROM marts.fct_inventory_flags f JOIN marts.dim_products p USING (product_id)
WHERE f.is_low_stock AND p.is_active
UNION ALL
SELECT merchant_id, 'near_expiry', warehouse_code || '/' || batch_id
FROM marts.fct_near_expiry_batches WHERE near_expiry_level IS NOT NULL
UNION ALL
SELECT merchant_id, 'churn_risk', customer_code
FROM ml.churn_scores s
WHERE status = 'at_risk' AND as_of = (
    SELECT max(l.as_of) FROM ml.churn_scores l JOIN marts.dim_merchants m USING (merchant_id)
    WHERE l.merchant_id = s.merchant_id AND l.as_of <= m.as_of
)
"""


def rows(path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_the_nightly_job_builds_the_digest_before_publishing(pipeline_run: PipelineRun) -> None:
    definitions = build_definitions()
    nightly = definitions.resolve_job_def(NIGHTLY_JOB).asset_layer.executable_asset_keys
    assert {ALERT_DIGESTS, ALERT_DIGEST_SUMMARIES} <= set(nightly)
    schedule = definitions.resolve_schedule_def("coopcast_alert_digest_email_schedule")
    assert schedule.execution_timezone == BUSINESS_TIMEZONE
    assert schedule.job_name == "coopcast_alert_digest_email"


def test_a_first_digest_lists_every_flagged_item_as_new(pipeline_run: PipelineRun) -> None:
    warehouse = pipeline_run.home / "warehouse.duckdb"
    expected = set(rows(warehouse, FLAGGED_SQL))
    assert expected, "the tiny network flags nothing, so the digest is not exercised"

    digest = rows(warehouse, "SELECT merchant_id, kind, item_key, is_new, model_version, run_id FROM ml.alert_digests")
    assert {row[:3] for row in digest} == expected
    assert len(digest) == len(expected)
    assert all(is_new and version and run_id for *_, is_new, version, run_id in digest)

    summaries = rows(
        warehouse,
        """SELECT m.merchant_id, s.as_of = m.as_of, s.previous_as_of, s.flagged_items, s.new_items
           FROM marts.dim_merchants m LEFT JOIN ml.alert_digest_summaries s USING (merchant_id)""",
    )
    per_merchant = {merchant for merchant, *_ in expected}
    for merchant_id, current, previous_as_of, flagged, new in summaries:
        count = sum(1 for row in expected if row[0] == merchant_id)
        assert (current, previous_as_of, flagged, new) == (True, None, count, count), merchant_id
    assert per_merchant <= {row[0] for row in summaries}

    served = pipeline_run.home / "serving" / "warehouse.duckdb"
    assert sorted(rows(served, "SELECT merchant_id, kind, item_key FROM ml.alert_digests")) == sorted(
        row[:3] for row in digest
    )


def test_the_next_digest_lists_as_new_only_what_was_newly_flagged(next_day: alert_digest_support.NextDay) -> None:
    new = rows(
        next_day.warehouse,
        "SELECT merchant_id, kind, item_key FROM ml.alert_digests WHERE as_of = ? AND is_new",
        [next_day.as_of],
    )
    assert sorted(new) == sorted([next_day.low_stock, next_day.near_expiry, next_day.churn_risk])

    flagged = rows(next_day.warehouse, "SELECT count(*) FROM ml.alert_digests WHERE as_of = ?", [next_day.as_of])
    assert flagged == rows(next_day.warehouse, f"SELECT count(*) FROM ({FLAGGED_SQL})")
    summaries = rows(
        next_day.warehouse,
        "SELECT previous_as_of, sum(new_items) FROM ml.alert_digest_summaries WHERE as_of = ? GROUP BY ALL",
        [next_day.as_of],
    )
    assert summaries == [(next_day.first_as_of, 3)]


def test_rerunning_an_as_of_replaces_its_digest_and_keeps_the_earlier_one(
    pipeline_run: PipelineRun, next_day: alert_digest_support.NextDay
) -> None:
    first_run, rerun = next_day.run_ids
    by_as_of = dict(
        rows(next_day.warehouse, "SELECT as_of, list(DISTINCT run_id) FROM ml.alert_digests GROUP BY as_of")
    )
    assert by_as_of[next_day.as_of] == [rerun]
    assert first_run not in by_as_of[next_day.first_as_of] and rerun not in by_as_of[next_day.first_as_of]
    original = rows(pipeline_run.home / "warehouse.duckdb", "SELECT count(*) FROM ml.alert_digests")
    assert (
        rows(next_day.warehouse, "SELECT count(*) FROM ml.alert_digests WHERE as_of = ?", [next_day.first_as_of])
        == original
    )
    [(merchants,)] = rows(next_day.warehouse, "SELECT count(*) FROM marts.dim_merchants")
    assert rows(
        next_day.warehouse,
        "SELECT count(*), count(DISTINCT (merchant_id, as_of)) FROM ml.alert_digest_summaries",
    ) == [(2 * merchants, 2 * merchants)]


@pytest.mark.parametrize("table", ["alert_digests", "alert_digest_summaries"])
def test_the_digest_tables_are_declared_as_dbt_sources(table: str) -> None:
    sources = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "dbt_project/models/staging/_sources.yml").read_text(encoding="utf-8")
    )
    ml = next(source for source in sources["sources"] if source["name"] == "ml")
    declared = {entry["name"]: {column["name"] for column in entry["columns"]} for entry in ml["tables"]}
    with duckdb.connect() as conn:
        conn.execute("CREATE SCHEMA ml")
        create_ml_tables(conn)
        columns = {row[0] for row in conn.execute(f"DESCRIBE ml.{table}").fetchall()}
    assert declared[table] == columns
