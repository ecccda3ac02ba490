"""Dagster resources: where PostgreSQL and the warehouse are, and the run's settings."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines import settings
from transactional import db


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

    def exports_dir(self) -> Path:
        return settings.exports_dir()


class RunSettings(dg.ConfigurableResource):
    """`as_of` (YYYY-MM-DD) fixes the business date for every merchant and hides later data;
    empty means each merchant's last business date in the data."""

    as_of: str = ""

    def dbt_vars(self) -> list[str]:
        return ["--vars", f'{{"as_of": "{self.as_of}"}}'] if self.as_of else []
