"""Every benchmark of the project in one run: what `coopcast bench` runs.

Each benchmark module of tests/bench/ measures its own figures and its baseline in the same run
and returns them as a dict; `run_suite` runs the chosen ones against one scratch network and
returns the whole report (machine, versions, scale, data size, benchmarks), which
`write_report` writes as JSON and docs_tables turns into the tables of docs/benchmarks.md.

The scratch network: a PostgreSQL database created on DATABASE_URL's (else TEST_DATABASE_URL's,
else an embedded) server, simulated at the scale with SEED, with a temporary COOPCAST_HOME; both
are dropped at the end. When the simulator benchmark runs, its first repeat simulates into that
database, so the network is not simulated twice. `coopcast run` on it is the end-to-end figure.
The build figure is `repeats` full-refresh builds of it; with one repeat (county) it is the run's
own dbt steps instead (the first run on a fresh warehouse builds every model whole, as a full
refresh does, so no second build is run). The built pipeline is what the forecasting and dashboard
benchmarks measure; the ingestion benchmark runs last, since its trading day writes into the
database. The distributed forecasting benchmark needs no network: it fits its own synthetic series,
in this process and on a local Dask cluster. An existing pipeline (`--home`, `--database`) is only
read: the benchmarks that would write it (run, dashboard render, the trading day) are skipped, and
so is the build, which is the run's; the report says so. The report's phase_seconds says where the time went.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg

from tests.bench import (
    build,
    dashboard_render,
    forecasting,
    forecasting_distributed,
    ingestion,
    order_placement,
    simulator,
)
from tests.bench.figures import machine
from tests.conftest import PipelineRun, run_cli
from transactional.db import with_database

SEED = 1
BENCHMARKS = (
    "simulator",
    "order_placement",
    "forecasting_distributed",
    "run",
    "build",
    "forecasting",
    "dashboard_render",
    "ingestion",
)
NEEDS_PIPELINE = frozenset({"run", "build", "forecasting", "dashboard_render"})
NEEDS_NETWORK = NEEDS_PIPELINE | {"ingestion"}
# What an existing pipeline, only read, cannot be measured with, and why.
SKIPPED_ON_EXISTING_PIPELINE = {
    "run": "runs the pipeline, which writes it",
    "build": "is the build of the benchmark's own coopcast run (an existing pipeline's last run need not"
    " have built every model)",
    "dashboard_render": "signs in with an account it adds to the database"
    " (python -m tests.bench.dashboard_render --home ... does, on a database you let it write)",
}
SCALES = ("tiny", "small", "county")
# Each order placement run's length: long enough at small and county for a stable rate and a p99
# of hundreds of orders, short at tiny, where the command is tested.
ORDER_RUN_SECONDS = {"tiny": 0.5, "small": 2.0, "county": 3.0}
# The ingestion's trading day: one county day (6.8 M orders and 115 M funnel events over 731 days)
# at small and county; a tenth of it at tiny, so the command's test stays short.
TRADING_DAY = {"tiny": (930, 15_700), "small": (9_300, 157_000), "county": (9_300, 157_000)}
VERSIONED_PACKAGES = (
    "duckdb",
    "dbt-core",
    "dbt-duckdb",
    "dagster",
    "dagster-dbt",
    "statsforecast",
    "mlforecast",
    "lightgbm",
    "prophet",
    "pandas",
    "numpy",
    "psycopg",
    "streamlit",
    "playwright",
)


@dataclass(frozen=True)
class Options:
    scale: str = "small"
    repeats: int = 3
    only: tuple[str, ...] = BENCHMARKS
    database: str | None = None
    home: Path | None = None


@dataclass
class Network:
    pipeline: PipelineRun
    writable: bool
    run_seconds: float | None = None
    skipped: dict[str, str] = field(default_factory=dict)


def package_versions() -> dict[str, str]:
    found = {}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def core_row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'core' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {table: conn.execute(f'SELECT count(*) FROM core."{table}"').fetchone()[0] for table in tables}


@contextmanager
def server_for(options: Options) -> Iterator[str]:
    """The server the benchmarks create their own databases on: the existing pipeline's, else the
    configured one."""
    if options.database:
        yield with_database(options.database, "postgres")
        return
    with order_placement.server_url() as server:
        yield server


@contextmanager
def phase(phases: dict[str, float], name: str) -> Iterator[None]:
    """Adds the seconds the block took to phases[name]."""
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = round(phases.get(name, 0.0) + time.perf_counter() - started, 1)


def scratch_database(options: Options, server: str, chosen: list[str]) -> AbstractContextManager[str | None]:
    """The scratch network's empty, migrated database (None with an existing pipeline or no
    benchmark on a network)."""
    if options.database or not NEEDS_NETWORK & set(chosen):
        return nullcontext(None)
    return order_placement.bench_database(server)


@contextmanager
def network(
    options: Options, url: str | None, simulated: bool, phases: dict[str, float], say: Callable[[str], None]
) -> Iterator[Network]:
    """The pipeline the benchmarks measure: the existing one, or the scratch network in `url`
    (simulated there already when `simulated`), run once end to end when a benchmark needs it."""
    if options.database and options.home:
        skipped = dict(SKIPPED_ON_EXISTING_PIPELINE)
        yield Network(PipelineRun(home=options.home, database_url=options.database), False, skipped=skipped)
        return
    with tempfile.TemporaryDirectory(prefix="coopcast-bench-") as home:
        pipeline = PipelineRun(home=Path(home), database_url=url)
        if not simulated:
            say(f"simulating the {options.scale} network (seed {SEED})")
            with phase(phases, "network simulation"):
                run_cli(pipeline, "simulate", "--scale", options.scale, "--seed", str(SEED))
        scratch = Network(pipeline, True)
        if NEEDS_PIPELINE & set(options.only):
            say("coopcast run (end to end)")
            with phase(phases, "run"):
                started = time.perf_counter()
                run_cli(pipeline, "run")
                scratch.run_seconds = time.perf_counter() - started
        yield scratch


def end_to_end(scratch: Network, data_size: dict) -> dict:
    rows = sum(data_size.get("postgresql_rows", {}).values())
    return {
        "command": "coopcast run",
        "repeats": 1,
        "seconds": round(scratch.run_seconds, 1),
        "postgresql_rows": rows,
        "rows_per_s": round(rows / scratch.run_seconds),
    }


def run_suite(options: Options, say: Callable[[str], None] = print) -> dict:
    chosen = [name for name in BENCHMARKS if name in options.only]
    results: dict[str, dict] = {}
    report: dict = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": package_versions(),
        "scale": options.scale,
        "repeats": options.repeats,
        "seed": SEED,
        "data_size": {},
        "benchmarks": results,
    }
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with server_for(options) as server, scratch_database(options, server, chosen) as network_url:
        report["versions"]["postgresql"] = server_version(server)
        if "simulator" in chosen:
            say("simulator")
            with phase(phases, "simulator"):
                results["simulator"] = simulator.measure(server, options.scale, options.repeats, network_url)
        if "order_placement" in chosen:
            say("order placement")
            with phase(phases, "order_placement"):
                results["order_placement"] = order_placement.run(
                    server, ORDER_RUN_SECONDS[options.scale], options.repeats
                )
        if "forecasting_distributed" in chosen:
            say("forecasting on a local Dask cluster")
            with phase(phases, "forecasting_distributed"):
                results["forecasting_distributed"] = forecasting_distributed.measure(None, options.repeats)
        if NEEDS_NETWORK & set(chosen):
            with network(options, network_url, "simulator" in chosen, phases, say) as scratch:
                report["data_size"]["postgresql_rows"] = core_row_counts(scratch.pipeline.database_url)
                report["skipped"] = {name: why for name, why in scratch.skipped.items() if name in chosen}
                measure_on_network(chosen, options, scratch, report["data_size"], results, phases, say)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    report["phase_seconds"] = phases
    return report


def measure_on_network(
    chosen: list[str],
    options: Options,
    scratch: Network,
    data_size: dict,
    results: dict,
    phases: dict[str, float],
    say: Callable[[str], None],
) -> None:
    pipeline = scratch.pipeline
    if "run" in chosen and scratch.run_seconds is not None:
        results["run"] = end_to_end(scratch, data_size)
    if "build" in chosen and scratch.writable:
        with phase(phases, "build"):
            if options.repeats > 1:
                say(f"build ({options.repeats} × coopcast build --full-refresh)")
                results["build"] = build.measure(pipeline, options.repeats)
            else:
                say("build (the run's dbt steps)")
                results["build"] = build.measure_last_run(pipeline.home)
    if "forecasting" in chosen:
        say("forecasting")
        with phase(phases, "forecasting"):
            results["forecasting"] = forecasting.measure(
                pipeline.home / "serving" / "warehouse.duckdb", options.repeats
            )
    if "dashboard_render" in chosen and scratch.writable:
        say("dashboard render")
        with phase(phases, "dashboard_render"):
            results["dashboard_render"] = dashboard_render.run(
                pipeline, max(options.repeats, dashboard_render.MIN_REPEATS)
            )
    if "ingestion" in chosen:
        say("ingestion")
        day_orders, day_funnel_events = TRADING_DAY[options.scale]
        with phase(phases, "ingestion"):
            results["ingestion"] = ingestion.measure(
                pipeline.database_url,
                scratch.writable,
                day_orders,
                day_funnel_events,
                list(ingestion.BASELINE_TABLES),
                options.repeats,
            )


def write_report(report: dict, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
