"""Ingest group: PostgreSQL core tables into DuckDB raw.*."""

import dagster as dg

from pipelines.ingest import CORE_TABLES, ingest_full
from pipelines.resources import PostgresResource, WarehouseResource

RAW_ASSET_KEYS = {table: dg.AssetKey(["raw", table]) for table in CORE_TABLES}


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
)
def ingest_core_tables(postgres: PostgresResource, warehouse: WarehouseResource):
    """Full refresh of every core table (and the simulator's sim.* ground truth) in one transaction."""
    result = ingest_full(postgres.ingest_uri(), warehouse.warehouse_path())
    for table, key in RAW_ASSET_KEYS.items():
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": result.row_counts[table],
                "sim_tables": dg.MetadataValue.json(result.sim_row_counts),
            },
        )
