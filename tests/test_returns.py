"""After-sales returns against a real PostgreSQL: the 7-day window from delivery, categories
without no-reason returns, quantities the database never lets exceed what was shipped, refunds
that add up to the net line amount, and received goods back in their batches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, orders, returns, stock
from transactional.errors import ReturnRefused
from transactional.money import reconciliation

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DELIVERED = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 on 4 March in Asia/Shanghai
LATER = DELIVERED + timedelta(hours=2)


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    cleaning: int  # level-2 category 清洁
    detergent: int
    rice: int
    fertiliser: int
    early_batch: int  # 2 units of detergent, first out
    late_batch: int  # 10 units of detergent
    customer_id: int


@pytest.fixture(scope="module")
def database_url(database_factory) -> str:
    """One migrated database for the module; each test trades as a merchant of its own."""
    return database_factory()


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url) as connection:
        yield connection


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    tag = uuid.uuid4().hex[:8]
    merchant = catalogue.create_merchant(conn, f"M{tag}", "村级供销点", AT)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)

    def leaf(code: str, names: tuple[str, str, str]) -> tuple[int, int]:
        path = category_path(conn, f"{tag}-{code}", names, AT)
        return path.middle, path.leaf

    cleaning, powder = leaf("D", ("日用品", "清洁", "洗衣粉"))
    _, grain = leaf("F", ("食品", "粮油", "大米"))
    _, compound = leaf("A", ("农资", "化肥", "复合肥"))
    detergent = catalogue.create_product(conn, merchant, "DET-1KG", "洗衣粉", powder, Decimal("9"), Decimal("20"), AT)
    rice = catalogue.create_product(conn, merchant, "RICE-5KG", "大米", grain, Decimal("40"), Decimal("50"), AT)
    fertiliser = catalogue.create_product(
        conn, merchant, "FERT-50", "复合肥", compound, Decimal("80"), Decimal("100"), AT
    )
    early = stock.receive_stock(
        conn, warehouse_id=warehouse, product_id=detergent, quantity=2, at=AT, expiry_date=date(2027, 1, 1)
    )
    late = stock.receive_stock(
        conn, warehouse_id=warehouse, product_id=detergent, quantity=10, at=AT, expiry_date=date(2028, 1, 1)
    )
    for product in (rice, fertiliser):
        stock.receive_stock(conn, warehouse_id=warehouse, product_id=product, quantity=50, at=AT)
    customer = catalogue.create_customer(conn, merchant, "C0001", "王五", AT)
    conn.commit()
    return Shop(merchant, warehouse, cleaning, detergent, rice, fertiliser, early, late, customer)


def delivered_order(conn: psycopg.Connection, shop: Shop, *lines: orders.OrderLineRequest) -> tuple[int, list[int]]:
    """An order placed at AT, shipped an hour later and delivered at DELIVERED; its line ids."""
    order_id = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=list(lines),
        at=AT,
    )
    orders.ship_order(conn, order_id, AT + timedelta(hours=1))
    orders.deliver_order(conn, order_id, DELIVERED)
    line_ids = conn.execute(
        "SELECT order_line_id FROM core.order_lines WHERE order_id = %s ORDER BY line_no", [order_id]
    ).fetchall()
    conn.commit()
    return order_id, [row[0] for row in line_ids]


def ask(conn, order_id: int, line_id: int, quantity: int, at: datetime = LATER, reason: str = "no_reason") -> int:
    return returns.request_return(
        conn, order_id=order_id, lines=[returns.ReturnLineRequest(line_id, quantity)], reason=reason, at=at
    )


def settle(conn: psycopg.Connection, return_id: int, at: datetime = LATER) -> Decimal:
    """Approve, receive and refund a requested return; the refunded amount."""
    returns.approve_return(conn, return_id, at)
    returns.receive_return(conn, return_id, at)
    return returns.refund_return(conn, return_id, at)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_no_reason_returns_close_after_the_seventh_day_from_delivery(conn, shop: Shop) -> None:
    order_id, (line,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 4))
    assert returns.last_return_day(DELIVERED, returns.NO_REASON_RETURN_DAYS) == date(2026, 3, 11)
    with pytest.raises(ReturnRefused, match="no-reason returns closed after 2026-03-11"):
        ask(conn, order_id, line, 1, at=shanghai(12, 0))
    conn.rollback()
    ask(conn, order_id, line, 1, at=shanghai(11, 23, 59))
    with pytest.raises(ReturnRefused, match="quality-defect returns closed after 2026-03-19"):
        ask(conn, order_id, line, 1, at=shanghai(20, 0), reason="quality_defect")
    conn.rollback()
    ask(conn, order_id, line, 1, at=shanghai(19, 23), reason="quality_defect")
    assert conn.execute("SELECT count(*) FROM core.returns WHERE order_id = %s", [order_id]).fetchone() == (2,)


def test_a_return_needs_a_delivered_order(conn, shop: Shop) -> None:
    order_id = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.detergent, 1)],
        at=AT,
    )
    orders.ship_order(conn, order_id, AT + timedelta(hours=1))
    line = conn.execute("SELECT order_line_id FROM core.order_lines WHERE order_id = %s", [order_id]).fetchone()
    conn.commit()
    with pytest.raises(ReturnRefused, match="has not been delivered"):
        ask(conn, order_id, line[0], 1)
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="has not been delivered"):
        conn.execute(
            """INSERT INTO core.returns (merchant_id, order_id, reason, status, requested_at, updated_at)
               VALUES (%s, %s, 'quality_defect', 'requested', %s, %s)""",
            [shop.merchant_id, order_id, LATER, LATER],
        )


def test_food_and_farm_inputs_take_quality_defect_returns_only(conn, shop: Shop) -> None:
    order_id, (rice, fertiliser, detergent) = delivered_order(
        conn,
        shop,
        orders.OrderLineRequest(shop.rice, 2),
        orders.OrderLineRequest(shop.fertiliser, 2),
        orders.OrderLineRequest(shop.detergent, 2),
    )
    for line, sku in ((rice, "RICE-5KG"), (fertiliser, "FERT-50")):
        with pytest.raises(ReturnRefused, match=f"SKU {sku} .* without no-reason returns"):
            ask(conn, order_id, line, 1)
        conn.rollback()
        ask(conn, order_id, line, 1, reason="quality_defect")
    ask(conn, order_id, detergent, 1)
    # A flag on a middle level of the tree covers every leaf below it.
    conn.execute("UPDATE core.categories SET no_reason_returns = false WHERE category_id = %s", [shop.cleaning])
    with pytest.raises(ReturnRefused, match="SKU DET-1KG"):
        ask(conn, order_id, detergent, 1)


def test_returned_quantity_never_exceeds_what_was_shipped_and_not_yet_returned(conn, shop: Shop) -> None:
    order_id, (line,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 5))
    first = ask(conn, order_id, line, 3)
    conn.commit()
    with pytest.raises(ReturnRefused, match=r"2 unit\(s\) can still be returned, 3 asked"):
        ask(conn, order_id, line, 3)
    conn.rollback()
    other_order, (other_line,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 1))
    with pytest.raises(ReturnRefused, match=f"order line {other_line} is not on order"):
        ask(conn, order_id, other_line, 1)
    conn.rollback()

    raw_return = conn.execute(
        """INSERT INTO core.returns (merchant_id, order_id, reason, status, requested_at, updated_at)
           VALUES (%s, %s, 'quality_defect', 'requested', %s, %s) RETURNING return_id""",
        [shop.merchant_id, order_id, LATER, LATER],
    ).fetchone()
    with pytest.raises(psycopg.errors.CheckViolation, match=r"2 shipped unit\(s\) not yet returned, 3 requested"):
        conn.execute(
            "INSERT INTO core.return_lines (return_id, merchant_id, order_line_id, quantity) VALUES (%s, %s, %s, 3)",
            [raw_return[0], shop.merchant_id, line],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE core.order_lines SET returned_quantity = 0 WHERE order_line_id = %s", [line])
    conn.rollback()

    # A rejected return gives its units back to be asked for again.
    returns.reject_return(conn, first, LATER)
    ask(conn, order_id, line, 5)
    assert conn.execute(
        "SELECT returned_quantity FROM core.order_lines WHERE order_line_id = %s", [line]
    ).fetchone() == (5,)
    assert other_order != order_id


def test_refunds_are_the_net_line_amount_pro_rata_and_add_up_to_it_exactly(conn, shop: Shop) -> None:
    order_id, (thirds, pair) = delivered_order(
        conn,
        shop,
        orders.OrderLineRequest(shop.detergent, 3, unit_price=Decimal("4.00"), discount_amount=Decimal("2.00")),
        orders.OrderLineRequest(shop.detergent, 2, unit_price=Decimal("5.00"), discount_amount=Decimal("0.01")),
    )
    refunds = [settle(conn, ask(conn, order_id, thirds, 1)) for _ in range(3)]
    assert refunds == [Decimal("3.33"), Decimal("3.34"), Decimal("3.33")]
    assert settle(conn, ask(conn, order_id, pair, 2)) == Decimal("9.99")
    lines = conn.execute(
        """SELECT line_amount, refunded_amount, returned_quantity FROM core.order_lines
           WHERE order_id = %s ORDER BY line_no""",
        [order_id],
    ).fetchall()
    assert lines == [(Decimal("10.00"), Decimal("10.00"), 3), (Decimal("9.99"), Decimal("9.99"), 2)]
    refunded = conn.execute("SELECT sum(refund_amount) FROM core.returns WHERE order_id = %s", [order_id])
    assert refunded.fetchone() == (Decimal("19.99"),)


def on_hand(conn: psycopg.Connection, batch_id: int) -> int:
    row = conn.execute("SELECT on_hand FROM core.stock WHERE batch_id = %s", [batch_id]).fetchone()
    assert row is not None
    return row[0]


def test_received_goods_go_back_to_the_batches_they_were_shipped_from(conn, shop: Shop) -> None:
    order_id, (line,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 4))
    assert (on_hand(conn, shop.early_batch), on_hand(conn, shop.late_batch)) == (0, 8)
    back = ask(conn, order_id, line, 3)
    returns.approve_return(conn, back, LATER)
    assert on_hand(conn, shop.early_batch) == 0
    returns.receive_return(conn, back, LATER + timedelta(hours=1))
    assert (on_hand(conn, shop.early_batch), on_hand(conn, shop.late_batch)) == (2, 9)

    defective = ask(conn, order_id, line, 1, reason="quality_defect")
    settle(conn, defective, LATER + timedelta(hours=2))
    assert (on_hand(conn, shop.early_batch), on_hand(conn, shop.late_batch)) == (2, 9)
    movements = conn.execute(
        """SELECT batch_id, on_hand_delta, reason FROM core.stock_movements
           WHERE movement_type = 'return' AND order_id = %s ORDER BY batch_id""",
        [order_id],
    ).fetchall()
    return_no = conn.execute("SELECT return_no FROM core.returns WHERE return_id = %s", [back]).fetchone()[0]
    assert movements == [(shop.early_batch, 2, f"return {return_no}"), (shop.late_batch, 1, f"return {return_no}")]
    mine = [shop.merchant_id]
    totals = conn.execute("SELECT sum(on_hand), sum(reserved) FROM core.stock WHERE merchant_id = %s", mine).fetchone()
    ledger = conn.execute(
        "SELECT sum(on_hand_delta), sum(reserved_delta) FROM core.stock_movements WHERE merchant_id = %s", mine
    ).fetchone()
    assert totals == ledger


def test_return_steps_happen_in_order_and_what_was_decided_is_never_rewritten(conn, shop: Shop) -> None:
    order_id, (line,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 4))
    rejected = ask(conn, order_id, line, 1)
    open_return = ask(conn, order_id, line, 1)
    returns.reject_return(conn, rejected, LATER)
    conn.commit()
    refusals = [
        (returns.approve_return, rejected, "is rejected; it can become approved only when requested"),
        (returns.receive_return, open_return, "is requested; it can become received only when approved"),
        (returns.refund_return, open_return, "is requested; it can become refunded only when received"),
    ]
    for step, return_id, message in refusals:
        with pytest.raises(ReturnRefused, match=message):
            step(conn, return_id, LATER)
        conn.rollback()
    returns.approve_return(conn, open_return, LATER + timedelta(hours=1))
    with pytest.raises(ReturnRefused, match="before its last step"):
        returns.receive_return(conn, open_return, LATER)
    conn.rollback()

    raw_refusals = [
        "UPDATE core.returns SET status = 'requested', approved_at = NULL WHERE return_id = %s",
        "UPDATE core.returns SET requested_at = requested_at - interval '1 day' WHERE return_id = %s",
        "UPDATE core.returns SET status = 'refunded', refunded_at = approved_at, refund_amount = 1"
        " WHERE return_id = %s",
    ]
    for statement in raw_refusals:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(statement, [open_return])
        conn.rollback()
    returns.receive_return(conn, open_return, LATER + timedelta(hours=2))
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="not the sum of its lines"):
        conn.execute(
            """UPDATE core.returns SET status = 'refunded', refunded_at = received_at, refund_amount = 1
               WHERE return_id = %s""",
            [open_return],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM core.return_lines")
    conn.rollback()
    assert returns.refund_return(conn, open_return, LATER + timedelta(hours=3)) == Decimal("20.00")


def test_refunding_a_settled_order_posts_the_refund_to_the_journal(conn, shop: Shop) -> None:
    order_id = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.detergent, 3, unit_price=Decimal("20.00"))],
        at=AT,
        payment_method="cod",
    )
    orders.ship_order(conn, order_id, AT + timedelta(hours=1))  # settles the cash-on-delivery order
    orders.deliver_order(conn, order_id, DELIVERED)
    [(line_id, line_no)] = conn.execute(
        "SELECT order_line_id, line_no FROM core.order_lines WHERE order_id = %s", [order_id]
    ).fetchall()
    conn.commit()

    return_id = ask(conn, order_id, line_id, 2)
    assert settle(conn, return_id) == Decimal("40.00")
    return_no = conn.execute("SELECT return_no FROM core.returns WHERE return_id = %s", [return_id]).fetchone()[0]
    posted = conn.execute(
        """SELECT l.order_line_id, r.amount_cents, r.reference
           FROM core.refunds r JOIN core.refund_lines l USING (refund_id) WHERE r.order_id = %s""",
        [order_id],
    ).fetchall()
    assert posted == [(line_id, 4000, f"{return_no}/{line_no}")]
    assert reconciliation.reconcile(conn, shop.merchant_id, LATER + timedelta(days=1)).reconciles


def test_refunding_an_unsettled_order_posts_nothing(conn, shop: Shop) -> None:
    order_id, (line_id,) = delivered_order(conn, shop, orders.OrderLineRequest(shop.detergent, 1))
    assert settle(conn, ask(conn, order_id, line_id, 1)) == Decimal("20.00")
    assert conn.execute("SELECT count(*) FROM core.refunds WHERE order_id = %s", [order_id]).fetchone() == (0,)
