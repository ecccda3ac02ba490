"""What ops rely on: failed runs raise an alert (log, table, email), the weekly settlement job,
and one warehouse writer at a time across runs, which a killed run does not block."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psutil
import pytest

from pipelines.ops.alerts import recent_alerts
from pipelines.ops.instance import CLI_PID_TAG, ensure_instance, release_abandoned_cli_runs
from pipelines.ops.sensors import abandoned_cli_runs
from pipelines.resources import DUCKDB_WRITER_POOL
from tests import smtp_support
from tests.conftest import REPO_ROOT, PipelineRun, run_cli

pytestmark = pytest.mark.slow(minutes=2)

smtp_server = smtp_support.smtp_server


@pytest.fixture
def ops_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COOPCAST_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    ensure_instance(tmp_path / "dagster")
    return tmp_path


@dg.asset(group_name="test", kinds={"python"})
def shelf_count() -> None:
    raise ValueError("shelf count does not add up: 3 missing")


def test_a_failed_run_raises_an_alert_in_the_log_the_table_and_by_email(ops_home, smtp_server, monkeypatch, caplog):
    from pipelines.ops.sensors import run_failure_alerts

    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(smtp_server.server_address[1]))
    monkeypatch.setenv("COOPCAST_SMTP_TO", "ops@coop.example, duty@coop.example")
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([shelf_count], instance=instance, raise_on_error=False)
        assert not result.success
        failure_event = next(
            event for event in result.all_events if event.event_type == dg.DagsterEventType.RUN_FAILURE
        )
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alerts.name,
            dagster_event=failure_event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        run_failure_alerts(context)

    [alert] = recent_alerts()
    assert alert["run_id"] == result.run_id
    assert alert["kind"] == "run failed"
    assert "shelf_count" in alert["message"] and "3 missing" in alert["message"]
    assert alert["emailed_to"] == "ops@coop.example, duty@coop.example"
    assert any("3 missing" in record.getMessage() for record in caplog.records if record.name == "coopcast.alerts")

    [message] = smtp_server.messages
    assert message["to"] == ["<ops@coop.example>", "<duty@coop.example>"]
    assert "3 missing" in message["data"] and result.run_id in message["data"]
    headers = email.message_from_string(message["data"], policy=email.policy.default)
    assert email.utils.parsedate_to_datetime(headers["Date"]).utcoffset() == timedelta(0)
    assert headers["Message-ID"].startswith("<") and headers["Message-ID"].endswith("@localhost>")


@dg.asset(group_name="test", check_specs=[dg.AssetCheckSpec("shelves_add_up", asset="shelf_total", blocking=True)])
def shelf_total() -> dg.MaterializeResult:
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="shelves_add_up", passed=False)])


def test_a_failed_step_is_named_with_its_cause_in_one_line(ops_home) -> None:
    """What the CLI prints and the alert says: the asset's own error, not Dagster's wrapper around it,
    and for a failed blocking check, which check failed."""
    from pipelines.ops.step_failures import step_failure_line

    with dg.DagsterInstance.get() as instance:
        lines = {}
        for asset in (shelf_count, shelf_total):
            result = dg.materialize([asset], instance=instance, raise_on_error=False)
            [failure] = [event for event in result.all_events if event.is_step_failure]
            lines[asset.key.path[-1]] = step_failure_line(failure.step_key, failure.step_failure_data.error)
    assert lines["shelf_count"] == "step shelf_count: ValueError: shelf count does not add up: 3 missing"
    assert lines["shelf_total"].startswith("step shelf_total: DagsterAssetCheckFailedError")
    assert lines["shelf_total"].endswith("failed with ERROR severity: shelf_total: shelves_add_up")


@dg.asset(group_name="test")
def settled_statements() -> None:
    raise dg.Failure(description="dbt build: test assert_settlement_statements_match_journal failed: Got 1 result")


def test_a_failed_dbt_build_names_the_nodes_that_failed_in_dbts_words(ops_home, tmp_path) -> None:
    from pipelines.assets.dbt import failed_nodes
    from pipelines.ops.step_failures import step_failure_line

    run_results = tmp_path / "run_results.json"
    run_results.write_text(
        json.dumps(
            {
                "results": [
                    {"unique_id": "model.coopcast.fct_daily_sales", "status": "success", "message": "OK"},
                    {
                        "unique_id": "test.coopcast.assert_settlement_statements_match_journal",
                        "status": "fail",
                        "message": "Got 1 result, configured to fail if != 0",
                    },
                    {
                        "unique_id": "model.coopcast.fct_supplier_price_comparison",
                        "status": "error",
                        "message": 'Runtime Error in model\n  Binder Error: Ambiguous reference to column "sku_name"',
                    },
                ]
            }
        )
    )
    assert failed_nodes(run_results) == [
        "test assert_settlement_statements_match_journal failed: Got 1 result, configured to fail if != 0",
        "model fct_supplier_price_comparison errored: Runtime Error in model",
    ]
    assert failed_nodes(tmp_path / "absent.json") == []
    # The asset's own Failure reads as its description, without Dagster's class path.
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([settled_statements], instance=instance, raise_on_error=False)
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert step_failure_line(failure.step_key, failure.step_failure_data.error) == (
        "step settled_statements: dbt build: test assert_settlement_statements_match_journal failed: Got 1 result"
    )


def test_an_unreachable_mail_server_still_leaves_the_alert_in_the_table(ops_home, monkeypatch):
    from pipelines.ops.alerts import Alert, raise_alert

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(closed_port))
    monkeypatch.setenv("COOPCAST_SMTP_TO", "ops@coop.example")
    raise_alert(Alert(kind="run failed", message="dbt build failed", job_name="coopcast_nightly", run_id="r1"))
    [alert] = recent_alerts()
    assert alert["message"] == "dbt build failed"
    assert alert["emailed_to"].startswith("failed:")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("COOPCAST_SMTP_PORT", "abc", "COOPCAST_SMTP_PORT must be a port number, not 'abc'"),
        (
            "COOPCAST_SMTP_TO",
            "ops@coop.example\nBcc: all@coop.example",
            "COOPCAST_SMTP_TO: 'ops@coop.example\\nBcc: all@coop.example' is not an email address",
        ),
        ("COOPCAST_SMTP_FROM", "coopcast@coop.example\r\nBcc: all@coop.example", "COOPCAST_SMTP_FROM must be"),
        ("COOPCAST_SMTP_STARTTLS", "ture", "COOPCAST_SMTP_STARTTLS must be 1 or 0"),
    ],
)
def test_a_malformed_smtp_setting_is_named_on_the_alert_which_is_still_stored(
    ops_home, smtp_server, monkeypatch, variable: str, value: str, reason: str
) -> None:
    from pipelines.ops.alerts import Alert, raise_alert

    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(smtp_server.server_address[1]))
    monkeypatch.setenv("COOPCAST_SMTP_TO", "ops@coop.example")
    monkeypatch.setenv(variable, value)
    raise_alert(Alert(kind="run failed", message="dbt build failed", job_name="coopcast_nightly", run_id="r1"))
    [alert] = recent_alerts()
    assert alert["message"] == "dbt build failed"
    assert alert["emailed_to"].startswith(f"failed: {reason}")
    assert smtp_server.messages == []


def test_a_recipient_the_server_refuses_is_recorded_as_failed_on_the_alert(ops_home, smtp_server, monkeypatch):
    from pipelines.ops.alerts import Alert, raise_alert

    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(smtp_server.server_address[1]))
    monkeypatch.setenv("COOPCAST_SMTP_TO", "ops@coop.example,duty@coop.example")
    smtp_server.refusals["duty@coop.example"] = "550 5.1.1 no such mailbox"
    raise_alert(Alert(kind="run failed", message="dbt build failed", job_name="coopcast_nightly", run_id="r1"))
    [alert] = recent_alerts()
    assert alert["emailed_to"] == (
        "ops@coop.example; failed: 127.0.0.1 refused duty@coop.example (550 5.1.1 no such mailbox)"
    )
    [message] = smtp_server.messages
    assert message["to"] == ["<ops@coop.example>"]


def test_the_instance_gives_the_warehouse_pool_one_slot(ops_home):
    from pipelines.resources import DUCKDB_WRITER_POOL

    with dg.DagsterInstance.get() as instance:
        config = instance.event_log_storage.get_pool_config()
        assert config.default_pool_limit == 1
        assert config.pool_granularity.value == "op"
        assert instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).slot_count == 1


WAREHOUSE_WRITER_RUN = """
import os, sys, time, duckdb, dagster as dg
from pathlib import Path
from pipelines.resources import DUCKDB_WRITER_POOL

warehouse, arrivals = sys.argv[1], Path(sys.argv[2])

@dg.asset(pool=DUCKDB_WRITER_POOL)
def ledger() -> None:
    conn = duckdb.connect(warehouse)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS writes (n INTEGER)")
        conn.execute("INSERT INTO writes VALUES (1)")
        (arrivals.parent / "holding").touch()
        # Hold the write lock until both runs have started, and a while after, so the other
        # run asks for the warehouse while this one holds it.
        deadline = time.monotonic() + 120
        while len(list(arrivals.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)
    finally:
        conn.close()

with dg.DagsterInstance.get() as instance:
    (arrivals / str(os.getpid())).touch()
    sys.exit(0 if dg.materialize([ledger], instance=instance, raise_on_error=False).success else 1)
"""


def test_two_runs_writing_the_warehouse_take_turns(ops_home):
    """A second run started while the first writes the warehouse: the pool makes it wait for the
    first's step, so they never meet on the DuckDB file lock (either would fail otherwise).

    The second starts once the first holds its slot: two claims in the same instant can both
    win on Dagster's SQLite storage (its slot query's FOR UPDATE means nothing to SQLite)."""
    import duckdb

    warehouse = ops_home / "warehouse.duckdb"
    arrivals = ops_home / "arrivals"
    arrivals.mkdir()

    def start_run() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WAREHOUSE_WRITER_RUN, str(warehouse), str(arrivals)],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    runs = [start_run()]
    deadline = time.monotonic() + 120
    while not (ops_home / "holding").exists() and runs[0].poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    runs.append(start_run())
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n".join(outputs)
    assert any("blocked by limit for pool" in output for output in outputs)
    assert duckdb.connect(str(warehouse), read_only=True).execute("SELECT count(*) FROM writes").fetchone() == (2,)


WAREHOUSE_HOLDER = """
import sys, time, duckdb
from pathlib import Path
conn = duckdb.connect(sys.argv[1])
Path(sys.argv[2]).touch()
time.sleep(float(sys.argv[3]))
conn.close()
"""


def test_a_command_started_while_another_process_writes_the_warehouse_waits_its_turn(
    ops_home, pg_database_url: str
) -> None:
    """Every command first prepares the warehouse; during another run it waits for the file lock
    instead of failing on it (a second `coopcast run` once failed there, outside the pool)."""
    holding = ops_home / "holding"
    holder = subprocess.Popen(
        [sys.executable, "-c", WAREHOUSE_HOLDER, str(ops_home / "warehouse.duckdb"), str(holding), "6"]
    )
    deadline = time.monotonic() + 60
    while not holding.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert holding.exists(), "the holder never opened the warehouse"
    init = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "init"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": pg_database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert holder.wait(timeout=60) == 0
    assert init.returncode == 0, init.stderr


SLOT_HOLDING_RUN = """
import sys, time, dagster as dg
from pathlib import Path
from pipelines.ops.instance import cli_run_tags
from pipelines.resources import DUCKDB_WRITER_POOL

holding = Path(sys.argv[1])

@dg.asset(pool=DUCKDB_WRITER_POOL)
def ledger() -> None:
    holding.touch()
    time.sleep(600)

with dg.DagsterInstance.get() as instance:
    dg.materialize([ledger], instance=instance, tags=cli_run_tags())
"""


@dg.asset(pool=DUCKDB_WRITER_POOL)
def ledger_after_the_kill() -> None:
    pass


def test_a_run_whose_coopcast_process_was_killed_gives_the_warehouse_slot_back(ops_home):
    """Killed while it held the pool's one slot, a run executed in process would keep it: every
    later run would wait for it forever. The daemon's sensor (and the next command) releases it,
    and only once its process is gone."""
    holding = ops_home / "holding"
    worker = subprocess.Popen(
        [sys.executable, "-c", SLOT_HOLDING_RUN, str(holding)], cwd=REPO_ROOT, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 120
        while not holding.exists() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holding.exists(), "the run never took the warehouse slot"
        with dg.DagsterInstance.get() as instance:

            def claimed() -> list:
                return instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots

            assert release_abandoned_cli_runs(instance) == []
            assert len(claimed()) == 1
            worker.kill()
            worker.wait(timeout=60)
            # What `coopcast serve`'s daemon does every minute, with no coopcast command run meanwhile.
            freed = abandoned_cli_runs(dg.build_sensor_context(instance=instance))
            assert freed.skip_message == "freed the warehouse slot of 1 abandoned run(s)"
            assert claimed() == []
            [run] = instance.get_runs(filters=dg.RunsFilter(tags={CLI_PID_TAG: str(worker.pid)}))
            assert run.status == dg.DagsterRunStatus.FAILURE
            assert release_abandoned_cli_runs(instance) == []
            assert dg.materialize([ledger_after_the_kill], instance=instance).success
    finally:
        if worker.poll() is None:
            worker.kill()


def test_an_interrupted_command_cancels_its_run_and_frees_the_warehouse_slot(own_pipeline_run: PipelineRun) -> None:
    """SIGTERM (as a service manager stops it) or Ctrl+C on `coopcast build`: its run must not stay
    STARTED holding the warehouse's one slot, or every scheduled run would queue behind it."""
    pipeline = own_pipeline_run
    build = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "build"],
        cwd=REPO_ROOT,
        env=pipeline.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with dg.DagsterInstance.from_config(str(pipeline.home / "dagster")) as instance:

            def claimed() -> list:
                return instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots

            deadline = time.monotonic() + 300
            while not claimed() and build.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert claimed(), "the build never took the warehouse slot"
            build.send_signal(signal.SIGTERM)
            _, stderr = build.communicate(timeout=120)
            [run] = instance.get_runs(filters=dg.RunsFilter(tags={CLI_PID_TAG: str(build.pid)}))
            assert run.status == dg.DagsterRunStatus.CANCELED
            assert claimed() == []
        assert build.returncode != 0
        assert f"Interrupted: Dagster run {run.run_id} was canceled and its warehouse slot freed" in stderr
    finally:
        if build.poll() is None:
            build.kill()


# A run's process that starts a child the way the pipeline starts dbt (pipelines/dbt_child.py)
# and waits; the child prints its pid once it is set to end with its parent, then would wait ten
# minutes. It ignores SIGTERM, as Dagster has a run started in the background do, and its child
# inherits that.
PARENT_OF_A_SILENT_CHILD = """
import os, signal, subprocess, sys, time
from pipelines.dbt_child import PARENT_VARIABLE
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.environ[PARENT_VARIABLE] = str(os.getpid())
subprocess.Popen([sys.executable, "-c", "import os, time; from pipelines.dbt_child import end_with_parent; "
    "end_with_parent(); print(os.getpid(), flush=True); time.sleep(600)"])
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_dbt_ends_with_the_killed_process_that_started_it():
    """dbt building a long model writes no log line for a while, so a killed run's dbt would not
    yet fail on its closed output: it would go on writing the warehouse and holding its lock.
    Started as the pipeline starts it, it ends with its parent."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_OF_A_SILENT_CHILD], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        parent.kill()
        parent.wait(timeout=30)
        _, alive = psutil.wait_procs([child], timeout=30)
        assert alive == [], "the child went on after its parent was killed"
    finally:
        parent.kill()
        if child.is_running():
            child.kill()


# The same, but the run's process ends before its child has asked to end with it.
PARENT_GONE_BEFORE_ITS_CHILD_STARTS = """
import os, subprocess, sys
from pipelines.dbt_child import PARENT_VARIABLE
os.environ[PARENT_VARIABLE] = str(os.getpid())
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1); "
    "from pipelines.dbt_child import end_with_parent; end_with_parent(); time.sleep(600)"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_dbt_does_not_start_when_the_process_that_started_it_has_already_ended():
    parent = subprocess.run(
        [sys.executable, "-c", PARENT_GONE_BEFORE_ITS_CHILD_STARTS],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    child = psutil.Process(int(parent.stdout))
    try:
        _, alive = psutil.wait_procs([child], timeout=30)
        assert alive == [], "the child went on though its parent had ended before it started"
    finally:
        if child.is_running():
            child.kill()


def test_the_weekly_settlement_job_settles_every_week_a_missed_monday_left_open(ops_home, pg_database_url):
    from pipelines.definitions import build_definitions
    from pipelines.ops.settlements import SETTLEMENT_JOB, settlement_run_config
    from transactional import db
    from transactional.simulator import simulate

    weekly = "SELECT merchant_id, period_start, period_end FROM core.settlement_statements WHERE kind = 'weekly'"
    with db.connect(pg_database_url) as conn:
        simulate(conn, "tiny", 3)
        merchants = conn.execute("SELECT count(*) FROM core.merchants").fetchone()[0]
        simulated = set(conn.execute(weekly).fetchall())
    # The simulated history has its weekly statements up to its last Monday. The job then runs
    # on the second Monday after that, as if the daemon had been down on the first: it settles
    # both weeks.
    first_open_week = max(end for _, _, end in simulated) + timedelta(days=1)
    open_weeks = {
        (first_open_week, first_open_week + timedelta(days=6)),
        (first_open_week + timedelta(days=7), first_open_week + timedelta(days=13)),
    }
    second_monday = datetime.combine(
        first_open_week + timedelta(days=14), datetime.min.time(), ZoneInfo("Asia/Shanghai")
    ) + timedelta(hours=6)
    job = build_definitions().resolve_job_def(SETTLEMENT_JOB)
    resources_config = {"resources": {"postgres": {"config": {"url": pg_database_url}}}}
    issued_per_run = []
    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            result = job.execute_in_process(
                run_config={**settlement_run_config(second_monday), **resources_config}, instance=instance
            )
            assert result.success
            (output,) = [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_OUTPUT]
            issued_per_run.append(output.step_output_data.metadata["statements"].value)
    assert issued_per_run == [2 * merchants, 0], "a rerun of the same tick issues nothing"
    with db.connect(pg_database_url) as conn:
        issued = set(conn.execute(weekly).fetchall()) - simulated
    assert len(issued) == 2 * merchants, "both weeks for every merchant"
    assert {(start, end) for _, start, end in issued} == open_weeks


def test_the_settlement_time_is_read_in_shanghai_and_never_ahead_of_the_clock():
    from pipelines.ops.settlements import statement_time

    now = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shanghai
    assert statement_time("", now) == now
    assert statement_time("2026-12-07T06:00:00", now) == datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
    # The UI's "Test schedule" offers the next Monday's tick: that week has not ended.
    with pytest.raises(dg.Failure, match="ahead of the clock"):
        statement_time("2026-12-14T06:00:00+08:00", now)
    with pytest.raises(dg.Failure, match=r"at must be an ISO 8601 time .* not 'next monday'"):
        statement_time("next monday", now)


def test_the_new_data_sensor_asks_for_a_run_only_when_postgres_has_changes(ingested_tiny):
    # Not the session's shared database: it has changes to ingest once an earlier test on the
    # worker approved purchase orders in it.
    import psycopg

    from pipelines.ops.sensors import new_data_sensor
    from pipelines.resources import PostgresResource, WarehouseResource

    def evaluate():
        with dg.DagsterInstance.ephemeral() as instance:
            context = dg.build_sensor_context(
                instance=instance,
                resources={
                    "postgres": PostgresResource(url=ingested_tiny.database_url),
                    "warehouse": WarehouseResource(path=str(ingested_tiny.home / "warehouse.duckdb")),
                },
            )
            return new_data_sensor(context)

    assert isinstance(evaluate(), dg.SkipReason), "the ingest took everything there was"
    with psycopg.connect(ingested_tiny.database_url) as conn:
        conn.execute(
            "UPDATE core.customers SET name = name || ' (moved)'"
            " WHERE customer_id = (SELECT min(customer_id) FROM core.customers)"
        )
    assert isinstance(evaluate(), dg.RunRequest)


def test_status_shows_the_last_run_freshness_per_group_and_failed_checks(pipeline_run):
    output = run_cli(pipeline_run, "status").stdout
    # The command that started the run (whichever an earlier test on this pipeline ran last), beside
    # its job: `coopcast ingest` runs the full run's job too.
    assert re.search(r"Last run    SUCCESS coopcast [a-z]+ \(coopcast_full_run\)", output), output
    for group in ("ingest", "staging", "intermediate", "marts", "ml", "exports", "serving"):
        assert f"│ {group} " in output
    assert "Failed checks 0" in output
