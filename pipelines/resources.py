"""Dagster resources: where PostgreSQL and the warehouse are, and the run's settings."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines import settings
from transactional import db

# DuckDB lets one process open a file for writing, and then no other process may open it, not
# even read-only: every asset that opens the warehouse takes a slot of this pool, and the
# instance (dagster.yaml, see pipelines/ops/instance.py) gives the pool a single slot.
DUCKDB_WRITER_POOL = "duckdb_writer"


class PostgresResource(dg.ConfigurableResource):
    """The source database; empty url means DATABASE_URL or the embedded server."""

    url: str = ""

    def uri(self) -> str:
        return self.url or db.database_url()

    def ingest_uri(self) -> str:
        """The read-only role that may bypass row security: ingestion sees every merchant."""
        if self.url:
            return db.as_role(self.url, db.INGEST_ROLE)
        return db.ingest_database_url()


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse; empty path means COOPCAST_WAREHOUSE or $COOPCAST_HOME/warehouse.duckdb."""

    path: str = ""

    def warehouse_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    def serving_path(self) -> Path:
        return settings.serving_path()

    def forecast_fan_out_dir(self) -> Path:
        """Beside the warehouse (so under COOPCAST_HOME by default): the merchant partitions' series
        and fits (pipelines/assets/merchant_fan_out.py), on storage every run pod shares."""
        return self.warehouse_path().parent / "forecast_fan_out"

    def exports_dir(self) -> Path:
        return settings.exports_dir()


class RunSettings(dg.ConfigurableResource):
    """`as_of` (YYYY-MM-DD) fixes the business date for every merchant and hides later data;
    empty means each merchant's last business date in the data."""

    as_of: str = ""
    # Rebuild the daily facts whole instead of only the days whose rows changed (see
    # pipelines/assets/fact_windows.py); the Sunday nightly run does, as a safety net.
    full_refresh: bool = False

    def dbt_run_vars(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """dbt's run vars (macros/business_rules.sql, run_var): the run's as_of and any extra
        (a partition's window)."""
        return {**({"as_of": self.as_of} if self.as_of else {}), **(extra or {})}
