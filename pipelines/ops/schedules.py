"""Jobs and schedules, in Asia/Shanghai time.

01:30 every night  coopcast_nightly             ingest, dbt build, publish the serving copy; the
                                                daily facts rebuild the days that changed, whole on Sundays
04:00 Monday       coopcast_weekly_forecast     forecasts, replenishment marts, workbooks, publish
06:00 Monday       coopcast_weekly_settlement   every merchant's statement of last week
07:00 every day    coopcast_alert_digest_email  each merchant's alert digest by email (when SMTP is set)

The forecasts run before the settlement so procurement has Monday's workbooks when the week's
money is settled; both run after the nightly build of Sunday's data.

The policy evaluation (ml/policy_evaluation) refits the forecast several times over a held-out
period (about 20 s at tiny scale against a few seconds for the rest of the ML group), so it runs
only on demand, in its own job (`coopcast evaluate replenishment`), never in a scheduled or the
full run.
"""

from __future__ import annotations

import dagster as dg

from pipelines.ops.alerts import smtp_host
from pipelines.ops.digests import NOT_CONFIGURED, alert_digest_email_job
from pipelines.ops.settlements import settlement_run_config, weekly_settlement_job

BUSINESS_TIMEZONE = "Asia/Shanghai"
FULL_RUN_JOB = "coopcast_full_run"
NIGHTLY_JOB = "coopcast_nightly"
WEEKLY_FORECAST_JOB = "coopcast_weekly_forecast"
POLICY_EVALUATION_JOB = "coopcast_policy_evaluation"
WEEKLY_GROUPS = ("ml", "exports")
FULL_REFRESH_RUN_CONFIG = {"resources": {"run_settings": {"config": {"full_refresh": True}}}}


def build_jobs(
    ml_marts: dg.AssetSelection, on_demand: dg.AssetSelection, fan_out: dg.AssetSelection
) -> list[dg.UnresolvedAssetJobDefinition]:
    """`ml_marts`: the dbt marts that read forecasts back, which belong to the weekly run;
    `on_demand`: assets too slow for any run but their own job; `fan_out`: the per-merchant
    partitions of the forecast's fits, which run in jobs of their own (merchant_fan_out.py)."""
    weekly = (dg.AssetSelection.groups(*WEEKLY_GROUPS) | ml_marts) - on_demand
    serving = dg.AssetSelection.groups("serving")
    return [
        dg.define_asset_job(
            FULL_RUN_JOB,
            selection=dg.AssetSelection.all() - on_demand - fan_out,
            description="Ingest, dbt build, forecast, replenishment marts, workbooks, then publish the serving copy.",
        ),
        dg.define_asset_job(
            NIGHTLY_JOB,
            selection=dg.AssetSelection.all() - weekly - on_demand - fan_out,
            description="Ingest what changed, rebuild the dbt models (not the ML marts), publish the serving copy.",
        ),
        dg.define_asset_job(
            WEEKLY_FORECAST_JOB,
            selection=weekly | serving,
            description="Demand forecasts, replenishment suggestions and workbooks, then publish the serving copy.",
        ),
        dg.define_asset_job(
            POLICY_EVALUATION_JOB,
            selection=on_demand,
            description="Replay a held-out period under the min-max and coopcast policies"
            " (coopcast evaluate replenishment).",
        ),
    ]


def build_schedules() -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(
            name="coopcast_nightly_schedule",
            job_name=NIGHTLY_JOB,
            cron_schedule="30 1 * * 1-6",
            execution_timezone=BUSINESS_TIMEZONE,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Monday to Saturday at 01:30 Beijing time, after the business day has closed:"
            " the daily facts rebuild only the days whose rows changed.",
        ),
        dg.ScheduleDefinition(
            name="coopcast_sunday_full_refresh_schedule",
            job_name=NIGHTLY_JOB,
            cron_schedule="30 1 * * 0",
            execution_timezone=BUSINESS_TIMEZONE,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            run_config=FULL_REFRESH_RUN_CONFIG,
            description="Sundays at 01:30 Beijing time, the nightly run with the daily facts rebuilt whole:"
            " a weekly safety net under the incremental nights.",
        ),
        dg.ScheduleDefinition(
            name="coopcast_weekly_forecast_schedule",
            job_name=WEEKLY_FORECAST_JOB,
            cron_schedule="0 4 * * 1",
            execution_timezone=BUSINESS_TIMEZONE,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Mondays at 04:00 Beijing time: forecasts and replenishment before the settlement.",
        ),
        weekly_settlement_schedule,
        alert_digest_email_schedule,
    ]


@dg.schedule(
    name="coopcast_weekly_settlement_schedule",
    job=weekly_settlement_job,
    cron_schedule="0 6 * * 1",
    execution_timezone=BUSINESS_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays at 06:00 Beijing time: every merchant's settlement statement of last week.",
)
def weekly_settlement_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # The tick's time, not the clock's: a tick run late (daemon down) still settles its own week.
    at = context.scheduled_execution_time
    return dg.RunRequest(run_key=at.isoformat(), run_config=settlement_run_config(at))


@dg.schedule(
    name="coopcast_alert_digest_email_schedule",
    job=alert_digest_email_job,
    cron_schedule="0 7 * * *",
    execution_timezone=BUSINESS_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 07:00 Beijing time, after the nightly run (and Monday's forecasts):"
    " each merchant's alert digest by email, skipped while SMTP is not configured.",
)
def alert_digest_email_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    # Only whether a host is set: a malformed setting still starts the run, which fails naming it and
    # raises an ops alert, where a failing tick would show only in the Dagster UI.
    if not smtp_host():
        return dg.SkipReason(NOT_CONFIGURED)
    # One run per tick: a digest already emailed is skipped by the send itself, so a retried tick is harmless.
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
