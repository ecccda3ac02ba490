"""`make demo`'s command on an empty database. A file of its own: it needs none of the built
pipeline the end-to-end file shares, and a worker of its own shortens that file's minutes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api_support import answers, free_port
from tests.conftest import REPO_ROOT, PipelineRun

pytestmark = pytest.mark.slow(minutes=3)


def test_demo_simulates_runs_and_serves_on_an_empty_database(database_factory, tmp_path: Path) -> None:
    """`make demo`'s command from an empty database to the servers answering, at tiny scale."""
    pipeline = PipelineRun(home=tmp_path / "home", database_url=database_factory())
    dashboard, dagster_ui, api = free_port(), free_port(), free_port()
    ports = ["--port", str(dashboard), "--dagster-port", str(dagster_ui), "--api-port", str(api)]
    output = tmp_path / "demo.log"
    with output.open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "demo", "--scale", "tiny", *ports],
            cwd=REPO_ROOT,
            env=pipeline.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 600
            while not answers(f"http://127.0.0.1:{dashboard}/"):
                assert demo.poll() is None, output.read_text()[-3000:]
                assert time.monotonic() < deadline, "the demo's dashboard did not answer within 10 minutes"
                time.sleep(2)
        finally:
            demo.send_signal(signal.SIGTERM)
            returncode = demo.wait(timeout=60)
    printed = output.read_text()
    assert returncode == 0, printed[-3000:]
    for step in ("Simulated ", "Run: ", "Workbooks ", "Demo login  demo / "):
        assert step in printed, printed[-3000:]
