"""The tests' tiny pipeline, built once per test run in a process of its own (see conftest's
`pipeline_run`).

`python -m tests.pipeline_build SHARED DATABASE_URL` runs `coopcast simulate --scale tiny` and
`coopcast run` in SHARED/build_home on DATABASE_URL, then leaves in SHARED the pristine copy the
test workers start from: the home's files (`home/`) and a `coopcast backup` of the database
(`database.dump`, written last, so its presence means the copy is whole).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.conftest import PIPELINE_SEED, PRISTINE_DATABASE, PRISTINE_HOME, PipelineRun, run_cli
from transactional.backup import backup


def build(shared: Path, database_url: str) -> None:
    pipeline = PipelineRun(home=shared / "build_home", database_url=database_url)
    run_cli(pipeline, "simulate", "--scale", "tiny", "--seed", str(PIPELINE_SEED))
    run_cli(pipeline, "run")
    shutil.copytree(pipeline.home, shared / PRISTINE_HOME)
    backup(database_url, shared / PRISTINE_DATABASE)


if __name__ == "__main__":
    build(Path(sys.argv[1]), sys.argv[2])
