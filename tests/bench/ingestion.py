"""Ingestion speed: the full refresh against pandas and PostgreSQL's own COPY, a poll and an
incremental run with nothing new, and the incremental run after one county day of trading.

    python -m tests.bench.ingestion [--scale small] [--database URL [--trade-day]] [--day-orders 9300]
                                    [--day-funnel-events 157000] [--baseline-tables order_lines ...]
                                    [--output bench/ingestion.json]

All figures come from one run on the same data. Baselines, on the largest tables (order_lines and
funnel_events): `pandas.read_sql` of the table, and the server writing the table with
`COPY (SELECT ...) TO '/dev/null' (FORMAT binary)` (no network, no client: the ceiling of any
extraction; it needs a superuser, which the test server's trust login is). The ratios are what
to compare across machines.

The data: by default a database the benchmark creates and simulates at `--scale`, then drops.
`--database` reads an existing one instead (the county database, say) and never writes it, so
the trading day is then skipped, unless `--trade-day` allows writing it (a scratch copy only).
`--baseline-tables` narrows the baselines (pandas reads the county's 114 M funnel events at
~165 k rows/s: half an hour per repeat). A county day is ~9,300 orders and ~157,000 funnel events (6.8 M
orders and 115 M events over 731 days); they are written through the services (orders placed,
40 % shipped, 20 % cancelled, by DAY_SHOPS merchants trading at once, as a county's do) and the
funnel event API, then one incremental ingestion copies them.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import psycopg

from pipelines import ingest
from pipelines import warehouse as duck
from tests.bench.figures import rates, spread, timed
from tests.bench.order_placement import bench_database, server_url
from tests.builders import category_path
from tests.ingest_support import trade
from tests.test_crash import AT, Shop
from transactional import catalogue, stock
from transactional.funnel import FunnelEvent, record_events
from transactional.simulator import simulate

BASELINE_TABLES = ("order_lines", "funnel_events")
DAY = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
REPEATS = 3
# The trading day's orders are placed by this many merchants at once, each on its own connection:
# one merchant alone places them one after another (about 120 orders/s on 2 shared cores, so some
# 80 s of the small run spent writing, not measuring); four at once wrote 600 orders 1.7 times as fast.
DAY_SHOPS = 4
SKUS_PER_SHOP = 3


def row_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM core.{table}").fetchone()
    return int(row[0]) if row else 0


def scanner_copy(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """What the full refresh does per table: the postgres scanner into the warehouse file (the
    extension is loaded and PostgreSQL attached once per ingestion, so not timed here)."""
    conn.execute(
        f"CREATE OR REPLACE TABLE copied AS SELECT * REPLACE (CAST(change_txid AS BIGINT) AS change_txid)"
        f" FROM pg.core.{table}"
    )


def pandas_read(url: str, table: str) -> None:
    with psycopg.connect(url) as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy; a DBAPI connection works
        pd.read_sql(f"SELECT * FROM core.{table}", conn)


def server_copy(url: str, table: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"COPY (SELECT * FROM core.{table}) TO '/dev/null' (FORMAT binary)")


def baseline(url: str, table: str, workdir: Path, repeats: int = REPEATS) -> dict:
    rows = row_count(url, table)
    conn = duck.connect(workdir / "scanner.duckdb")
    try:
        duck.attach_postgres(conn, url)
        scanner = rates(rows, timed(lambda: scanner_copy(conn, table), repeats))
    finally:
        conn.close()
    pandas = rates(rows, timed(lambda: pandas_read(url, table), repeats))
    server = rates(rows, timed(lambda: server_copy(url, table), repeats))
    return {
        "table": table,
        "rows": rows,
        "scanner_rows_per_s": spread(scanner, 0),
        "pandas_read_sql_rows_per_s": spread(pandas, 0),
        "server_copy_rows_per_s": spread(server, 0),
        "scanner_vs_pandas": round(statistics.median(scanner) / statistics.median(pandas), 2),
        "scanner_vs_server_copy": round(statistics.median(scanner) / statistics.median(server), 2),
    }


def open_day_shops(url: str, count: int) -> list[Shop]:
    """`count` merchants under one category, each with a customer and SKUS_PER_SHOP SKUs stocked in
    four batches of 5,000 (plenty for its share of a county day)."""
    shops = []
    with psycopg.connect(url) as conn:
        leaf = category_path(conn, "DAY", ("日用品", "清洁", "洗衣粉"), AT).leaf
        for index in range(count):
            merchant = catalogue.create_merchant(conn, f"M-DAY{index}", f"交易日供销社 {index}", AT)
            warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
            customer = catalogue.create_customer(conn, merchant, "C0001", "李四", AT)
            products = []
            for sku in range(SKUS_PER_SHOP):
                product = catalogue.create_product(
                    conn, merchant, f"SKU-{sku}", f"洗衣粉 {sku}", leaf, Decimal("5.00"), Decimal("8.50"), AT
                )
                for _ in range(4):
                    stock.receive_stock(conn, warehouse_id=warehouse, product_id=product, quantity=5_000, at=AT)
                products.append(product)
            shops.append(Shop(merchant, customer, warehouse, products))
        conn.commit()
    return shops


def trade_shop_share(url: str, shop: Shop, numbers: range, orders: int, seed: int) -> None:
    """The orders `numbers` of the day's `orders` (spread over the day by number), at one shop."""
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        for number in numbers:
            chosen = rng.sample(shop.product_ids, k=rng.randint(1, len(shop.product_ids)))
            trade(conn, shop, chosen, DAY + timedelta(seconds=number * 86_400 // max(orders, 1)), rng)


def trade_one_day(url: str, shops: list[Shop], orders: int, funnel_events: int) -> dict[str, int]:
    errors: list[BaseException] = []

    def trade_share(index: int) -> None:
        try:
            trade_shop_share(url, shops[index], range(index, orders, len(shops)), orders, seed=1 + index)
        except BaseException as error:  # surfaced after every shop has stopped
            errors.append(error)

    threads = [threading.Thread(target=trade_share, args=(index,)) for index in range(len(shops))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    shop = shops[0]
    with psycopg.connect(url) as conn:
        events = [
            FunnelEvent(
                merchant_id=shop.merchant_id,
                occurred_at=DAY + timedelta(seconds=number * 86_400 // max(funnel_events, 1)),
                session_id=1 + number // 5,
                event_type="visit",
                customer_id=shop.customer_id,
            )
            for number in range(funnel_events)
        ]
        record_events(conn, events)
    return {"orders": orders, "funnel_events": funnel_events}


def measure(
    url: str,
    writable: bool,
    day_orders: int,
    day_funnel_events: int,
    baseline_tables: list[str],
    repeats: int = REPEATS,
) -> dict:
    """Every figure on the data at `url`; the trading day (written into it) only when `writable`."""
    with tempfile.TemporaryDirectory(prefix="coopcast-bench-ingest-") as tmp:
        workdir = Path(tmp)
        warehouse = workdir / "warehouse.duckdb"
        full_rows = 0

        def full_refresh() -> None:
            nonlocal full_rows
            # A fresh warehouse each time: a full refresh into an existing one also replaces its tables.
            warehouse.unlink(missing_ok=True)
            full_rows = sum(ingest.ingest(url, warehouse, full=True).row_counts.values())

        full_seconds = timed(full_refresh, repeats)
        figures: dict = {
            "full_refresh": {
                "rows": full_rows,
                "seconds": spread(full_seconds, 2),
                "rows_per_s": spread(rates(full_rows, full_seconds), 0),
            },
            "baselines": [baseline(url, table, workdir, repeats) for table in baseline_tables],
            "no_change": {
                "source_has_changes_seconds": spread(
                    timed(lambda: ingest.source_has_changes(url, warehouse), max(repeats, 5))
                ),
                "incremental_seconds": spread(timed(lambda: ingest.ingest(url, warehouse), repeats), 2),
            },
        }
        if writable:
            written = trade_one_day(url, open_day_shops(url, DAY_SHOPS), day_orders, day_funnel_events)
            started = time.perf_counter()
            result = ingest.ingest(url, warehouse)
            figures["county_day"] = {
                "written": written,
                "rows_merged": sum(table.rows_merged for table in result.tables.values()),
                "incremental_seconds": round(time.perf_counter() - started, 2),
            }
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--database", help="an existing database to read (never written)")
    parser.add_argument("--trade-day", action="store_true", help="with --database: write the trading day into it")
    parser.add_argument("--baseline-tables", nargs="+", default=list(BASELINE_TABLES))
    parser.add_argument("--day-orders", type=int, default=9_300)
    parser.add_argument("--day-funnel-events", type=int, default=157_000)
    parser.add_argument("--output", type=Path, default=Path("bench/ingestion.json"))
    arguments = parser.parse_args()

    if arguments.database:
        name = arguments.database.rsplit("/", 1)[-1]
        data = f"existing database {name}" + ("" if arguments.trade_day else " (read only; no trading day)")
        figures = measure(
            arguments.database,
            arguments.trade_day,
            arguments.day_orders,
            arguments.day_funnel_events,
            arguments.baseline_tables,
        )
    else:
        data = f"simulated {arguments.scale} network, seed 1"
        with server_url() as server, bench_database(server) as url:
            with psycopg.connect(url) as conn:
                simulate(conn, arguments.scale, seed=1)
            figures = measure(url, True, arguments.day_orders, arguments.day_funnel_events, arguments.baseline_tables)
    report = {
        "benchmark": "ingestion",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "data": data,
        **figures,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
