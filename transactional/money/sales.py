"""Sales and refunds: what an order's trade owes its merchant, net of the platform's commission.

A sale is posted once per order, when the trade becomes the merchant's: online and prepaid
orders once paid in full, credit and cash-on-delivery orders once shipped. The order's own steps
post it (`settle_if_due`): the payment that completes an online or prepaid order
(`transactional.money.payments`), the shipment of a credit or cash-on-delivery one
(`transactional.orders.ship_order`). Its gross is the order's total; where an order-level
discount makes the total smaller than the sum of its lines, the total is spread over the lines by
rounding rule 3, and each line is charged its category's commission by rule 2
(`transactional.money.rounding`). The receivable it leaves falls due on the delivery date (else
the ship date) plus the credit term: 7, 15 or 30 days for credit, none for cash on delivery.

A settled order cancelled before shipment (an online order paid at checkout) is refunded whole
in the cancellation's transaction (`refund_cancelled_order`).

A refund reverses part of a sale: a named line, or the order spread over its lines by what is
still refundable on each (rule 3); the commission on each line is given back pro rata by rule 4.
The refund first cancels what the customer still owed on the order and pays back the rest.

Batches (`post_sales`, `post_refunds`) are one transaction, all or nothing, with one statement
per table; the single-order functions are batches of one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg

from transactional.errors import InvalidAmount, InvalidTransition, NotFound
from transactional.money.bulk import insert_rows, reserve_ids
from transactional.money.commission import rate_in_force_sql
from transactional.money.journal import (
    COMMISSION_REVENUE,
    CUSTOMER_RECEIVABLE,
    MERCHANT_PAYABLE,
    PLATFORM_CASH,
    EntryDraft,
    credit,
    debit,
    write_entries,
)
from transactional.money.order_facts import (
    CREDIT_TERMS_DAYS,
    PAYMENT_METHODS,
    OrderFacts,
    lock_orders,
    offset_cents_by_order,
    paid_cents_by_order,
)
from transactional.money.periods import refuse_closed_days
from transactional.money.rounding import (
    allocate,
    commission_reversed_cents,
    line_commission_cents,
    to_amount,
    to_cents,
)
from transactional.stock import business_date

SALE_COLUMNS = (
    ("order_id", "bigint"),
    ("merchant_id", "bigint"),
    ("payment_method", "text"),
    ("credit_term_days", "smallint"),
    ("receivable_due_date", "date"),
    ("gross_cents", "bigint"),
    ("settled_at", "timestamptz"),
    ("journal_entry_id", "bigint"),
)
SALE_LINE_COLUMNS = (
    ("order_line_id", "bigint"),
    ("order_id", "bigint"),
    ("merchant_id", "bigint"),
    ("category_id", "bigint"),
    ("commission_rate", "numeric"),
    ("gross_cents", "bigint"),
    ("commission_cents", "bigint"),
)
REFUND_COLUMNS = (
    ("refund_id", "bigint"),
    ("merchant_id", "bigint"),
    ("order_id", "bigint"),
    ("amount_cents", "bigint"),
    ("offset_cents", "bigint"),
    ("cash_cents", "bigint"),
    ("refunded_at", "timestamptz"),
    ("reference", "text"),
    ("reason", "text"),
    ("journal_entry_id", "bigint"),
)
REFUND_LINE_COLUMNS = (
    ("refund_id", "bigint"),
    ("order_line_id", "bigint"),
    ("order_id", "bigint"),
    ("merchant_id", "bigint"),
    ("amount_cents", "bigint"),
    ("commission_cents", "bigint"),
)


SETTLED_WHEN_PAID = ("online", "prepaid")
SETTLED_WHEN_SHIPPED = ("credit", "cod")


@dataclass(frozen=True)
class SaleRequest:
    """Settle `order_id` at `at`; the method and term default to the order's own."""

    order_id: int
    at: datetime
    payment_method: str | None = None
    credit_term_days: int | None = None


@dataclass(frozen=True)
class RefundRequest:
    """Refund `amount` (CNY) of a settled order at `at`, on one line or spread over the order."""

    order_id: int
    amount: Decimal
    at: datetime
    order_line_id: int | None = None
    reference: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _OrderLine:
    order_line_id: int
    category_id: int
    rate: Decimal | None  # None: no rate in force, which _refuse_unsettleable refuses
    amount_cents: int


@dataclass(frozen=True)
class _PricedLine:
    order_line_id: int
    category_id: int
    rate: Decimal
    gross_cents: int
    commission_cents: int


@dataclass(frozen=True)
class _PricedSale:
    order: OrderFacts
    at: datetime
    payment_method: str
    credit_term_days: int | None
    receivable_due_date: date
    lines: tuple[_PricedLine, ...]

    @property
    def gross_cents(self) -> int:
        return sum(line.gross_cents for line in self.lines)

    @property
    def commission_cents(self) -> int:
        return sum(line.commission_cents for line in self.lines)

    def entry(self) -> EntryDraft:
        return EntryDraft(
            merchant_id=self.order.merchant_id,
            entry_type="sale",
            posted_at=self.at,
            order_id=self.order.order_id,
            memo=f"sale of order {self.order.order_no}",
            postings=(
                debit(CUSTOMER_RECEIVABLE, self.gross_cents),
                credit(MERCHANT_PAYABLE, self.gross_cents - self.commission_cents),
                credit(COMMISSION_REVENUE, self.commission_cents),
            ),
        )


def post_sale(
    conn: psycopg.Connection,
    order_id: int,
    at: datetime,
    *,
    payment_method: str | None = None,
    credit_term_days: int | None = None,
) -> int:
    """Settle one order to its merchant; returns the journal entry id."""
    return post_sales(conn, [SaleRequest(order_id, at, payment_method, credit_term_days)])[0]


def settle_if_due(conn: psycopg.Connection, moments: Mapping[int, datetime]) -> list[int]:
    """Settle, each at its moment, those of the orders (order id → the payment or shipment just
    recorded) whose trade has now become the merchant's (module docstring) and that are not settled
    yet; returns the orders settled. Imported history (settled outside the platform) and cancelled
    orders are left alone."""
    if not moments:
        return []
    with conn.transaction():
        orders = lock_orders(conn, list(moments))
        settled = {
            row[0] for row in conn.execute("SELECT order_id FROM core.sales WHERE order_id = ANY(%s)", [list(orders)])
        }
        paid = paid_cents_by_order(conn, list(orders))
        due = [
            order_id
            for order_id, order in orders.items()
            if order_id not in settled and not order.imported and order.status != "cancelled" and _is_due(order, paid)
        ]
        post_sales(conn, [SaleRequest(order_id, moments[order_id]) for order_id in due])
    return due


def _is_due(order: OrderFacts, paid_cents: dict[int, int]) -> bool:
    method = order.payment_method or "online"
    if method in SETTLED_WHEN_SHIPPED:
        return order.shipped_at is not None
    return paid_cents.get(order.order_id, 0) == order.total_cents > 0


def refund_cancelled_order(conn: psycopg.Connection, order_id: int, at: datetime) -> int | None:
    """Refund all a settled order has not had back yet, as its cancellation; returns the refund id,
    or None when the order was never settled or is refunded already."""
    (unrefunded_cents,) = conn.execute(
        "SELECT sum(gross_cents - refunded_cents) FROM core.sale_lines WHERE order_id = %s", [order_id]
    ).fetchone()
    if not unrefunded_cents:
        return None
    return post_refund(conn, order_id, to_amount(unrefunded_cents), at, reason="order cancelled")


def post_sales(conn: psycopg.Connection, requests: Sequence[SaleRequest]) -> list[int]:
    """Settle orders to their merchants; returns the journal entry ids in the requests' order."""
    if not requests:
        return []
    order_ids = [request.order_id for request in requests]
    with conn.transaction():
        orders = lock_orders(conn, order_ids)
        repeated = [orders[order_id].order_no for order_id, n in Counter(order_ids).items() if n > 1]
        if repeated:
            raise InvalidTransition(f"orders {', '.join(repeated)} appear twice in one batch of sales")
        settled = {
            row[0] for row in conn.execute("SELECT order_id FROM core.sales WHERE order_id = ANY(%s)", [order_ids])
        }
        if settled:
            numbers = ", ".join(orders[order_id].order_no for order_id in sorted(settled))
            raise InvalidTransition(f"orders {numbers} are already settled")
        paid = paid_cents_by_order(conn, order_ids)
        lines = _order_lines(conn, order_ids)
        sales = [
            _price_sale(orders[r.order_id], r, lines.get(r.order_id, []), paid.get(r.order_id, 0)) for r in requests
        ]
        refuse_closed_days(
            conn, [(s.order.merchant_id, business_date(s.at), f"the sale of order {s.order.order_no}") for s in sales]
        )
        entry_ids = write_entries(conn, [sale.entry() for sale in sales])
        insert_rows(
            conn,
            "sales",
            SALE_COLUMNS,
            [
                (
                    s.order.order_id,
                    s.order.merchant_id,
                    s.payment_method,
                    s.credit_term_days,
                    s.receivable_due_date,
                    s.gross_cents,
                    s.at,
                    entry_id,
                )
                for s, entry_id in zip(sales, entry_ids, strict=True)
            ],
        )
        insert_rows(
            conn,
            "sale_lines",
            SALE_LINE_COLUMNS,
            [
                (
                    line.order_line_id,
                    s.order.order_id,
                    s.order.merchant_id,
                    line.category_id,
                    line.rate,
                    line.gross_cents,
                    line.commission_cents,
                )
                for s in sales
                for line in s.lines
            ],
        )
    return entry_ids


def _order_lines(conn: psycopg.Connection, order_ids: list[int]) -> dict[int, list[_OrderLine]]:
    """Each line's amount and the commission rate in force for its leaf category when its order
    was placed."""
    rows = conn.execute(
        f"""SELECT l.order_id, l.order_line_id, leaf.category_id, rate.rate, (l.line_amount * 100)::bigint
            FROM core.order_lines l
            JOIN core.orders o ON o.order_id = l.order_id
            JOIN core.products p ON p.product_id = l.product_id
            JOIN core.categories leaf ON leaf.category_id = p.category_id
            {rate_in_force_sql("leaf", "o.ordered_at")}
            WHERE l.order_id = ANY(%s)
            ORDER BY l.order_id, l.line_no""",
        [order_ids],
    ).fetchall()
    lines: dict[int, list[_OrderLine]] = {}
    for order_id, *line in rows:
        lines.setdefault(order_id, []).append(_OrderLine(*line))
    return lines


def _payment_terms(order: OrderFacts, request: SaleRequest) -> tuple[str, int | None]:
    if request.payment_method and order.payment_method and request.payment_method != order.payment_method:
        raise InvalidTransition(
            f"order {order.order_no} is paid by {order.payment_method}, not {request.payment_method}"
        )
    method = request.payment_method or order.payment_method or "online"
    if method not in PAYMENT_METHODS:
        raise InvalidTransition(f"order {order.order_no}: unknown payment method {method!r}")
    if request.credit_term_days and order.credit_term_days and request.credit_term_days != order.credit_term_days:
        raise InvalidTransition(
            f"order {order.order_no} has a credit term of {order.credit_term_days} days, not {request.credit_term_days}"
        )
    term = request.credit_term_days or order.credit_term_days
    if method == "credit" and term not in CREDIT_TERMS_DAYS:
        raise InvalidTransition(f"order {order.order_no} is on credit but has no credit term of 7, 15 or 30 days")
    if method != "credit" and term is not None:
        raise InvalidTransition(f"order {order.order_no} is paid by {method}; only credit orders have a credit term")
    return method, term


def _refuse_unsettleable(order: OrderFacts, method: str, paid_cents: int, lines: list[_OrderLine]) -> None:
    if order.imported:
        raise InvalidTransition(f"order {order.order_no} is imported history; it was settled outside the platform")
    if order.status == "cancelled":
        raise InvalidTransition(f"order {order.order_no} is cancelled; there is no sale to settle")
    if method in SETTLED_WHEN_PAID and paid_cents != order.total_cents:
        raise InvalidTransition(
            f"order {order.order_no} is paid {to_amount(paid_cents)} of {to_amount(order.total_cents)} CNY; "
            f"{method} orders are settled once paid in full"
        )
    if method in SETTLED_WHEN_SHIPPED and order.shipped_at is None:
        raise InvalidTransition(f"order {order.order_no} has not shipped; {method} orders are settled at shipment")
    if not lines:
        raise InvalidTransition(f"order {order.order_no} has no lines to charge commission on")
    if any(line.rate is None for line in lines):
        raise NotFound(f"no commission rate was in force when order {order.order_no} was placed")


def _price_sale(order: OrderFacts, request: SaleRequest, lines: list[_OrderLine], paid_cents: int) -> _PricedSale:
    method, term = _payment_terms(order, request)
    _refuse_unsettleable(order, method, paid_cents, lines)
    grosses = allocate(order.total_cents, [line.amount_cents for line in lines])
    priced = tuple(
        _PricedLine(line.order_line_id, line.category_id, line.rate, gross, line_commission_cents(gross, line.rate))
        for line, gross in zip(lines, grosses, strict=True)
    )
    if method in SETTLED_WHEN_PAID:
        due = business_date(request.at)
    else:  # shipped, as _refuse_unsettleable made sure
        handed_over = order.delivered_at or order.shipped_at
        due = business_date(handed_over) + timedelta(days=term or 0)
    return _PricedSale(order, request.at, method, term, due, priced)


@dataclass
class _RefundableLine:
    order_line_id: int
    line_no: int
    gross_cents: int
    commission_cents: int
    refunded_cents: int
    commission_refunded_cents: int

    @property
    def refundable_cents(self) -> int:
        return self.gross_cents - self.refunded_cents

    def refund(self, cents: int) -> int:
        """Refund `cents` of this line; returns the commission given back (rule 4)."""
        self.refunded_cents += cents
        reversed_total = commission_reversed_cents(self.commission_cents, self.gross_cents, self.refunded_cents)
        share = reversed_total - self.commission_refunded_cents
        self.commission_refunded_cents = reversed_total
        return share


@dataclass
class _RefundableOrder:
    order: OrderFacts
    settled_at: datetime
    owed_cents: int
    lines: list[_RefundableLine] = field(default_factory=list)

    def line(self, order_line_id: int) -> _RefundableLine:
        for line in self.lines:
            if line.order_line_id == order_line_id:
                return line
        raise NotFound(f"order line {order_line_id} is not a line of order {self.order.order_no}")


@dataclass(frozen=True)
class _PlannedRefund:
    request: RefundRequest
    order: OrderFacts
    amount_cents: int
    offset_cents: int
    lines: tuple[tuple[int, int, int], ...]  # (order_line_id, amount_cents, commission_cents)

    @property
    def commission_cents(self) -> int:
        return sum(commission for _, _, commission in self.lines)

    def entry(self) -> EntryDraft:
        return EntryDraft(
            merchant_id=self.order.merchant_id,
            entry_type="refund",
            posted_at=self.request.at,
            order_id=self.order.order_id,
            memo=" ".join(filter(None, ["refund on order", self.order.order_no, self.request.reference])),
            postings=(
                debit(MERCHANT_PAYABLE, self.amount_cents - self.commission_cents),
                debit(COMMISSION_REVENUE, self.commission_cents),
                credit(CUSTOMER_RECEIVABLE, self.offset_cents),
                credit(PLATFORM_CASH, self.amount_cents - self.offset_cents),
            ),
        )


def post_refund(
    conn: psycopg.Connection,
    order_id: int,
    amount: Decimal,
    at: datetime,
    *,
    order_line_id: int | None = None,
    reference: str | None = None,
    reason: str | None = None,
) -> int:
    """Refund part of a settled order; returns the refund id."""
    return post_refunds(conn, [RefundRequest(order_id, amount, at, order_line_id, reference, reason)])[0]


def post_refunds(conn: psycopg.Connection, requests: Sequence[RefundRequest]) -> list[int]:
    """Refund settled orders, in the requests' order (later refunds of an order see the earlier
    ones); returns the refund ids in that order."""
    if not requests:
        return []
    with conn.transaction():
        orders = lock_orders(conn, [request.order_id for request in requests])
        refundable = _refundable_orders(conn, orders)
        _refuse_reused_references(conn, requests, orders)
        dated = [(orders[r.order_id], business_date(r.at)) for r in requests]
        refuse_closed_days(conn, [(o.merchant_id, day, f"a refund on order {o.order_no}") for o, day in dated])
        planned = [_plan_refund(refundable[r.order_id], r) for r in requests]
        refund_ids = reserve_ids(conn, "refunds", "refund_id", len(planned))
        entry_ids = write_entries(conn, [refund.entry() for refund in planned])
        insert_rows(
            conn,
            "refunds",
            REFUND_COLUMNS,
            [
                (
                    refund_id,
                    p.order.merchant_id,
                    p.order.order_id,
                    p.amount_cents,
                    p.offset_cents,
                    p.amount_cents - p.offset_cents,
                    p.request.at,
                    p.request.reference,
                    p.request.reason,
                    entry_id,
                )
                for p, refund_id, entry_id in zip(planned, refund_ids, entry_ids, strict=True)
            ],
            with_identity=True,
        )
        insert_rows(
            conn,
            "refund_lines",
            REFUND_LINE_COLUMNS,
            [
                (refund_id, order_line_id, p.order.order_id, p.order.merchant_id, cents, commission)
                for p, refund_id in zip(planned, refund_ids, strict=True)
                for order_line_id, cents, commission in p.lines
            ],
        )
    return refund_ids


def _refundable_orders(conn: psycopg.Connection, orders: dict[int, OrderFacts]) -> dict[int, _RefundableOrder]:
    order_ids = list(orders)
    sales = {
        order_id: (settled_at, gross_cents)
        for order_id, settled_at, gross_cents in conn.execute(
            "SELECT order_id, settled_at, gross_cents FROM core.sales WHERE order_id = ANY(%s)", [order_ids]
        ).fetchall()
    }
    unsettled = [orders[order_id].order_no for order_id in order_ids if order_id not in sales]
    if unsettled:
        raise InvalidTransition(f"orders {', '.join(unsettled)} are not settled; there is nothing to refund")
    paid = paid_cents_by_order(conn, order_ids)
    offsets = offset_cents_by_order(conn, order_ids)
    refundable = {
        order_id: _RefundableOrder(
            orders[order_id], settled_at, gross_cents - paid.get(order_id, 0) - offsets.get(order_id, 0)
        )
        for order_id, (settled_at, gross_cents) in sales.items()
    }
    for row in conn.execute(
        """SELECT s.order_id, s.order_line_id, l.line_no, s.gross_cents, s.commission_cents, s.refunded_cents,
                  s.commission_refunded_cents
           FROM core.sale_lines s JOIN core.order_lines l USING (order_line_id)
           WHERE s.order_id = ANY(%s) ORDER BY s.order_id, l.line_no""",
        [order_ids],
    ).fetchall():
        refundable[row[0]].lines.append(_RefundableLine(*row[1:]))
    return refundable


def _refuse_reused_references(
    conn: psycopg.Connection, requests: Sequence[RefundRequest], orders: dict[int, OrderFacts]
) -> None:
    keys = [(orders[r.order_id].merchant_id, r.reference) for r in requests if r.reference is not None]
    if not keys:
        return
    repeated = [reference for (_, reference), n in Counter(keys).items() if n > 1]
    used = conn.execute(
        """SELECT r.reference FROM core.refunds r
           JOIN unnest(%s::bigint[], %s::text[]) AS k(merchant_id, reference) USING (merchant_id, reference)""",
        [[merchant_id for merchant_id, _ in keys], [reference for _, reference in keys]],
    ).fetchall()
    refused = sorted(set(repeated) | {row[0] for row in used})
    if refused:
        raise InvalidTransition(f"refund references {', '.join(refused)} are already used")


def _plan_refund(refundable: _RefundableOrder, request: RefundRequest) -> _PlannedRefund:
    order = refundable.order
    cents = to_cents(request.amount, f"refund on order {order.order_no}")
    if cents <= 0:
        raise InvalidAmount(f"refund on order {order.order_no}: the amount must be positive, not {request.amount}")
    if request.at < refundable.settled_at:
        raise InvalidTransition(
            f"refund on order {order.order_no} is dated {request.at.isoformat()}, "
            f"before the order was settled at {refundable.settled_at.isoformat()}"
        )
    if request.order_line_id is not None:
        targets = [refundable.line(request.order_line_id)]
        shares = [cents]
        where = f"line {targets[0].line_no} of order {order.order_no}"
    else:
        targets = refundable.lines
        shares = allocate(cents, [line.refundable_cents for line in targets])
        where = f"order {order.order_no}"
    still_refundable = sum(line.refundable_cents for line in targets)
    if cents > still_refundable:
        raise InvalidAmount(
            f"refund of {to_amount(cents)} CNY on {where} is more than the "
            f"{to_amount(still_refundable)} CNY still refundable"
        )
    lines = tuple(
        (line.order_line_id, share, line.refund(share)) for line, share in zip(targets, shares, strict=True) if share
    )
    offset = min(cents, max(refundable.owed_cents, 0))
    refundable.owed_cents -= offset
    return _PlannedRefund(request, order, cents, offset, lines)
