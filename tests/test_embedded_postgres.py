"""The embedded PostgreSQL (no DATABASE_URL) stops with the last coopcast process that used it.

pgserver counts the processes sharing a server in a list of pids, and the last one to exit stops
it from an exit hook. A process that died without running its exit hooks would stay in that list
for good, and the server then outlive every coopcast process: after `make demo` and Ctrl+C, a
PostgreSQL would keep running on its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.api_support import free_port, wait_until_serving
from tests.conftest import REPO_ROOT, pgserver_start_lock
from transactional.db import EMBEDDED_SERVER_USERS


def _running(process: psutil.Process) -> bool:
    """A server that exited counts as stopped before its new parent reaps it."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _postmaster(home: Path) -> psutil.Process:
    return psutil.Process(int((home / "postgres" / "postmaster.pid").read_text().split()[0]))


def _listed_users(home: Path) -> list[int]:
    return json.loads((home / "postgres" / EMBEDDED_SERVER_USERS).read_text())


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    """A COOPCAST_HOME whose server nobody else uses; a server left running is stopped at the end.

    Not under pytest's basetemp, which pytest prunes (see conftest.embedded_server)."""
    home = Path(tempfile.mkdtemp(prefix="coopcast-embedded-home-"))
    try:
        yield home
    finally:
        if (home / "postgres" / "postmaster.pid").exists():
            leftover = _postmaster(home)
            if _running(leftover):
                leftover.terminate()
                leftover.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def _start_api(home: Path) -> subprocess.Popen:
    """`coopcast api` on the home's embedded server, as `coopcast serve` runs it: a process group
    of its own, stopped with SIGTERM."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "COOPCAST_APP_DATABASE_URL")}
    env["COOPCAST_HOME"] = str(home)
    port = free_port()
    log = home / f"api-{port}.log"
    with pgserver_start_lock(), log.open("w") as output:
        api = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "api", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_serving(api, f"http://127.0.0.1:{port}", log, timeout=180)
    return api


def _stop(api: subprocess.Popen) -> None:
    api.send_signal(signal.SIGTERM)
    assert api.wait(timeout=60) == 0


def test_the_api_stopped_by_sigterm_stops_the_embedded_server_it_started(embedded_home: Path) -> None:
    api = _start_api(embedded_home)
    postmaster = _postmaster(embedded_home)

    _stop(api)

    assert _listed_users(embedded_home) == []
    assert not _running(postmaster), "the embedded PostgreSQL outlived its last user"
    assert not (embedded_home / "postgres" / "postmaster.pid").exists()


def test_a_user_killed_outright_does_not_keep_the_server_running(embedded_home: Path) -> None:
    killed = _start_api(embedded_home)
    postmaster = _postmaster(embedded_home)
    killed.kill()
    killed.wait()
    # pgserver's own view: the killed process is still listed, so the server runs on.
    assert _listed_users(embedded_home) == [killed.pid]
    assert _running(postmaster)

    api = _start_api(embedded_home)
    assert _postmaster(embedded_home).pid == postmaster.pid, "the next user shares the running server"
    _stop(api)

    assert _listed_users(embedded_home) == []
    assert not _running(postmaster), "a user killed outright kept the embedded PostgreSQL running"
