"""The last-unit race: 200 orders at once, over 40 real connections, for SKUs with 1–5 units
spread across batches and warehouses. Every unit is sold at most once, nothing goes negative, the
reservations add up, and a refused order is refused only for want of stock."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg

from tests.builders import category_path
from transactional import catalogue, orders, stock
from transactional.errors import InsufficientStock

AT = datetime(2026, 5, 8, 2, 0, tzinfo=UTC)
TODAY = date(2026, 5, 8)
WAREHOUSES = 3
SKUS = 4
ORDERS = 200
CONNECTIONS = 40  # the server's default limit is 100 and other tests share it
SEED = 20261125


@dataclass(frozen=True)
class Market:
    merchant_id: int
    customer_id: int
    warehouse_ids: list[int]
    product_ids: list[int]
    sellable: dict[tuple[int, int], int]  # (warehouse_id, product_id) -> units that may be sold
    expired_batches: list[int]


@dataclass(frozen=True)
class Request:
    warehouse_id: int
    lines: list[tuple[int, int]]  # (product_id, quantity)

    def wanted(self) -> Counter:
        wanted: Counter = Counter()
        for product_id, quantity in self.lines:
            wanted[product_id] += quantity
        return wanted


def stock_a_market(conn: psycopg.Connection, rng: random.Random) -> Market:
    merchant = catalogue.create_merchant(conn, "M300", "抢购测试社", AT)
    leaf = category_path(conn, "R1", ("日用品", "洗护", "洗衣粉"), AT).leaf
    customer = catalogue.create_customer(conn, merchant, "C0001", "王五", AT)
    warehouses = [catalogue.create_warehouse(conn, merchant, f"WH{w:02d}", f"仓{w}", AT) for w in range(WAREHOUSES)]
    products = [
        catalogue.create_product(conn, merchant, f"SOAP-{p}", f"洗衣粉 {p}", leaf, Decimal("5"), Decimal("9"), AT)
        for p in range(SKUS)
    ]
    sellable: dict[tuple[int, int], int] = {}
    expired = []
    for warehouse_id in warehouses:
        for product_id in products:
            units = rng.randint(1, 5)
            sellable[warehouse_id, product_id] = units
            for part in _split(units, rng.randint(1, min(3, units)), rng):
                expiry = TODAY + timedelta(days=rng.randint(1, 400))
                stock.receive_stock(
                    conn, warehouse_id=warehouse_id, product_id=product_id, quantity=part, at=AT, expiry_date=expiry
                )
            # Units that expire today sit beside them: selling any of them would be an oversell.
            expired.append(
                stock.receive_stock(
                    conn, warehouse_id=warehouse_id, product_id=product_id, quantity=2, at=AT, expiry_date=TODAY
                )
            )
    conn.commit()
    return Market(merchant, customer, warehouses, products, sellable, expired)


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def random_requests(market: Market, rng: random.Random) -> list[Request]:
    requests = []
    for _ in range(ORDERS):
        first, second = rng.sample(market.product_ids, 2)
        shape = rng.random()
        if shape < 0.3:
            lines = [(first, rng.randint(1, 2)), (first, 1)]  # two lines for the same SKU
        elif shape < 0.55:
            lines = [(first, rng.randint(1, 2)), (second, rng.randint(1, 2))]
        else:
            lines = [(first, rng.randint(1, 2))]
        requests.append(Request(rng.choice(market.warehouse_ids), lines))
    return requests


def place_all(url: str, market: Market, requests: list[Request]) -> list[int | BaseException]:
    """Each request on one of CONNECTIONS threads, all released together; the outcome of each."""
    outcomes: list[int | BaseException] = [RuntimeError("never placed")] * len(requests)
    start = threading.Barrier(CONNECTIONS)

    def work(worker: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            start.wait()
            for index in range(worker, len(requests), CONNECTIONS):
                request = requests[index]
                try:
                    outcomes[index] = orders.place_order(
                        conn,
                        merchant_id=market.merchant_id,
                        customer_id=market.customer_id,
                        warehouse_id=request.warehouse_id,
                        lines=[orders.OrderLineRequest(product_id, quantity) for product_id, quantity in request.lines],
                        at=AT,
                    )
                except Exception as error:  # every outcome is judged below
                    outcomes[index] = error

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_the_last_unit_is_sold_once_and_every_refusal_is_for_want_of_stock(pg_database_url: str, conn) -> None:
    rng = random.Random(SEED)
    market = stock_a_market(conn, rng)
    requests = random_requests(market, rng)

    outcomes = place_all(pg_database_url, market, requests)

    results = list(zip(requests, outcomes, strict=True))
    unexpected = [
        (request, outcome) for request, outcome in results if not isinstance(outcome, int | InsufficientStock)
    ]
    assert unexpected == []
    accepted = [request for request, outcome in results if isinstance(outcome, int)]
    refused = [(request, outcome) for request, outcome in results if isinstance(outcome, InsufficientStock)]
    assert accepted and refused

    sold: Counter = Counter()
    for request in accepted:
        for product_id, quantity in request.wanted().items():
            sold[request.warehouse_id, product_id] += quantity
    for key, units in market.sellable.items():
        assert sold[key] <= units, key

    reserved_by_sku = conn.execute(
        """SELECT a.warehouse_id, l.product_id, sum(a.quantity) FROM core.order_allocations a
           JOIN core.order_lines l USING (order_line_id) JOIN core.orders o USING (order_id)
           WHERE o.warehouse_id = a.warehouse_id GROUP BY 1, 2"""
    ).fetchall()
    assert {(warehouse, product): units for warehouse, product, units in reserved_by_sku} == +sold
    mismatched = conn.execute(
        """SELECT s.warehouse_id, s.batch_id, s.on_hand, s.reserved, coalesce(a.quantity, 0)
           FROM core.stock s
           LEFT JOIN (SELECT warehouse_id, batch_id, sum(quantity) AS quantity FROM core.order_allocations
                      GROUP BY 1, 2) a USING (warehouse_id, batch_id)
           WHERE s.merchant_id = %s
             AND (s.reserved <> coalesce(a.quantity, 0) OR s.on_hand < 0 OR s.on_hand - s.reserved - s.frozen < 0)""",
        [market.merchant_id],
    ).fetchall()
    assert mismatched == []
    assert conn.execute(
        "SELECT coalesce(sum(reserved), 0) FROM core.stock WHERE batch_id = ANY(%s)", [market.expired_batches]
    ).fetchone() == (0,)

    # Stock only fell during the race, so what is left now is at most what a refused order saw.
    codes = dict(conn.execute("SELECT warehouse_code, warehouse_id FROM core.warehouses").fetchall())
    skus = dict(conn.execute("SELECT sku_code, product_id FROM core.products").fetchall())
    for request, error in refused:
        assert codes[error.warehouse_code] == request.warehouse_id
        product_id = skus[error.sku_code]
        assert error.requested == request.wanted()[product_id]
        left = market.sellable[request.warehouse_id, product_id] - sold[request.warehouse_id, product_id]
        assert left <= error.available < error.requested, (request, str(error))
