"""Dashboards and analysts read the serving copy while a run rebuilds and publishes it."""

from __future__ import annotations

import subprocess
import sys
import threading

import duckdb
import pytest

from tests.conftest import REPO_ROOT, PipelineRun

pytestmark = pytest.mark.slow

READERS = 3


def test_readers_of_the_serving_copy_never_get_a_lock_error_during_a_run(pipeline_run: PipelineRun) -> None:
    serving = pipeline_run.home / "serving" / "warehouse.duckdb"
    assert serving.exists()
    stop = threading.Event()
    errors: list[str] = []
    reads = [0] * READERS

    def read(reader: int) -> None:
        # What a dashboard page does: open read-only, query a mart, close.
        while not stop.is_set():
            try:
                with duckdb.connect(str(serving), read_only=True) as conn:
                    conn.execute("SELECT count(*), sum(revenue) FROM marts.fct_merchant_daily_sales").fetchone()
                reads[reader] += 1
                stop.wait(0.02)
            except duckdb.Error as error:
                errors.append(f"{type(error).__name__}: {error}")

    readers = [threading.Thread(target=read, args=(index,)) for index in range(READERS)]
    for thread in readers:
        thread.start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run"],
            cwd=REPO_ROOT,
            env=pipeline_run.env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert run.returncode == 0, run.stderr
    assert all(reads), f"every reader read during the run: {reads}"
    assert errors == [], errors[:5]
