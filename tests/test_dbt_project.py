"""Rules of the dbt project that no single model's test would catch: every model and column an
analyst can query is described, and every test can run in the invocation that builds it."""

from __future__ import annotations

import json
from functools import cache

import duckdb
import pytest

from pipelines.assets.dbt import ML_TAG, PARTITIONED_TAG, prepared_dbt_project
from tests.conftest import PipelineRun

DOCUMENTED_SCHEMAS = ("staging", "intermediate", "marts")


@cache
def _manifest() -> dict:
    return json.loads(prepared_dbt_project().manifest_path.read_text())


def _ancestors(manifest: dict, node: str) -> set[str]:
    seen: set[str] = set()
    pending = [node]
    while pending:
        for parent in manifest["parent_map"].get(pending.pop(), []):
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return seen


def _invocation(manifest: dict, node: str) -> str:
    """Which dbt invocation of a run builds the model (see build_dbt_assets): the daily facts,
    the marts that read forecasts back, the models built on the daily facts, or the rest."""
    tags = manifest["nodes"][node]["tags"]
    if ML_TAG in tags:
        return "ml"
    if PARTITIONED_TAG in tags:
        return "daily facts"
    upstream = _ancestors(manifest, node)
    if any(PARTITIONED_TAG in manifest["nodes"][parent]["tags"] for parent in upstream if parent in manifest["nodes"]):
        return "after the daily facts"
    return "models"


def test_every_data_test_runs_in_the_invocation_that_builds_what_it_reads() -> None:
    """dbt runs a test with the invocation that selected all the models it reads or built
    them earlier (indirect selection `buildable`, see pipelines/assets/dbt.py). A test reading a
    dimension and a mart built in a later invocation would never run: point it at a model the
    mart is built from (a staging model) instead."""
    manifest = _manifest()
    unreachable = []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "test":
            continue
        models = [parent for parent in node["depends_on"]["nodes"] if parent.startswith("model.")]
        reachable = any(
            all(
                other in _ancestors(manifest, last) or _invocation(manifest, other) == _invocation(manifest, last)
                for other in models
            )
            for last in models
        )
        if models and not reachable:
            unreachable.append(f"{unique_id} reads {models}")
    assert not unreachable, "tests that no dbt invocation would run:\n" + "\n".join(unreachable)


@pytest.fixture(scope="module")
def built_columns(pipeline_run: PipelineRun) -> dict[str, list[str]]:
    with duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            " WHERE table_catalog = current_database() AND table_schema IN ('staging', 'intermediate', 'marts')"
            " ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for schema, table, column in rows:
        columns.setdefault(f"{schema}.{table}", []).append(column)
    return columns


def test_every_model_and_column_an_analyst_can_query_is_described(built_columns) -> None:
    models = {
        f"{node['schema']}.{node['name']}": node
        for node in _manifest()["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] in DOCUMENTED_SCHEMAS
    }
    assert set(models) <= set(built_columns), f"models not built: {sorted(set(models) - set(built_columns))}"
    undescribed = []
    for relation, node in sorted(models.items()):
        if not node["description"].strip():
            undescribed.append(relation)
        described = {name.lower() for name, column in node["columns"].items() if column["description"].strip()}
        undescribed += [f"{relation}.{column}" for column in built_columns[relation] if column.lower() not in described]
    assert not undescribed, f"{len(undescribed)} models or columns without a description:\n" + "\n".join(undescribed)
