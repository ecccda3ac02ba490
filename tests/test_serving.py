"""Dashboards and analysts read the serving copy while a run publishes it again.

A run touches the serving copy only in its last step, the publication, so the readers hammer the
copy while another process, as a run would, publishes it several times in a row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import duckdb

from tests.conftest import REPO_ROOT, PipelineRun

READERS = 3
PUBLICATIONS = 5


def test_readers_of_the_serving_copy_never_get_a_lock_error_during_a_publication(pipeline_run: PipelineRun) -> None:
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
    publisher = (
        "import json, sys; from pathlib import Path; from pipelines.serving import publish\n"
        f"for _ in range({PUBLICATIONS}):\n"
        "    print(json.dumps(publish(Path(sys.argv[1]), Path(sys.argv[2]))))"
    )
    try:
        publications = subprocess.run(
            [sys.executable, "-c", publisher, str(pipeline_run.home / "warehouse.duckdb"), str(serving)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert publications.returncode == 0, publications.stderr
    lines = publications.stdout.splitlines()
    assert len(lines) == PUBLICATIONS, f"stdout: {publications.stdout!r}; stderr: {publications.stderr[-2000:]}"
    published = [json.loads(line) for line in lines]
    assert all(counts["marts.fct_merchant_daily_sales"] > 0 for counts in published), published
    assert all(reads), f"every reader read during the publications: {reads}"
    assert errors == [], errors[:5]
