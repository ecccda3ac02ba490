"""The tests' tiny pipeline, built once per test run in a process of its own (see conftest's
`pipeline_run`).

`python -m tests.pipeline_build SHARED DATABASE_URL` runs `make demo`'s command, `coopcast demo
--scale tiny` (init, simulate, run, serve), in SHARED/build_home on DATABASE_URL, and stops it once
the dashboard, the API and the Dagster UI all answer. It then leaves in SHARED the pristine copy the
test workers start from: the home's files (`home/`) and a `coopcast backup` of the database
(`database.dump`, written last, so its presence means the copy is whole). The demo runs behind a
recording proxy: what it asked of it is left in SHARED (`outbound_requests.txt`), and what it
printed and how it ended in `demo.log` and `demo.json`, for tests/test_demo.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.api_support import ServedPorts, answers
from tests.conftest import (
    DEMO_LOG,
    DEMO_OUTCOME,
    OUTBOUND_REQUESTS,
    PIPELINE_SEED,
    PRISTINE_DATABASE,
    PRISTINE_HOME,
    REPO_ROOT,
    PipelineRun,
)
from tests.outbound import recording_proxy
from transactional.backup import backup

DEMO_DEADLINE_SECONDS = 600


def run_demo_until_it_serves(pipeline: PipelineRun, log_path: Path) -> dict:
    """`coopcast demo` from an empty database until its three servers answer, then SIGTERM, as
    Ctrl+C in a terminal; how it went, for the demo's test."""
    ports = ServedPorts.free()
    urls = ports.urls()
    command = ["demo", "--scale", "tiny", "--seed", str(PIPELINE_SEED), *ports.options()]
    answered = False
    with log_path.open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", *command],
            cwd=REPO_ROOT,
            env=pipeline.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + DEMO_DEADLINE_SECONDS
            while demo.poll() is None and time.monotonic() < deadline:
                answered = all(answers(url) for url in urls)
                if answered:
                    break
                time.sleep(1)
        finally:
            demo.send_signal(signal.SIGTERM)
            returncode = demo.wait(timeout=60)
    return {
        "command": command,
        "answered": answered,
        "returncode": returncode,
        "answering_after_stop": [url for url in urls if answers(url)],
    }


def build(shared: Path, database_url: str) -> None:
    pipeline = PipelineRun(home=shared / "build_home", database_url=database_url)
    with recording_proxy() as proxy:
        # The demo's environment starts from this process's, which runs nothing else.
        os.environ.update(proxy.environment)
        outcome = run_demo_until_it_serves(pipeline, shared / DEMO_LOG)
    (shared / DEMO_OUTCOME).write_text(json.dumps(outcome))
    if not (outcome["answered"] and outcome["returncode"] == 0):
        sys.exit(f"coopcast demo failed: {outcome}\n{(shared / DEMO_LOG).read_text()[-5000:]}")
    (shared / OUTBOUND_REQUESTS).write_text("".join(f"{request}\n" for request in proxy.requests))
    shutil.copytree(pipeline.home, shared / PRISTINE_HOME)
    backup(database_url, shared / PRISTINE_DATABASE)


if __name__ == "__main__":
    build(Path(sys.argv[1]), sys.argv[2])
