"""A small thread-safe pool of autocommit connections for the API's request threads.

Autocommit, because every request opens its own `conn.transaction()` (where the merchant is set
with SET LOCAL), and a connection that comes back in any state but idle is closed, not reused, so
no transaction or merchant setting leaks into the next request.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg.pq import TransactionStatus

# Times in responses are shown in the business time zone.
SESSION_TIME_ZONE = "Asia/Shanghai"


class PoolExhausted(Exception):
    """Every connection stayed busy for the whole wait."""


class ConnectionPool:
    def __init__(self, url: str, max_size: int = 10, wait_seconds: float = 30.0) -> None:
        self._url = url
        self._slots = threading.BoundedSemaphore(max_size)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._wait_seconds = wait_seconds

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise PoolExhausted(f"no database connection became free within {self._wait_seconds:.0f} s")
        try:
            conn = self._take_idle() or self._open()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(self._url, autocommit=True)
        conn.execute("SELECT set_config('TimeZone', %s, false)", [SESSION_TIME_ZONE])
        return conn

    def _take_idle(self) -> psycopg.Connection | None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return None
            if not conn.closed:
                return conn

    def _give_back(self, conn: psycopg.Connection) -> None:
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            with suppress(psycopg.Error):
                conn.close()
            return
        self._idle.put(conn)
