"""Publish the serving copy that dashboards and analysts read.

The new copy is written beside the old one and moved over it with one rename, so a reader sees
either the previous run or this one, never half of it, and never holds the writer's lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines import warehouse

PUBLISHED_SCHEMAS = ("marts", "ml")


def publish(warehouse_path: Path, serving_path: Path) -> dict[str, int]:
    """Copy every table and view of the published schemas as tables, those with a merchant_id
    sorted by it; returns row counts."""
    staging_dir = serving_path.parent / ".next"
    staging_dir.mkdir(parents=True, exist_ok=True)
    next_copy = staging_dir / serving_path.name
    next_copy.unlink(missing_ok=True)
    row_counts: dict[str, int] = {}
    conn = warehouse.connect(warehouse_path)
    try:
        conn.execute(f"ATTACH '{next_copy}' AS serving_next")
        relations = conn.execute(
            "SELECT t.table_schema, t.table_name, c.column_name IS NOT NULL FROM information_schema.tables t"
            " LEFT JOIN information_schema.columns c ON c.table_catalog = t.table_catalog"
            " AND c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'merchant_id'"
            " WHERE t.table_catalog = current_database() AND t.table_schema IN ('marts', 'ml')"
            " ORDER BY t.table_schema, t.table_name"
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            conn.execute(f"CREATE SCHEMA serving_next.{schema}")
        for schema, table, by_merchant in relations:
            # A merchant's rows stored together: the dashboards filter every query by merchant_id,
            # and DuckDB then skips the row groups of the others by their min/max.
            order = " ORDER BY merchant_id" if by_merchant else ""
            conn.execute(f'CREATE TABLE serving_next.{schema}."{table}" AS SELECT * FROM {schema}."{table}"{order}')
            count = conn.execute(f'SELECT count(*) FROM serving_next.{schema}."{table}"').fetchone()
            row_counts[f"{schema}.{table}"] = int(count[0]) if count else 0
        conn.execute("DETACH serving_next")
    finally:
        conn.close()
    os.replace(next_copy, serving_path)
    return row_counts
