"""dbt as the pipeline starts it: a child process that ends with the process that started it.

dagster-dbt runs dbt in a subprocess and reads its log lines through a pipe. When the run's process
is killed (`kill -9`, the OOM killer), dbt fails only at its next log line, and a model of the
county builds for up to 41 s without one (the funnel events' daily aggregate, longer when rebuilt
whole): meanwhile dbt goes on writing the warehouse and holds its one write lock, while the next
command marks the killed run failed and finds the warehouse locked. On Linux the kernel sends this
process SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere it is plain dbt. SIGKILL,
because a run started in the background (where SIGINT is ignored) has Dagster handle SIGTERM as
SIGINT, so dbt would inherit SIGTERM ignored; and SIGTERM would end dbt without a word just the
same, its writes to DuckDB being transactions either way. Strictly, the signal comes when the
thread that started this process ends: dagster-dbt starts dbt from the step's thread, which reads
dbt's output until dbt exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
# The pid of the process starting dbt, which sets it: a parent that dies while this one starts,
# before the prctl call, sends no signal, and os.getppid() then already names another process.
PARENT_VARIABLE = "COOPCAST_DBT_PARENT"


def end_with_parent() -> None:
    expected_parent = int(os.environ.get(PARENT_VARIABLE) or os.getppid())
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != expected_parent:
        sys.exit("dbt not started: the process that started it has ended")


def main() -> None:
    if sys.platform.startswith("linux"):
        end_with_parent()
    # dbt's lines end up in logs/runs.log and the Dagster UI, where colour codes are only noise.
    os.environ.setdefault("DBT_USE_COLORS", "false")
    from dbt.cli.main import cli

    sys.exit(cli())
