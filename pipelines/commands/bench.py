"""`coopcast bench`: every benchmark of the project in one run, into bench/results.json and the
tables of docs/benchmarks.md.

The benchmarks stay in tests/bench/ (each still runs alone as `python -m tests.bench.NAME`) and
lean on the test helpers (tests/conftest.py, the browser driver), which the installed package
does not ship. So the command runs from a checkout: it finds the repository root above this
package (an editable install, as `make install` makes) and puts it on sys.path to import
tests.bench.suite; installed elsewhere, it says so and exits. Results and docs default to the
checkout's bench/results.json and docs/benchmarks.md.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

import pipelines
from pipelines.cli_common import CommandFailed, console, one_line_errors

REPO_ROOT = Path(pipelines.__file__).resolve().parents[1]
DEFAULT_REPEATS = {"tiny": 3, "small": 3, "county": 1}
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results.json"
DEFAULT_DOCS = REPO_ROOT / "docs" / "benchmarks.md"


def checkout_module(name: str) -> ModuleType:
    if not (REPO_ROOT / "tests" / "bench" / "suite.py").is_file():
        raise CommandFailed(f"coopcast bench runs from a checkout of coopcast: no tests/bench/ under {REPO_ROOT}")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module(name)


@one_line_errors
def bench(
    scale: Annotated[str, typer.Option(help="tiny (tests), small or county")] = "small",
    repeats: Annotated[int | None, typer.Option(help="Repeats per figure (default 3; 1 at county)", min=1)] = None,
    output: Annotated[Path, typer.Option(help="The JSON report")] = DEFAULT_OUTPUT,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only these (repeatable or a,b); default all")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="With --home: an existing pipeline's database, only read")
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="With --database: that pipeline's COOPCAST_HOME, only read")
    ] = None,
    docs: Annotated[Path, typer.Option(help="The page whose tables are regenerated")] = DEFAULT_DOCS,
) -> None:
    """Run the benchmarks, each against its baseline in the same run; write the JSON and the docs' tables."""
    suite = checkout_module("tests.bench.suite")
    docs_tables = checkout_module("tests.bench.docs_tables")
    if scale not in suite.SCALES:
        raise CommandFailed(f"--scale must be one of {', '.join(suite.SCALES)}")
    # `--only a --only b` or `--only a,b`.
    chosen = [name for value in only or () for name in value.split(",") if name]
    unknown = sorted(set(chosen) - set(suite.BENCHMARKS))
    if unknown:
        raise CommandFailed(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(suite.BENCHMARKS)}")
    if (database is None) != (home is None):
        raise CommandFailed("--database and --home go together: an existing pipeline's database and home")
    partial = bool(chosen) and set(chosen) != set(suite.BENCHMARKS)
    if partial and (output == DEFAULT_OUTPUT or docs == DEFAULT_DOCS):
        raise CommandFailed(
            "--only runs part of the suite, and its report would replace the whole one in "
            f"{DEFAULT_OUTPUT.relative_to(REPO_ROOT)} and {DEFAULT_DOCS.relative_to(REPO_ROOT)}: "
            "pass --output and --docs to write it elsewhere"
        )
    options = suite.Options(
        scale=scale,
        repeats=repeats or DEFAULT_REPEATS[scale],
        only=tuple(chosen or suite.BENCHMARKS),
        database=database,
        home=home.resolve() if home else None,
    )
    started = time.monotonic()
    report = suite.run_suite(options, say=lambda step: console.print(f"[bold]bench[/] {step}", highlight=False))
    suite.write_report(report, output)
    regenerated = docs_tables.regenerate(docs, report)
    for name, why in report.get("skipped", {}).items():
        console.print(f"skipped {name}: {why}")
    console.print(
        f"Benchmarks {', '.join(report['benchmarks'])} at {scale} in {time.monotonic() - started:.0f} s;"
        f" wrote {output} and the tables {', '.join(regenerated)} of {docs}"
    )
