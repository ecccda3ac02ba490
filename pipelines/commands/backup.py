"""`coopcast backup` and `coopcast restore`: the source database, with PostgreSQL's own tools."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_common import configure_environment, console, one_line_errors
from transactional import backup as source_backup
from transactional import db


def _default_archive() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return db.coopcast_home() / "backups" / f"coopcast-{stamp}.dump"


@one_line_errors
def backup(
    output: Annotated[
        Path | None, typer.Option(help="Archive to write (default $COOPCAST_HOME/backups/coopcast-<time>.dump)")
    ] = None,
) -> None:
    """Dump the whole source database (pg_dump, custom format) to one archive."""
    configure_environment()
    uri = db.database_url()
    with console.status(f"Dumping {db.describe(uri)}…"):
        archive = source_backup.backup(uri, output or _default_archive())
    console.print(f"Backup      {archive} ({archive.stat().st_size / 1e6:.1f} MB)")


@one_line_errors
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `coopcast backup`")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a database that already holds data")] = False,
) -> None:
    """Restore the source database from an archive, all or nothing (pg_restore, one transaction)."""
    configure_environment()
    uri = db.database_url()
    with console.status(f"Restoring {archive} into {db.describe(uri)}…"):
        source_backup.restore(uri, archive, replace=replace)
    console.print(f"Restored    {archive} into {db.describe(uri)}; run `coopcast run` to refresh the warehouse")
