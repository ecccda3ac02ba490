"""`coopcast bench` for real at tiny scale on a quick subset: the JSON report's shape, and the
tables of a copy of docs/benchmarks.md regenerated from it (the prose and the other tables kept).

No timing is asserted: only that figures were measured, with their spread and baselines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.docs_tables import number
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

QUICK_SUBSET = ("simulator", "ingestion")
MARKED_TABLE = re.compile(r"<!-- bench:(\w+):start -->\n.*?<!-- bench:\1:end -->", re.DOTALL)


def marked_tables(text: str) -> dict[str, str]:
    return {match.group(1): match.group(0) for match in MARKED_TABLE.finditer(text)}


def prose(text: str) -> str:
    return MARKED_TABLE.sub("", text)


def assert_spread(figure: dict) -> None:
    assert set(figure) == {"median", "min", "max"}
    assert 0 < figure["min"] <= figure["median"] <= figure["max"]


def test_bench_tiny_writes_the_report_and_regenerates_the_docs_tables(pg_server_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    shutil.copyfile(REPO_ROOT / "docs" / "benchmarks.md", docs)
    before = docs.read_text(encoding="utf-8")
    output = tmp_path / "results.json"

    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "--scale", "tiny", "--repeats", "3"]
        + [argument for name in QUICK_SUBSET for argument in ("--only", name)]
        + ["--output", str(output), "--docs", str(docs)],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": pg_server_url, "COOPCAST_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["scale"] == "tiny"
    assert report["repeats"] == 3
    assert {"platform", "cpus", "python"} <= set(report["machine"])
    assert {"postgresql", "duckdb", "dbt-core", "dagster", "statsforecast"} <= set(report["versions"])
    assert report["data_size"]["postgresql_rows"]["order_lines"] > 0
    assert set(report["benchmarks"]) == set(QUICK_SUBSET)

    simulator = report["benchmarks"]["simulator"]
    assert simulator["repeats"] == 3
    assert_spread(simulator["rows_per_second"])
    assert_spread(simulator["ratio_to_plain_copy"])

    ingestion = report["benchmarks"]["ingestion"]
    assert_spread(ingestion["full_refresh"]["rows_per_s"])
    assert [baseline["table"] for baseline in ingestion["baselines"]] == ["order_lines", "funnel_events"]
    for baseline in ingestion["baselines"]:
        for rate in ("scanner_rows_per_s", "pandas_read_sql_rows_per_s", "server_copy_rows_per_s"):
            assert_spread(baseline[rate])
        assert baseline["scanner_vs_pandas"] > 0 and baseline["scanner_vs_server_copy"] > 0
    assert_spread(ingestion["no_change"]["incremental_seconds"])
    assert ingestion["county_day"]["rows_merged"] > 0

    after = docs.read_text(encoding="utf-8")
    assert prose(after) == prose(before)
    tables_before, tables_after = marked_tables(before), marked_tables(after)
    assert set(tables_after) == set(tables_before)
    for name in set(tables_before) - {"about", *QUICK_SUBSET}:
        assert tables_after[name] == tables_before[name], f"{name} was not run, yet its table changed"
    assert report["measured_at"] in tables_after["about"]
    assert f"| tiny | {number(simulator['rows'])} |" in tables_after["simulator"]
    assert number(simulator["rows_per_second"]["median"]) in tables_after["simulator"]
    full_refresh = ingestion["full_refresh"]
    assert number(full_refresh["rows"]) in tables_after["ingestion"]
    assert number(full_refresh["rows_per_s"]["median"]) in tables_after["ingestion"]
    assert f"{ingestion['county_day']['rows_merged']:,} rows merged" in tables_after["ingestion"]


def test_part_of_the_suite_does_not_replace_the_whole_report(tmp_path: Path) -> None:
    report, docs = REPO_ROOT / "bench" / "results.json", REPO_ROOT / "docs" / "benchmarks.md"
    before = report.read_bytes(), docs.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "--scale", "tiny", "--only", "simulator"],
        cwd=REPO_ROOT,
        env={**os.environ, "COOPCAST_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "pass --output and --docs to write it elsewhere" in result.stderr
    assert (report.read_bytes(), docs.read_bytes()) == before
