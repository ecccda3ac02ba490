"""The trading services against a real PostgreSQL: FEFO reservation, oversell refusal, invariants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, orders, stock
from transactional.errors import InsufficientStock, InvalidTransition

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    product_id: int
    customer_id: int


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    merchant = catalogue.create_merchant(conn, "M900", "测试供销社", AT)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
    leaf = category_path(conn, "T1", ("农资", "化肥", "复合肥"), AT).leaf
    supplier = catalogue.create_supplier(conn, merchant, "S01", "丰收化肥厂", 5, AT)
    product = catalogue.create_product(
        conn,
        merchant,
        "FERT-001",
        "复合肥 50kg",
        leaf,
        Decimal("80.00"),
        Decimal("98.00"),
        AT,
        supplier_id=supplier,
        shelf_life_days=720,
    )
    customer = catalogue.create_customer(conn, merchant, "C0001", "张三", AT)
    conn.commit()
    return Shop(merchant, warehouse, product, customer)


def on_hand_and_reserved(conn: psycopg.Connection, batch_id: int) -> tuple[int, int]:
    row = conn.execute("SELECT on_hand, reserved FROM core.stock WHERE batch_id = %s", [batch_id]).fetchone()
    assert row is not None
    return row[0], row[1]


def test_order_reserves_earliest_expiry_first(conn, shop: Shop) -> None:
    late = stock.receive_stock(
        conn,
        warehouse_id=shop.warehouse_id,
        product_id=shop.product_id,
        quantity=10,
        at=AT,
        expiry_date=date(2027, 6, 1),
    )
    early = stock.receive_stock(
        conn,
        warehouse_id=shop.warehouse_id,
        product_id=shop.product_id,
        quantity=4,
        at=AT,
        expiry_date=date(2026, 9, 1),
    )
    orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.product_id, 6)],
        at=AT,
    )
    assert on_hand_and_reserved(conn, early) == (4, 4)
    assert on_hand_and_reserved(conn, late) == (10, 2)


def test_expired_batches_are_never_sold(conn, shop: Shop) -> None:
    stock.receive_stock(
        conn,
        warehouse_id=shop.warehouse_id,
        product_id=shop.product_id,
        quantity=50,
        at=AT - timedelta(days=400),
        expiry_date=date(2026, 1, 1),
    )
    with pytest.raises(InsufficientStock):
        orders.place_order(
            conn,
            merchant_id=shop.merchant_id,
            customer_id=shop.customer_id,
            warehouse_id=shop.warehouse_id,
            lines=[orders.OrderLineRequest(shop.product_id, 1)],
            at=AT,
        )


def test_oversell_is_refused_and_changes_nothing(conn, shop: Shop) -> None:
    batch = stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.product_id, quantity=5, at=AT)
    conn.commit()
    with pytest.raises(InsufficientStock, match=r"FERT-001.*requested 6, available 5"):
        orders.place_order(
            conn,
            merchant_id=shop.merchant_id,
            customer_id=shop.customer_id,
            warehouse_id=shop.warehouse_id,
            lines=[orders.OrderLineRequest(shop.product_id, 3), orders.OrderLineRequest(shop.product_id, 3)],
            at=AT,
        )
    assert on_hand_and_reserved(conn, batch) == (5, 0)
    assert conn.execute("SELECT count(*) FROM core.orders").fetchone() == (0,)


def test_database_refuses_negative_stock_even_without_the_services(conn, shop: Shop) -> None:
    batch = stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.product_id, quantity=2, at=AT)
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation):
        stock.record_movement(
            conn,
            merchant_id=shop.merchant_id,
            warehouse_id=shop.warehouse_id,
            batch_id=batch,
            product_id=shop.product_id,
            movement_type="adjust",
            on_hand_delta=-3,
            reserved_delta=0,
            at=AT,
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_reserved_within_on_hand"):
        stock.record_movement(
            conn,
            merchant_id=shop.merchant_id,
            warehouse_id=shop.warehouse_id,
            batch_id=batch,
            product_id=shop.product_id,
            movement_type="reserve",
            on_hand_delta=0,
            reserved_delta=3,
            at=AT,
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE core.stock SET on_hand = 100")
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM core.stock_movements")
    conn.rollback()
    assert on_hand_and_reserved(conn, batch) == (2, 0)


def test_ship_and_cancel_keep_stock_equal_to_the_ledger(conn, shop: Shop) -> None:
    stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.product_id, quantity=20, at=AT)
    shipped = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.product_id, 7)],
        at=AT,
    )
    cancelled = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.product_id, 5)],
        at=AT,
    )
    orders.ship_order(conn, shipped, AT + timedelta(hours=20))
    orders.cancel_order(conn, cancelled, AT + timedelta(hours=2))
    with pytest.raises(InvalidTransition, match="only before shipment"):
        orders.cancel_order(conn, shipped, AT + timedelta(hours=30))
    totals = conn.execute("SELECT sum(on_hand), sum(reserved) FROM core.stock").fetchone()
    ledger = conn.execute("SELECT sum(on_hand_delta), sum(reserved_delta) FROM core.stock_movements").fetchone()
    assert totals == ledger == (13, 0)
