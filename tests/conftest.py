"""Shared fixtures: real PostgreSQL databases and one real pipeline run at tiny scale.

PostgreSQL is TEST_DATABASE_URL's server when set (CI points it at 127.0.0.1:5432), otherwise an
embedded server from the pgserver wheel; every test database is created fresh and dropped after.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest

from transactional.backup import restore
from transactional.db import with_database
from transactional.migrate import upgrade

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "dbt_project"
PIPELINE_SEED = 3
# The pipeline built once per test run by `coopcast demo` (tests/pipeline_build.py): its folder
# holds the home's files, the database's backup (written last), the build's output, a lock the
# build holds, the requests the demo sent towards the internet (tests/outbound.py), one per line,
# and what the demo printed and how it ended.
PRISTINE_HOME = "home"
PRISTINE_DATABASE = "database.dump"
BUILD_LOG = "build.log"
BUILD_LOCK = "build.lock"
OUTBOUND_REQUESTS = "outbound_requests.txt"
DEMO_LOG = "demo.log"
DEMO_OUTCOME = "demo.json"
# The fixtures that start from that build.
BUILT_PIPELINE_FIXTURES = {"pipeline_run", "own_pipeline_run", "pipeline_build_folder"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow first, longest first (`slow(minutes=N)`, 1 unless given), so the
    longest files start at once instead of running alone at the end: a two-minute file among the
    last to start once ran on for most of a minute after another worker had run out of files."""

    def order(item: pytest.Item) -> tuple[bool, int]:
        slow = item.get_closest_marker("slow")
        return slow is None, -(slow.kwargs.get("minutes", 1) if slow else 0)

    items.sort(key=order)


@pytest.fixture(autouse=True)
def real_main_module() -> Iterator[None]:
    """Puts back the process's own `__main__` after every test.

    Streamlit's script runner, and so every AppTest, installs the page script as `__main__` and
    leaves it there. A later test that spawns processes (Dask's LocalCluster) would then rerun
    that script in each child, and an `AppTest.from_function` script is a temporary file that is
    gone by then, so the workers fail to start.
    """
    main_module = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main_module


@contextmanager
def pgserver_start_lock() -> Iterator[None]:
    """Embedded servers start one at a time across processes: run as root, pgserver creates its
    system user and widens folder permissions on first use, and two test workers doing that at
    once on a fresh machine left one unable to reach its data directory."""
    with (Path(tempfile.gettempdir()) / "coopcast-pgserver-start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def embedded_server(prefix: str) -> Iterator:
    """A pgserver server of its own, stopped and deleted on the way out.

    Its data directory is not under pytest's basetemp: pytest prunes old basetemp folders, and a
    second pytest session running at the same time could delete a live server's data directory.
    """
    import pgserver

    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    with pgserver_start_lock():
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    with embedded_server("coopcast-test-pg-") as server:
        yield server.get_uri()


@pytest.fixture(scope="session")
def database_factory(pg_server_url: str) -> Iterator:
    """Creates uniquely named databases on the test server, migrated unless asked otherwise;
    drops them at the end."""
    created: list[str] = []

    def create(migrated: bool = True) -> str:
        name = f"coopcast_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        uri = with_database(pg_server_url, name)
        if migrated:
            upgrade(uri)
        return uri

    yield create
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database_url(database_factory) -> str:
    """A fresh database migrated to the newest schema."""
    return database_factory()


@pytest.fixture
def conn(pg_database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a fresh database; modules sharing one database define their own."""
    with psycopg.connect(pg_database_url) as connection:
        yield connection


@dataclass(frozen=True)
class PipelineRun:
    home: Path
    database_url: str

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "COOPCAST_HOME": str(self.home),
            "DATABASE_URL": self.database_url,
            "COOPCAST_WAREHOUSE": str(self.home / "warehouse.duckdb"),
            "DAGSTER_HOME": str(self.home / "dagster"),
        }


def run_cli(pipeline: PipelineRun, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO_ROOT,
        env=pipeline.env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"coopcast {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def dbt(warehouse: Path, tmp: Path, command: str, *args: str) -> subprocess.CompletedProcess:
    """One dbt command of the project on a warehouse file, with its target and logs under `tmp`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            command,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
            *args,
        ],
        env={**os.environ, "COOPCAST_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def dbt_build(warehouse: Path, tmp: Path, *args: str) -> None:
    result = dbt(warehouse, tmp, "build", *args)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def warehouse_rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


@pytest.fixture(scope="session", autouse=True)
def pipeline_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[None]:
    """Starts building the tests' tiny pipeline (tests/pipeline_build.py) as soon as the first test
    worker starts, when any collected test needs it; the workers go on with their tests meanwhile.

    The worker that starts the build waits for it at its end: the build's database is its own.
    """
    builder = None
    if any(BUILT_PIPELINE_FIXTURES & set(item.fixturenames) for item in request.session.items):
        shared = pristine_pipeline_folder(tmp_path_factory, worker_id)
        shared.mkdir(exist_ok=True)
        with (shared.parent / f"{shared.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (shared / BUILD_LOG).exists():
                # Asked for only here: a run without pipeline tests starts no database server for it.
                builder = start_pipeline_build(shared, request.getfixturevalue("database_factory")())
    yield
    if builder is not None:
        builder.wait()


def start_pipeline_build(shared: Path, database_url: str) -> subprocess.Popen:
    with (shared / BUILD_LOCK).open("w") as build_lock, (shared / BUILD_LOG).open("w") as log:
        fcntl.flock(build_lock, fcntl.LOCK_EX)
        # The build process inherits the locked file and holds the lock until it exits.
        return subprocess.Popen(
            [sys.executable, "-m", "tests.pipeline_build", str(shared), database_url],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=[build_lock.fileno()],
        )


def pristine_pipeline_folder(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Where the pipeline is built, shared by all workers of the run (their temp folders' parent)."""
    basetemp = tmp_path_factory.getbasetemp()
    return (basetemp if worker_id == "master" else basetemp.parent) / "pristine_pipeline"


@pytest.fixture(scope="session")
def pipeline_run(
    pipeline_build: None, tmp_path_factory: pytest.TempPathFactory, database_factory, worker_id: str
) -> PipelineRun:
    """`coopcast demo --scale tiny`, as a user would (init, simulate, run), once per test run.

    Tests change what they are given (they approve orders, ingest, rerun, restore), so each test
    worker gets a pipeline of its own: the built home's files, copied, and the built database's
    backup restored into a database of its own, in seconds instead of a whole run.
    """
    return copy_of_the_built_pipeline(
        pristine_pipeline_folder(tmp_path_factory, worker_id),
        tmp_path_factory.mktemp("coopcast_home"),
        database_factory,
    )


@pytest.fixture
def own_pipeline_run(
    pipeline_build: None, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, database_factory, worker_id: str
) -> PipelineRun:
    """The tiny pipeline as `coopcast run` left it, for one test alone: for tests that change the
    source and build again, which the worker's shared `pipeline_run` must not see."""
    return copy_of_the_built_pipeline(
        pristine_pipeline_folder(tmp_path_factory, worker_id), tmp_path / "home", database_factory
    )


@pytest.fixture
def pipeline_build_folder(pipeline_build: None, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder of the finished build, read only: for the tests of the build itself."""
    shared = pristine_pipeline_folder(tmp_path_factory, worker_id)
    wait_for_the_build(shared)
    return shared


def wait_for_the_build(shared: Path) -> None:
    with (shared / BUILD_LOCK).open("w") as build_lock:
        fcntl.flock(build_lock, fcntl.LOCK_EX)
    if not (shared / PRISTINE_DATABASE).exists():
        raise AssertionError(f"building the tests' pipeline failed:\n{(shared / BUILD_LOG).read_text()[-5000:]}")


def copy_of_the_built_pipeline(shared: Path, home: Path, database_factory) -> PipelineRun:
    """The pristine build's home files copied to `home`, its database restored into a new one."""
    # Imported here, not with the conftest every pytest process loads: Dagster takes seconds to import.
    from pipelines.ops.instance import ensure_instance

    wait_for_the_build(shared)
    shutil.copytree(shared / PRISTINE_HOME, home, dirs_exist_ok=True)
    # dagster.yaml names its storage folder by absolute path: point it at this copy's.
    ensure_instance(home / "dagster")
    pipeline = PipelineRun(home=home, database_url=database_factory(migrated=False))
    restore(pipeline.database_url, shared / PRISTINE_DATABASE)
    adopt_restored_source(pipeline)
    return pipeline


def adopt_restored_source(pipeline: PipelineRun) -> None:
    """The copied warehouse's ingestion state, pointed at the restored database.

    A restored database is another source to ingestion (its tables have new object ids), so the
    next run would copy every table whole. Here it is the very rows the warehouse copied, with the
    same transaction ids on the same server: the tests of incremental runs may go on from them.
    """
    from pipelines.ingest import SOURCE_IDENTITY, STATE_TABLE

    with psycopg.connect(pipeline.database_url) as conn:
        identity = conn.execute(SOURCE_IDENTITY).fetchone()[0]
    with duckdb.connect(str(pipeline.home / "warehouse.duckdb")) as warehouse:
        warehouse.execute(f"UPDATE {STATE_TABLE} SET source_identity = ?", [identity])


@pytest.fixture
def ingested_tiny(tmp_path: Path, database_factory) -> PipelineRun:
    """A tiny network simulated and ingested, not built, on a database of its own: for tests that
    change the source or rebuild, which the session's shared `pipeline_run` must not see."""
    pipeline = PipelineRun(home=tmp_path / "home", database_url=database_factory())
    run_cli(pipeline, "simulate", "--scale", "tiny", "--seed", "11")
    run_cli(pipeline, "ingest")
    return pipeline


@pytest.fixture(scope="session")
def serving_home(pipeline_run: PipelineRun) -> Path:
    """A COOPCAST_HOME whose serving copy and exports come from the real pipeline."""
    return pipeline_run.home
