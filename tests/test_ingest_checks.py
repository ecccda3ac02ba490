"""The reconciliation checks of the ingest assets: pass on a faithful copy, and a failure stops
what depends on the table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import psycopg

from pipelines import ingest
from pipelines.assets.ingest import INGEST_ASSETS, INGEST_CHECKS, RAW_ASSET_KEYS, RECONCILIATION_CHECK
from pipelines.resources import PostgresResource, WarehouseResource
from transactional import catalogue

AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


@dg.asset(deps=[RAW_ASSET_KEYS["merchants"]])
def merchant_report() -> None:
    """Stands in for the dbt models downstream of raw.merchants."""


def run_ingestion(pg_database_url: str, warehouse: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*INGEST_ASSETS, *INGEST_CHECKS, merchant_report],
        resources={
            "postgres": PostgresResource(url=pg_database_url),
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        raise_on_error=False,
    )


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        evaluation.asset_key.path[-1]: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == RECONCILIATION_CHECK
    }


def test_every_raw_table_reconciles_and_a_mismatch_blocks_its_dependents(pg_database_url: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with psycopg.connect(pg_database_url) as pg:
        catalogue.create_merchant(pg, "M001", "城关供销社", AT)
    result = run_ingestion(pg_database_url, warehouse)
    assert result.success
    assert check_outcomes(result) == dict.fromkeys(ingest.CORE_TABLES, True)
    assert [event.asset_key for event in result.get_asset_materialization_events()].count(
        dg.AssetKey("merchant_report")
    ) == 1

    # A row PostgreSQL never had: merging by key leaves it there, and the counts give it away.
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "INSERT INTO raw.merchants BY NAME SELECT * REPLACE (merchant_id + 1000 AS merchant_id) FROM raw.merchants"
        )
    result = run_ingestion(pg_database_url, warehouse)
    outcomes = check_outcomes(result)
    assert [table for table, passed in outcomes.items() if not passed] == ["merchants"]
    assert dg.AssetKey("merchant_report") not in {
        event.asset_key for event in result.get_asset_materialization_events()
    }
