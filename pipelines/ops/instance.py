"""The Dagster instance under $COOPCAST_HOME/dagster, shared by the CLI, the UI and the daemon.

Runs started by `coopcast run` and runs launched from the UI are recorded in the same storage,
and both obey the same concurrency pool, so two runs never open the DuckDB warehouse at once.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipelines.resources import DUCKDB_WRITER_POOL

if TYPE_CHECKING:
    from dagster import DagsterInstance

WAREHOUSE_WRITERS_AT_ONCE = 1
# Which process on which machine runs a run that `coopcast` started, so a later command can tell
# a run whose process was killed from one still going.
CLI_PID_TAG = "coopcast/pid"
CLI_HOST_TAG = "coopcast/host"
# The command a CLI run comes from: `coopcast ingest` runs the full run's job with the ingest
# assets selected, and reads as a failed whole pipeline under the job's name alone.
CLI_COMMAND_TAG = "coopcast/command"


def instance_config(dagster_home: Path) -> dict:
    return {
        # Telemetry would try to reach the internet; this platform runs offline.
        "telemetry": {"enabled": False},
        # Where Dagster's own SQLite storage keeps the event log (runs and schedules stay on its
        # defaults), through connections that stay open: see pipelines/ops/event_log_storage.py.
        "event_log_storage": {
            "module": "pipelines.ops.event_log_storage",
            "class": "OpenConnectionSqliteEventLogStorage",
            "config": {"base_dir": str(dagster_home / "history" / "runs")},
        },
        # Capturing a step's stdout/stderr makes Dagster start a `tail -F` and a watcher process
        # per step; a tail left behind (seen once: it ignored SIGTERM) keeps the caller's pipes
        # open forever. Steps report through the event log, and dbt's lines go to logs/runs.log.
        "compute_logs": {
            "module": "dagster._core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        },
        "concurrency": {
            # Op granularity: a run waits for the slot at each warehouse step, never fails on
            # the file lock; every pool (there is one, the warehouse's) gets one slot.
            "pools": {"default_limit": WAREHOUSE_WRITERS_AT_ONCE, "granularity": "op"},
        },
    }


def ensure_instance(dagster_home: Path) -> None:
    """Write dagster.yaml and create the instance's storage once, under a file lock.

    Two processes creating a fresh SQLite storage at the same time can both stamp its schema
    version, which leaves it unusable, and two runs starting together could both create the
    pool's slots; doing both here, serialized, leaves later processes an existing storage.
    """
    from dagster import DagsterInstance

    dagster_home.mkdir(parents=True, exist_ok=True)
    with (dagster_home / ".init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config_file = dagster_home / "dagster.yaml"
        wanted = yaml.safe_dump(instance_config(dagster_home.resolve()), sort_keys=False)
        if not config_file.exists() or config_file.read_text() != wanted:
            config_file.write_text(wanted)
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            # The pool's slot row, created here rather than by the first two runs racing for it.
            instance.event_log_storage.initialize_concurrency_limit_to_default(DUCKDB_WRITER_POOL)


def cli_run_tags() -> dict[str, str]:
    """Tags naming this process and its command, for runs it executes in process."""
    return {
        CLI_PID_TAG: str(os.getpid()),
        CLI_HOST_TAG: socket.gethostname(),
        CLI_COMMAND_TAG: " ".join(["coopcast", *sys.argv[1:2]]),
    }


def run_label(job_name: str, tags: Mapping[str, str]) -> str:
    """How ops read a run: its job, and the command that started it when a CLI did."""
    command = tags.get(CLI_COMMAND_TAG)
    return f"{command} ({job_name})" if command else job_name


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        # It exists, run by another user.
        return False
    return False


def release_abandoned_cli_runs(instance: DagsterInstance) -> list[tuple[str, int]]:
    """Mark failed every unfinished run a `coopcast` process on this machine started and no longer
    runs, and free the pool slots it held; returns (run id, pid) of each.

    A run executed in process stays STARTED in the instance when its process is killed, and keeps
    the warehouse pool's one slot: every later run would wait for it forever, silently. Runs
    started elsewhere (the UI, the daemon, another machine) carry no such tags, or another
    host's, and are left to Dagster's own run monitoring. A dead run's pid taken by a new process
    keeps the run as it is: the slot stays held rather than being freed under a live run.
    """
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    host = socket.gethostname()
    released = []
    for run in instance.get_runs(filters=RunsFilter(statuses=unfinished, tags={CLI_HOST_TAG: host})):
        pid = int(run.tags[CLI_PID_TAG])
        if not _process_is_gone(pid):
            continue
        instance.report_run_failed(run, f"the coopcast process running it (pid {pid}) is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append((run.run_id, pid))
    return released
