"""The Dagster code location, ingestion, exports and the `coopcast` CLI."""
