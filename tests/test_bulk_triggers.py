"""Multi-row statements into the ledger and the orders, as a bulk load writes them: core.stock
and core.order_events are derived once per statement, the final state of each statement is
still judged by the CHECKs, and core.stock_history_violations finds what a statement passed through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.test_stock_operations import Shop, open_shop
from transactional import orders

AT = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    return open_shop(conn, "M810")


def new_batch(conn: psycopg.Connection, shop: Shop, lot_code: str) -> int:
    """A batch with no stock yet, as a bulk load creates batches before their movements."""
    row = conn.execute(
        """INSERT INTO core.batches (merchant_id, product_id, lot_code, received_at, unit_cost, created_at)
           VALUES (%s, %s, %s, %s, 5, %s) RETURNING batch_id""",
        [shop.merchant_id, shop.product_id, lot_code, AT, AT],
    ).fetchone()
    assert row is not None
    return int(row[0])


def insert_movements(
    conn: psycopg.Connection, shop: Shop, movements: list[tuple[int, int, str, int, int, datetime]]
) -> None:
    """One multi-row statement of (warehouse, batch, type, on_hand_delta, reserved_delta, occurred_at)."""
    conn.execute(
        """INSERT INTO core.stock_movements (merchant_id, warehouse_id, batch_id, product_id, movement_type,
               on_hand_delta, reserved_delta, occurred_at)
           SELECT %s, m.warehouse_id, m.batch_id, %s, m.movement_type, m.on_hand_delta, m.reserved_delta,
                  m.occurred_at
           FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::int[], %s::timestamptz[])
                AS m (warehouse_id, batch_id, movement_type, on_hand_delta, reserved_delta, occurred_at)""",
        [shop.merchant_id, shop.product_id, *(list(column) for column in zip(*movements, strict=True))],
    )


def stock_rows(conn: psycopg.Connection, shop: Shop) -> dict[tuple[int, int], tuple]:
    rows = conn.execute(
        """SELECT warehouse_id, batch_id, on_hand, reserved, frozen, updated_at FROM core.stock
           WHERE merchant_id = %s""",
        [shop.merchant_id],
    ).fetchall()
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def violations(conn: psycopg.Connection, merchant_id: int) -> list[tuple]:
    return conn.execute("SELECT * FROM core.stock_history_violations(%s)", [merchant_id]).fetchall()


def test_one_statement_of_movements_into_several_batches_gives_each_stock_row_its_sums(conn, shop: Shop) -> None:
    first, second = new_batch(conn, shop, "L1"), new_batch(conn, shop, "L2")
    insert_movements(
        conn,
        shop,
        [
            (shop.main, first, "receipt", 10, 0, AT),
            (shop.branch, first, "receipt", 4, 0, AT),
            (shop.main, second, "receipt", 7, 0, AT + HOUR),
            (shop.main, first, "reserve", 0, 3, AT + 2 * HOUR),
            (shop.main, first, "ship", -2, -2, AT + 3 * HOUR),
            (shop.main, second, "reserve", 0, 7, AT + HOUR),
        ],
    )
    assert stock_rows(conn, shop) == {
        (shop.main, first): (8, 1, 0, AT + 3 * HOUR),
        (shop.branch, first): (4, 0, 0, AT),
        (shop.main, second): (7, 7, 0, AT + HOUR),
    }
    insert_movements(
        conn, shop, [(shop.main, first, "ship", -1, -1, AT + 4 * HOUR), (shop.main, second, "release", 0, -7, AT)]
    )
    assert stock_rows(conn, shop) == {
        (shop.main, first): (7, 0, 0, AT + 4 * HOUR),
        (shop.branch, first): (4, 0, 0, AT),
        (shop.main, second): (7, 0, 0, AT + HOUR),
    }


def test_a_statement_whose_final_state_breaks_a_check_is_refused_whole(conn, shop: Shop) -> None:
    stocked, fresh = new_batch(conn, shop, "L1"), new_batch(conn, shop, "L2")
    insert_movements(conn, shop, [(shop.main, stocked, "receipt", 5, 0, AT)])
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_on_hand_check"):
        insert_movements(
            conn,
            shop,
            [
                (shop.main, fresh, "receipt", 3, 0, AT + HOUR),
                (shop.main, stocked, "receipt", 2, 0, AT + HOUR),
                (shop.main, stocked, "adjust", -8, 0, AT + 2 * HOUR),
            ],
        )
    conn.rollback()
    assert stock_rows(conn, shop) == {(shop.main, stocked): (5, 0, 0, AT)}
    assert conn.execute("SELECT count(*) FROM core.stock_movements").fetchone() == (1,)


@pytest.mark.parametrize(
    "statement",
    [
        """INSERT INTO core.stock (warehouse_id, batch_id, product_id, merchant_id, on_hand, updated_at)
           SELECT warehouse_id, batch_id, product_id, merchant_id, 1, updated_at FROM core.stock""",
        "UPDATE core.stock SET on_hand = on_hand + 1",
        "DELETE FROM core.stock",
    ],
)
def test_direct_writes_to_stock_are_still_refused(conn, shop: Shop, statement: str) -> None:
    batch = new_batch(conn, shop, "L1")
    insert_movements(conn, shop, [(shop.main, batch, "receipt", 5, 0, AT)])
    conn.commit()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"derived from core\.stock_movements"):
        conn.execute(statement)
    conn.rollback()
    assert stock_rows(conn, shop) == {(shop.main, batch): (5, 0, 0, AT)}


def test_history_check_finds_the_points_a_statement_passed_through_and_nothing_in_a_valid_ledger(
    conn, shop: Shop
) -> None:
    batch = new_batch(conn, shop, "L1")
    # Out of time order in one statement: the reservation and the shipment come before the
    # receipt that covers them, so only the statement's final state (2 on hand) is valid.
    insert_movements(
        conn,
        shop,
        [
            (shop.main, batch, "receipt", 5, 0, AT + 2 * HOUR),
            (shop.main, batch, "reserve", 0, 3, AT),
            (shop.main, batch, "ship", -3, -3, AT + HOUR),
        ],
    )
    assert stock_rows(conn, shop) == {(shop.main, batch): (2, 0, 0, AT + 2 * HOUR)}
    assert violations(conn, shop.merchant_id) == [
        (shop.main, batch, AT, 0, 3, 0),
        (shop.main, batch, AT + HOUR, -3, 0, 0),
    ]

    valid_shop = open_shop(conn, "M811")
    valid_batch = new_batch(conn, valid_shop, "L1")
    insert_movements(
        conn,
        valid_shop,
        [
            (valid_shop.main, valid_batch, "ship", -3, -3, AT + 2 * HOUR),
            (valid_shop.main, valid_batch, "receipt", 5, 0, AT),
            (valid_shop.main, valid_batch, "reserve", 0, 3, AT + HOUR),
        ],
    )
    assert violations(conn, valid_shop.merchant_id) == []


STAGE_TIMES = ("reviewed_at", "confirmed_at", "picked_at", "shipped_at", "in_transit_at", "delivered_at")
STAGE_TIMES += ("completed_at", "cancelled_at")


def insert_orders(conn: psycopg.Connection, shop: Shop, rows: list[tuple[str, str, dict[str, datetime]]]) -> dict:
    """One multi-row statement of (order_no, status, stage times), all ordered at AT; order ids by order_no."""
    stage_columns = ", ".join(STAGE_TIMES)
    stage_arrays = ", ".join(["%s::timestamptz[]"] * len(STAGE_TIMES))
    inserted = conn.execute(
        f"""INSERT INTO core.orders (merchant_id, order_no, customer_id, warehouse_id, status, ordered_at,
                {stage_columns}, total_amount, updated_at)
            SELECT %s, o.order_no, %s, %s, o.status, %s, {stage_columns}, 0, %s
            FROM unnest(%s::text[], %s::text[], {stage_arrays}) AS o (order_no, status, {stage_columns})
            RETURNING order_no, order_id""",
        [
            shop.merchant_id,
            shop.customer_id,
            shop.main,
            AT,
            AT,
            [order_no for order_no, _, _ in rows],
            [status for _, status, _ in rows],
            *([times.get(column) for _, _, times in rows] for column in STAGE_TIMES),
        ],
    ).fetchall()
    return dict(inserted)


def test_orders_inserted_in_bulk_record_the_path_their_times_show(conn, shop: Shop) -> None:
    conn.execute(
        "SELECT set_config('coopcast.order_actor', 'loader', true), set_config('coopcast.order_note', 'history', true)"
    )
    ids = insert_orders(
        conn,
        shop,
        [
            (
                "B1",
                "delivered",
                {"confirmed_at": AT + HOUR, "shipped_at": AT + 2 * HOUR, "delivered_at": AT + 3 * HOUR},
            ),
            ("B2", "cancelled", {"reviewed_at": AT + HOUR, "cancelled_at": AT + 2 * HOUR}),
            # A time beyond the status (a completion not reached yet) is not part of the path.
            ("B3", "shipped", {"shipped_at": AT + HOUR, "completed_at": AT + 2 * HOUR}),
        ],
    )
    recorded = conn.execute(
        """SELECT order_id, from_status, to_status, occurred_at, actor, note FROM core.order_events
           WHERE order_id = ANY(%s) ORDER BY order_event_id""",
        [list(ids.values())],
    ).fetchall()
    delivered, cancelled, shipped = ids["B1"], ids["B2"], ids["B3"]
    assert recorded == [
        (delivered, None, "received", AT, "loader", "history"),
        (delivered, "received", "confirmed", AT + HOUR, "loader", "history"),
        (delivered, "confirmed", "shipped", AT + 2 * HOUR, "loader", "history"),
        (delivered, "shipped", "delivered", AT + 3 * HOUR, "loader", "history"),
        (cancelled, None, "received", AT, "loader", "history"),
        (cancelled, "received", "reviewed", AT + HOUR, "loader", "history"),
        (cancelled, "reviewed", "cancelled", AT + 2 * HOUR, "loader", "history"),
        (shipped, None, "received", AT, "loader", "history"),
        (shipped, "received", "shipped", AT + HOUR, "loader", "history"),
    ]
    assert conn.execute(
        "SELECT current_setting('coopcast.order_actor', true), current_setting('coopcast.order_note', true)"
    ).fetchone() == ("", "")


def test_an_order_placed_by_the_service_still_records_one_event(conn, shop: Shop) -> None:
    batch = new_batch(conn, shop, "L1")
    insert_movements(conn, shop, [(shop.main, batch, "receipt", 5, 0, AT)])
    order_id = orders.receive_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.main,
        lines=[orders.OrderLineRequest(shop.product_id, 2)],
        at=AT + HOUR,
        actor="customer:C0001",
    )
    assert conn.execute(
        "SELECT from_status, to_status, occurred_at, actor, note FROM core.order_events WHERE order_id = %s",
        [order_id],
    ).fetchall() == [(None, "received", AT + HOUR, "customer:C0001", None)]
    assert conn.execute("SELECT current_setting('coopcast.order_actor', true)").fetchone() == ("",)
