"""Ingestion copies every core table and is all-or-nothing."""

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
            " WHERE table_schema = 'raw' ORDER BY 1, ordinal_position"
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

    copy_table = ingest._replace
    copied: list[str] = []

    def crash_after_three_tables(conn, source_schema: str, target_schema: str, table: str) -> int:
        if len(copied) == 3:
            raise RuntimeError("connection to PostgreSQL lost")
        copied.append(table)
        return copy_table(conn, source_schema, target_schema, table)

    monkeypatch.setattr(ingest, "_replace", crash_after_three_tables)
    with pytest.raises(RuntimeError, match="connection to PostgreSQL lost"):
        ingest.ingest_full(pg_database_url, warehouse)
    assert "merchants" in copied, "the crash should come after raw.merchants was replaced"
    assert merchant_codes(warehouse) == ["M001"]

    monkeypatch.undo()
    ingest.ingest_full(pg_database_url, warehouse)
    assert merchant_codes(warehouse) == ["M001", "M002"]
