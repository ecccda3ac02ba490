"""`coopcast build` time: total and per model, and the slowest models against plain DuckDB.

    python -m tests.bench.build --home HOME --database URL [--repeats 3] [--output bench/build.json]
    python -m tests.bench.build --home HOME --last-run [--output bench/build.json]

Each repeat is `coopcast build --full-refresh` on the pipeline of HOME and URL (it rewrites that
warehouse: give it a scratch pipeline, never a production one). The total is the command's wall
time (dbt, its tests and Dagster's bookkeeping); each model's time is dbt's own `execution_time`
from the run_results.json of the build's dbt invocations. The full refresh makes every repeat
build every model whole, incremental ones included, so the repeats measure the same work.

`--last-run` rebuilds nothing: it reads the build that HOME's last `coopcast run` did (what
`coopcast bench` measures, after the run on its freshly simulated network, whose first run
builds every model whole as a full refresh does). The total is then the wall time of the run's
dbt steps, from Dagster's step timing (dbt with its tests and dagster-dbt's bookkeeping, without
the command's start-up and graph loading); the per-model times come from those steps'
run_results.json.

The baseline, measured in the same run: each of the SLOWEST_MODELS slowest models' compiled SQL
(from run_results.json) run directly in DuckDB as `CREATE TABLE ... AS`, against the built
warehouse attached read-only. Rows per second both ways (the model's output rows over its time)
and their ratio say what dbt's materialization costs beyond the query itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import duckdb

from tests.bench.figures import spread, timed, write_result
from tests.conftest import PipelineRun, run_cli

SLOWEST_MODELS = 5
REPEATS = 3


class ModelRuns:
    """dbt's timings of every model over the repeats, with the SQL and relation of each."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.compiled_sql: dict[str, str] = {}
        self.relation: dict[str, str] = {}

    def add(self, run_results: Path) -> None:
        for result in json.loads(run_results.read_text())["results"]:
            if not result["unique_id"].startswith("model.") or result["status"] != "success":
                continue
            name = result["unique_id"].split(".", 2)[-1]
            self.seconds.setdefault(name, []).append(result["execution_time"])
            self.compiled_sql[name] = result["compiled_code"]
            self.relation[name] = result["relation_name"]

    def slowest(self, count: int) -> list[str]:
        return sorted(self.seconds, key=lambda name: statistics.median(self.seconds[name]), reverse=True)[:count]


def build_once(pipeline: PipelineRun, models: ModelRuns) -> float:
    """Seconds of one `coopcast build --full-refresh`; its dbt timings go into `models`."""
    runs = pipeline.home / "dbt" / "target" / "runs"
    before = set(runs.glob("*/run_results.json")) if runs.exists() else set()
    started = time.perf_counter()
    run_cli(pipeline, "build", "--full-refresh")
    seconds = time.perf_counter() - started
    for run_results in sorted(set(runs.glob("*/run_results.json")) - before):
        models.add(run_results)
    return seconds


def last_run_build(home: Path, models: ModelRuns) -> tuple[str, float, float]:
    """(run id, seconds of its dbt steps by Dagster's step timing, dbt's own elapsed seconds) of
    HOME's last Dagster run; the models its dbt invocations built go into `models`."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            raise RuntimeError(f"no Dagster run in {home / 'dagster'}: run `coopcast run` there first")
        run_id = runs[0].run_id
        step_seconds = {
            stats.step_key: stats.end_time - stats.start_time
            for stats in instance.get_run_step_stats(run_id)
            if stats.start_time is not None and stats.end_time is not None
        }
    dbt_steps = {}
    dbt_elapsed = 0.0
    # Each dbt step of the run writes its run_results.json under runs/<run id>-<step>.
    for run_results in sorted((home / "dbt" / "target" / "runs").glob(f"{run_id}-*/run_results.json")):
        step = run_results.parent.name.removeprefix(f"{run_id}-")
        dbt_steps[step] = step_seconds[step]
        dbt_elapsed += json.loads(run_results.read_text())["elapsed_time"]
        models.add(run_results)
    if not dbt_steps:
        raise RuntimeError(f"the last run {run_id} of {home} ran no dbt step")
    return run_id, sum(dbt_steps.values()), dbt_elapsed


def catalog_of(relation: str) -> str:
    return relation.split(".", 1)[0].strip('"')


def direct_query(warehouse: Path, relation: str, sql: str, repeats: int) -> tuple[int, list[float]]:
    """(rows, seconds of each repeat) of `CREATE TABLE ... AS` the model's compiled SQL, in a DuckDB
    of its own with the warehouse attached read-only under the catalog name the SQL uses."""
    conn = duckdb.connect()
    try:
        conn.execute(f"ATTACH '{warehouse}' AS \"{catalog_of(relation)}\" (READ_ONLY)")
        rows = conn.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]

        def create_table() -> None:
            conn.execute(f"CREATE OR REPLACE TABLE memory.main.direct_baseline AS {sql}")

        return rows, timed(create_table, repeats)
    finally:
        conn.close()


def slowest_against_duckdb(warehouse: Path, models: ModelRuns, baseline_repeats: int) -> list[dict]:
    slowest = []
    for name in models.slowest(SLOWEST_MODELS):
        rows, direct_seconds = direct_query(
            warehouse, models.relation[name], models.compiled_sql[name], baseline_repeats
        )
        model_seconds = statistics.median(models.seconds[name])
        direct_median = statistics.median(direct_seconds)
        slowest.append(
            {
                "model": name,
                "rows": rows,
                "dbt_seconds": spread(models.seconds[name]),
                "direct_seconds": spread(direct_seconds),
                "dbt_rows_per_s": round(rows / model_seconds) if model_seconds > 0 else None,
                "direct_rows_per_s": round(rows / direct_median) if direct_median > 0 else None,
                "ratio_dbt_to_direct": round(direct_median / model_seconds, 3) if model_seconds > 0 else None,
            }
        )
    return slowest


def model_figures(models: ModelRuns, warehouse: Path, baseline_repeats: int) -> dict:
    return {
        "models": len(models.seconds),
        "model_seconds_sum": round(sum(statistics.median(found) for found in models.seconds.values()), 2),
        "per_model_seconds": {
            name: round(statistics.median(found), 3) for name, found in sorted(models.seconds.items())
        },
        "slowest": slowest_against_duckdb(warehouse, models, baseline_repeats),
        "baseline": "the model's compiled SQL as CREATE TABLE AS directly in DuckDB, same warehouse, same run",
    }


def measure(pipeline: PipelineRun, repeats: int = REPEATS, baseline_repeats: int = REPEATS) -> dict:
    """`repeats` builds, then the slowest models' SQL `baseline_repeats` times each in DuckDB."""
    models = ModelRuns()
    totals = [build_once(pipeline, models) for _ in range(repeats)]
    return {
        "command": "coopcast build --full-refresh",
        "repeats": repeats,
        "total_seconds": spread(totals, 2),
        **model_figures(models, pipeline.home / "warehouse.duckdb", baseline_repeats),
    }


def measure_last_run(home: Path, baseline_repeats: int = REPEATS) -> dict:
    """The build of HOME's last `coopcast run`, then the slowest models' SQL `baseline_repeats` times
    each in DuckDB."""
    models = ModelRuns()
    run_id, step_seconds, dbt_elapsed = last_run_build(home, models)
    return {
        "command": "coopcast run",
        "part": "its dbt steps (Dagster's step timing)",
        "run_id": run_id,
        "repeats": 1,
        "total_seconds": spread([step_seconds], 2),
        "dbt_elapsed_seconds": round(dbt_elapsed, 2),
        **model_figures(models, home / "warehouse.duckdb", baseline_repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a scratch COOPCAST_HOME whose pipeline has run")
    parser.add_argument("--database", help="that pipeline's PostgreSQL database (needed unless --last-run)")
    parser.add_argument("--last-run", action="store_true", help="read the build of HOME's last coopcast run")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--output", type=Path, default=Path("bench/build.json"))
    arguments = parser.parse_args()
    if arguments.last_run:
        write_result(arguments.output, "build", measure_last_run(arguments.home, arguments.repeats))
        return
    if arguments.database is None:
        parser.error("--database is needed to rebuild (or give --last-run)")
    pipeline = PipelineRun(home=arguments.home, database_url=arguments.database)
    write_result(arguments.output, "build", measure(pipeline, arguments.repeats))


if __name__ == "__main__":
    main()
