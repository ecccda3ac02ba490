"""Sales orders through their lifecycle, each step a function with an explicit time:

received → reviewed (credit checked, stock reserved) → confirmed → picked → shipped
→ [in_transit →] delivered → completed, or cancelled before shipment (reservations released).

The database enforces the same moves (core.order_transitions) and records each one, with its
time and actor, in core.order_events; core.order_sla turns the times into confirm and ship
breach flags. Pricing and discounts follow transactional.promotions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import psycopg

from transactional import limits, prices, promotions
from transactional.errors import CreditLimitExceeded, InvalidRequest, InvalidTransition, NotFound
from transactional.money.order_facts import paid_cents_by_order
from transactional.money.rounding import to_amount
from transactional.money.sales import refund_cancelled_order, settle_if_due
from transactional.stock import Allocation, allocate_batches, record_movement

CANCELLABLE_STATUSES = ("received", "reviewed", "confirmed", "picked")
PAYMENT_METHODS = ("online", "credit", "prepaid", "cod")
CREDIT_TERM_DAYS = (7, 15, 30)
_ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "reviewed": ("received",),
    "confirmed": ("reviewed",),
    "picked": ("confirmed",),
    "shipped": ("picked",),
    "in_transit": ("shipped",),
    "delivered": ("shipped", "in_transit"),
    "completed": ("delivered",),
    "cancelled": CANCELLABLE_STATUSES,
}
_STEP_TIME_COLUMN = {
    "reviewed": "reviewed_at",
    "confirmed": "confirmed_at",
    "picked": "picked_at",
    "shipped": "shipped_at",
    "in_transit": "in_transit_at",
    "delivered": "delivered_at",
    "completed": "completed_at",
    "cancelled": "cancelled_at",
}


@dataclass(frozen=True)
class OrderLineRequest:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None
    discount_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class _Order:
    """An order row locked by this transaction."""

    order_id: int
    merchant_id: int
    order_no: str
    status: str
    customer_id: int
    warehouse_id: int | None
    payment_method: str
    total_amount: Decimal
    last_step_at: datetime


@dataclass(frozen=True)
class _LineToReserve:
    order_line_id: int
    product_id: int
    quantity: int


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
    payment_method: str = "online",
    credit_term_days: int | None = None,
    coupon_code: str | None = None,
    reviewed_at: datetime | None = None,
    confirmed_at: datetime | None = None,
    actor: str | None = None,
) -> int:
    """Receive, review and confirm an order in one transaction; all or nothing.

    The order is received at `at`, reviewed (stock reserved, credit checked) at `reviewed_at`
    and confirmed at `confirmed_at`, both defaulting to the step before. Lines for the same SKU
    are reserved together, so two lines can never each see the same free units. Raises
    InsufficientStock naming the SKU when any line cannot be covered, CreditLimitExceeded or
    CouponRefused.
    """
    review_time = reviewed_at or at
    with conn.transaction():
        order, order_lines = _receive(
            conn,
            merchant_id=merchant_id,
            customer_id=customer_id,
            warehouse_id=warehouse_id,
            lines=lines,
            at=at,
            order_no=order_no,
            payment_method=payment_method,
            credit_term_days=credit_term_days,
            coupon_code=coupon_code,
            actor=actor,
        )
        order = _review(conn, order, review_time, actor, order_lines)
        _move(conn, order, "confirmed", confirmed_at or review_time, actor)
    return order.order_id


def receive_order(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    customer_id: int,
    warehouse_id: int,
    lines: list[OrderLineRequest],
    at: datetime,
    order_no: str | None = None,
    payment_method: str = "online",
    credit_term_days: int | None = None,
    coupon_code: str | None = None,
    actor: str | None = None,
) -> int:
    """Record an order as received: priced with its promotions and coupon, nothing reserved yet."""
    with conn.transaction():
        order, _ = _receive(
            conn,
            merchant_id=merchant_id,
            customer_id=customer_id,
            warehouse_id=warehouse_id,
            lines=lines,
            at=at,
            order_no=order_no,
            payment_method=payment_method,
            credit_term_days=credit_term_days,
            coupon_code=coupon_code,
            actor=actor,
        )
    return order.order_id


def _require_valid_line(line: OrderLineRequest) -> None:
    if line.quantity < 1 or line.discount_amount < 0:
        raise InvalidRequest(
            f"product {line.product_id}: a line needs a positive quantity and no negative discount "
            f"(quantity {line.quantity}, discount {line.discount_amount})"
        )
    # Amounts are whole cents: anything finer would make the stored line differ from the one priced.
    for amount in (line.unit_price, line.discount_amount):
        if amount is not None and amount != amount.quantize(promotions.CENT):
            raise InvalidRequest(f"product {line.product_id}: {amount} has more decimals than cents")


def _require_payment_terms(payment_method: str, credit_term_days: int | None) -> None:
    if payment_method not in PAYMENT_METHODS:
        raise InvalidRequest(f"payment method {payment_method!r} is not one of {', '.join(PAYMENT_METHODS)}")
    if payment_method == "credit" and credit_term_days not in CREDIT_TERM_DAYS:
        raise InvalidRequest(f"a credit order needs credit terms of 7, 15 or 30 days, not {credit_term_days}")
    if payment_method != "credit" and credit_term_days is not None:
        raise InvalidRequest(f"credit terms apply only to credit orders, not to {payment_method} ones")


def _lines_to_price(
    conn: psycopg.Connection, merchant_id: int, customer_id: int, lines: list[OrderLineRequest], at: datetime
) -> list[promotions.LineToPrice]:
    """Each line at its caller's price or else the price rule's (the customer's tier and region)."""
    rows = conn.execute(
        """SELECT cu.region, cu.price_tier, p.product_id,
                  array_remove(ARRAY[c.category_id, c.parent_id, parent.parent_id], NULL)
           FROM core.customers cu
           LEFT JOIN core.products p ON p.merchant_id = cu.merchant_id AND p.product_id = ANY(%s)
           LEFT JOIN core.categories c ON c.category_id = p.category_id
           LEFT JOIN core.categories parent ON parent.category_id = c.parent_id
           WHERE cu.customer_id = %s AND cu.merchant_id = %s""",
        [[line.product_id for line in lines], customer_id, merchant_id],
    ).fetchall()
    if not rows:
        raise NotFound(f"customer {customer_id} does not belong to merchant {merchant_id}")
    region, tier = rows[0][0], rows[0][1]
    categories = {int(product_id): frozenset(int(c) for c in chain) for _, _, product_id, chain in rows if product_id}
    missing = {line.product_id for line in lines} - categories.keys()
    if missing:
        raise NotFound(f"products {sorted(missing)} do not belong to merchant {merchant_id}")
    return [
        promotions.LineToPrice(
            product_id=line.product_id,
            quantity=line.quantity,
            unit_price=line.unit_price
            if line.unit_price is not None
            else prices.quote(
                conn, product_id=line.product_id, quantity=line.quantity, at=at, tier=tier, region=region
            ).unit_price,
            manual_discount=line.discount_amount,
            category_ids=categories[line.product_id],
        )
        for line in lines
    ]


# The numbers the platform gives orders ('SO' || the sequence, padded to 10 digits). A client's own
# number there could be the one the sequence draws next, failing a later request that named none.
GENERATED_ORDER_NO = re.compile(r"SO\d{10}")


def _receive(
    conn: psycopg.Connection,
    *,
    merchant_id: int,
    customer_id: int,
    warehouse_id: int,
    lines: list[OrderLineRequest],
    at: datetime,
    order_no: str | None,
    payment_method: str,
    credit_term_days: int | None,
    coupon_code: str | None,
    actor: str | None,
) -> tuple[_Order, list[_LineToReserve]]:
    """Insert the received order; returns it (locked, being new) and its lines."""
    if not lines:
        raise InvalidTransition("an order needs at least one line")
    if order_no is not None and GENERATED_ORDER_NO.fullmatch(order_no):
        raise InvalidRequest(
            f"order_no {order_no} is in the range the platform numbers orders from ('SO' and 10 digits): "
            "choose another number, or leave order_no out to get the next one"
        )
    for line in lines:
        _require_valid_line(line)
    _require_payment_terms(payment_method, credit_term_days)
    to_price = _lines_to_price(conn, merchant_id, customer_id, lines, at)
    offers = promotions.load_offers(
        conn, merchant_id=merchant_id, customer_id=customer_id, product_ids=[line.product_id for line in lines], at=at
    )
    coupon = (
        promotions.load_coupon(conn, merchant_id=merchant_id, customer_id=customer_id, coupon_code=coupon_code, at=at)
        if coupon_code is not None
        else None
    )
    pricing = promotions.price_order(to_price, offers, coupon)
    total = sum(
        (
            line.unit_price * line.quantity - discount
            for line, discount in zip(to_price, pricing.line_discounts, strict=True)
        ),
        Decimal(0),
    )
    if total > limits.MAX_ORDER_AMOUNT:
        raise InvalidRequest(
            f"the order's total of {total} CNY is above the {limits.MAX_ORDER_AMOUNT} CNY an order may reach"
        )
    _name_actor(conn, actor)
    order_row = conn.execute(
        """INSERT INTO core.orders (merchant_id, order_no, customer_id, warehouse_id, status, ordered_at,
               total_amount, payment_method, credit_term_days, updated_at)
           VALUES (%s, COALESCE(%s, 'SO' || lpad(nextval('core.order_no_seq')::text, 10, '0')),
                   %s, %s, 'received', %s, %s, %s, %s, %s)
           RETURNING order_id, order_no""",
        [merchant_id, order_no, customer_id, warehouse_id, at, total, payment_method, credit_term_days, at],
    ).fetchone()
    assert order_row is not None
    order_id = int(order_row[0])
    line_ids: list[int] = []
    for line_no, (line, discount) in enumerate(zip(to_price, pricing.line_discounts, strict=True), start=1):
        line_row = conn.execute(
            """INSERT INTO core.order_lines (order_id, merchant_id, line_no, product_id, quantity,
                   unit_price, discount_amount)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING order_line_id""",
            [order_id, merchant_id, line_no, line.product_id, line.quantity, line.unit_price, discount],
        ).fetchone()
        assert line_row is not None
        line_ids.append(int(line_row[0]))
    promotions.record_pricing(
        conn,
        merchant_id=merchant_id,
        order_id=order_id,
        customer_id=customer_id,
        line_ids=line_ids,
        pricing=pricing,
        at=at,
    )
    order = _Order(
        order_id, merchant_id, order_row[1], "received", customer_id, warehouse_id, payment_method, total, at
    )
    return order, [
        _LineToReserve(i, line.product_id, line.quantity) for i, line in zip(line_ids, to_price, strict=True)
    ]


def _reserve(conn: psycopg.Connection, order: _Order, at: datetime, lines: list[_LineToReserve] | None) -> None:
    if order.warehouse_id is None:
        raise InvalidTransition(f"order {order.order_no} has no warehouse to reserve stock in")
    if lines is None:
        lines = [
            _LineToReserve(*row)
            for row in conn.execute(
                "SELECT order_line_id, product_id, quantity FROM core.order_lines WHERE order_id = %s ORDER BY line_no",
                [order.order_id],
            ).fetchall()
        ]
    line_ids_by_product: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for line in lines:
        line_ids_by_product[line.product_id].append((line.order_line_id, line.quantity))
    for product_id in sorted(line_ids_by_product):
        product_lines = line_ids_by_product[product_id]
        batches = _allocate_fefo(conn, order.warehouse_id, product_id, sum(q for _, q in product_lines), at)
        _reserve_for_lines(
            conn, order.merchant_id, order.warehouse_id, product_id, order.order_id, product_lines, batches, at
        )


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


def _lock_order(conn: psycopg.Connection, order_id: int) -> _Order:
    row = conn.execute(
        """SELECT order_id, merchant_id, order_no, status, customer_id, warehouse_id, payment_method, total_amount,
                  GREATEST(ordered_at, reviewed_at, confirmed_at, picked_at, shipped_at, in_transit_at, delivered_at,
                           completed_at, cancelled_at)
           FROM core.orders WHERE order_id = %s FOR UPDATE""",
        [order_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    return _Order(*row)


def _name_actor(conn: psycopg.Connection, actor: str | None, note: str | None = None) -> None:
    """Who made the next status change, for its core.order_events row (read by the database trigger)."""
    if actor or note:
        conn.execute(
            "SELECT set_config('coopcast.order_actor', %s, true), set_config('coopcast.order_note', %s, true)",
            [actor or "", note or ""],
        )


def _require_move(order: _Order, to_status: str, at: datetime) -> None:
    allowed = _ALLOWED_FROM[to_status]
    if order.status == to_status:
        raise InvalidTransition(f"order {order.order_no} is {order.status} already")
    if order.status not in allowed:
        if to_status == "cancelled":
            raise InvalidTransition(
                f"order {order.order_no} is {order.status}; it can be cancelled only before shipment"
            )
        raise InvalidTransition(
            f"order {order.order_no} is {order.status}; only an order that is {' or '.join(allowed)} can become "
            f"{to_status}"
        )
    _require_not_before_last_step(order, to_status, at)


def _require_not_before_last_step(order: _Order, to_status: str, at: datetime) -> None:
    if at < order.last_step_at:
        raise InvalidTransition(
            f"order {order.order_no} cannot become {to_status} at {at.isoformat()}, before its last step at "
            f"{order.last_step_at.isoformat()}"
        )


def _refuse_part_paid(conn: psycopg.Connection, order: _Order) -> None:
    """An order paid in part is not settled, so nothing could pay that part back: refused, rather
    than the customer's money kept against a cancelled order."""
    paid_cents = paid_cents_by_order(conn, [order.order_id]).get(order.order_id, 0)
    if paid_cents:
        raise InvalidTransition(
            f"order {order.order_no} has {to_amount(paid_cents)} of its {order.total_amount} CNY paid; a part "
            "payment cannot be refunded on its own: take the rest, then cancel, which refunds the whole"
        )


def _move(
    conn: psycopg.Connection, order: _Order, to_status: str, at: datetime, actor: str | None, note: str | None = None
) -> _Order:
    _require_move(order, to_status, at)
    _name_actor(conn, actor, note)
    conn.execute(
        f"UPDATE core.orders SET status = %s, {_STEP_TIME_COLUMN[to_status]} = %s, updated_at = %s WHERE order_id = %s",
        [to_status, at, at, order.order_id],
    )
    return replace(order, status=to_status, last_step_at=at)


def open_credit_exposure(
    conn: psycopg.Connection, customer_id: int, *, excluding_order_id: int | None = None
) -> Decimal:
    """What a customer owes on credit: its credit orders not cancelled, less what was paid on them
    (core.payments, where that table exists) and refunded by returns, each order at least zero."""
    payments_table = conn.execute("SELECT to_regclass('core.payments') IS NOT NULL").fetchone()
    paid = (
        "(SELECT sum(p.amount) FROM core.payments p WHERE p.order_id = o.order_id)"
        if payments_table and payments_table[0]
        else "0"
    )
    row = conn.execute(
        f"""SELECT COALESCE(sum(GREATEST(o.total_amount - COALESCE({paid}, 0) - COALESCE(refunded.amount, 0), 0)), 0)
            FROM core.orders o
            LEFT JOIN LATERAL (
                SELECT sum(r.refund_amount) AS amount FROM core.returns r
                WHERE r.order_id = o.order_id AND r.status = 'refunded'
            ) refunded ON true
            WHERE o.customer_id = %s AND o.payment_method = 'credit' AND o.status <> 'cancelled'
              AND o.order_id IS DISTINCT FROM %s""",
        [customer_id, excluding_order_id],
    ).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


def _check_credit(conn: psycopg.Connection, order: _Order) -> None:
    """Reviews of one customer's credit orders queue on the customer's row, so two orders cannot
    each fit under the limit that both together exceed."""
    row = conn.execute(
        "SELECT customer_code, credit_limit FROM core.customers WHERE customer_id = %s FOR NO KEY UPDATE",
        [order.customer_id],
    ).fetchone()
    assert row is not None
    customer_code, credit_limit = row
    if credit_limit is None:
        raise CreditLimitExceeded(
            f"customer {customer_code} has no credit line: order {order.order_no} cannot be on credit"
        )
    exposure = open_credit_exposure(conn, order.customer_id, excluding_order_id=order.order_id)
    if exposure + order.total_amount > credit_limit:
        raise CreditLimitExceeded(
            f"order {order.order_no} on credit ({order.total_amount}) would bring customer {customer_code} to "
            f"{exposure + order.total_amount} owed, above the credit limit {credit_limit} ({exposure} open)"
        )


def _review(
    conn: psycopg.Connection,
    order: _Order,
    at: datetime,
    actor: str | None,
    lines: list[_LineToReserve] | None = None,
) -> _Order:
    _require_move(order, "reviewed", at)
    if order.payment_method == "credit":
        _check_credit(conn, order)
    _reserve(conn, order, at, lines)
    return _move(conn, order, "reviewed", at, actor)


def review_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    """Review a received order: check the customer's credit (credit orders) and reserve its stock."""
    with conn.transaction():
        _review(conn, _lock_order(conn, order_id), at, actor)


def confirm_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    with conn.transaction():
        _move(conn, _lock_order(conn, order_id), "confirmed", at, actor)


def pick_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    with conn.transaction():
        _move(conn, _lock_order(conn, order_id), "picked", at, actor)


def _order_allocations(conn: psycopg.Connection, order_id: int) -> list[tuple[int, int, int, int]]:
    return conn.execute(
        """SELECT a.warehouse_id, a.batch_id, l.product_id, a.quantity
           FROM core.order_allocations a JOIN core.order_lines l USING (order_line_id)
           WHERE l.order_id = %s ORDER BY l.product_id, a.batch_id, a.warehouse_id""",
        [order_id],
    ).fetchall()


def ship_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    """Issue the reserved units: on-hand and reserved both fall by the allocated quantities. A
    credit or cash-on-delivery order is settled to its merchant at this moment.

    A confirmed order is picked at the same moment, for callers that do not track picking.
    """
    with conn.transaction():
        order = _lock_order(conn, order_id)
        if order.status == "confirmed":
            _require_not_before_last_step(order, "shipped", at)
            order = _move(conn, order, "picked", at, actor)
        _require_move(order, "shipped", at)
        for warehouse_id, batch_id, product_id, quantity in _order_allocations(conn, order_id):
            record_movement(
                conn,
                merchant_id=order.merchant_id,
                warehouse_id=warehouse_id,
                batch_id=batch_id,
                product_id=product_id,
                movement_type="ship",
                on_hand_delta=-quantity,
                reserved_delta=-quantity,
                at=at,
                order_id=order_id,
            )
        _move(conn, order, "shipped", at, actor)
        settle_if_due(conn, {order_id: at})


def mark_in_transit(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    """The carrier has the parcel (optional: a shipped order may be delivered directly)."""
    with conn.transaction():
        _move(conn, _lock_order(conn, order_id), "in_transit", at, actor)


def deliver_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    """Signed for by the customer: the 7-day no-reason return window runs from here."""
    with conn.transaction():
        _move(conn, _lock_order(conn, order_id), "delivered", at, actor)


def complete_order(conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None) -> None:
    with conn.transaction():
        _move(conn, _lock_order(conn, order_id), "completed", at, actor)


def cancel_order(
    conn: psycopg.Connection, order_id: int, at: datetime, *, actor: str | None = None, reason: str | None = None
) -> None:
    """Cancel before shipment: release the reservation, the flash-sale units and the coupon use,
    and refund a settled order (an online order paid at checkout) whole."""
    with conn.transaction():
        order = _lock_order(conn, order_id)
        _require_move(order, "cancelled", at)
        if refund_cancelled_order(conn, order_id, at) is None:
            _refuse_part_paid(conn, order)
        promotions.release_flash_units(conn, order_id)
        for warehouse_id, batch_id, product_id, quantity in _order_allocations(conn, order_id):
            record_movement(
                conn,
                merchant_id=order.merchant_id,
                warehouse_id=warehouse_id,
                batch_id=batch_id,
                product_id=product_id,
                movement_type="release",
                on_hand_delta=0,
                reserved_delta=-quantity,
                at=at,
                order_id=order_id,
            )
        _move(conn, order, "cancelled", at, actor, reason)
