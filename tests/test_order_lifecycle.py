"""The order lifecycle against a real PostgreSQL: every move, its event row, the database's own
refusals, service-level breach flags, credit review and cancellation before shipment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from transactional import catalogue, db, orders, promotions, returns, stock
from transactional.errors import CreditLimitExceeded, InsufficientStock, InvalidRequest, InvalidTransition
from transactional.money.payments import record_payment

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
STATUSES = (
    "received",
    "reviewed",
    "confirmed",
    "picked",
    "shipped",
    "in_transit",
    "delivered",
    "completed",
    "cancelled",
)
LEGAL = {
    ("received", "reviewed"),
    ("received", "cancelled"),
    ("reviewed", "confirmed"),
    ("reviewed", "cancelled"),
    ("confirmed", "picked"),
    ("confirmed", "cancelled"),
    ("picked", "shipped"),
    ("picked", "cancelled"),
    ("shipped", "in_transit"),
    ("shipped", "delivered"),
    ("in_transit", "delivered"),
    ("delivered", "completed"),
}
TIME_COLUMN = {
    "received": "ordered_at",
    "reviewed": "reviewed_at",
    "confirmed": "confirmed_at",
    "picked": "picked_at",
    "shipped": "shipped_at",
    "in_transit": "in_transit_at",
    "delivered": "delivered_at",
    "completed": "completed_at",
    "cancelled": "cancelled_at",
}
SERVICE: dict[str, Callable[..., None]] = {
    "reviewed": orders.review_order,
    "confirmed": orders.confirm_order,
    "picked": orders.pick_order,
    "shipped": orders.ship_order,
    "in_transit": orders.mark_in_transit,
    "delivered": orders.deliver_order,
    "completed": orders.complete_order,
    "cancelled": orders.cancel_order,
}
# ship_order picks a confirmed order at the same moment; the database itself never skips picking.
SHIP_WITHOUT_PICKING = ("confirmed", "shipped")
# The shortest legal path from received to each status.
PATH = {
    "received": [],
    "reviewed": ["reviewed"],
    "confirmed": ["reviewed", "confirmed"],
    "picked": ["reviewed", "confirmed", "picked"],
    "shipped": ["reviewed", "confirmed", "picked", "shipped"],
    "in_transit": ["reviewed", "confirmed", "picked", "shipped", "in_transit"],
    "delivered": ["reviewed", "confirmed", "picked", "shipped", "delivered"],
    "completed": ["reviewed", "confirmed", "picked", "shipped", "delivered", "completed"],
    "cancelled": ["cancelled"],
}


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    fertiliser: int
    vegetables: int
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
    merchant = catalogue.create_merchant(conn, f"M{tag}", "城关供销社", AT)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
    farm = catalogue.create_category(conn, f"{tag}-1", "农资", 1, AT)
    fertiliser_group = catalogue.create_category(conn, f"{tag}-1-1", "化肥", 2, AT, farm)
    compound = catalogue.create_category(conn, f"{tag}-1-1-1", "复合肥", 3, AT, fertiliser_group)
    food = catalogue.create_category(conn, f"{tag}-2", "食品", 1, AT)
    fresh = catalogue.create_category(conn, f"{tag}-2-1", "生鲜", 2, AT, food)
    greens = catalogue.create_category(conn, f"{tag}-2-1-1", "蔬菜", 3, AT, fresh)
    conn.execute("UPDATE core.categories SET is_fresh = true WHERE category_id = %s", [fresh])
    fertiliser = catalogue.create_product(
        conn, merchant, "FERT-001", "复合肥 50kg", compound, Decimal("80.00"), Decimal("100.00"), AT
    )
    vegetables = catalogue.create_product(
        conn, merchant, "VEG-001", "青菜 1kg", greens, Decimal("3.00"), Decimal("5.00"), AT, shelf_life_days=5
    )
    customer = catalogue.create_customer(conn, merchant, "C0001", "李四", AT)
    for product in (fertiliser, vegetables):
        stock.receive_stock(conn, warehouse_id=warehouse, product_id=product, quantity=100, at=AT)
    conn.commit()
    return Shop(merchant, warehouse, fertiliser, vegetables, customer)


def receive(conn: psycopg.Connection, shop: Shop, quantity: int = 2, at: datetime = AT, **options) -> int:
    return orders.receive_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(options.pop("product_id", shop.fertiliser), quantity)],
        at=at,
        **options,
    )


def order_at(conn: psycopg.Connection, shop: Shop, status: str) -> int:
    """An order walked by the services to `status`, one hour per step from AT."""
    order_id = receive(conn, shop)
    for hours, step in enumerate(PATH[status], start=1):
        SERVICE[step](conn, order_id, AT + hours * HOUR)
    return order_id


def status_of(conn: psycopg.Connection, order_id: int) -> str:
    row = conn.execute("SELECT status FROM core.orders WHERE order_id = %s", [order_id]).fetchone()
    assert row is not None
    return row[0]


def events(conn: psycopg.Connection, order_id: int) -> list[tuple]:
    return conn.execute(
        """SELECT from_status, to_status, occurred_at, actor, note FROM core.order_events
           WHERE order_id = %s ORDER BY order_event_id""",
        [order_id],
    ).fetchall()


def reserved_units(conn: psycopg.Connection, product_id: int) -> int:
    row = conn.execute("SELECT sum(reserved) FROM core.stock WHERE product_id = %s", [product_id]).fetchone()
    assert row is not None
    return int(row[0])


def test_an_order_walks_the_whole_lifecycle_and_every_step_is_an_event(conn, shop: Shop) -> None:
    order_id = receive(conn, shop, actor="customer:C0001")
    steps = ["reviewed", "confirmed", "picked", "shipped", "in_transit", "delivered", "completed"]
    for hours, step in enumerate(steps, start=1):
        SERVICE[step](conn, order_id, AT + hours * HOUR, actor=f"clerk-{step}")
        assert status_of(conn, order_id) == step

    assert events(conn, order_id) == [
        (None, "received", AT, "customer:C0001", None),
        *[
            (previous, step, AT + hours * HOUR, f"clerk-{step}", None)
            for hours, (previous, step) in enumerate(zip(["received", *steps], steps, strict=False), start=1)
        ],
    ]
    times = conn.execute(
        """SELECT reviewed_at, confirmed_at, picked_at, shipped_at, in_transit_at, delivered_at, completed_at
           FROM core.orders WHERE order_id = %s""",
        [order_id],
    ).fetchone()
    assert times == tuple(AT + hours * HOUR for hours in range(1, 8))
    assert reserved_units(conn, shop.fertiliser) == 0
    assert conn.execute("SELECT sum(on_hand) FROM core.stock WHERE product_id = %s", [shop.fertiliser]).fetchone() == (
        98,
    )


def test_place_order_is_received_reviewed_and_confirmed_with_its_reservation(conn, shop: Shop) -> None:
    order_id = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.fertiliser, 3), orders.OrderLineRequest(shop.fertiliser, 4)],
        at=AT,
        reviewed_at=AT + 2 * HOUR,
        actor="api",
    )
    assert status_of(conn, order_id) == "confirmed"
    assert [(e[0], e[1], e[2]) for e in events(conn, order_id)] == [
        (None, "received", AT),
        ("received", "reviewed", AT + 2 * HOUR),
        ("reviewed", "confirmed", AT + 2 * HOUR),
    ]
    assert {e[3] for e in events(conn, order_id)} == {"api"}
    assert reserved_units(conn, shop.fertiliser) == 7


def test_review_reserves_two_lines_of_one_sku_together_or_not_at_all(conn, shop: Shop) -> None:
    order_id = orders.receive_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.fertiliser, 60), orders.OrderLineRequest(shop.fertiliser, 60)],
        at=AT,
    )
    conn.commit()
    with pytest.raises(InsufficientStock, match=r"FERT-001.*requested 120, available 100"):
        orders.review_order(conn, order_id, AT + HOUR)
    assert status_of(conn, order_id) == "received"
    assert reserved_units(conn, shop.fertiliser) == 0


def test_every_illegal_move_is_refused_by_the_service_and_by_the_database(conn, shop: Shop) -> None:
    checked = 0
    for source in STATUSES:
        order_id = order_at(conn, shop, source)
        conn.commit()
        later = AT + 24 * HOUR
        for target in STATUSES:
            if target == source:
                continue
            if (source, target) not in LEGAL and target in SERVICE and (source, target) != SHIP_WITHOUT_PICKING:
                with pytest.raises(InvalidTransition, match=f"is {source}"):
                    SERVICE[target](conn, order_id, later)
                conn.rollback()
            column = TIME_COLUMN[target]
            update = f"UPDATE core.orders SET status = %s, {column} = %s WHERE order_id = %s"
            if (source, target) in LEGAL:
                conn.execute(update, [target, later, order_id])
                assert events(conn, order_id)[-1][:3] == (source, target, later)
            else:
                with pytest.raises(psycopg.errors.CheckViolation):
                    conn.execute(update, [target, later, order_id])
            conn.rollback()
            checked += 1
        assert status_of(conn, order_id) == source
    assert checked == 72


def test_shipping_a_confirmed_order_records_its_picking_at_the_same_moment(conn, shop: Shop) -> None:
    order_id = order_at(conn, shop, "confirmed")
    orders.ship_order(conn, order_id, AT + 5 * HOUR)
    assert [e[:3] for e in events(conn, order_id)[-2:]] == [
        ("confirmed", "picked", AT + 5 * HOUR),
        ("picked", "shipped", AT + 5 * HOUR),
    ]


def test_times_never_go_backwards_and_events_are_append_only(conn, shop: Shop) -> None:
    order_id = order_at(conn, shop, "confirmed")
    conn.commit()
    with pytest.raises(InvalidTransition, match="before its last step"):
        orders.pick_order(conn, order_id, AT + HOUR)
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="earlier than its previous step"):
        conn.execute("UPDATE core.orders SET status = 'picked', picked_at = %s WHERE order_id = %s", [AT, order_id])
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="written once"):
        conn.execute("UPDATE core.orders SET confirmed_at = %s WHERE order_id = %s", [AT + 9 * HOUR, order_id])
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="written once"):
        conn.execute("UPDATE core.orders SET delivered_at = %s WHERE order_id = %s", [AT + 9 * HOUR, order_id])
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE core.order_events SET occurred_at = occurred_at - interval '1 day'")
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM core.order_events")
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            """INSERT INTO core.order_events (order_id, merchant_id, from_status, to_status, occurred_at)
               VALUES (%s, %s, 'confirmed', 'completed', %s)""",
            [order_id, shop.merchant_id, AT],
        )
    conn.rollback()
    assert len(events(conn, order_id)) == 3


def sla(conn: psycopg.Connection, order_id: int) -> tuple:
    row = conn.execute(
        "SELECT has_fresh_goods, confirm_breached, ship_breached FROM core.order_sla WHERE order_id = %s", [order_id]
    ).fetchone()
    assert row is not None
    return row


def test_sla_flags_confirm_within_24h_and_ship_within_48h_or_24h_for_fresh_goods(conn, shop: Shop) -> None:
    def walk(product_id: int, confirm_after: float, ship_after: float | None) -> int:
        order_id = receive(conn, shop, product_id=product_id)
        orders.review_order(conn, order_id, AT + timedelta(hours=confirm_after))
        orders.confirm_order(conn, order_id, AT + timedelta(hours=confirm_after))
        if ship_after is not None:
            orders.ship_order(conn, order_id, AT + timedelta(hours=ship_after))
        return order_id

    on_time = walk(shop.fertiliser, 23.9, 47.9)
    late_confirm = walk(shop.fertiliser, 24.1, 30)
    late_ship = walk(shop.fertiliser, 2, 48.1)
    fresh_on_time = walk(shop.vegetables, 2, 23.9)
    fresh_late = walk(shop.vegetables, 2, 30)
    still_open = walk(shop.fertiliser, 2, None)
    unconfirmed_then_cancelled = receive(conn, shop)
    orders.cancel_order(conn, unconfirmed_then_cancelled, AT + 30 * HOUR)
    cancelled_in_time = receive(conn, shop)
    orders.cancel_order(conn, cancelled_in_time, AT + 3 * HOUR)

    assert sla(conn, on_time) == (False, False, False)
    assert sla(conn, late_confirm) == (False, True, False)
    assert sla(conn, late_ship) == (False, False, True)
    assert sla(conn, fresh_on_time) == (True, False, False)
    assert sla(conn, fresh_late) == (True, False, True)
    assert sla(conn, still_open) == (False, False, None)
    assert sla(conn, unconfirmed_then_cancelled) == (False, True, False)
    assert sla(conn, cancelled_in_time) == (False, False, False)
    due = conn.execute(
        "SELECT confirm_due_at, ship_due_at FROM core.order_sla WHERE order_id = %s", [fresh_late]
    ).fetchone()
    assert due == (AT + 24 * HOUR, AT + 24 * HOUR)


def place_on_credit(conn: psycopg.Connection, shop: Shop, quantity: int, at: datetime = AT) -> int:
    return orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.fertiliser, quantity)],
        at=at,
        payment_method="credit",
        credit_term_days=30,
    )


def test_review_refuses_a_credit_order_above_the_customers_credit_limit(conn, shop: Shop) -> None:
    with pytest.raises(CreditLimitExceeded, match="customer C0001 has no credit line"):
        place_on_credit(conn, shop, 1)
    conn.rollback()
    conn.execute("UPDATE core.customers SET credit_limit = 500 WHERE customer_id = %s", [shop.customer_id])
    conn.commit()

    first = place_on_credit(conn, shop, 3)
    conn.commit()
    with pytest.raises(CreditLimitExceeded, match=r"to 600\.00 owed, above the credit limit 500\.00 \(300\.00 open\)"):
        place_on_credit(conn, shop, 3, AT + HOUR)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM core.orders WHERE merchant_id = %s", [shop.merchant_id]).fetchone() == (
        1,
    )
    assert reserved_units(conn, shop.fertiliser) == 3

    # Cash orders never count against credit, and the limit is inclusive.
    orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.fertiliser, 10)],
        at=AT + HOUR,
        payment_method="cod",
    )
    place_on_credit(conn, shop, 2, AT + HOUR)
    assert orders.open_credit_exposure(conn, shop.customer_id) == Decimal("500.00")

    # A cancelled credit order frees its share of the line.
    orders.cancel_order(conn, first, AT + 2 * HOUR)
    assert orders.open_credit_exposure(conn, shop.customer_id) == Decimal("200.00")
    place_on_credit(conn, shop, 3, AT + 2 * HOUR)


def test_a_received_credit_order_that_does_not_fit_stays_received(conn, shop: Shop) -> None:
    conn.execute("UPDATE core.customers SET credit_limit = 150 WHERE customer_id = %s", [shop.customer_id])
    order_id = receive(conn, shop, 2, payment_method="credit", credit_term_days=15)
    conn.commit()
    with pytest.raises(CreditLimitExceeded):
        orders.review_order(conn, order_id, AT + HOUR)
    conn.rollback()
    assert status_of(conn, order_id) == "received"
    assert reserved_units(conn, shop.fertiliser) == 0


def test_payments_recorded_on_a_credit_order_lower_the_exposure(conn, shop: Shop) -> None:
    conn.execute("UPDATE core.customers SET credit_limit = 500 WHERE customer_id = %s", [shop.customer_id])
    first = place_on_credit(conn, shop, 4)
    record_payment(conn, first, Decimal("250.00"), AT + HOUR)
    assert orders.open_credit_exposure(conn, shop.customer_id) == Decimal("150.00")
    place_on_credit(conn, shop, 3, AT + 2 * HOUR)
    with pytest.raises(CreditLimitExceeded, match=r"\(450\.00 open\)"):
        place_on_credit(conn, shop, 1, AT + 3 * HOUR)


def test_credit_terms_go_with_credit_orders_only_and_lines_need_a_quantity(conn, shop: Shop) -> None:
    with pytest.raises(InvalidRequest, match="7, 15 or 30 days"):
        receive(conn, shop, payment_method="credit", credit_term_days=10)
    with pytest.raises(InvalidRequest, match="only to credit orders"):
        receive(conn, shop, payment_method="online", credit_term_days=7)
    with pytest.raises(InvalidRequest, match="payment method 'barter'"):
        receive(conn, shop, payment_method="barter")
    with pytest.raises(InvalidRequest, match=f"product {shop.fertiliser}: a line needs a positive quantity"):
        receive(conn, shop, 0)
    with pytest.raises(InvalidRequest, match=r"12\.345 has more decimals than cents"):
        orders.receive_order(
            conn,
            merchant_id=shop.merchant_id,
            customer_id=shop.customer_id,
            warehouse_id=shop.warehouse_id,
            lines=[orders.OrderLineRequest(shop.fertiliser, 1, unit_price=Decimal("12.345"))],
            at=AT,
        )
    order_id = receive(conn, shop)
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="orders_credit_term_iff_credit"):
        conn.execute("UPDATE core.orders SET payment_method = 'credit' WHERE order_id = %s", [order_id])


@pytest.mark.parametrize("status", ["received", "reviewed", "confirmed", "picked"])
def test_cancel_before_shipment_releases_the_reservation(conn, shop: Shop, status: str) -> None:
    order_id = order_at(conn, shop, status)
    orders.cancel_order(conn, order_id, AT + 10 * HOUR, actor="customer:C0001", reason="changed my mind")
    assert status_of(conn, order_id) == "cancelled"
    assert reserved_units(conn, shop.fertiliser) == 0
    assert events(conn, order_id)[-1] == (status, "cancelled", AT + 10 * HOUR, "customer:C0001", "changed my mind")
    ledger = conn.execute(
        "SELECT sum(on_hand_delta), sum(reserved_delta) FROM core.stock_movements WHERE product_id = %s",
        [shop.fertiliser],
    ).fetchone()
    assert ledger == (100, 0)


@pytest.mark.parametrize("status", ["shipped", "in_transit", "delivered", "completed"])
def test_cancel_after_shipment_is_refused(conn, shop: Shop, status: str) -> None:
    order_id = order_at(conn, shop, status)
    with pytest.raises(InvalidTransition, match="only before shipment"):
        orders.cancel_order(conn, order_id, AT + 10 * HOUR)
    conn.rollback()
    assert status_of(conn, order_id) == status


def test_the_application_role_walks_an_order_under_row_security_and_sees_only_its_merchant(
    database_url: str, conn, shop: Shop
) -> None:
    other_merchant = catalogue.create_merchant(conn, f"N{uuid.uuid4().hex[:8]}", "邻县供销社", AT)
    other_warehouse = catalogue.create_warehouse(conn, other_merchant, "WH01", "主仓", AT)
    leaf = conn.execute("SELECT category_id FROM core.products WHERE product_id = %s", [shop.fertiliser]).fetchone()[0]
    other_product = catalogue.create_product(
        conn, other_merchant, "FERT-001", "复合肥", leaf, Decimal("80"), Decimal("100"), AT
    )
    other_customer = catalogue.create_customer(conn, other_merchant, "C0001", "赵六", AT)
    stock.receive_stock(conn, warehouse_id=other_warehouse, product_id=other_product, quantity=5, at=AT)
    orders.place_order(
        conn,
        merchant_id=other_merchant,
        customer_id=other_customer,
        warehouse_id=other_warehouse,
        lines=[orders.OrderLineRequest(other_product, 1)],
        at=AT,
    )
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="WELCOME10",
        name="新人券",
        amount_off=Decimal("10"),
        valid_from=AT,
        valid_until=AT + 24 * HOUR,
        at=AT,
        new_customers_only=True,
    )
    conn.commit()

    with psycopg.connect(db.as_role(database_url, db.APP_ROLE)) as app, app.transaction():
        db.act_for_merchant(app, shop.merchant_id)
        order_id = orders.place_order(
            app,
            merchant_id=shop.merchant_id,
            customer_id=shop.customer_id,
            warehouse_id=shop.warehouse_id,
            lines=[orders.OrderLineRequest(shop.fertiliser, 2)],
            at=AT,
            coupon_code="WELCOME10",
            actor="api",
        )
        orders.ship_order(app, order_id, AT + HOUR)
        orders.deliver_order(app, order_id, AT + 30 * HOUR)
        seen = app.execute("SELECT merchant_id, count(*) FROM core.order_sla GROUP BY 1").fetchall()
        assert seen == [(shop.merchant_id, 1)]
        assert app.execute("SELECT count(*) FROM core.order_events").fetchone() == (6,)
        line_id = app.execute("SELECT order_line_id FROM core.order_lines WHERE order_id = %s", [order_id]).fetchone()
        return_id = returns.request_return(
            app,
            order_id=order_id,
            lines=[returns.ReturnLineRequest(line_id[0], 1)],
            reason="quality_defect",
            at=AT + 40 * HOUR,
        )
        returns.approve_return(app, return_id, AT + 41 * HOUR)
        returns.receive_return(app, return_id, AT + 42 * HOUR)
        assert returns.refund_return(app, return_id, AT + 43 * HOUR) == Decimal("95.00")
