"""Ingestion copies every core table, is all-or-nothing, and knows when there is something new."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg
import pytest

from pipelines import ingest
from transactional import catalogue

AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def merchant_codes(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return [row[0] for row in conn.execute("SELECT merchant_code FROM raw.merchants ORDER BY 1").fetchall()]


def test_raw_tables_have_the_names_and_columns_of_core(pg_database_url: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    result = ingest.ingest_full(pg_database_url, warehouse)
    assert set(result.row_counts) == set(ingest.CORE_TABLES)
    with psycopg.connect(pg_database_url) as pg:
        core_tables = {
            row[0]
            for row in pg.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'core' AND table_type = 'BASE TABLE'"
            )
        }
        core_columns = pg.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'core' AND table_name = ANY(%s) ORDER BY 1, ordinal_position",
            [sorted(core_tables - set(ingest.NOT_INGESTED))],
        ).fetchall()
    assert core_tables == set(ingest.CORE_TABLES) | set(ingest.NOT_INGESTED)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        raw_columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'raw' AND table_name <> '_ingest_state' ORDER BY 1, ordinal_position"
        ).fetchall()
    assert raw_columns == core_columns


def test_a_failed_ingestion_leaves_the_previous_warehouse_intact(
    pg_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with psycopg.connect(pg_database_url) as pg:
        catalogue.create_merchant(pg, "M001", "城关供销社", AT)
    ingest.ingest_full(pg_database_url, warehouse)
    with psycopg.connect(pg_database_url) as pg:
        catalogue.create_merchant(pg, "M002", "惠农农资批发部", AT)

    copy_table = ingest._copy_whole
    copied: list[str] = []

    def crash_after_three_tables(conn, source):
        if len(copied) == 3:
            raise RuntimeError("connection to PostgreSQL lost")
        copied.append(source.name)
        return copy_table(conn, source)

    monkeypatch.setattr(ingest, "_copy_whole", crash_after_three_tables)
    with pytest.raises(RuntimeError, match="connection to PostgreSQL lost"):
        ingest.ingest_full(pg_database_url, warehouse)
    assert "merchants" in copied, "the crash should come after raw.merchants was replaced"
    assert merchant_codes(warehouse) == ["M001"]

    monkeypatch.undo()
    ingest.ingest_full(pg_database_url, warehouse)
    assert merchant_codes(warehouse) == ["M001", "M002"]


def test_every_ingested_table_records_the_transaction_of_each_change(pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url) as pg:
        tracked = {
            row[0]
            for row in pg.execute(
                """SELECT c.table_name FROM information_schema.columns c
                   WHERE c.table_schema = 'core' AND c.column_name = 'change_txid' AND c.data_type = 'xid8'
                   AND EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = format('core.%I', c.table_name)::regclass
                               AND t.tgname = 'stamp_change_txid')
                   AND EXISTS (SELECT FROM pg_indexes i WHERE i.schemaname = 'core' AND i.tablename = c.table_name
                               AND i.indexdef LIKE '%(change_txid)')"""
            )
        }
        keyed_without_delete_log = [
            row[0]
            for row in pg.execute(
                """SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                   WHERE c.relnamespace = 'core'::regnamespace AND c.relname = ANY(%s)
                   AND NOT EXISTS (
                       SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'log_deleted_rows')""",
                [list(ingest.CORE_TABLES)],
            )
        ]
    assert set(ingest.CORE_TABLES) <= tracked
    assert keyed_without_delete_log == []


def test_source_has_changes_until_they_are_ingested(pg_database_url: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    assert ingest.source_has_changes(pg_database_url, warehouse), "an empty warehouse needs a first load"
    ingest.ingest(pg_database_url, warehouse)
    assert not ingest.source_has_changes(pg_database_url, warehouse)

    with psycopg.connect(pg_database_url) as pg:
        catalogue.create_merchant(pg, "M001", "城关供销社", AT)
    assert ingest.source_has_changes(pg_database_url, warehouse)
    ingest.ingest(pg_database_url, warehouse)
    assert not ingest.source_has_changes(pg_database_url, warehouse)
    assert merchant_codes(warehouse) == ["M001"]

    with psycopg.connect(pg_database_url) as pg:
        pg.execute("UPDATE core.merchants SET name = '城关供销社（总店）'")
    assert ingest.source_has_changes(pg_database_url, warehouse), "an update is a change"


@pytest.mark.parametrize("statement", ["UPDATE core.{table} SET change_txid = change_txid", "DELETE FROM core.{table}"])
def test_tables_reconciled_as_append_only_refuse_updates_and_deletes(conn: psycopg.Connection, statement: str) -> None:
    """Their settled rows' sums are kept, never recomputed, so PostgreSQL must never change them."""
    refused = []
    for table in ingest.APPEND_ONLY_TABLES:
        try:
            with conn.transaction():
                conn.execute(statement.format(table=table) + " WHERE false")
        except psycopg.Error:
            refused.append(table)
    assert refused == list(ingest.APPEND_ONLY_TABLES)


def test_reconciliation_fails_when_the_warehouse_lost_or_changed_a_row(pg_database_url: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with psycopg.connect(pg_database_url) as pg:
        for code in ("M001", "M002"):
            catalogue.create_merchant(pg, code, f"供销社 {code}", AT)
    ingest.ingest(pg_database_url, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        assert ingest.reconcile(conn, "merchants")[0]
        conn.execute("UPDATE raw.merchants SET merchant_id = merchant_id + 100 WHERE merchant_code = 'M002'")
        passed, details = ingest.reconcile(conn, "merchants")
        assert not passed
        assert set(details["differing_sums"]) == {"merchant_id"}
        conn.execute("DELETE FROM raw.merchants WHERE merchant_code = 'M002'")
        passed, details = ingest.reconcile(conn, "merchants")
        assert not passed
        assert (details["postgres_rows"], details["duckdb_rows"]) == (2, 1)
