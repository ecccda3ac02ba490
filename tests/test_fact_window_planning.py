"""Which days a build without partitions rebuilds, decided on a hand-made raw copy."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from pipelines.assets import fact_windows
from pipelines.assets.fact_windows import WINDOW_END, plan_window

BEIJING = ZoneInfo("Asia/Shanghai")
LAST_AS_OF = date(2026, 10, 31)
FACT_TABLES = [("marts", "fct_daily_sales")]
CHECKSUM = "facts-v1"
LAST_WATERMARK = 100


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    """A raw copy as the last build left it: every row older than its watermark, the order of
    as_of shipped, and the state of that build."""
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    for schema in ("raw", "marts"):
        conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(
        "CREATE TABLE raw.orders (order_id BIGINT, ordered_at TIMESTAMPTZ, confirmed_at TIMESTAMPTZ,"
        " shipped_at TIMESTAMPTZ, cancelled_at TIMESTAMPTZ, change_txid BIGINT)"
    )
    conn.execute("CREATE TABLE raw.order_lines (order_line_id BIGINT, order_id BIGINT, change_txid BIGINT)")
    conn.execute("CREATE TABLE raw.order_allocations (order_line_id BIGINT, change_txid BIGINT)")
    conn.execute("CREATE TABLE raw.order_events (order_id BIGINT, change_txid BIGINT)")
    conn.execute("CREATE TABLE raw.funnel_events (occurred_at TIMESTAMPTZ, change_txid BIGINT)")
    conn.execute(
        "CREATE TABLE raw._ingest_state"
        " (table_name VARCHAR, rows_deleted BIGINT, mode VARCHAR, ingested_at TIMESTAMPTZ)"
    )
    # The first ingestion copies every table whole; the facts' first build follows it.
    conn.execute(
        "INSERT INTO raw._ingest_state SELECT unnest(?), 0, 'full', now() - INTERVAL 1 HOUR",
        [list(fact_windows.CHANGED_DAYS_SQL)],
    )
    conn.execute("CREATE TABLE marts.fct_daily_sales (sales_date DATE)")
    conn.execute(fact_windows.STATE_DDL)
    conn.execute(
        f"INSERT INTO {fact_windows.STATE_TABLE} VALUES (?, '', ?, ?, NULL, 'first build', now())",
        [LAST_WATERMARK, CHECKSUM, LAST_AS_OF],
    )
    shipped_day = LAST_AS_OF - timedelta(days=20)
    _order(conn, 1, _at(shipped_day), confirmed=_at(shipped_day, 11), shipped=_at(shipped_day, 15), txid=90)
    return conn


def _order(conn, order_id: int, ordered_at: datetime, *, txid: int, confirmed=None, shipped=None, cancelled=None):
    conn.execute(
        "INSERT INTO raw.orders VALUES (?, ?, ?, ?, ?, ?)",
        [order_id, ordered_at, confirmed, shipped, cancelled, txid],
    )


def _plan(conn, *, as_of: str = "", checksum: str = CHECKSUM, full_refresh: bool = False):
    return plan_window(conn, FACT_TABLES, as_of, checksum, full_refresh)


def test_nothing_new_rebuilds_no_day(warehouse) -> None:
    window = _plan(warehouse)
    assert (window.start, window.reason) == (WINDOW_END, "nothing changed since the last build")


def test_a_new_order_rebuilds_from_its_business_day(warehouse) -> None:
    # 20:00 UTC on the 1st is the 2nd in Beijing.
    _order(warehouse, 2, datetime(2026, 11, 1, 20, tzinfo=ZoneInfo("UTC")), txid=101)
    window = _plan(warehouse)
    assert window.start == "2026-11-02"
    assert window.watermark_txid == 101
    assert window.dbt_vars() == {"partition_start": "2026-11-02", "partition_end": WINDOW_END}


def test_a_late_line_change_rebuilds_its_orders_day(warehouse) -> None:
    old_day = LAST_AS_OF - timedelta(days=20)
    warehouse.execute("INSERT INTO raw.order_lines VALUES (1, 1, 105)")
    assert _plan(warehouse).start == old_day.isoformat()


def test_once_as_of_moves_an_order_shipped_after_the_last_as_of_is_judged_again(warehouse) -> None:
    ordered_day = LAST_AS_OF - timedelta(days=10)
    _order(warehouse, 3, _at(ordered_day), shipped=_at(LAST_AS_OF + timedelta(days=1)), txid=95)
    _order(warehouse, 4, _at(LAST_AS_OF + timedelta(days=1)), txid=101)
    assert _plan(warehouse).start == ordered_day.isoformat()


def test_once_as_of_moves_recent_open_orders_are_judged_again_and_old_ones_not(warehouse) -> None:
    _order(warehouse, 5, _at(LAST_AS_OF - timedelta(days=30)), txid=80)
    _order(warehouse, 6, _at(LAST_AS_OF - timedelta(days=2)), txid=96)
    _order(warehouse, 7, _at(LAST_AS_OF + timedelta(days=1)), txid=101)
    assert _plan(warehouse).start == (LAST_AS_OF - timedelta(days=2)).isoformat()


def test_open_orders_alone_do_not_trigger_a_rebuild(warehouse) -> None:
    _order(warehouse, 6, _at(LAST_AS_OF - timedelta(days=1)), txid=96)
    assert _plan(warehouse).start == WINDOW_END


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"full_refresh": True}, "a full refresh was asked for"),
        ({"checksum": "facts-v2"}, "the daily facts' SQL changed since their last build"),
        ({"as_of": "2026-10-15"}, "as_of changed from each merchant’s own to 2026-10-15"),
    ],
)
def test_a_full_rebuild_when_asked_or_when_the_sql_or_as_of_changed(warehouse, change, reason) -> None:
    window = _plan(warehouse, **change)
    assert (window.full_refresh, window.reason) == (True, reason)
    assert window.dbt_vars() == {}


def test_rows_deleted_at_the_source_rebuild_the_facts_whole(warehouse) -> None:
    warehouse.execute("UPDATE raw._ingest_state SET rows_deleted = 1 WHERE table_name = 'order_lines'")
    assert _plan(warehouse).reason == "the last ingestion deleted order or funnel rows"


def test_rows_copied_whole_since_the_last_build_rebuild_the_facts_whole(warehouse) -> None:
    """`ingest --full`, or a restored backup: restored rows carry transactions below the watermark.
    The first ingestion, which the last build followed, does not count."""
    warehouse.execute(
        "UPDATE raw._ingest_state SET ingested_at = now() + INTERVAL 1 MINUTE WHERE table_name = 'orders'"
    )
    assert _plan(warehouse).reason == "the last ingestion copied order or funnel rows whole"


def test_a_missing_fact_table_rebuilds_the_facts_whole(warehouse) -> None:
    warehouse.execute("DROP TABLE marts.fct_daily_sales")
    assert _plan(warehouse).reason == "marts.fct_daily_sales not built yet"
