"""Backup and restore of the source database with PostgreSQL's own pg_dump and pg_restore.

The binaries come from the pgserver wheel (PostgreSQL 16), so a fresh machine has them; a
newer pg_dump reads older servers, which covers both the embedded server and a system one.
A backup is one custom-format archive of the whole database (core, sim and the migration
version), so a restored database needs no migration and keeps its row-security policies.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from transactional.db import pgserver_quietly
from transactional.errors import DomainError
from transactional.roles import CREATE_ROLES_SQL


class BackupFailed(DomainError):
    pass


def _postgres_binary(name: str) -> str:
    # pgserver exports a wrapper per binary but not their folder; the wrappers cannot stream.
    with pgserver_quietly():
        from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())[-500:]
        raise BackupFailed(f"{what} failed (exit {result.returncode}): {detail}")


def backup(database_url: str, archive: Path) -> Path:
    """Write the whole database to `archive` (written beside it first, then renamed, so a
    failed dump never leaves a truncated file under the final name)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    try:
        _run(
            [_postgres_binary("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", database_url],
            "pg_dump",
        )
        partial.replace(archive)
    finally:
        partial.unlink(missing_ok=True)
    return archive


def holds_data(database_url: str) -> bool:
    """Whether the database already has the platform's schema (a restore would replace it)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass('core.merchants') IS NOT NULL").fetchone()
    return bool(row and row[0])


def restore(database_url: str, archive: Path, replace: bool = False) -> None:
    """Restore `archive` into the database, in one transaction: on any error nothing changes.

    A database that already holds the platform's schema is only overwritten with `replace`.
    """
    if not archive.is_file():
        raise BackupFailed(f"{archive}: no such backup file")
    if holds_data(database_url) and not replace:
        raise BackupFailed("the database already holds coopcast data; pass --replace to overwrite it")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(CREATE_ROLES_SQL)
    command = [_postgres_binary("pg_restore"), "--single-transaction", "--exit-on-error", "--dbname", database_url]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, str(archive)], "pg_restore")
