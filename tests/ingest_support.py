"""Comparing the warehouse with PostgreSQL row by row, for the ingestion tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from pipelines import ingest
from pipelines import warehouse as duck
from tests.test_crash import Shop
from transactional.orders import OrderLineRequest, cancel_order, place_order, ship_order


def warehouse_differences(pg_uri: str, warehouse_path: Path) -> dict[str, dict[str, int]]:
    """Per core table, rows PostgreSQL has that raw lacks and rows raw has beyond PostgreSQL's
    (as multisets over every column, so a duplicate counts); tables that match are left out."""
    conn = duck.connect(warehouse_path)
    try:
        duck.attach_postgres(conn, pg_uri)
        differences = {}
        for table in ingest.CORE_TABLES:
            source = f'SELECT * REPLACE (CAST(change_txid AS BIGINT) AS change_txid) FROM pg.core."{table}"'
            copied = f'SELECT * FROM raw."{table}"'
            missing = conn.execute(f"SELECT count(*) FROM ({source} EXCEPT ALL {copied})").fetchone()
            extra = conn.execute(f"SELECT count(*) FROM ({copied} EXCEPT ALL {source})").fetchone()
            if (missing and missing[0]) or (extra and extra[0]):
                differences[table] = {"missing": missing[0] if missing else 0, "extra": extra[0] if extra else 0}
        return differences
    finally:
        conn.close()


def failed_reconciliations(warehouse_path: Path) -> dict[str, dict]:
    conn = duck.connect(warehouse_path)
    try:
        return {
            table: details
            for table in ingest.CORE_TABLES
            for passed, details in [ingest.reconcile(conn, table)]
            if not passed
        }
    finally:
        conn.close()


def trade(conn: psycopg.Connection, shop: Shop, product_ids: list[int], at: datetime, rng: random.Random) -> int:
    """One order of `product_ids`, then 40 % shipped, 20 % cancelled, the rest left open; commits
    unless the caller holds an enclosing transaction."""
    order_id = place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[OrderLineRequest(product_id, rng.randint(1, 3)) for product_id in product_ids],
        at=at,
    )
    roll = rng.random()
    if roll < 0.4:
        ship_order(conn, order_id, at + timedelta(seconds=30))
    elif roll < 0.6:
        cancel_order(conn, order_id, at + timedelta(seconds=30))
    return order_id
