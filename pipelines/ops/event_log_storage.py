"""Dagster's SQLite event log, keeping its database connections open from one event to the next.

Dagster's `SqliteEventLogStorage` creates an engine, opens the shard's file and closes it again
for every event it stores: twice for an asset's materialization (the run's shard, then the index),
three times for an asset check's result. A `coopcast build` stores about two thousand events (each
of the dbt tests is an asset check, planned and then evaluated), and on the tiny network that was
36 s of a 122 s build (py-spy). Storing an event through a connection kept open, committed
without waiting for the disk, takes a quarter of the time. The files and tables, all the UI and
the daemon read, are Dagster's own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import Connection, Engine, create_engine, event

# A long-lived process (the UI, the daemon) writes to one run's shard after another; the shards
# of finished runs are closed rather than kept open for as long as it runs.
RUN_SHARDS_KEPT_OPEN = 4


def _sync_at_checkpoints_only(dbapi_connection, _connection_record) -> None:
    # Dagster's shards are in write-ahead-log mode, where this is what SQLite advises: a crash of
    # the process loses nothing, the loss of power at worst the last events, and the file stays
    # whole. The default (FULL) waits for the disk at every commit, half of an event's cost once
    # the connection stays open.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class OpenConnectionSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (the same files, under the same `base_dir`), with one engine,
    and so one open connection, per shard instead of a new one per statement."""

    def __init__(self, base_dir: str, inst_data=None):
        # Set before Dagster's constructor, which connects to the index shard of a new instance.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> OpenConnectionSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _shard_engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            event.listen(engine, "connect", _sync_at_checkpoints_only)
        self._engines[shard] = engine
        run_shards = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for oldest in run_shards[: max(0, len(run_shards) - RUN_SHARDS_KEPT_OPEN)]:
            self._engines.pop(oldest).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._shard_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        # Wiping deletes the run shards' files, which open connections would go on writing to.
        self._close_engines()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
