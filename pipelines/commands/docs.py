"""`coopcast docs [--port 8080] [--host 127.0.0.1] [--no-serve]`: the dbt documentation of the
warehouse, for analysts.

The catalog (each table's real columns and row counts) is read from a copy of the serving
warehouse, the one analysts query: the pipeline keeps its write lock on the working file, and the
copy is what the docs describe. Everything is written under $COOPCAST_HOME/dbt/docs; the site
serves only the documentation's own files from there, not dbt's compiled SQL or parse state.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import typer

from pipelines import settings
from pipelines.cli_common import CommandFailed, console, one_line_errors

# What dbt's documentation site loads; the folder also holds compiled SQL and dbt's parse state.
SITE_FILES = frozenset({"index.html", "static_index.html", "manifest.json", "catalog.json"})


class DocsSiteHandler(SimpleHTTPRequestHandler):
    def send_head(self):
        name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
        if name not in SITE_FILES:
            self.send_error(404, "not part of the documentation site")
            return None
        return super().send_head()

    def log_message(self, format: str, *args) -> None:
        """Quiet: a request per line would bury the address printed above."""


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
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the site after generating it")] = True,
) -> None:
    """Generate the dbt documentation of every model and column (from the serving copy) and serve it."""
    # The port is taken first: a busy one is refused before a minute of generating.
    server = _site_server(host, port, docs_dir()) if serve else None
    target = generate_docs()
    console.print(f"Docs        {target / 'index.html'} (single file: {target / 'static_index.html'})")
    if server is None:
        return
    console.print(f"Serving     http://{'localhost' if host == '127.0.0.1' else host}:{port} (Ctrl+C stops)")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("Stopped.")


def _site_server(host: str, port: int, folder: Path) -> ThreadingHTTPServer:
    try:
        return ThreadingHTTPServer((host, port), functools.partial(DocsSiteHandler, directory=str(folder)))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CommandFailed(f"port {port} is in use on {host}: choose another with --port") from error
        raise CommandFailed(f"cannot listen on {host}:{port}: {error.strerror}") from error
