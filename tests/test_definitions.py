"""The Dagster code location loads, as `dagster dev` would load it, with the graph ops expect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

ASSET_GRAPH_SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
# Set to write the snapshot again after an intended change of the graph; review its diff.
UPDATE_SNAPSHOTS = os.environ.get("COOPCAST_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COOPCAST_HOME", str(tmp_path))
    monkeypatch.setenv("COOPCAST_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return tmp_path


@pytest.fixture
def definitions(isolated_home) -> dg.Definitions:
    from pipelines.definitions import build_definitions

    return build_definitions()


def _key(text: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(text)


def test_every_asset_has_a_group_and_a_kind(definitions) -> None:
    graph = definitions.resolve_asset_graph()
    materializable = [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    assert len(materializable) > 40
    for node in materializable:
        assert node.group_name and node.group_name != "default", node.key
        assert node.kinds, node.key
    groups = {node.key.to_user_string(): node.group_name for node in materializable}
    assert groups["raw/orders"] == "ingest"
    assert groups["staging/stg_postgres__orders"] == "staging"
    assert groups["intermediate/int_order_lines_enriched"] == "intermediate"
    assert groups["marts/fct_daily_sales"] == "marts"
    assert groups["ml/demand_forecasts"] == "ml"
    assert groups["ml/forecast_backtests"] == "ml"
    assert groups["ml/demand_forecast_periods"] == "ml"
    assert groups["ml/policy_evaluation"] == "ml"
    assert groups["exports/replenishment_workbooks"] == "exports"
    assert groups["serving/warehouse"] == "serving"
    assert graph.get(_key("marts/fct_inventory_flags")).kinds == {"dbt", "duckdb"}


def test_dbt_tests_show_as_asset_checks(definitions) -> None:
    check_targets = {check.asset_key.to_user_string() for check in definitions.resolve_asset_graph().asset_check_keys}
    assert {"marts/fct_inventory_flags", "marts/fct_daily_sales", "marts/dim_merchants"} <= check_targets


def test_large_facts_have_daily_partitions_backfilled_in_one_run(definitions) -> None:
    graph = definitions.resolve_asset_graph()
    partitioned = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if isinstance(graph.get(key).partitions_def, dg.TimeWindowPartitionsDefinition)
    }
    assert partitioned == {
        "marts/fct_daily_sales",
        "marts/fct_merchant_daily_sales",
        "marts/fct_order_sla",
        "intermediate/int_funnel_events_aggregated",
    }
    for key in partitioned:
        facts = definitions.get_assets_def(_key(key))
        assert facts.partitions_def.timezone == "Asia/Shanghai"
        assert isinstance(facts.partitions_def, dg.DailyPartitionsDefinition)
        assert facts.backfill_policy == dg.BackfillPolicy.single_run()


def test_marts_carry_freshness_policies(definitions) -> None:
    graph = definitions.resolve_asset_graph()
    marts = [key for key in graph.get_all_asset_keys() if key.path[0] == "marts"]
    assert marts
    for key in marts:
        assert graph.get(key).freshness_policy is not None, key
    nightly = graph.get(_key("marts/fct_daily_sales")).freshness_policy
    weekly = graph.get(_key("marts/fct_replenishment_suggestions")).freshness_policy
    assert nightly.fail_window.to_timedelta() < weekly.fail_window.to_timedelta()


def test_every_warehouse_asset_takes_the_single_writer_pool(definitions) -> None:
    from pipelines.resources import DUCKDB_WRITER_POOL

    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable and "duckdb" in node.kinds:
            assert definitions.get_assets_def(key).node_def.pool == DUCKDB_WRITER_POOL, key
    for checks in definitions.asset_checks or []:
        assert checks.node_def.pool == DUCKDB_WRITER_POOL, checks.node_def.name


def test_schedules_run_in_beijing_time_and_target_their_jobs(definitions) -> None:
    from pipelines.ops.schedules import NIGHTLY_JOB, WEEKLY_FORECAST_JOB
    from pipelines.ops.settlements import SETTLEMENT_JOB

    expected = {
        "coopcast_nightly_schedule": (NIGHTLY_JOB, "30 1 * * 1-6"),
        "coopcast_sunday_full_refresh_schedule": (NIGHTLY_JOB, "30 1 * * 0"),
        "coopcast_weekly_forecast_schedule": (WEEKLY_FORECAST_JOB, "0 4 * * 1"),
        "coopcast_weekly_settlement_schedule": (SETTLEMENT_JOB, "0 6 * * 1"),
    }
    for name, (job_name, cron) in expected.items():
        schedule = definitions.resolve_schedule_def(name)
        assert schedule.execution_timezone == "Asia/Shanghai"
        assert (schedule.job_name, schedule.cron_schedule) == (job_name, cron)
    sunday = definitions.resolve_schedule_def("coopcast_sunday_full_refresh_schedule")
    sunday_tick = sunday.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 29, 1, 30))
    )
    assert sunday_tick.run_requests[0].run_config["resources"]["run_settings"]["config"]["full_refresh"] is True

    nightly = {key.to_user_string() for key in definitions.resolve_job_def(NIGHTLY_JOB).asset_layer.selected_asset_keys}
    weekly = {
        key.to_user_string() for key in definitions.resolve_job_def(WEEKLY_FORECAST_JOB).asset_layer.selected_asset_keys
    }
    assert {"raw/orders", "marts/fct_daily_sales", "marts/fct_inventory_flags", "serving/warehouse"} <= nightly
    assert not nightly & {
        "ml/demand_forecasts",
        "ml/replenishment_plan",
        "marts/fct_replenishment_suggestions",
        "ml/policy_evaluation",
    }
    assert weekly == {
        "ml/demand_forecasts",
        "ml/demand_forecast_periods",
        "ml/forecast_backtests",
        "ml/replenishment_plan",
        "ml/churn_scores",
        "ml/churn_evaluation",
        "ml/price_trends",
        "ml/price_signals",
        "ml/price_change_points",
        "ml/price_evaluation",
        "marts/fct_demand_forecast_periods",
        "marts/fct_forecast_accuracy",
        "marts/fct_merchant_forecast_accuracy",
        "marts/fct_forecast_model_comparison",
        "marts/fct_replenishment_suggestions",
        "exports/replenishment_workbooks",
        "serving/warehouse",
    }


def test_the_policy_evaluation_runs_only_on_demand(definitions) -> None:
    from pipelines.ops.schedules import FULL_RUN_JOB, POLICY_EVALUATION_JOB

    def selected(job_name: str) -> set[str]:
        job = definitions.resolve_job_def(job_name)
        return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}

    assert selected(POLICY_EVALUATION_JOB) == {"ml/policy_evaluation"}
    assert "ml/policy_evaluation" not in selected(FULL_RUN_JOB)
    assert "ml/demand_forecasts" in selected(FULL_RUN_JOB)


def test_the_merchant_partitions_run_only_in_their_own_jobs_and_only_when_fan_out_is_set(definitions) -> None:
    from pipelines.assets.merchant_fan_out import FORECAST_SERIES_JOB, PER_MERCHANT_FITS_JOB
    from pipelines.ops.schedules import FULL_RUN_JOB, NIGHTLY_JOB, WEEKLY_FORECAST_JOB

    fan_out = {"ml/forecast_series", "ml/per_merchant_series_fits"}
    for job_name in (FULL_RUN_JOB, NIGHTLY_JOB, WEEKLY_FORECAST_JOB):
        keys = definitions.resolve_job_def(job_name).asset_layer.selected_asset_keys
        assert not fan_out & {key.to_user_string() for key in keys}, job_name
    per_merchant = definitions.resolve_job_def(PER_MERCHANT_FITS_JOB)
    assert per_merchant.partitions_def.name == "merchant"
    schedule = definitions.resolve_schedule_def("coopcast_forecast_series_schedule")
    assert (schedule.job_name, schedule.cron_schedule) == (FORECAST_SERIES_JOB, "0 3 * * 1")
    sensor = definitions.resolve_sensor_def("coopcast_merchant_fan_out_sensor")
    # The suite runs without COOPCAST_MERCHANT_FAN_OUT: one machine, where nothing fans out.
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_setting_fan_out_starts_the_series_schedule_and_the_fan_out_sensor() -> None:
    statuses = (
        "from pipelines.assets import merchant_fan_out as fan_out;"
        "print(fan_out.forecast_series_schedule.default_status.value,"
        " fan_out.merchant_fan_out_sensor.default_status.value)"
    )
    result = subprocess.run(
        [sys.executable, "-c", statuses],
        cwd=REPO_ROOT,
        env={**os.environ, "COOPCAST_MERCHANT_FAN_OUT": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RUNNING", "RUNNING"]


def test_sensors_watch_new_data_and_failed_runs(definitions) -> None:
    from pipelines.ops.schedules import NIGHTLY_JOB
    from pipelines.ops.sensors import FAILURE_SENSOR, NEW_DATA_SENSOR

    new_data = definitions.resolve_sensor_def(NEW_DATA_SENSOR)
    assert new_data.job_name == NIGHTLY_JOB
    failures = definitions.resolve_sensor_def(FAILURE_SENSOR)
    assert isinstance(failures, dg.RunStatusSensorDefinition)
    assert failures.default_status == dg.DefaultSensorStatus.RUNNING


def _graph_snapshot(definitions: dg.Definitions) -> dict:
    graph = definitions.resolve_asset_graph()
    return {
        "assets": {
            key.to_user_string(): sorted(parent.to_user_string() for parent in graph.get(key).parent_keys)
            for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string())
            if graph.get(key).is_materializable
        },
        "schedules": {
            schedule.name: schedule.job_name
            for schedule in sorted(definitions.schedules or [], key=lambda schedule: schedule.name)
        },
        "sensors": sorted(sensor.name for sensor in definitions.sensors or []),
    }


def test_asset_graph_matches_its_snapshot(definitions) -> None:
    snapshot = _graph_snapshot(definitions)
    if UPDATE_SNAPSHOTS:
        ASSET_GRAPH_SNAPSHOT.parent.mkdir(exist_ok=True)
        ASSET_GRAPH_SNAPSHOT.write_text(json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n")
    assert snapshot == json.loads(ASSET_GRAPH_SNAPSHOT.read_text()), (
        "the asset graph changed: if intended, rerun with COOPCAST_UPDATE_SNAPSHOTS=1 and review the diff"
    )


def test_definitions_are_loadable(definitions) -> None:
    dg.Definitions.validate_loadable(definitions)


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
