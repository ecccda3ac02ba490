"""Ingest group: PostgreSQL core tables into DuckDB raw.*, each reconciled with its source."""

import dagster as dg

from pipelines import warehouse as duck
from pipelines.ingest import CORE_TABLES, ingest, reconcile
from pipelines.resources import DUCKDB_WRITER_POOL, PostgresResource, WarehouseResource

RAW_ASSET_KEYS = {table: dg.AssetKey(["raw", table]) for table in CORE_TABLES}
RECONCILIATION_CHECK = "matches_postgres_at_snapshot"


class IngestConfig(dg.Config):
    """Launch with full=true (the UI's launchpad, or `coopcast ingest --full`) to copy every table whole."""

    full: bool = False


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="ingest",
            kinds={"postgres", "duckdb"},
            description=f"core.{table} copied from PostgreSQL, same name and columns",
        )
        for table, key in RAW_ASSET_KEYS.items()
    ],
    name="ingest_core_tables",
    pool=DUCKDB_WRITER_POOL,
)
def ingest_core_tables(config: IngestConfig, postgres: PostgresResource, warehouse: WarehouseResource):
    """Incremental copy of every core table (and the simulator's sim.* ground truth) at one
    PostgreSQL snapshot, in one DuckDB transaction."""
    result = ingest(postgres.ingest_uri(), warehouse.warehouse_path(), full=config.full)
    for table, key in RAW_ASSET_KEYS.items():
        ingested = result.tables[table]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": ingested.row_count,
                "mode": ingested.mode,
                "rows_merged": ingested.rows_merged,
                "rows_deleted": ingested.rows_deleted,
                "postgres_snapshot": str(result.snapshot),
                "sim_tables": dg.MetadataValue.json(result.sim_row_counts),
            },
        )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset=key,
            blocking=True,
            description=(
                "Row count and the sums of key, id and amount columns equal PostgreSQL's at the ingested snapshot"
            ),
        )
        for key in RAW_ASSET_KEYS.values()
    ],
    pool=DUCKDB_WRITER_POOL,
)
def reconcile_raw_tables(warehouse: WarehouseResource):
    conn = duck.connect(warehouse.warehouse_path())
    try:
        for table, key in RAW_ASSET_KEYS.items():
            passed, details = reconcile(conn, table)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=RECONCILIATION_CHECK,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    name: dg.MetadataValue.json(value) if isinstance(value, dict) else value
                    for name, value in details.items()
                },
            )
    finally:
        conn.close()


INGEST_ASSETS = [ingest_core_tables]
INGEST_CHECKS = [reconcile_raw_tables]
