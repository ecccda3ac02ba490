"""Which business days of the daily-partitioned facts a run without partitions rebuilds.

The nightly run must not rebuild two years of daily facts to add one day, nor miss a day whose
orders changed: an order cancelled, a line returned to stock, a history import reaching far back.
Every raw row carries the PostgreSQL transaction that last wrote it (`change_txid`), so after each
successful build of the facts the highest transaction seen is kept as a watermark; the next run
rebuilds every business day a newer row belongs to, from the earliest such day on.

Everything else is a full rebuild: the first build, a fact table missing, a model whose SQL changed
since, a different `as_of`, rows deleted at the source by the last ingestion (a deleted row leaves
nothing to find its day by), an ingestion since the last build that copied the source whole
(`ingest --full`, or a restored backup, whose rows carry transactions older than the watermark),
and every run that asks for one (the weekly schedule, `coopcast run --full-refresh`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb

STATE_TABLE = "raw._facts_build_state"
STATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    watermark_txid  BIGINT NOT NULL,   -- the newest change_txid the last build of the facts saw
    as_of           VARCHAR NOT NULL,  -- the run's as_of var ('' = each merchant's own)
    models_checksum VARCHAR NOT NULL,  -- the facts' SQL the build ran, from dbt's manifest
    min_as_of       DATE,              -- the earliest merchant as_of of that build
    rebuilt_from    DATE,              -- the first day that build rebuilt; NULL: rebuilt whole
    reason          VARCHAR NOT NULL,  -- why it rebuilt what it did
    built_at        TIMESTAMPTZ NOT NULL
)
"""
# Everything after this day is inside an open-ended window.
WINDOW_END = "9999-12-31"
BUSINESS_TIMEZONE = "Asia/Shanghai"
OPEN_ORDER_LOOKBACK_DAYS = 3

# The raw tables the daily facts are built from, and the business date each changed row moves:
# order-level rows belong to their order's day.
CHANGED_DAYS_SQL = {
    "orders": "SELECT ordered_at AS changed_at FROM raw.orders WHERE change_txid > $watermark",
    "order_lines": (
        "SELECT o.ordered_at AS changed_at FROM raw.order_lines l JOIN raw.orders o USING (order_id)"
        " WHERE l.change_txid > $watermark"
    ),
    "order_allocations": (
        "SELECT o.ordered_at AS changed_at FROM raw.order_allocations a"
        " JOIN raw.order_lines l USING (order_line_id) JOIN raw.orders o ON o.order_id = l.order_id"
        " WHERE a.change_txid > $watermark"
    ),
    "order_events": (
        "SELECT o.ordered_at AS changed_at FROM raw.order_events e JOIN raw.orders o USING (order_id)"
        " WHERE e.change_txid > $watermark"
    ),
    "funnel_events": "SELECT occurred_at AS changed_at FROM raw.funnel_events WHERE change_txid > $watermark",
}


@dataclass(frozen=True)
class FactWindow:
    """`start` None: rebuild the facts whole. Otherwise rebuild [start, WINDOW_END)."""

    start: str | None
    watermark_txid: int
    reason: str

    @property
    def full_refresh(self) -> bool:
        return self.start is None

    def dbt_vars(self) -> dict[str, str]:
        return {} if self.start is None else {"partition_start": self.start, "partition_end": WINDOW_END}


def models_checksum(manifest: dict, tag: str) -> str:
    """One fingerprint of every model carrying `tag`: the SQL a previous build ran."""
    checksums = sorted(
        (node["unique_id"], node["checksum"]["checksum"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and tag in node.get("tags", [])
    )
    return json.dumps(checksums)


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _watermark(conn: duckdb.DuckDBPyConnection) -> int:
    parts = [f"SELECT max(change_txid) AS txid FROM raw.{table}" for table in CHANGED_DAYS_SQL]
    return int(conn.execute(f"SELECT coalesce(max(txid), 0) FROM ({' UNION ALL '.join(parts)})").fetchone()[0])


def _last_ingest_hides_changes(conn: duckdb.DuckDBPyConnection, last_built_at: datetime) -> str | None:
    """Why the rows' transactions cannot tell what changed since the last build, if they cannot."""
    if not _has_table(conn, "raw", "_ingest_state"):
        return "no ingestion is recorded"
    tables = list(CHANGED_DAYS_SQL)
    placeholders = ", ".join("?" for _ in tables)
    deleted, copied_whole = conn.execute(
        f"""SELECT coalesce(sum(rows_deleted), 0), coalesce(bool_or(mode = 'full' AND ingested_at > ?), false)
            FROM raw._ingest_state WHERE table_name IN ({placeholders})""",
        [last_built_at, *tables],
    ).fetchone()
    if deleted > 0:
        return "the last ingestion deleted order or funnel rows"
    if copied_whole:
        return "the last ingestion copied order or funnel rows whole"
    return None


def plan_window(
    conn: duckdb.DuckDBPyConnection,
    fact_tables: list[tuple[str, str]],
    as_of: str,
    checksum: str,
    full_refresh_requested: bool,
) -> FactWindow:
    """The days to rebuild, decided from the warehouse before dbt opens it."""
    watermark = _watermark(conn)

    def full(reason: str) -> FactWindow:
        return FactWindow(None, watermark, reason)

    if full_refresh_requested:
        return full("a full refresh was asked for")
    missing = [f"{schema}.{name}" for schema, name in fact_tables if not _has_table(conn, schema, name)]
    if missing:
        return full(f"{', '.join(missing)} not built yet")
    if not _has_table(conn, *STATE_TABLE.split(".")):
        return full("no earlier build of the daily facts is recorded")
    state = conn.execute(
        f"SELECT watermark_txid, as_of, models_checksum, min_as_of, built_at FROM {STATE_TABLE}"
    ).fetchone()
    if state is None:
        return full("no earlier build of the daily facts is recorded")
    previous_watermark, previous_as_of, previous_checksum, previous_min_as_of, previous_built_at = state
    if previous_as_of != as_of:
        return full(f"as_of changed from {previous_as_of or 'each merchant’s own'} to {as_of or 'each merchant’s own'}")
    if previous_checksum != checksum:
        return full("the daily facts' SQL changed since their last build")
    hidden = _last_ingest_hides_changes(conn, previous_built_at)
    if hidden is not None:
        return full(hidden)
    earliest_changed = _earliest_day(conn, list(CHANGED_DAYS_SQL.values()), {"watermark": previous_watermark})
    if earliest_changed is None:
        return FactWindow(WINDOW_END, watermark, "nothing changed since the last build")
    # New rows move as_of on. Facts judge orders as they stood at the end of as_of: an order
    # confirmed, shipped or cancelled after the last build's as_of was judged open then, though its
    # row has not changed since; an order still open is judged again each day until its service
    # limits pass (the longest is 48 h, so a few days back covers every verdict that can move).
    last_as_of = previous_min_as_of or date.min + timedelta(days=OPEN_ORDER_LOOKBACK_DAYS)
    steps_after_as_of = (
        "SELECT ordered_at AS changed_at FROM raw.orders"
        " WHERE greatest(confirmed_at, shipped_at, cancelled_at) >= $after_as_of"
        " OR (coalesce(shipped_at, cancelled_at) IS NULL AND ordered_at >= $open_since)"
    )
    earliest_judged = _earliest_day(
        conn,
        [steps_after_as_of],
        {
            "after_as_of": _business_day_start(last_as_of + timedelta(days=1)),
            "open_since": _business_day_start(last_as_of - timedelta(days=OPEN_ORDER_LOOKBACK_DAYS)),
        },
    )
    earliest = min(day for day in (earliest_changed, earliest_judged) if day is not None)
    return FactWindow(earliest.isoformat(), watermark, f"rows changed on or after {earliest.isoformat()}")


def _business_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(BUSINESS_TIMEZONE))


def _earliest_day(conn: duckdb.DuckDBPyConnection, queries: list[str], parameters: dict) -> date | None:
    """The earliest business day among the `changed_at` times the queries return."""
    return conn.execute(
        f"SELECT min(CAST(timezone('{BUSINESS_TIMEZONE}', changed_at) AS DATE)) FROM ({' UNION ALL '.join(queries)})",
        parameters,
    ).fetchone()[0]


def record_build(conn: duckdb.DuckDBPyConnection, window: FactWindow, as_of: str, checksum: str) -> None:
    """After a successful build: the next run starts from what this one saw."""
    conn.execute(STATE_DDL)
    min_as_of: date | None = None
    if _has_table(conn, "intermediate", "int_merchants_as_of"):
        min_as_of = conn.execute("SELECT min(as_of) FROM intermediate.int_merchants_as_of").fetchone()[0]
    conn.execute("BEGIN")
    conn.execute(f"DELETE FROM {STATE_TABLE}")
    conn.execute(
        f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?, ?, now())",
        [window.watermark_txid, as_of, checksum, min_as_of, window.start, window.reason],
    )
    conn.execute("COMMIT")
