"""Stock by batch. Every change is one row of the append-only ledger core.stock_movements;
the database applies it to core.stock and refuses any movement that would break an invariant."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from transactional.errors import NotFound

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")


def business_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TIMEZONE).date()


def record_movement(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    warehouse_id: int,
    batch_id: int,
    product_id: int,
    movement_type: str,
    on_hand_delta: int,
    reserved_delta: int,
    at: datetime,
    order_id: int | None = None,
    purchase_order_id: int | None = None,
) -> None:
    conn.execute(
        """INSERT INTO core.stock_movements (merchant_id, warehouse_id, batch_id, product_id,
               movement_type, on_hand_delta, reserved_delta, order_id, purchase_order_id, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            merchant_id,
            warehouse_id,
            batch_id,
            product_id,
            movement_type,
            on_hand_delta,
            reserved_delta,
            order_id,
            purchase_order_id,
            at,
        ],
    )


def receive_stock(
    conn: psycopg.Connection,
    *,
    warehouse_id: int,
    product_id: int,
    quantity: int,
    at: datetime,
    unit_cost: Decimal | None = None,
    lot_code: str | None = None,
    expiry_date: date | None = None,
    purchase_order_id: int | None = None,
) -> int:
    """Put a new batch into a warehouse; returns its batch_id.

    The expiry date defaults to the receipt's business date plus the product's shelf life, the
    cost to the product's current unit cost.
    """
    with conn.transaction():
        product = conn.execute(
            "SELECT merchant_id, unit_cost, shelf_life_days, supplier_id FROM core.products WHERE product_id = %s",
            [product_id],
        ).fetchone()
        if product is None:
            raise NotFound(f"product {product_id} does not exist")
        merchant_id, product_cost, shelf_life_days, supplier_id = product
        if expiry_date is None and shelf_life_days is not None:
            expiry_date = business_date(at) + timedelta(days=shelf_life_days)
        row = conn.execute(
            """INSERT INTO core.batches (merchant_id, product_id, lot_code, received_at, expiry_date,
                   unit_cost, supplier_id, created_at)
               VALUES (%s, %s, COALESCE(%s, 'L' || to_char(%s AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
                       || '-' || nextval('core.lot_no_seq')),
                       %s, %s, %s, %s, %s)
               RETURNING batch_id""",
            [
                merchant_id,
                product_id,
                lot_code,
                at,
                at,
                expiry_date,
                unit_cost if unit_cost is not None else product_cost,
                supplier_id,
                at,
            ],
        ).fetchone()
        assert row is not None
        batch_id = int(row[0])
        record_movement(
            conn,
            merchant_id=merchant_id,
            warehouse_id=warehouse_id,
            batch_id=batch_id,
            product_id=product_id,
            movement_type="receipt",
            on_hand_delta=quantity,
            reserved_delta=0,
            at=at,
            purchase_order_id=purchase_order_id,
        )
    return batch_id
