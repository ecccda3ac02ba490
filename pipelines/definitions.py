"""The Dagster code location: `dagster dev -m pipelines.definitions`."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.assets.dbt import build_dbt_assets, prepared_dbt_project
from pipelines.assets.exports import build_serving_asset, replenishment_workbooks
from pipelines.assets.ingest import ingest_core_tables
from pipelines.assets.ml import demand_forecasts
from pipelines.resources import PostgresResource, RunSettings, WarehouseResource

FULL_RUN_JOB = "coopcast_full_run"
# The dbt installed beside this interpreter, so nothing depends on PATH or an activated venv.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
BUSINESS_TIMEZONE = "Asia/Shanghai"


def build_definitions() -> dg.Definitions:
    project = prepared_dbt_project()
    dbt_definitions = build_dbt_assets(project)
    published = [key for definition in dbt_definitions for key in definition.keys if key.path[0] == "marts"] + [
        demand_forecasts.key
    ]
    serving_warehouse = build_serving_asset(published)

    # One writer at a time: DuckDB allows a single read-write process, so the whole graph runs
    # in one process, step after step.
    full_run = dg.define_asset_job(
        FULL_RUN_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Ingest, dbt build, forecast, replenishment marts, workbooks, then publish the serving copy.",
    )
    return dg.Definitions(
        assets=[ingest_core_tables, *dbt_definitions, demand_forecasts, replenishment_workbooks, serving_warehouse],
        jobs=[full_run],
        schedules=[
            dg.ScheduleDefinition(
                name="coopcast_daily",
                job=full_run,
                cron_schedule="30 1 * * *",
                execution_timezone=BUSINESS_TIMEZONE,
                description="Every night at 01:30 Beijing time, after the business day has closed.",
            )
        ],
        resources={
            "postgres": PostgresResource(),
            "warehouse": WarehouseResource(),
            "run_settings": RunSettings(),
            "dbt": DbtCliResource(project_dir=project, dbt_executable=str(DBT_EXECUTABLE)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
