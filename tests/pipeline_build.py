"""The tests' tiny pipeline, built once per test run in a process of its own (see conftest's
`pipeline_run`).

`python -m tests.pipeline_build SHARED DATABASE_URL` runs `coopcast simulate --scale tiny` and
`coopcast run` in SHARED/build_home on DATABASE_URL, then leaves in SHARED the pristine copy the
test workers start from: the home's files (`home/`) and a `coopcast backup` of the database
(`database.dump`, written last, so its presence means the copy is whole). Both commands run behind
a recording proxy, and what they asked of it is left in SHARED too (`outbound_requests.txt`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.conftest import (
    OUTBOUND_REQUESTS,
    PIPELINE_SEED,
    PRISTINE_DATABASE,
    PRISTINE_HOME,
    PipelineRun,
    run_cli,
)
from tests.outbound import recording_proxy
from transactional.backup import backup


def build(shared: Path, database_url: str) -> None:
    pipeline = PipelineRun(home=shared / "build_home", database_url=database_url)
    with recording_proxy() as proxy:
        # The commands' environment starts from this process's, which runs nothing else.
        os.environ.update(proxy.environment)
        run_cli(pipeline, "simulate", "--scale", "tiny", "--seed", str(PIPELINE_SEED))
        run_cli(pipeline, "run")
    (shared / OUTBOUND_REQUESTS).write_text("".join(f"{request}\n" for request in proxy.requests))
    shutil.copytree(pipeline.home, shared / PRISTINE_HOME)
    backup(database_url, shared / PRISTINE_DATABASE)


if __name__ == "__main__":
    build(Path(sys.argv[1]), sys.argv[2])
