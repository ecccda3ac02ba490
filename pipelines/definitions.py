"""The Dagster code location: `dagster dev -m pipelines.definitions`."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from pipelines.assets.alert_digests import alert_digests
from pipelines.assets.churn import churn_scores
from pipelines.assets.dbt import ML_TAG, InstalledDbtCliResource, build_dbt_assets, prepared_dbt_project
from pipelines.assets.exports import build_serving_asset, replenishment_workbooks
from pipelines.assets.ingest import INGEST_ASSETS, INGEST_CHECKS
from pipelines.assets.merchant_fan_out import (
    FAN_OUT_GROUP,
    forecast_series,
    forecast_series_job,
    forecast_series_schedule,
    merchant_fan_out_sensor,
    per_merchant_fits_job,
    per_merchant_series_fits,
)
from pipelines.assets.ml import POLICY_EVALUATION, demand_forecasts, policy_evaluation, replenishment_plan
from pipelines.assets.prices import price_trend_assets
from pipelines.ops.digests import alert_digest_email_job
from pipelines.ops.schedules import FULL_RUN_JOB, POLICY_EVALUATION_JOB, build_jobs, build_schedules
from pipelines.ops.sensors import abandoned_cli_runs, new_data_sensor, run_failure_alerts
from pipelines.ops.settlements import weekly_settlement_job
from pipelines.resources import PostgresResource, RunSettings, WarehouseResource

__all__ = ["FULL_RUN_JOB", "POLICY_EVALUATION_JOB", "build_definitions", "defs"]

# The dbt installed beside this interpreter, so nothing depends on PATH or an activated venv,
# started so that it ends when the run's process is killed (pipelines/dbt_child.py).
DBT_EXECUTABLE = Path(sys.executable).parent / "coopcast-dbt"


def build_definitions() -> dg.Definitions:
    project = prepared_dbt_project()
    dbt_definitions = build_dbt_assets(project)
    published = [
        *(key for definition in dbt_definitions for key in definition.keys if key.path[0] == "marts"),
        *demand_forecasts.keys,
        *churn_scores.keys,
        *price_trend_assets.keys,
        *alert_digests.keys,
    ]
    serving_warehouse = build_serving_asset(published)
    ml_marts = dg.AssetSelection.tag(ML_TAG, "")

    return dg.Definitions(
        assets=[
            *INGEST_ASSETS,
            *dbt_definitions,
            forecast_series,
            per_merchant_series_fits,
            demand_forecasts,
            replenishment_plan,
            policy_evaluation,
            churn_scores,
            price_trend_assets,
            alert_digests,
            replenishment_workbooks,
            serving_warehouse,
        ],
        asset_checks=INGEST_CHECKS,
        jobs=[
            *build_jobs(ml_marts, dg.AssetSelection.assets(POLICY_EVALUATION), dg.AssetSelection.groups(FAN_OUT_GROUP)),
            forecast_series_job,
            per_merchant_fits_job,
            weekly_settlement_job,
            alert_digest_email_job,
        ],
        schedules=[*build_schedules(), forecast_series_schedule],
        sensors=[new_data_sensor, run_failure_alerts, merchant_fan_out_sensor, abandoned_cli_runs],
        # Steps run one after the other in the run's process: most of them hold the warehouse's
        # single write lock anyway, and one process loads the dbt manifest once.
        executor=dg.in_process_executor,
        resources={
            "postgres": PostgresResource(),
            "warehouse": WarehouseResource(),
            "run_settings": RunSettings(),
            "dbt": InstalledDbtCliResource(project_dir=project, dbt_executable=str(DBT_EXECUTABLE)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
