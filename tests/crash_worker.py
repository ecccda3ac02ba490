"""A process that trades until it is killed, for tests/test_crash.py.

`python -m tests.crash_worker URL MERCHANT_ID CUSTOMER_ID WAREHOUSE_ID PRODUCT_ID...` places,
ships and cancels orders in a loop and prints `committed <order_id>` only after each commit, so
the test knows exactly which orders must survive a crash. With `--hold` it places one order,
prints `holding <order_id> <backend pid>` and waits inside the open transaction until it is killed.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from transactional.orders import OrderLineRequest, cancel_order, place_order, ship_order

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _lines(rng: random.Random, product_ids: list[int]) -> list[OrderLineRequest]:
    chosen = rng.sample(product_ids, k=rng.randint(1, len(product_ids)))
    # The first SKU appears twice now and then: two lines of one SKU must reserve together.
    lines = [OrderLineRequest(product_id, rng.randint(1, 3)) for product_id in chosen]
    if rng.random() < 0.3:
        lines.append(OrderLineRequest(chosen[0], 1))
    return lines


def trade_until_killed(url: str, merchant_id: int, customer_id: int, warehouse_id: int, product_ids: list[int]) -> None:
    rng = random.Random(merchant_id)
    with psycopg.connect(url) as conn:
        for step in range(1_000_000):
            at = START + timedelta(minutes=step)
            order_id = place_order(
                conn,
                merchant_id=merchant_id,
                customer_id=customer_id,
                warehouse_id=warehouse_id,
                lines=_lines(rng, product_ids),
                at=at,
            )
            conn.commit()
            print(f"committed {order_id}", flush=True)
            if step % 3 == 0:
                ship_order(conn, order_id, at + timedelta(seconds=30))
            elif step % 5 == 0:
                cancel_order(conn, order_id, at + timedelta(seconds=30))
            conn.commit()


def hold_open_transaction(
    url: str, merchant_id: int, customer_id: int, warehouse_id: int, product_ids: list[int]
) -> None:
    # The service commits its own transaction; an enclosing one keeps the order uncommitted.
    with psycopg.connect(url) as conn, conn.transaction():
        order_id = place_order(
            conn,
            merchant_id=merchant_id,
            customer_id=customer_id,
            warehouse_id=warehouse_id,
            lines=[OrderLineRequest(product_id, 1) for product_id in product_ids],
            at=START,
        )
        print(f"holding {order_id} {conn.info.backend_pid}", flush=True)
        time.sleep(600)


def main(arguments: list[str]) -> None:
    hold = "--hold" in arguments
    url, *numbers = [argument for argument in arguments if argument != "--hold"]
    merchant_id, customer_id, warehouse_id, *product_ids = (int(number) for number in numbers)
    worker = hold_open_transaction if hold else trade_until_killed
    worker(url, merchant_id, customer_id, warehouse_id, product_ids)


if __name__ == "__main__":
    main(sys.argv[1:])
