"""Stock operations against a real PostgreSQL: allocation policy and expiry, freeze, transfer,
stocktake, write-offs, returns; each refusal; and the invariants the database enforces itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from transactional import catalogue, orders, stock
from transactional.errors import InsufficientStock, NotFound, StockOperationRefused

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, business date 2026-03-02
TODAY = date(2026, 3, 2)
OPENED = AT - timedelta(days=30)  # the shop and its catalogue exist well before any order


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    main: int
    branch: int
    product_id: int
    customer_id: int


def open_shop(conn: psycopg.Connection, code: str) -> Shop:
    merchant = catalogue.create_merchant(conn, code, f"{code} 供销社", OPENED)
    main = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", OPENED)
    branch = catalogue.create_warehouse(conn, merchant, "WH02", "乡镇仓", OPENED)
    leaf = conn.execute("SELECT category_id FROM core.categories WHERE category_code = 'F1-1-1'").fetchone()
    if leaf is None:
        top = catalogue.create_category(conn, "F1", "食品", 1, OPENED)
        middle = catalogue.create_category(conn, "F1-1", "粮油", 2, OPENED, top)
        leaf = (catalogue.create_category(conn, "F1-1-1", "食用油", 3, OPENED, middle),)
    product = catalogue.create_product(
        conn, merchant, "OIL-5L", "花生油 5L", leaf[0], Decimal("60.00"), Decimal("79.00"), OPENED, shelf_life_days=365
    )
    customer = catalogue.create_customer(conn, merchant, "C0001", "李四", OPENED)
    conn.commit()
    return Shop(merchant, main, branch, product, customer)


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    return open_shop(conn, "M700")


def receive(conn, shop: Shop, quantity: int, expiry: date | None, *, warehouse: int | None = None, at=AT) -> int:
    return stock.receive_stock(
        conn,
        warehouse_id=warehouse or shop.main,
        product_id=shop.product_id,
        quantity=quantity,
        at=at,
        expiry_date=expiry,
    )


def order(conn, shop: Shop, quantity: int, *, warehouse: int | None = None, at=AT) -> int:
    return orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=warehouse or shop.main,
        lines=[orders.OrderLineRequest(shop.product_id, quantity)],
        at=at,
    )


def levels(conn, warehouse_id: int, batch_id: int) -> tuple[int, int, int]:
    """(on_hand, reserved, frozen) of one stock row, after checking it equals its ledger."""
    row = conn.execute(
        "SELECT on_hand, reserved, frozen FROM core.stock WHERE warehouse_id = %s AND batch_id = %s",
        [warehouse_id, batch_id],
    ).fetchone()
    ledger = conn.execute(
        """SELECT sum(on_hand_delta), sum(reserved_delta), sum(frozen_delta) FROM core.stock_movements
           WHERE warehouse_id = %s AND batch_id = %s""",
        [warehouse_id, batch_id],
    ).fetchone()
    assert row == ledger
    return row


def allocations_of(conn, order_id: int) -> list[tuple[int, int]]:
    return conn.execute(
        """SELECT a.batch_id, a.quantity FROM core.order_allocations a JOIN core.order_lines l USING (order_line_id)
           WHERE l.order_id = %s ORDER BY a.batch_id""",
        [order_id],
    ).fetchall()


# --- allocation ---------------------------------------------------------------------------------


def test_batch_expiring_on_the_business_date_is_not_sold_but_the_day_before_it_is(conn, shop: Shop) -> None:
    expires_today = receive(conn, shop, 5, TODAY, at=AT - timedelta(days=2))
    with pytest.raises(InsufficientStock, match=r"OIL-5L in warehouse WH01: requested 1, available 0"):
        order(conn, shop, 1)
    # 23:30 in Shanghai on the day before, although already 2026-03-01 15:30 UTC: still sellable.
    evening_before = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    order(conn, shop, 1, at=evening_before)
    # 00:30 in Shanghai on the expiry date, still 2026-03-01 in UTC: no longer sellable.
    with pytest.raises(InsufficientStock):
        order(conn, shop, 1, at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    assert levels(conn, shop.main, expires_today) == (5, 1, 0)


def test_fefo_by_default_and_fifo_when_the_sku_asks_for_it(conn, shop: Shop) -> None:
    received_first_expires_last = receive(conn, shop, 3, date(2027, 1, 1), at=AT - timedelta(days=10))
    received_last_expires_first = receive(conn, shop, 3, date(2026, 6, 1))
    no_expiry = receive(conn, shop, 3, None, at=AT - timedelta(days=20))
    fefo = order(conn, shop, 4)
    assert allocations_of(conn, fefo) == [(received_first_expires_last, 1), (received_last_expires_first, 3)]

    stock.set_issue_policy(conn, product_id=shop.product_id, policy="FIFO", at=AT)
    fifo = order(conn, shop, 4)
    assert allocations_of(conn, fifo) == [(received_first_expires_last, 1), (no_expiry, 3)]
    with pytest.raises(StockOperationRefused, match="FEFO, FIFO"):
        stock.set_issue_policy(conn, product_id=shop.product_id, policy="LIFO", at=AT)


def test_allocation_names_sku_and_warehouse_and_counts_neither_reserved_nor_frozen_units(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 10, date(2026, 12, 1))
    order(conn, shop, 4)
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=3, reason="质检", at=AT)
    with pytest.raises(InsufficientStock, match=r"SKU OIL-5L in warehouse WH01: requested 4, available 3"):
        order(conn, shop, 4)
    assert stock.allocate_batches(conn, warehouse_id=shop.main, product_id=shop.product_id, quantity=3, at=AT) == [
        stock.Allocation(batch, 3)
    ]
    conn.rollback()


# --- freeze -------------------------------------------------------------------------------------


def test_freeze_and_unfreeze_move_units_in_and_out_of_sale(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 6, date(2026, 12, 1))
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=6, reason="客户投诉 批次待查", at=AT)
    with pytest.raises(InsufficientStock):
        order(conn, shop, 1)
    stock.unfreeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=2, reason="抽检合格", at=AT)
    order(conn, shop, 2)
    assert levels(conn, shop.main, batch) == (6, 2, 4)
    reasons = conn.execute(
        "SELECT movement_type, reason FROM core.stock_movements WHERE frozen_delta <> 0 ORDER BY movement_id"
    ).fetchall()
    assert reasons == [("freeze", "客户投诉 批次待查"), ("unfreeze", "抽检合格")]


def test_freeze_refusals(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 5, date(2026, 12, 1))
    order(conn, shop, 2)
    with pytest.raises(InsufficientStock, match="requested 4, available 3"):
        stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=4, reason="质检", at=AT)
    with pytest.raises(StockOperationRefused, match="reason is required"):
        stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=1, reason="  ", at=AT)
    with pytest.raises(StockOperationRefused, match="must be positive"):
        stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=0, reason="质检", at=AT)
    with pytest.raises(StockOperationRefused, match=r"unfreeze 1 units of SKU OIL-5L batch .* only 0 are frozen"):
        stock.unfreeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=1, reason="误冻", at=AT)
    with pytest.raises(NotFound, match="no stock in warehouse"):
        stock.freeze_stock(conn, warehouse_id=shop.branch, batch_id=batch, quantity=1, reason="质检", at=AT)
    assert levels(conn, shop.main, batch) == (5, 2, 0)


# --- transfer -----------------------------------------------------------------------------------


def test_transfer_moves_free_unexpired_units_earliest_expiry_first_keeping_batch_identity(conn, shop: Shop) -> None:
    expired = receive(conn, shop, 9, TODAY)
    late = receive(conn, shop, 5, date(2026, 12, 1))
    early = receive(conn, shop, 4, date(2026, 8, 1))
    order(conn, shop, 1)  # reserves one unit of `early`
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=early, quantity=1, reason="包装破损待查", at=AT)

    transfer_id = stock.transfer_stock(
        conn, from_warehouse_id=shop.main, to_warehouse_id=shop.branch, product_id=shop.product_id, quantity=4, at=AT
    )
    assert levels(conn, shop.main, early) == (2, 1, 1)
    assert levels(conn, shop.main, late) == (3, 0, 0)
    assert levels(conn, shop.main, expired) == (9, 0, 0)
    assert levels(conn, shop.branch, early) == (2, 0, 0)
    assert levels(conn, shop.branch, late) == (2, 0, 0)
    moved = conn.execute(
        """SELECT movement_type, count(*), sum(on_hand_delta) FROM core.stock_movements
           WHERE transfer_id = %s GROUP BY 1""",
        [transfer_id],
    ).fetchall()
    assert sorted(moved) == [("transfer_in", 2, 4), ("transfer_out", 2, -4)]
    # The moved batch sells at the branch with its own expiry.
    branch_order = order(conn, shop, 1, warehouse=shop.branch)
    assert allocations_of(conn, branch_order) == [(early, 1)]


def test_transfer_refusals(conn, shop: Shop) -> None:
    receive(conn, shop, 3, date(2026, 12, 1))
    receive(conn, shop, 7, TODAY)
    other = open_shop(conn, "M701")
    with pytest.raises(InsufficientStock, match="SKU OIL-5L in warehouse WH01: requested 4, available 3"):
        stock.transfer_stock(
            conn,
            from_warehouse_id=shop.main,
            to_warehouse_id=shop.branch,
            product_id=shop.product_id,
            quantity=4,
            at=AT,
        )
    with pytest.raises(StockOperationRefused, match="two different warehouses"):
        stock.transfer_stock(
            conn, from_warehouse_id=shop.main, to_warehouse_id=shop.main, product_id=shop.product_id, quantity=1, at=AT
        )
    with pytest.raises(StockOperationRefused, match="WH01 belongs to merchant M701: stock moves only between"):
        stock.transfer_stock(
            conn, from_warehouse_id=shop.main, to_warehouse_id=other.main, product_id=shop.product_id, quantity=1, at=AT
        )
    assert conn.execute("SELECT count(*) FROM core.stock_transfers").fetchone() == (0,)


def test_two_transfers_bringing_one_batch_to_a_new_warehouse_queue_instead_of_failing(
    conn, shop: Shop, pg_database_url: str
) -> None:
    batch = receive(conn, shop, 10, date(2026, 12, 1))
    stock.transfer_stock(
        conn, from_warehouse_id=shop.main, to_warehouse_id=shop.branch, product_id=shop.product_id, quantity=4, at=AT
    )
    depot = catalogue.create_warehouse(conn, shop.merchant_id, "WH03", "县城仓", OPENED)
    conn.commit()
    conn.execute("SELECT 1")  # hold the first transfer's transaction open
    stock.transfer_stock(
        conn, from_warehouse_id=shop.main, to_warehouse_id=depot, product_id=shop.product_id, quantity=2, at=AT
    )
    second: list[BaseException | None] = []

    def transfer_from_the_branch() -> None:
        try:
            with psycopg.connect(pg_database_url, autocommit=True) as other:
                stock.transfer_stock(
                    other,
                    from_warehouse_id=shop.branch,
                    to_warehouse_id=depot,
                    product_id=shop.product_id,
                    quantity=3,
                    at=AT,
                )
            second.append(None)
        except BaseException as error:  # judged below, in the test's own thread
            second.append(error)

    thread = threading.Thread(target=transfer_from_the_branch)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "the second transfer should wait for the first to commit"
    conn.commit()
    thread.join(timeout=30)
    assert second == [None]
    assert levels(conn, depot, batch) == (5, 0, 0)
    assert levels(conn, shop.main, batch) == (4, 0, 0)
    assert levels(conn, shop.branch, batch) == (1, 0, 0)


# --- stocktake ----------------------------------------------------------------------------------


def test_stocktake_books_each_difference_and_keeps_what_the_system_said(conn, shop: Shop) -> None:
    short = receive(conn, shop, 10, date(2026, 12, 1))
    over = receive(conn, shop, 4, date(2026, 12, 2))
    exact = receive(conn, shop, 6, date(2026, 12, 3))
    order(conn, shop, 3)
    stocktake_id = stock.record_stocktake(
        conn, warehouse_id=shop.main, counts={short: 7, over: 5, exact: 6}, at=AT, note="月末盘点"
    )
    assert levels(conn, shop.main, short) == (7, 3, 0)
    assert levels(conn, shop.main, over) == (5, 0, 0)
    assert levels(conn, shop.main, exact) == (6, 0, 0)
    lines = conn.execute(
        """SELECT batch_id, system_quantity, counted_quantity FROM core.stocktake_lines
           WHERE stocktake_id = %s ORDER BY batch_id""",
        [stocktake_id],
    ).fetchall()
    assert lines == [(short, 10, 7), (over, 4, 5), (exact, 6, 6)]
    adjustments = conn.execute(
        "SELECT batch_id, on_hand_delta FROM core.stock_movements WHERE stocktake_id = %s ORDER BY batch_id",
        [stocktake_id],
    ).fetchall()
    assert adjustments == [(short, -3), (over, 1)]


def test_stocktake_refusals(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 10, date(2026, 12, 1))
    order(conn, shop, 3)
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=2, reason="质检", at=AT)
    with pytest.raises(StockOperationRefused, match=r"count of 4 for SKU OIL-5L .* below its 3 reserved and 2 frozen"):
        stock.record_stocktake(conn, warehouse_id=shop.main, counts={batch: 4}, at=AT)
    with pytest.raises(StockOperationRefused, match="cannot be negative"):
        stock.record_stocktake(conn, warehouse_id=shop.main, counts={batch: -1}, at=AT)
    with pytest.raises(StockOperationRefused, match="at least one counted batch"):
        stock.record_stocktake(conn, warehouse_id=shop.main, counts={}, at=AT)
    with pytest.raises(NotFound, match=r"^SKU OIL-5L batch \S+ has no stock in warehouse \S+$"):
        stock.record_stocktake(conn, warehouse_id=shop.branch, counts={batch: 1}, at=AT)
    assert conn.execute("SELECT count(*) FROM core.stocktakes").fetchone() == (0,)
    assert levels(conn, shop.main, batch) == (10, 3, 2)


# --- write-offs ---------------------------------------------------------------------------------


def test_damage_write_off_takes_free_or_frozen_units_with_a_reason(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 10, date(2026, 12, 1))
    order(conn, shop, 4)
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=3, reason="漏油待查", at=AT)
    stock.write_off_damage(conn, warehouse_id=shop.main, batch_id=batch, quantity=2, reason="运输破损", at=AT)
    stock.write_off_damage(
        conn, warehouse_id=shop.main, batch_id=batch, quantity=3, reason="漏油 报损", at=AT, from_frozen=True
    )
    assert levels(conn, shop.main, batch) == (5, 4, 0)
    with pytest.raises(InsufficientStock, match="requested 2, available 1"):
        stock.write_off_damage(conn, warehouse_id=shop.main, batch_id=batch, quantity=2, reason="破损", at=AT)
    with pytest.raises(StockOperationRefused, match="only 0 are frozen"):
        stock.write_off_damage(
            conn, warehouse_id=shop.main, batch_id=batch, quantity=1, reason="破损", at=AT, from_frozen=True
        )
    with pytest.raises(StockOperationRefused, match="reason is required"):
        stock.write_off_damage(conn, warehouse_id=shop.main, batch_id=batch, quantity=1, reason="", at=AT)
    assert levels(conn, shop.main, batch) == (5, 4, 0)


def test_expiry_write_off_takes_free_and_frozen_units_of_batches_expired_on_the_date(conn, shop: Shop) -> None:
    expired = receive(conn, shop, 8, TODAY - timedelta(days=3))
    expires_today = receive(conn, shop, 5, TODAY)
    expires_tomorrow = receive(conn, shop, 4, TODAY + timedelta(days=1), warehouse=shop.branch)
    reserved_yesterday = order(conn, shop, 2, at=AT - timedelta(days=1))
    assert allocations_of(conn, reserved_yesterday) == [(expires_today, 2)]
    stock.freeze_stock(conn, warehouse_id=shop.main, batch_id=expired, quantity=1, reason="过期待处理", at=AT)

    written = stock.write_off_expired(conn, merchant_id=shop.merchant_id, at=AT)
    assert set(written) == {
        stock.ExpiredWriteOff(shop.main, expired, 8, 0),
        stock.ExpiredWriteOff(shop.main, expires_today, 3, 2),
    }
    assert levels(conn, shop.main, expired) == (0, 0, 0)
    assert levels(conn, shop.main, expires_today) == (2, 2, 0)
    assert levels(conn, shop.branch, expires_tomorrow) == (4, 0, 0)
    assert stock.write_off_expired(conn, merchant_id=shop.merchant_id, at=AT) == []


# --- returns ------------------------------------------------------------------------------------


def test_return_puts_shipped_units_back_never_more_than_shipped(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 10, date(2026, 12, 1))
    shipped = order(conn, shop, 4)
    not_shipped = order(conn, shop, 1)
    orders.ship_order(conn, shipped, AT + timedelta(hours=5))
    later = AT + timedelta(days=2)
    stock.return_to_stock(
        conn, warehouse_id=shop.main, batch_id=batch, quantity=3, order_id=shipped, at=later, reason="七天无理由"
    )
    # Returned goods may go to another warehouse of the merchant; the batch keeps its identity.
    stock.return_to_stock(conn, warehouse_id=shop.branch, batch_id=batch, quantity=1, order_id=shipped, at=later)
    assert levels(conn, shop.main, batch) == (9, 1, 0)
    assert levels(conn, shop.branch, batch) == (1, 0, 0)
    with pytest.raises(StockOperationRefused, match=r"shipped 4 units of SKU OIL-5L batch .* 4 are back already"):
        stock.return_to_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=1, order_id=shipped, at=later)
    with pytest.raises(StockOperationRefused, match="shipped 0 units"):
        stock.return_to_stock(conn, warehouse_id=shop.main, batch_id=batch, quantity=1, order_id=not_shipped, at=later)
    other = open_shop(conn, "M702")
    with pytest.raises(NotFound, match="does not belong to the merchant of order"):
        stock.return_to_stock(conn, warehouse_id=other.main, batch_id=batch, quantity=1, order_id=shipped, at=later)
    assert levels(conn, shop.main, batch) == (9, 1, 0)


# --- invariants the database enforces without the services --------------------------------------


def raw_movement(conn, shop: Shop, batch: int, movement_type: str, **deltas) -> None:
    stock.record_movement(
        conn,
        merchant_id=shop.merchant_id,
        warehouse_id=shop.main,
        batch_id=batch,
        product_id=shop.product_id,
        movement_type=movement_type,
        on_hand_delta=deltas.pop("on_hand_delta", 0),
        reserved_delta=deltas.pop("reserved_delta", 0),
        at=AT,
        **deltas,
    )


def test_database_refuses_frozen_plus_reserved_above_on_hand(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 5, date(2026, 12, 1))
    order(conn, shop, 3)
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_reserved_within_on_hand"):
        conn.execute(
            """INSERT INTO core.stock_movements (merchant_id, warehouse_id, batch_id, product_id, movement_type,
                   on_hand_delta, reserved_delta, frozen_delta, reason, occurred_at)
               VALUES (%s, %s, %s, %s, 'freeze', 0, 0, 3, 'raw', %s)""",
            [shop.merchant_id, shop.main, batch, shop.product_id, AT],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_frozen_check"):
        raw_movement(conn, shop, batch, "unfreeze", frozen_delta=-1, reason="raw")
    conn.rollback()
    assert levels(conn, shop.main, batch) == (5, 3, 0)


@pytest.mark.parametrize(
    ("movement_type", "deltas", "constraint"),
    [
        ("freeze", {"frozen_delta": 1}, "stock_movements_reason_given"),
        ("freeze", {"frozen_delta": 1, "on_hand_delta": 1, "reason": "x"}, "stock_movements_shape"),
        ("stocktake", {"on_hand_delta": 1}, "stock_movements_stocktake_reference"),
        ("write_off", {"on_hand_delta": 1, "reason": "x"}, "stock_movements_shape"),
        ("return", {"on_hand_delta": 1}, "stock_movements_return_reference"),
        ("receipt", {"on_hand_delta": 1, "frozen_delta": 1}, "stock_movements_shape"),
        ("gift", {"on_hand_delta": 1}, "stock_movements_movement_type_check"),
    ],
)
def test_database_refuses_malformed_movements(conn, shop: Shop, movement_type, deltas, constraint) -> None:
    batch = receive(conn, shop, 5, date(2026, 12, 1))
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        raw_movement(conn, shop, batch, movement_type, **deltas)
    conn.rollback()
    assert levels(conn, shop.main, batch) == (5, 0, 0)


def test_database_refuses_a_transfer_that_creates_stock(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 5, date(2026, 12, 1))
    conn.commit()
    transfer_id = conn.execute(
        """INSERT INTO core.stock_transfers (merchant_id, product_id, from_warehouse_id, to_warehouse_id, quantity,
               transferred_at) VALUES (%s, %s, %s, %s, 5, %s) RETURNING transfer_id""",
        [shop.merchant_id, shop.product_id, shop.main, shop.branch, AT],
    ).fetchone()[0]
    stock.record_movement(
        conn,
        merchant_id=shop.merchant_id,
        warehouse_id=shop.branch,
        batch_id=batch,
        product_id=shop.product_id,
        movement_type="transfer_in",
        on_hand_delta=5,
        reserved_delta=0,
        at=AT,
        transfer_id=transfer_id,
    )
    with pytest.raises(
        psycopg.errors.CheckViolation,
        match=rf"transfer {transfer_id} does not balance: each batch must leave warehouse \d+ as it arrives in "
        r"warehouse \d+, 5 units in all",
    ):
        conn.commit()
    assert conn.execute("SELECT count(*) FROM core.stock WHERE warehouse_id = %s", [shop.branch]).fetchone() == (0,)


def test_database_refuses_returning_more_than_shipped(conn, shop: Shop) -> None:
    batch = receive(conn, shop, 5, date(2026, 12, 1))
    shipped = order(conn, shop, 2)
    orders.ship_order(conn, shipped, AT)
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match=f"exceeds what order {shipped} shipped"):
        raw_movement(conn, shop, batch, "return", on_hand_delta=3, order_id=shipped)
    conn.rollback()
    assert levels(conn, shop.main, batch) == (3, 0, 0)
