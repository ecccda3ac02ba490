"""The Dagster code location loads, as `dagster dev` would load it, with the graph ops expect."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COOPCAST_HOME", str(tmp_path))
    monkeypatch.setenv("COOPCAST_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return tmp_path


def test_asset_graph_has_every_layer_in_its_group(isolated_home) -> None:
    from pipelines.definitions import FULL_RUN_JOB, build_definitions

    definitions = build_definitions()
    graph = definitions.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups["raw/orders"] == "ingest"
    assert groups["marts/fct_daily_sales"] == "dbt"
    assert groups["marts/fct_inventory_flags"] == "dbt"
    assert groups["ml/demand_forecasts"] == "ml"
    assert groups["marts/fct_replenishment_suggestions"] == "dbt"
    assert groups["exports/replenishment_workbooks"] == "exports"
    assert groups["serving/warehouse"] == "serving"

    forecast_parents = {key.to_user_string() for key in graph.get(dg.AssetKey(["ml", "demand_forecasts"])).parent_keys}
    assert "marts/fct_daily_sales" in forecast_parents
    replenishment = graph.get(dg.AssetKey(["marts", "fct_replenishment_suggestions"]))
    assert dg.AssetKey(["ml", "demand_forecasts"]) in replenishment.parent_keys

    check_targets = {check.asset_key.to_user_string() for check in graph.asset_check_keys}
    assert "marts/fct_inventory_flags" in check_targets, "dbt tests should appear as asset checks"

    schedule = definitions.resolve_schedule_def("coopcast_daily")
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == FULL_RUN_JOB


def test_dagster_cli_loads_the_code_location(isolated_home) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=REPO_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(isolated_home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
