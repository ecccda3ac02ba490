"""Incremental ingestion under concurrent writers: no row lost because its transaction committed
late, none copied twice, deletes propagated."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from pipelines import ingest
from tests.ingest_support import failed_reconciliations, trade, warehouse_differences
from tests.test_crash import Shop, open_shop
from transactional.simulator import simulate

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
INGESTIONS_UNDER_LOAD = 12


@pytest.fixture
def trading_database(pg_database_url: str) -> tuple[str, Shop]:
    """A simulated tiny network (every kind of table filled) plus a shop with plenty of stock."""
    with psycopg.connect(pg_database_url) as conn:
        simulate(conn, "tiny", seed=11)
    return pg_database_url, open_shop(pg_database_url)


def raw_order_ids(warehouse: Path) -> set[int]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {row[0] for row in conn.execute("SELECT order_id FROM raw.orders").fetchall()}


def test_an_order_committed_after_an_ingestion_is_copied_by_the_next(
    trading_database: tuple[str, Shop], tmp_path: Path
) -> None:
    url, shop = trading_database
    warehouse = tmp_path / "warehouse.duckdb"
    ingest.ingest(url, warehouse)
    rng = random.Random(1)
    with psycopg.connect(url) as late, psycopg.connect(url) as prompt:
        with late.transaction():
            # Placed (and stamped with its transaction id) first, committed last.
            late_order = trade(late, shop, shop.product_ids[:1], AT, rng)
            prompt_order = trade(prompt, shop, shop.product_ids[1:2], AT + timedelta(minutes=1), rng)
            ingest.ingest(url, warehouse)
            copied = raw_order_ids(warehouse)
            assert prompt_order in copied
            assert late_order not in copied
        assert ingest.source_has_changes(url, warehouse)
    result = ingest.ingest(url, warehouse)
    assert late_order in raw_order_ids(warehouse)
    assert result.tables["orders"].mode == "incremental"
    assert warehouse_differences(url, warehouse) == {}
    assert failed_reconciliations(warehouse) == {}


def test_repeated_ingestions_under_concurrent_writers_copy_every_row_exactly_once(
    trading_database: tuple[str, Shop], tmp_path: Path
) -> None:
    url, shop = trading_database
    warehouse = tmp_path / "warehouse.duckdb"
    stop = threading.Event()
    placed: list[int] = []
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        """Orders in transactions that stay open a random while, so many commit during an ingestion."""
        rng = random.Random(writer)
        product_id = shop.product_ids[writer % len(shop.product_ids)]
        try:
            with psycopg.connect(url) as conn:
                for step in range(100_000):
                    if stop.is_set():
                        return
                    with conn.transaction():
                        order_id = trade(conn, shop, [product_id], AT + timedelta(minutes=step, seconds=writer), rng)
                        time.sleep(rng.uniform(0, 0.4))
                    placed.append(order_id)
        except BaseException as error:
            failures.append(error)

    writers = [threading.Thread(target=write, args=(number,)) for number in range(3)]
    for thread in writers:
        thread.start()
    try:
        for _ in range(INGESTIONS_UNDER_LOAD):
            ingest.ingest(url, warehouse)
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert failures == []
    assert len(placed) > INGESTIONS_UNDER_LOAD, "the writers should have traded during the ingestions"

    result = ingest.ingest(url, warehouse)
    assert {ingested.mode for ingested in result.tables.values()} == {"incremental"}
    assert set(placed) <= raw_order_ids(warehouse)
    assert warehouse_differences(url, warehouse) == {}
    assert failed_reconciliations(warehouse) == {}
    assert not ingest.source_has_changes(url, warehouse)


def test_deletes_reach_the_warehouse_and_a_key_inserted_again_stays(
    trading_database: tuple[str, Shop], tmp_path: Path
) -> None:
    url, shop = trading_database
    warehouse = tmp_path / "warehouse.duckdb"
    product_id = shop.product_ids[0]
    tag_sql = "INSERT INTO core.product_tags (product_id, merchant_id, tag, tagged_at) VALUES (%s, %s, %s, %s)"
    with psycopg.connect(url) as conn:
        for tag in ("清仓", "新品", "热销"):
            conn.execute(tag_sql, [product_id, shop.merchant_id, tag, AT])
    ingest.ingest(url, warehouse)
    with psycopg.connect(url) as conn:
        # No service deletes; the database owner stands in for one that someday might.
        conn.execute("DELETE FROM core.product_tags WHERE tag IN ('清仓', '新品')")
        conn.execute(tag_sql, [product_id, shop.merchant_id, "新品", AT + timedelta(days=1)])
    assert ingest.source_has_changes(url, warehouse)

    result = ingest.ingest(url, warehouse)
    assert result.tables["product_tags"].rows_deleted == 1
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tags = conn.execute("SELECT tag, tagged_at FROM raw.product_tags ORDER BY tag").fetchall()
    assert [(tag, tagged_at.astimezone(UTC)) for tag, tagged_at in tags] == [
        ("新品", AT + timedelta(days=1)),
        ("热销", AT),
    ]
    assert warehouse_differences(url, warehouse) == {}
