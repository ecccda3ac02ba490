"""`coopcast backup` and `coopcast restore`: a restored database equals the original, row for row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipelines import ingest
from tests.conftest import PipelineRun, run_cli, warehouse_rows
from transactional import db
from transactional.db import with_database

pytestmark = pytest.mark.slow(minutes=2)


def table_fingerprints(database_url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of every row, for every table in core and sim."""
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            """SELECT table_schema || '.' || table_name FROM information_schema.tables
               WHERE table_schema IN ('core', 'sim') AND table_type = 'BASE TABLE' ORDER BY 1"""
        ).fetchall()
        fingerprints = {}
        for (table,) in tables:
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t"
            ).fetchone()
            assert row is not None
            fingerprints[table] = (row[0], row[1])
    return fingerprints


@pytest.fixture
def empty_database(pg_server_url: str) -> Iterator[str]:
    name = f"coopcast_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_restore_into_a_fresh_database_gives_the_same_rows(
    pipeline_run: PipelineRun, empty_database: str, tmp_path: Path
) -> None:
    archive = tmp_path / "coopcast.dump"
    run_cli(pipeline_run, "backup", "--output", str(archive))
    assert archive.stat().st_size > 0

    restored = PipelineRun(home=tmp_path / "restored_home", database_url=empty_database)
    run_cli(restored, "restore", str(archive))

    original = table_fingerprints(pipeline_run.database_url)
    assert original["core.order_lines"][0] > 0
    assert table_fingerprints(empty_database) == original

    # Row security came back with the tables: the application role still sees one merchant only.
    with psycopg.connect(empty_database) as owner:
        merchant_id, own_orders = owner.execute(
            "SELECT merchant_id, count(*) FROM core.orders GROUP BY 1 ORDER BY 1 LIMIT 1"
        ).fetchone() or (None, 0)
    with psycopg.connect(db.as_role(empty_database, db.APP_ROLE)) as app:
        assert app.execute("SELECT count(*) FROM core.orders").fetchone() == (0,)
        db.act_for_merchant(app, merchant_id)
        assert app.execute("SELECT merchant_id, count(*) FROM core.orders GROUP BY 1").fetchall() == [
            (merchant_id, own_orders)
        ]


def test_restore_refuses_to_overwrite_data_unless_asked(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    archive = tmp_path / "coopcast.dump"
    run_cli(pipeline_run, "backup", "--output", str(archive))
    before = table_fingerprints(pipeline_run.database_url)

    refused = run_cli(pipeline_run, "restore", str(archive), check=False)
    assert refused.returncode == 1
    assert "already holds coopcast data" in refused.stderr

    corrupt = tmp_path / "corrupt.dump"
    corrupt.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    failed = run_cli(pipeline_run, "restore", str(corrupt), "--replace", check=False)
    assert failed.returncode == 1
    assert "pg_restore failed" in failed.stderr
    assert table_fingerprints(pipeline_run.database_url) == before

    run_cli(pipeline_run, "restore", str(archive), "--replace")
    assert table_fingerprints(pipeline_run.database_url) == before


def test_after_a_restore_the_next_ingestion_brings_back_the_restored_rows(
    own_pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    """Restored rows carry the transaction ids of before the backup, older than the warehouse's
    snapshot: an incremental copy would keep the undone change in the warehouse for good."""
    pipeline = own_pipeline_run
    warehouse = pipeline.home / "warehouse.duckdb"
    archive = tmp_path / "before.dump"
    run_cli(pipeline, "backup", "--output", str(archive))
    with psycopg.connect(pipeline.database_url, autocommit=True) as conn:
        customer_id, name = conn.execute("SELECT customer_id, name FROM core.customers ORDER BY 1 LIMIT 1").fetchone()
        conn.execute("UPDATE core.customers SET name = name || '（已改）' WHERE customer_id = %s", [customer_id])

    def warehouse_name() -> str:
        return warehouse_rows(warehouse, "SELECT name FROM raw.customers WHERE customer_id = ?", [customer_id])[0][0]

    run_cli(pipeline, "ingest")
    assert warehouse_name() == f"{name}（已改）"

    run_cli(pipeline, "restore", str(archive), "--replace")
    assert ingest.source_has_changes(pipeline.database_url, warehouse)
    run_cli(pipeline, "ingest")
    assert warehouse_name() == name
    modes = warehouse_rows(warehouse, "SELECT DISTINCT mode FROM raw._ingest_state")
    assert modes == [("full",)], "a restored source is copied whole"
    assert not ingest.source_has_changes(pipeline.database_url, warehouse)
