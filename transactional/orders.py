"""Sales orders: place (reserve stock FEFO by batch), ship, cancel."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from transactional.errors import InvalidTransition, NotFound
from transactional.stock import Allocation, allocate_batches, record_movement

CANCELLABLE_STATUSES = ("received", "reviewed", "confirmed", "picked")


@dataclass(frozen=True)
class OrderLineRequest:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None
    discount_amount: Decimal = Decimal("0")


def _allocate_fefo(
    conn: psycopg.Connection, warehouse_id: int, product_id: int, quantity: int, at: datetime
) -> list[Allocation]:
    """Lock and choose the SKU's batches for `quantity` units (FEFO, or FIFO where the SKU says so)."""
    return allocate_batches(conn, warehouse_id=warehouse_id, product_id=product_id, quantity=quantity, at=at)


def place_order(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    customer_id: int,
    warehouse_id: int,
    lines: list[OrderLineRequest],
    at: datetime,
    order_no: str | None = None,
) -> int:
    """Create a confirmed order and reserve its stock; all or nothing.

    Lines for the same SKU are reserved together, so two lines can never each see the same
    free units. Raises InsufficientStock naming the SKU when any line cannot be covered.
    """
    if not lines:
        raise InvalidTransition("an order needs at least one line")
    with conn.transaction():
        prices = dict(
            conn.execute(
                "SELECT product_id, price FROM core.products WHERE merchant_id = %s AND product_id = ANY(%s)",
                [merchant_id, [line.product_id for line in lines]],
            ).fetchall()
        )
        missing = {line.product_id for line in lines} - prices.keys()
        if missing:
            raise NotFound(f"products {sorted(missing)} do not belong to merchant {merchant_id}")
        priced = [(line, line.unit_price if line.unit_price is not None else prices[line.product_id]) for line in lines]
        total = sum((price * line.quantity - line.discount_amount for line, price in priced), Decimal(0))
        order_row = conn.execute(
            """INSERT INTO core.orders (merchant_id, order_no, customer_id, warehouse_id, status,
                   ordered_at, confirmed_at, total_amount, updated_at)
               VALUES (%s, COALESCE(%s, 'SO' || lpad(nextval('core.order_no_seq')::text, 10, '0')),
                       %s, %s, 'confirmed', %s, %s, %s, %s)
               RETURNING order_id""",
            [merchant_id, order_no, customer_id, warehouse_id, at, at, total, at],
        ).fetchone()
        assert order_row is not None
        order_id = int(order_row[0])

        line_ids_by_product: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for line_no, (line, price) in enumerate(priced, start=1):
            line_row = conn.execute(
                """INSERT INTO core.order_lines (order_id, merchant_id, line_no, product_id, quantity,
                       unit_price, discount_amount)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING order_line_id""",
                [order_id, merchant_id, line_no, line.product_id, line.quantity, price, line.discount_amount],
            ).fetchone()
            assert line_row is not None
            line_ids_by_product[line.product_id].append((int(line_row[0]), line.quantity))

        for product_id in sorted(line_ids_by_product):
            product_lines = line_ids_by_product[product_id]
            batches = _allocate_fefo(conn, warehouse_id, product_id, sum(q for _, q in product_lines), at)
            _reserve_for_lines(conn, merchant_id, warehouse_id, product_id, order_id, product_lines, batches, at)
    return order_id


def _reserve_for_lines(
    conn: psycopg.Connection,
    merchant_id: int,
    warehouse_id: int,
    product_id: int,
    order_id: int,
    product_lines: list[tuple[int, int]],
    batches: list[Allocation],
    at: datetime,
) -> None:
    """Spread the batches taken for one SKU over the order's lines of that SKU, in line order."""
    queue = [[a.batch_id, a.quantity] for a in batches]
    for order_line_id, line_quantity in product_lines:
        still_needed = line_quantity
        while still_needed:
            batch = queue[0]
            take = min(still_needed, batch[1])
            conn.execute(
                """INSERT INTO core.order_allocations (order_line_id, warehouse_id, batch_id, merchant_id, quantity)
                   VALUES (%s, %s, %s, %s, %s)""",
                [order_line_id, warehouse_id, batch[0], merchant_id, take],
            )
            record_movement(
                conn,
                merchant_id=merchant_id,
                warehouse_id=warehouse_id,
                batch_id=batch[0],
                product_id=product_id,
                movement_type="reserve",
                on_hand_delta=0,
                reserved_delta=take,
                at=at,
                order_id=order_id,
            )
            batch[1] -= take
            still_needed -= take
            if batch[1] == 0:
                queue.pop(0)


def _lock_order(conn: psycopg.Connection, order_id: int) -> tuple[int, str]:
    row = conn.execute(
        "SELECT merchant_id, status FROM core.orders WHERE order_id = %s FOR UPDATE", [order_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    return int(row[0]), str(row[1])


def _order_allocations(conn: psycopg.Connection, order_id: int) -> list[tuple[int, int, int, int]]:
    return conn.execute(
        """SELECT a.warehouse_id, a.batch_id, l.product_id, a.quantity
           FROM core.order_allocations a JOIN core.order_lines l USING (order_line_id)
           WHERE l.order_id = %s ORDER BY a.batch_id""",
        [order_id],
    ).fetchall()


def ship_order(conn: psycopg.Connection, order_id: int, at: datetime) -> None:
    """Issue the reserved units: on-hand and reserved both fall by the allocated quantities."""
    with conn.transaction():
        merchant_id, status = _lock_order(conn, order_id)
        if status not in ("confirmed", "picked"):
            raise InvalidTransition(f"order {order_id} is {status}; only confirmed orders can ship")
        for warehouse_id, batch_id, product_id, quantity in _order_allocations(conn, order_id):
            record_movement(
                conn,
                merchant_id=merchant_id,
                warehouse_id=warehouse_id,
                batch_id=batch_id,
                product_id=product_id,
                movement_type="ship",
                on_hand_delta=-quantity,
                reserved_delta=-quantity,
                at=at,
                order_id=order_id,
            )
        conn.execute(
            "UPDATE core.orders SET status = 'shipped', shipped_at = %s, updated_at = %s WHERE order_id = %s",
            [at, at, order_id],
        )


def cancel_order(conn: psycopg.Connection, order_id: int, at: datetime) -> None:
    """Cancel before shipment and release the reservation."""
    with conn.transaction():
        merchant_id, status = _lock_order(conn, order_id)
        if status not in CANCELLABLE_STATUSES:
            raise InvalidTransition(f"order {order_id} is {status}; it can be cancelled only before shipment")
        for warehouse_id, batch_id, product_id, quantity in _order_allocations(conn, order_id):
            record_movement(
                conn,
                merchant_id=merchant_id,
                warehouse_id=warehouse_id,
                batch_id=batch_id,
                product_id=product_id,
                movement_type="release",
                on_hand_delta=0,
                reserved_delta=-quantity,
                at=at,
                order_id=order_id,
            )
        conn.execute(
            "UPDATE core.orders SET status = 'cancelled', cancelled_at = %s, updated_at = %s WHERE order_id = %s",
            [at, at, order_id],
        )
