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
    """Copy every table and view of the published schemas as tables; returns row counts."""
    staging_dir = serving_path.parent / ".next"
    staging_dir.mkdir(parents=True, exist_ok=True)
    next_copy = staging_dir / serving_path.name
    next_copy.unlink(missing_ok=True)
    row_counts: dict[str, int] = {}
    conn = warehouse.connect(warehouse_path)
    try:
        conn.execute(f"ATTACH '{next_copy}' AS serving_next")
        relations = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema IN ('marts', 'ml')"
            " ORDER BY table_schema, table_name"
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            conn.execute(f"CREATE SCHEMA serving_next.{schema}")
        for schema, table in relations:
            conn.execute(f'CREATE TABLE serving_next.{schema}."{table}" AS SELECT * FROM {schema}."{table}"')
            count = conn.execute(f'SELECT count(*) FROM serving_next.{schema}."{table}"').fetchone()
            row_counts[f"{schema}.{table}"] = int(count[0]) if count else 0
        conn.execute("DETACH serving_next")
    finally:
        conn.close()
    os.replace(next_copy, serving_path)
    return row_counts
