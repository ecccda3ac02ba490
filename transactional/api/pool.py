"""The API's connection pool (psycopg_pool), configured so no request leaks into the next.

Autocommit, because every request opens its own `conn.transaction()` (where the merchant is set
with SET LOCAL); psycopg_pool rolls back or discards a connection returned in any state but
idle, so no transaction or merchant setting survives a request.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

# Times in responses are shown in the business time zone.
SESSION_TIME_ZONE = "Asia/Shanghai"
WAIT_SECONDS = 30.0


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SELECT set_config('TimeZone', %s, false)", [SESSION_TIME_ZONE])


def open_pool(url: str, max_size: int = 10) -> ConnectionPool:
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True},
        configure=_configure,
        timeout=WAIT_SECONDS,
        name="coopcast-api",
        open=True,
    )
