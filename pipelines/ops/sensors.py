"""Sensors: run the nightly pipeline when PostgreSQL has new data; alert when a run fails; free the
warehouse slot of a run whose `coopcast` process is gone."""

import dagster as dg
import duckdb

from pipelines import ingest
from pipelines.ops.alerts import Alert, raise_alert
from pipelines.ops.instance import release_abandoned_cli_runs, run_label
from pipelines.ops.schedules import NIGHTLY_JOB
from pipelines.ops.step_failures import step_failure_line
from pipelines.resources import PostgresResource, WarehouseResource

NEW_DATA_SENSOR = "coopcast_new_data_sensor"
FAILURE_SENSOR = "coopcast_run_failure_alerts"
ABANDONED_RUNS_SENSOR = "coopcast_abandoned_cli_runs"
ABANDONED_RUNS_POLL_SECONDS = 60
NEW_DATA_POLL_SECONDS = 120
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dg.sensor(
    name=NEW_DATA_SENSOR,
    job_name=NIGHTLY_JOB,
    minimum_interval_seconds=NEW_DATA_POLL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every 2 minutes: when PostgreSQL holds committed changes the warehouse has not "
    "ingested, run the incremental pipeline (ingest, dbt build, publish). Off until ops turn it on.",
)
def new_data_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, warehouse: WarehouseResource
) -> dg.RunRequest | dg.SkipReason:
    # A running pipeline holds the warehouse, and it will ingest what is there anyway: asking
    # now would only queue a second run behind it.
    active = context.instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES), limit=1)
    if active:
        return dg.SkipReason(f"run {active[0].dagster_run.run_id} is in progress")
    try:
        changed = ingest.source_has_changes(postgres.ingest_uri(), warehouse.warehouse_path())
    except duckdb.IOException as error:
        return dg.SkipReason(f"the warehouse is busy: {error}")
    if not changed:
        return dg.SkipReason("no new data in PostgreSQL")
    return dg.RunRequest(tags={"coopcast/trigger": "new data"})


# Every run of the instance, not only those of this code location: a run the CLI executes in
# process (`coopcast run`, `build`, …) belongs to none, and it fails as much as the daemon's do.
@dg.run_failure_sensor(
    name=FAILURE_SENSOR,
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Any failed run, the CLI's included: an alert in the log, in $COOPCAST_HOME/alerts.sqlite, "
    "and by email when COOPCAST_SMTP_HOST and COOPCAST_SMTP_TO are set.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    raise_alert(failure_alert(context))


def failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    """The first failed step and its innermost error name the cause; the rest is in the UI."""
    run = context.dagster_run
    failures = context.get_step_failure_events()
    if failures:
        reason = step_failure_line(failures[0].step_key, failures[0].step_failure_data.error)
    else:
        reason = context.failure_event.message or "the run failed"
    return Alert(kind="run failed", message=reason, job_name=run_label(run.job_name, run.tags), run_id=run.run_id)


@dg.sensor(
    name=ABANDONED_RUNS_SENSOR,
    minimum_interval_seconds=ABANDONED_RUNS_POLL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: a run a `coopcast` command started on this machine whose process is gone "
    "(killed) is marked failed and its warehouse slot freed, so the scheduled runs queued behind it start.",
)
def abandoned_cli_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    released = release_abandoned_cli_runs(context.instance)
    for run_id, pid in released:
        context.log.warning(f"run {run_id}: its coopcast process (pid {pid}) is gone; marked failed, slot freed")
    if released:
        return dg.SkipReason(f"freed the warehouse slot of {len(released)} abandoned run(s)")
    return dg.SkipReason("no abandoned run")
