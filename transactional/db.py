"""Where the PostgreSQL server is, and how to reach it.

`DATABASE_URL` wins when set. Otherwise an embedded server from the `pgserver` wheel runs under
`$COOPCAST_HOME/postgres`; every process that asks for it (CLI, Dagster run workers, the
dashboard) shares the same server, which stays up while any of them runs.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psutil
import psycopg

EMBEDDED_DATABASE = "coopcast"
# pgserver's list of the processes using an embedded server, in its data directory.
EMBEDDED_SERVER_USERS = ".handle_pids.json"
APP_ROLE = "coopcast_app"
INGEST_ROLE = "coopcast_ingest"


def coopcast_home() -> Path:
    return Path(os.environ.get("COOPCAST_HOME", "data")).resolve()


@contextmanager
def pgserver_quietly() -> Iterator[None]:
    """pgserver asks platformdirs for a runtime dir it does not use; headless hosts (cron, systemd,
    containers) have none, and the warning would break a command's one-line output."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        yield


def _embedded_server_uri() -> str:
    postgres_dir = coopcast_home() / "postgres"
    postgres_dir.mkdir(parents=True, exist_ok=True)
    with pgserver_quietly():
        import pgserver

        _forget_exited_users(postgres_dir)
        return pgserver.get_server(postgres_dir).get_uri()


@functools.cache
def _forget_exited_users(postgres_dir: Path) -> None:
    """Drops the processes that have exited from pgserver's list of an embedded server's users.

    pgserver stops the server when the last process in that list exits, each process removing
    itself from an exit hook. A process killed before its hooks ran (SIGKILL, a crash) would stay
    listed, and the server keep running after every coopcast process had gone. Once per process:
    after its first call this process is listed itself.
    """
    from pgserver.postgres_server import PostgresServer

    users_file = postgres_dir / EMBEDDED_SERVER_USERS
    # pgserver's own lock over its list, so that no process registering meanwhile is lost.
    with PostgresServer._lock:
        if not users_file.exists():
            return
        listed = json.loads(users_file.read_text())
        alive = [pid for pid in listed if _is_alive(pid)]
        if alive != listed:
            users_file.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ensure_database(server_uri: str, database: str) -> None:
    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def with_database(uri: str, database: str) -> str:
    """The same server URI pointing at another database (keeps host, socket dir and options)."""
    parts = urlparse(uri)
    return parts._replace(path=f"/{database}").geturl()


POSTGRES_SCHEMES = ("postgresql", "postgres")


def database_url() -> str:
    """The libpq URI of the platform's database, starting the embedded server when needed."""
    explicit = os.environ.get("DATABASE_URL")
    if explicit:
        if urlparse(explicit).scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                f"DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:port/database), not {explicit!r}"
            )
        return explicit
    server_uri = _embedded_server_uri()
    _ensure_database(server_uri, EMBEDDED_DATABASE)
    return with_database(server_uri, EMBEDDED_DATABASE)


def as_role(uri: str, role: str) -> str:
    """The same server and database, logging in as another role (no password: trust or a
    password file; set COOPCAST_APP_DATABASE_URL / COOPCAST_INGEST_DATABASE_URL otherwise)."""
    parts = urlparse(uri)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{role}@{host}").geturl()


def app_database_url() -> str:
    """Where the API and the dashboards' write path connect: a role subject to row security."""
    return os.environ.get("COOPCAST_APP_DATABASE_URL") or as_role(database_url(), APP_ROLE)


def ingest_database_url() -> str:
    """Where ingestion reads: a read-only role that may bypass row security."""
    return os.environ.get("COOPCAST_INGEST_DATABASE_URL") or as_role(database_url(), INGEST_ROLE)


def describe(uri: str) -> str:
    """A one-line, password-free description of where a URI points."""
    parts = urlparse(uri)
    if parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname}{port}{parts.path}"
    socket_dir = parse_qs(parts.query).get("host", ["the default socket"])[0]
    return f"embedded server at {socket_dir}, database {parts.path.lstrip('/')}"


@contextmanager
def connect(uri: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection whose transaction commits on success and rolls back on error."""
    with psycopg.connect(uri or database_url()) as conn:
        yield conn


def act_for_merchant(conn: psycopg.Connection, merchant_id: int) -> None:
    """Name the merchant whose rows this transaction may see and write (row security).

    Transaction-local (`SET LOCAL`), so a pooled connection never carries one merchant's
    identity into the next request.
    """
    conn.execute("SELECT set_config('coopcast.merchant_id', %s, true)", [str(merchant_id)])
