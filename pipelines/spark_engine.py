"""The dbt project on Spark: the same models, built by dbt-spark in a local Spark session from the
sources of a DuckDB warehouse, and compared table by table with DuckDB's build.

Spark's state (warehouse files, Derby metastore, logs) lives under COOPCAST_SPARK_HOME, read by
the `spark` target of dbt_project/profiles.yml. The sources (schemas `raw` and `ml`) go to Spark
as Parquet files exported by DuckDB and registered as tables of the same names; the models then
run unchanged, their engine differences being in dbt's cross-database macros and the project's
dispatched macros (dbt_project/macros/cross_engine.sql). Spark writes each table as Parquet
under its warehouse directory, which DuckDB reads back for the comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.warehouse import connect as connect_warehouse

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
SOURCE_SCHEMAS = ("raw", "ml")
# Layers built as tables; staging views are compared through the tables built on them.
COMPARED_SCHEMAS = ("intermediate", "marts")
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str
    location: Path


@dataclass(frozen=True)
class Mismatch:
    """How one table built on Spark differs from DuckDB's, with an example row."""

    relation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.relation}: {self.reason}"


@dataclass(frozen=True)
class SparkHome:
    root: Path

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    def table_dir(self, schema: str, table: str) -> Path:
        return self.warehouse_dir / f"{schema}.db" / table


def export_sources(warehouse: Path, home: SparkHome, schemas: Sequence[str] = SOURCE_SCHEMAS) -> list[SourceTable]:
    """Every table of the source schemas as Parquet under the Spark home, one directory a table.

    Parquet has no interval type Spark reads, so INTERVAL columns go out as whole microseconds
    (BIGINT); staging turns them back into intervals (macro source_interval)."""
    tables: list[SourceTable] = []
    with connect_warehouse(warehouse, read_only=True) as conn:
        listed = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN (SELECT unnest(?)) AND table_type = 'BASE TABLE'"
            " ORDER BY table_schema, table_name",
            [list(schemas)],
        ).fetchall()
        for schema, name in listed:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
            select_list = ", ".join(
                f'CAST(round(epoch("{column}") * 1000000) AS BIGINT) AS "{column}"'
                if data_type == "INTERVAL"
                else f'"{column}"'
                for column, data_type in columns
            )
            location = home.sources_dir / schema / name
            location.mkdir(parents=True, exist_ok=True)
            target = location / "part-0.parquet"
            conn.execute(f"COPY (SELECT {select_list} FROM {schema}.{name}) TO '{target}' (FORMAT parquet)")
            tables.append(SourceTable(schema=schema, name=name, location=location))
    return tables


def dbt(home: SparkHome, command: str, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    """One dbt command of the project on its `spark` target, dbt's target and logs kept in the
    Spark home."""
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
            "--target",
            "spark",
            "--target-path",
            str(home.root / "target"),
            "--log-path",
            str(home.root / "logs"),
            *args,
        ],
        env={**os.environ, "COOPCAST_SPARK_HOME": str(home.root)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _checked(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}")
    return result


def register_sources(home: SparkHome, tables: Sequence[SourceTable]) -> None:
    """Spark tables over the exported Parquet files, in databases named like the source schemas."""
    arguments = {"tables": [{"schema": t.schema, "name": t.name, "location": str(t.location)} for t in tables]}
    _checked(
        dbt(home, "run-operation", "register_parquet_sources", "--args", json.dumps(arguments)),
        "Registering the sources on Spark",
    )


def build(home: SparkHome, select: Sequence[str] = ()) -> list[dict]:
    """`dbt run` on Spark (of the selected models, or all); the run results of every model."""
    selection = ["--select", *select] if select else []
    results_file = home.root / "target" / "run_results.json"
    results_file.unlink(missing_ok=True)
    result = dbt(home, "run", "--full-refresh", *selection)
    if not results_file.exists():
        _checked(result, "dbt run on Spark")
    outcomes = json.loads(results_file.read_text())["results"]
    failed = [outcome for outcome in outcomes if outcome["status"] != "success"]
    if failed or result.returncode != 0:
        reasons = "\n".join(f"{outcome['unique_id']}: {outcome['message']}" for outcome in failed)
        raise RuntimeError(f"dbt run on Spark failed:\n{reasons}\n{result.stdout[-4000:]}")
    return outcomes


def built_tables(home: SparkHome, run_results: Sequence[dict]) -> list[tuple[str, str]]:
    """(schema, table) of every model the run materialized as a table in a compared layer."""
    nodes = json.loads((home.root / "target" / "manifest.json").read_text())["nodes"]
    tables = set()
    for outcome in run_results:
        node = nodes[outcome["unique_id"]]
        if node["schema"] in COMPARED_SCHEMAS and node["config"]["materialized"] in ("table", "incremental"):
            tables.add((node["schema"], node["alias"]))
    return sorted(tables)


def _comparable(value: object) -> object:
    """A value of either engine in a form that compares across them: lists as tuples."""
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    return value


def _sort_key(row: tuple) -> tuple:
    """Rows sorted alike on both sides: floats rounded to 9 significant digits (the engines add
    them up in different orders), exact numbers as they are, NULLs first."""

    def key(value: object) -> tuple:
        if value is None:
            return (0, 0)
        if isinstance(value, float):
            return (1, float(f"{value:.9g}") if math.isfinite(value) else value)
        if isinstance(value, bool | int | Decimal):
            return (1, value)
        if isinstance(value, datetime | date):
            return (2, value.isoformat())
        return (3, repr(value))

    return tuple(key(value) for value in row)


def _equal(left: object, right: object) -> bool:
    """Exact, except that a float on either side compares within the tolerance."""
    numbers = (int, float, Decimal)
    either_float = isinstance(left, float) or isinstance(right, float)
    if either_float and isinstance(left, numbers) and isinstance(right, numbers):
        left, right = float(left), float(right)
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right


def compare_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str, spark_files: Path) -> Mismatch | None:
    """DuckDB's `schema.table` against the Parquet files Spark wrote for it: the same columns,
    row count and rows (in any order, numbers within the tolerance)."""
    relation = f"{schema}.{table}"
    if not any(spark_files.glob("*.parquet")):
        return Mismatch(relation, f"no Parquet files from Spark in {spark_files}")
    duck_columns = [row[0] for row in conn.execute(f"DESCRIBE {relation}").fetchall()]
    spark_relation = f"read_parquet('{spark_files}/*.parquet')"
    spark_columns = [row[0] for row in conn.execute(f"DESCRIBE SELECT * FROM {spark_relation}").fetchall()]
    if sorted(duck_columns) != sorted(spark_columns):
        return Mismatch(
            relation,
            f"columns differ: only in DuckDB {sorted(set(duck_columns) - set(spark_columns))}, "
            f"only on Spark {sorted(set(spark_columns) - set(duck_columns))}",
        )
    select_list = ", ".join(f'"{column}"' for column in duck_columns)
    duck_rows = conn.execute(f"SELECT {select_list} FROM {relation}").fetchall()
    spark_rows = conn.execute(f"SELECT {select_list} FROM {spark_relation}").fetchall()
    if len(duck_rows) != len(spark_rows):
        return Mismatch(relation, f"{len(duck_rows)} rows in DuckDB, {len(spark_rows)} on Spark")
    duck_sorted = sorted((tuple(_comparable(v) for v in row) for row in duck_rows), key=_sort_key)
    spark_sorted = sorted((tuple(_comparable(v) for v in row) for row in spark_rows), key=_sort_key)
    for duck_row, spark_row in zip(duck_sorted, spark_sorted, strict=True):
        for column, duck_value, spark_value in zip(duck_columns, duck_row, spark_row, strict=True):
            if not _equal(duck_value, spark_value):
                return Mismatch(
                    relation,
                    f"column {column}: DuckDB {duck_value!r}, Spark {spark_value!r}; "
                    f"DuckDB row {dict(zip(duck_columns, duck_row, strict=True))}, "
                    f"Spark row {dict(zip(duck_columns, spark_row, strict=True))}",
                )
    return None


def compare_with_duckdb(warehouse: Path, home: SparkHome, tables: Sequence[tuple[str, str]]) -> list[Mismatch]:
    """Every table Spark built, against the same table in the DuckDB warehouse."""
    mismatches: list[Mismatch] = []
    with connect_warehouse(warehouse, read_only=True) as conn:
        for schema, table in tables:
            mismatch = compare_table(conn, schema, table, home.table_dir(schema, table))
            if mismatch is not None:
                mismatches.append(mismatch)
    return mismatches


@dataclass(frozen=True)
class CheckResult:
    tables: list[tuple[str, str]]
    mismatches: list[Mismatch]
    seconds: dict[str, float]


def check_against_duckdb(warehouse: Path, home: SparkHome, select: Sequence[str] = ()) -> CheckResult:
    """Builds the models on Spark from `warehouse`'s sources and compares every table with the
    warehouse's own (which DuckDB must have built from those sources with the same vars)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    tables = export_sources(warehouse, home)
    seconds["export"] = time.perf_counter() - started
    started = time.perf_counter()
    register_sources(home, tables)
    seconds["register"] = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = build(home, select)
    seconds["build"] = time.perf_counter() - started
    started = time.perf_counter()
    compared = built_tables(home, outcomes)
    mismatches = compare_with_duckdb(warehouse, home, compared)
    seconds["compare"] = time.perf_counter() - started
    return CheckResult(tables=compared, mismatches=mismatches, seconds=seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the dbt models on Spark from a DuckDB warehouse's sources and compare "
        "every intermediate and mart table with the warehouse's own."
    )
    parser.add_argument("--warehouse", type=Path, required=True, help="a DuckDB warehouse built by dbt")
    parser.add_argument(
        "--spark-home",
        type=Path,
        default=Path(os.environ["COOPCAST_SPARK_HOME"]) if os.environ.get("COOPCAST_SPARK_HOME") else None,
        help="Spark's warehouse, metastore and logs (default: $COOPCAST_SPARK_HOME)",
    )
    parser.add_argument("--select", nargs="*", default=[], help="dbt selection (default: every model)")
    arguments = parser.parse_args(argv)
    if arguments.spark_home is None:
        parser.error("give --spark-home or set COOPCAST_SPARK_HOME")
    result = check_against_duckdb(arguments.warehouse, SparkHome(arguments.spark_home), arguments.select)
    for mismatch in result.mismatches:
        print(mismatch)
    timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.seconds.items())
    print(f"{len(result.tables)} tables compared, {len(result.mismatches)} differ ({timings})")
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
