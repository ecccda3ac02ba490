"""An ingestion killed with SIGKILL at any point leaves the warehouse as it was or fully advanced,
and the next run finishes the job without duplicating a row."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipelines import ingest
from tests.conftest import REPO_ROOT
from tests.ingest_support import failed_reconciliations, trade, warehouse_differences
from tests.test_crash import open_shop
from transactional.simulator import simulate

pytestmark = pytest.mark.slow

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
KILLED_RUNS = 20


def start_ingestion(url: str, warehouse: Path, full: bool) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest_kill_worker", url, str(warehouse), *(["--full"] if full else [])],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "started"
    return worker


def timed_ingestion(url: str, warehouse: Path, full: bool) -> float:
    worker = start_ingestion(url, warehouse, full)
    started = time.monotonic()
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "done"
    worker.wait()
    return time.monotonic() - started


def test_ingestions_killed_at_random_points_never_leave_half_a_run(pg_database_url: str, tmp_path: Path) -> None:
    url = pg_database_url
    with psycopg.connect(url) as conn:
        simulate(conn, "tiny", seed=5)
    shop = open_shop(url)
    warehouse = tmp_path / "warehouse.duckdb"
    durations = {True: timed_ingestion(url, warehouse, full=True), False: timed_ingestion(url, warehouse, full=False)}

    rng = random.Random(20)
    killed = 0
    with psycopg.connect(url) as writer:
        for run in range(KILLED_RUNS):
            for step in range(5):
                trade(writer, shop, [shop.product_ids[step % 3]], AT + timedelta(hours=run, minutes=step), rng)
            full = run % 4 == 0
            worker = start_ingestion(url, warehouse, full)
            time.sleep(rng.uniform(0, durations[full]))
            worker.kill()
            worker.wait()
            assert worker.stdout is not None
            killed += worker.stdout.read().strip() != "done"
            # Whatever the kill interrupted, the warehouse holds exactly what its state describes.
            assert failed_reconciliations(warehouse) == {}, f"after kill {run}"
    # Some runs finish before their kill (a loaded machine is slower than the timed runs were).
    assert killed >= KILLED_RUNS // 4, "kills should land inside ingestions"

    result = ingest.ingest(url, warehouse)
    assert {ingested.mode for ingested in result.tables.values()} == {"incremental"}
    assert warehouse_differences(url, warehouse) == {}
    assert failed_reconciliations(warehouse) == {}
