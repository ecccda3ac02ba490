"""`coopcast docs [--port 8080] [--no-serve]`: the dbt documentation of the warehouse, for analysts.

The catalog (each table's real columns and row counts) is read from a copy of the serving
warehouse, the one analysts query: the pipeline keeps its write lock on the working file, and the
copy is what the docs describe. Everything is written under $COOPCAST_HOME/dbt/docs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from pipelines import settings
from pipelines.cli_common import CommandFailed, console, one_line_errors


def docs_dir() -> Path:
    return settings.coopcast_home() / "dbt" / "docs"


def _dbt(*args: str, warehouse: Path, target: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *args,
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(target.parent / "logs"),
        ],
        env={**os.environ, "COOPCAST_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
    )


def generate_docs() -> Path:
    """Write index.html, manifest.json, catalog.json and a single-file static_index.html."""
    serving = settings.serving_path()
    if not serving.exists():
        raise CommandFailed(f"no serving warehouse at {serving}: run `coopcast run` first")
    target = docs_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coopcast-docs-") as scratch:
        # Same file name: DuckDB views remember the catalog (file) name they were created in.
        warehouse = Path(scratch) / serving.name
        shutil.copyfile(serving, warehouse)
        result = _dbt("docs", "generate", "--static", warehouse=warehouse, target=target)
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines() if "Error" in line] or result.stdout.splitlines()[-1:]
        raise CommandFailed(f"dbt docs generate failed: {' '.join(lines)[:300]}")
    return target


@one_line_errors
def docs(
    port: Annotated[int, typer.Option("--port", help="Port of the documentation site")] = 8080,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the site after generating it")] = True,
) -> None:
    """Generate the dbt documentation of every model and column (from the serving copy) and serve it."""
    target = generate_docs()
    console.print(f"Docs        {target / 'index.html'} (single file: {target / 'static_index.html'})")
    if not serve:
        return
    console.print(f"Serving     http://localhost:{port} (Ctrl+C stops)")
    subprocess.run(
        [sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory", str(target)],
        check=False,
    )
