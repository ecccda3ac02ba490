"""Customer payments and the receivables credit terms leave open.

A payment is money in from the customer for one order (online, prepaid, cash on delivery, or a
credit order paid when its term falls due): Dr platform_cash / Cr customer_receivable. The payment
that completes an online or prepaid order settles it (`sales.settle_if_due`), in the same
transaction. Nobody
pays more than the order still owes: its total, less what was paid and what refunds cancelled.
The method defaults to the one the order was settled with, else the order's own, else online.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from transactional.errors import InvalidAmount, InvalidTransition
from transactional.money.bulk import insert_rows, reserve_ids
from transactional.money.journal import CUSTOMER_RECEIVABLE, PLATFORM_CASH, EntryDraft, credit, debit, write_entries
from transactional.money.order_facts import (
    PAYMENT_METHODS,
    OrderFacts,
    lock_orders,
    offset_cents_by_order,
    paid_cents_by_order,
)
from transactional.money.rounding import to_amount, to_cents
from transactional.money.sales import settle_if_due
from transactional.stock import business_date

PAYMENT_COLUMNS = (
    ("payment_id", "bigint"),
    ("merchant_id", "bigint"),
    ("order_id", "bigint"),
    ("method", "text"),
    ("amount", "numeric"),
    ("paid_at", "timestamptz"),
    ("reference", "text"),
    ("journal_entry_id", "bigint"),
)


@dataclass(frozen=True)
class PaymentRequest:
    order_id: int
    amount: Decimal
    at: datetime
    method: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Receivable:
    order_id: int
    order_no: str
    customer_id: int
    payment_method: str
    credit_term_days: int | None
    due_date: date
    gross_cents: int
    paid_cents: int
    refunded_against_cents: int
    open_cents: int
    days_overdue: int


def record_payment(
    conn: psycopg.Connection,
    order_id: int,
    amount: Decimal,
    at: datetime,
    *,
    method: str | None = None,
    reference: str | None = None,
) -> int:
    """Record money received for an order; returns the payment id."""
    return record_payments(conn, [PaymentRequest(order_id, amount, at, method, reference)])[0]


def record_payments(conn: psycopg.Connection, requests: Sequence[PaymentRequest]) -> list[int]:
    """Record payments in the requests' order; returns their payment ids in that order."""
    if not requests:
        return []
    with conn.transaction():
        orders = lock_orders(conn, [request.order_id for request in requests])
        order_ids = list(orders)
        settled = dict(
            conn.execute(
                "SELECT order_id, payment_method FROM core.sales WHERE order_id = ANY(%s)", [order_ids]
            ).fetchall()
        )
        owed = _owed_cents(conn, orders)
        payments = []
        for request in requests:
            order = orders[request.order_id]
            cents = _accepted_cents(order, request, owed[order.order_id])
            owed[order.order_id] -= cents
            method = request.method or settled.get(order.order_id) or order.payment_method or "online"
            if method not in PAYMENT_METHODS:
                raise InvalidTransition(f"payment for order {order.order_no}: unknown method {method!r}")
            payments.append((order, request, cents, method))
        entry_ids = write_entries(
            conn,
            [
                EntryDraft(
                    merchant_id=order.merchant_id,
                    entry_type="payment",
                    posted_at=request.at,
                    order_id=order.order_id,
                    memo=f"{method} payment for order {order.order_no}",
                    postings=(debit(PLATFORM_CASH, cents), credit(CUSTOMER_RECEIVABLE, cents)),
                )
                for order, request, cents, method in payments
            ],
        )
        payment_ids = reserve_ids(conn, "payments", "payment_id", len(payments))
        rows = [
            (pid, order.merchant_id, order.order_id, method, to_amount(cents), request.at, request.reference, entry)
            for (order, request, cents, method), pid, entry in zip(payments, payment_ids, entry_ids, strict=True)
        ]
        insert_rows(conn, "payments", PAYMENT_COLUMNS, rows, with_identity=True)
        settle_if_due(conn, {order.order_id: request.at for order, request, _, _ in payments})
    return payment_ids


def _owed_cents(conn: psycopg.Connection, orders: dict[int, OrderFacts]) -> dict[int, int]:
    order_ids = list(orders)
    paid = paid_cents_by_order(conn, order_ids)
    offsets = offset_cents_by_order(conn, order_ids)
    return {
        order_id: order.total_cents - paid.get(order_id, 0) - offsets.get(order_id, 0)
        for order_id, order in orders.items()
    }


def _accepted_cents(order: OrderFacts, request: PaymentRequest, owed_cents: int) -> int:
    if order.imported:
        raise InvalidTransition(f"order {order.order_no} is imported history; it was paid outside the platform")
    if order.status == "cancelled":
        raise InvalidTransition(f"order {order.order_no} is cancelled; it takes no payment")
    cents = to_cents(request.amount, f"payment for order {order.order_no}")
    if cents <= 0:
        raise InvalidAmount(f"payment for order {order.order_no}: the amount must be positive, not {request.amount}")
    if cents > owed_cents:
        raise InvalidAmount(
            f"payment of {to_amount(cents)} CNY for order {order.order_no} is more than the "
            f"{to_amount(max(owed_cents, 0))} CNY it still owes"
        )
    return cents


def open_receivables(conn: psycopg.Connection, merchant_id: int, at: datetime) -> list[Receivable]:
    """Settled orders whose customers still owe something at `at`, earliest due first."""
    rows = conn.execute(
        """WITH paid AS (
               SELECT order_id, (sum(amount) * 100)::bigint AS cents FROM core.payments
               WHERE merchant_id = %(merchant)s AND paid_at <= %(at)s GROUP BY order_id),
           offsets AS (
               SELECT order_id, sum(offset_cents)::bigint AS cents FROM core.refunds
               WHERE merchant_id = %(merchant)s AND refunded_at <= %(at)s GROUP BY order_id)
           SELECT s.order_id, o.order_no, o.customer_id, s.payment_method, s.credit_term_days,
                  s.receivable_due_date, s.gross_cents, coalesce(p.cents, 0), coalesce(f.cents, 0)
           FROM core.sales s
           JOIN core.orders o USING (order_id)
           LEFT JOIN paid p USING (order_id)
           LEFT JOIN offsets f USING (order_id)
           WHERE s.merchant_id = %(merchant)s AND s.settled_at <= %(at)s
             AND s.gross_cents > coalesce(p.cents, 0) + coalesce(f.cents, 0)
           ORDER BY s.receivable_due_date, s.order_id""",
        {"merchant": merchant_id, "at": at},
    ).fetchall()
    today = business_date(at)
    return [
        Receivable(
            order_id=order_id,
            order_no=order_no,
            customer_id=customer_id,
            payment_method=method,
            credit_term_days=term,
            due_date=due,
            gross_cents=gross,
            paid_cents=paid,
            refunded_against_cents=offset,
            open_cents=gross - paid - offset,
            days_overdue=max((today - due).days, 0),
        )
        for order_id, order_no, customer_id, method, term, due, gross, paid, offset in rows
    ]
