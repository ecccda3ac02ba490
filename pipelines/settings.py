"""Paths of the runtime state, all under COOPCAST_HOME (see docs/architecture.md)."""

from __future__ import annotations

import os
from pathlib import Path

from transactional.db import coopcast_home

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DUCKDB_SCHEMAS = ("raw", "staging", "intermediate", "marts", "ml", "sim")


def warehouse_path() -> Path:
    explicit = os.environ.get("COOPCAST_WAREHOUSE")
    return Path(explicit).resolve() if explicit else coopcast_home() / "warehouse.duckdb"


def serving_path() -> Path:
    """The read-only copy; same file name as the warehouse because DuckDB views keep catalog names."""
    return coopcast_home() / "serving" / warehouse_path().name


def exports_dir() -> Path:
    return coopcast_home() / "exports"


def dagster_home() -> Path:
    return coopcast_home() / "dagster"


def dbt_target_dir() -> Path:
    return coopcast_home() / "dbt" / "target"


API_URL_SETTING = "COOPCAST_API_URL"
API_PORT = 8000


def api_url() -> str:
    """Where the dashboard reaches the HTTP API (`coopcast serve` sets it to the API it starts)."""
    return (os.environ.get(API_URL_SETTING) or f"http://127.0.0.1:{API_PORT}").rstrip("/")
