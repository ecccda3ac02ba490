"""What every `coopcast` command shares: consoles, one-line errors, environment and setup.

Command groups live in their own modules (`pipelines/commands/`) and import from here, so
`pipelines/cli.py` can register them without import cycles.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines import settings
from pipelines import warehouse as duck
from pipelines.ops.instance import ensure_instance
from transactional import db

console = Console()
error_console = Console(stderr=True)
WAREHOUSE_POLL_SECONDS = 2
# SQLAlchemy (under Alembic's migrations) appends a link to its own docs to every database error.
SQLALCHEMY_BACKGROUND = re.compile(r"\(Background on this error at: \S+\)")

Command = TypeVar("Command", bound=Callable[..., None])


class CommandFailed(Exception):
    """A failure whose message is already the one line to show."""


def one_line_errors(command: Command) -> Command:
    """Every command exits non-zero with a one-line reason instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:  # every failure is reported as one line, then exit code 1
            reason = " ".join(SQLALCHEMY_BACKGROUND.sub("", str(error)).split()) or type(error).__name__
            error_console.print(f"[bold red]error:[/] {escape(reason)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from error

    return wrapper  # type: ignore[return-value]


def configure_environment(*, create_instance: bool = True) -> None:
    """Make every path absolute and shared with child processes (dbt, Dagster, Streamlit), and
    create the Dagster instance unless told not to (a command that only reads)."""
    home = db.coopcast_home()
    os.environ["COOPCAST_HOME"] = str(home)
    os.environ["COOPCAST_WAREHOUSE"] = str(settings.warehouse_path())
    dagster_home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    if create_instance:
        ensure_instance(dagster_home)


def prepare() -> str:
    """Idempotent setup shared by `init` and every command that needs the databases."""
    from transactional.migrate import upgrade

    configure_environment()
    for folder in (db.coopcast_home(), settings.exports_dir(), settings.serving_path().parent):
        folder.mkdir(parents=True, exist_ok=True)
    uri = db.database_url()
    upgrade(uri)
    conn = _warehouse_when_free()
    try:
        duck.create_schemas(conn)
        duck.create_ml_tables(conn)
    finally:
        conn.close()
    return uri


def _warehouse_when_free() -> duckdb.DuckDBPyConnection:
    """The warehouse, opened for writing once no other process holds it.

    DuckDB lets one process open the file at a time. A command started while a run writes it (a
    second `coopcast run`, the nightly schedule) takes its turn, as its run's assets would in the
    warehouse pool, instead of failing on the lock.
    """
    path = settings.warehouse_path()
    with error_console.status(f"Waiting for the warehouse {path}: another process is writing it…") as waiting:
        waiting.stop()
        while True:
            try:
                return duck.connect(path)
            except duckdb.IOException as error:
                if "lock" not in str(error):
                    raise
                waiting.start()
                time.sleep(WAREHOUSE_POLL_SECONDS)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
