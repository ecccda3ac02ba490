"""Crashes leave no partial order and no orphan reservation: a writer killed mid-transaction, and
a PostgreSQL server stopped with `pg_ctl stop -m immediate` under load (the test's own embedded
server, never the shared one)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from tests.builders import category_path
from tests.conftest import REPO_ROOT, embedded_server
from transactional import catalogue, stock
from transactional.db import with_database
from transactional.migrate import upgrade

AT = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
LIVE_STATUSES = ("received", "reviewed", "confirmed", "picked")


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    customer_id: int
    warehouse_id: int
    product_ids: list[int]

    def worker_arguments(self) -> list[str]:
        return [str(n) for n in (self.merchant_id, self.customer_id, self.warehouse_id, *self.product_ids)]


def open_shop(url: str) -> Shop:
    """A merchant with three SKUs, each stocked in several batches (plenty for a minute of trade)."""
    with psycopg.connect(url) as conn:
        merchant = catalogue.create_merchant(conn, "M-CRASH", "崩溃测试社", AT)
        warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
        leaf = category_path(conn, "C1", ("日用品", "清洁", "洗衣粉"), AT).leaf
        customer = catalogue.create_customer(conn, merchant, "C0001", "李四", AT)
        products = []
        for index in range(3):
            product = catalogue.create_product(
                conn, merchant, f"SKU-{index}", f"洗衣粉 {index}", leaf, Decimal("5.00"), Decimal("8.50"), AT
            )
            for _ in range(4):
                stock.receive_stock(conn, warehouse_id=warehouse, product_id=product, quantity=5_000, at=AT)
            products.append(product)
        conn.commit()
    return Shop(merchant, customer, warehouse, products)


def start_worker(url: str, shop: Shop, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_worker", url, *shop.worker_arguments(), *extra],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def read_announcements(worker: subprocess.Popen, prefix: str, count: int) -> list[list[int]]:
    """The numbers on each line the worker announced with `prefix`, once there are `count`."""
    assert worker.stdout is not None
    announced: list[list[int]] = []
    while len(announced) < count:
        line = worker.stdout.readline()
        if not line:
            raise AssertionError(f"the worker stopped after announcing {announced}")
        if line.startswith(prefix):
            announced.append([int(number) for number in line.split()[1:]])
    return announced


def read_until(worker: subprocess.Popen, prefix: str, count: int) -> list[int]:
    """Order ids the worker announced with `prefix`, once it has announced `count` of them."""
    return [numbers[0] for numbers in read_announcements(worker, prefix, count)]


def drain(worker: subprocess.Popen, prefix: str) -> list[int]:
    assert worker.stdout is not None
    return [int(line.split()[1]) for line in worker.stdout if line.startswith(prefix)]


def assert_consistent(conn: psycopg.Connection) -> None:
    """The invariants a crash must not break."""
    ledger_mismatch = conn.execute(
        """SELECT s.warehouse_id, s.batch_id, s.on_hand, s.reserved, m.on_hand, m.reserved
           FROM core.stock s
           JOIN (SELECT warehouse_id, batch_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
                 FROM core.stock_movements GROUP BY 1, 2) m USING (warehouse_id, batch_id)
           WHERE (s.on_hand, s.reserved) <> (m.on_hand, m.reserved)"""
    ).fetchall()
    assert ledger_mismatch == []
    orphan_reservations = conn.execute(
        """SELECT s.warehouse_id, s.batch_id, s.reserved, coalesce(live.quantity, 0)
           FROM core.stock s
           LEFT JOIN (SELECT a.warehouse_id, a.batch_id, sum(a.quantity) AS quantity
                      FROM core.order_allocations a
                      JOIN core.order_lines l USING (order_line_id)
                      JOIN core.orders o USING (order_id)
                      WHERE o.status = ANY(%s) GROUP BY 1, 2) live USING (warehouse_id, batch_id)
           WHERE s.reserved <> coalesce(live.quantity, 0)""",
        [list(LIVE_STATUSES)],
    ).fetchall()
    assert orphan_reservations == []
    partial_orders = conn.execute(
        """SELECT o.order_id FROM core.orders o
           LEFT JOIN core.order_lines l USING (order_id)
           LEFT JOIN (SELECT order_line_id, sum(quantity) AS allocated
                      FROM core.order_allocations GROUP BY 1) a USING (order_line_id)
           WHERE l.order_line_id IS NULL OR coalesce(a.allocated, 0) <> l.quantity"""
    ).fetchall()
    assert partial_orders == []


def order_ids(conn: psycopg.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT order_id FROM core.orders")}


def test_a_writer_killed_inside_its_transaction_leaves_nothing_behind(pg_database_url: str) -> None:
    shop = open_shop(pg_database_url)
    worker = start_worker(pg_database_url, shop, "--hold")
    [[held_order, backend_pid]] = read_announcements(worker, "holding", 1)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)

    with psycopg.connect(pg_database_url) as conn:
        # The server notices the dead client, ends its backend and rolls its transaction back.
        deadline = time.monotonic() + 30
        backend_alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        while conn.execute(backend_alive, [backend_pid]).fetchone() != (0,):
            assert time.monotonic() < deadline, "the killed worker's backend is still running"
            time.sleep(0.1)
            conn.rollback()
        assert held_order not in order_ids(conn)
        assert conn.execute("SELECT sum(reserved) FROM core.stock").fetchone() == (0,)
        assert_consistent(conn)


def test_a_writer_killed_at_a_random_moment_keeps_every_committed_order(pg_database_url: str) -> None:
    shop = open_shop(pg_database_url)
    worker = start_worker(pg_database_url, shop)
    committed = read_until(worker, "committed", 40)
    worker.send_signal(signal.SIGKILL)
    committed += drain(worker, "committed")
    worker.wait(timeout=30)

    with psycopg.connect(pg_database_url) as conn:
        present = order_ids(conn)
        assert set(committed) <= present
        # At most the one order whose commit was on its way when the worker died is extra.
        assert len(present - set(committed)) <= 1
        assert_consistent(conn)


@pytest.fixture
def own_server():
    """An embedded server only this test uses, so stopping it hurts no one else."""
    with embedded_server("coopcast-crash-pg-") as server:
        yield server


def test_an_immediate_server_stop_under_load_loses_no_committed_order(own_server) -> None:
    import pgserver

    server_url = own_server.get_uri()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE crash")
    url = with_database(server_url, "crash")
    upgrade(url)
    shop = open_shop(url)

    workers = [start_worker(url, shop) for _ in range(3)]
    committed = [order for worker in workers for order in read_until(worker, "committed", 15)]
    # `immediate` is a crash as far as the data goes: no checkpoint, recovery replays the WAL.
    pgserver.pg_ctl(["-m", "immediate", "stop"], pgdata=own_server.pgdata, user=own_server.system_user)
    for worker in workers:
        committed += drain(worker, "committed")
        worker.wait(timeout=30)
        assert worker.returncode != 0, "the worker should have lost its server"

    own_server.ensure_postgres_running()
    with psycopg.connect(url) as conn:
        assert set(committed) <= order_ids(conn)
        assert_consistent(conn)
