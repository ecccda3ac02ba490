"""The Dagster instance under $COOPCAST_HOME/dagster, shared by the CLI, the UI and the daemon.

Runs started by `coopcast run` and runs launched from the UI are recorded in the same storage,
and both obey the same concurrency pool, so two runs never open the DuckDB warehouse at once.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import yaml

from pipelines.resources import DUCKDB_WRITER_POOL

WAREHOUSE_WRITERS_AT_ONCE = 1


def instance_config() -> dict:
    return {
        # Telemetry would try to reach the internet; this platform runs offline.
        "telemetry": {"enabled": False},
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
        wanted = yaml.safe_dump(instance_config(), sort_keys=False)
        if not config_file.exists() or config_file.read_text() != wanted:
            config_file.write_text(wanted)
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            # The pool's slot row, created here rather than by the first two runs racing for it.
            instance.event_log_storage.initialize_concurrency_limit_to_default(DUCKDB_WRITER_POOL)
