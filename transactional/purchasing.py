"""Purchase orders: open one to a supplier, receive it into stock as new batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from transactional.errors import InvalidTransition, NotFound
from transactional.stock import receive_stock


@dataclass(frozen=True)
class PurchaseLineRequest:
    product_id: int
    quantity: int
    unit_cost: Decimal


def create_purchase_order(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    supplier_id: int,
    warehouse_id: int,
    lines: list[PurchaseLineRequest],
    at: datetime,
    expected_at: datetime | None = None,
) -> int:
    """Open a purchase order; it is expected after the supplier's lead time unless told otherwise."""
    if not lines:
        raise InvalidTransition("a purchase order needs at least one line")
    with conn.transaction():
        if expected_at is None:
            lead = conn.execute(
                "SELECT lead_time_days FROM core.suppliers WHERE supplier_id = %s AND merchant_id = %s",
                [supplier_id, merchant_id],
            ).fetchone()
            if lead is None:
                raise NotFound(f"supplier {supplier_id} does not belong to merchant {merchant_id}")
            expected_at = at + timedelta(days=lead[0])
        row = conn.execute(
            """INSERT INTO core.purchase_orders (merchant_id, supplier_id, warehouse_id, status,
                   ordered_at, expected_at, updated_at)
               VALUES (%s, %s, %s, 'open', %s, %s, %s) RETURNING purchase_order_id""",
            [merchant_id, supplier_id, warehouse_id, at, expected_at, at],
        ).fetchone()
        assert row is not None
        purchase_order_id = int(row[0])
        for line in lines:
            conn.execute(
                """INSERT INTO core.purchase_order_lines (purchase_order_id, merchant_id, product_id,
                       quantity, unit_cost)
                   VALUES (%s, %s, %s, %s, %s)""",
                [purchase_order_id, merchant_id, line.product_id, line.quantity, line.unit_cost],
            )
    return purchase_order_id


def receive_purchase_order(conn: psycopg.Connection, purchase_order_id: int, at: datetime) -> list[int]:
    """Receive every line in full as a new batch; returns the batch ids."""
    with conn.transaction():
        row = conn.execute(
            "SELECT warehouse_id, status FROM core.purchase_orders WHERE purchase_order_id = %s FOR UPDATE",
            [purchase_order_id],
        ).fetchone()
        if row is None:
            raise NotFound(f"purchase order {purchase_order_id} does not exist")
        warehouse_id, status = row
        if status != "open":
            raise InvalidTransition(f"purchase order {purchase_order_id} is {status}, not open")
        lines = conn.execute(
            """SELECT purchase_order_line_id, product_id, quantity, unit_cost
               FROM core.purchase_order_lines WHERE purchase_order_id = %s ORDER BY product_id""",
            [purchase_order_id],
        ).fetchall()
        batch_ids = []
        for line_id, product_id, quantity, unit_cost in lines:
            batch_ids.append(
                receive_stock(
                    conn,
                    warehouse_id=warehouse_id,
                    product_id=product_id,
                    quantity=quantity,
                    at=at,
                    unit_cost=unit_cost,
                    purchase_order_id=purchase_order_id,
                )
            )
            conn.execute(
                "UPDATE core.purchase_order_lines SET received_quantity = quantity WHERE purchase_order_line_id = %s",
                [line_id],
            )
        conn.execute(
            """UPDATE core.purchase_orders SET status = 'received', received_at = %s, updated_at = %s
               WHERE purchase_order_id = %s""",
            [at, at, purchase_order_id],
        )
    return batch_ids
