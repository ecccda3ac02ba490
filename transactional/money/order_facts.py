"""What the money ledger needs to know about orders, read under a row lock.

The payment method, credit term, delivery time and source columns belong to the order
lifecycle and the import; where a database predates them, orders are taken as online payments
made on the platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from transactional.errors import NotFound

PAYMENT_METHODS = ("online", "credit", "prepaid", "cod")
CREDIT_TERMS_DAYS = (7, 15, 30)
OPTIONAL_COLUMNS = ("delivered_at", "payment_method", "credit_term_days", "source")


@dataclass(frozen=True)
class OrderFacts:
    order_id: int
    merchant_id: int
    order_no: str
    status: str
    ordered_at: datetime
    shipped_at: datetime | None
    total_cents: int
    delivered_at: datetime | None
    payment_method: str | None
    credit_term_days: int | None
    source: str | None

    @property
    def imported(self) -> bool:
        return self.source == "import"


def _present_optional_columns(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        """SELECT attname FROM pg_attribute
           WHERE attrelid = 'core.orders'::regclass AND attnum > 0 AND NOT attisdropped AND attname = ANY(%s)""",
        [list(OPTIONAL_COLUMNS)],
    ).fetchall()
    return {row[0] for row in rows}


def lock_orders(conn: psycopg.Connection, order_ids: Iterable[int]) -> dict[int, OrderFacts]:
    """Lock the orders (in id order, so concurrent batches queue instead of deadlocking) and read
    them; raises NotFound naming the ids that do not exist."""
    wanted = sorted(set(order_ids))
    present = _present_optional_columns(conn)
    optional = sql.SQL(", ").join(
        sql.Identifier(column) if column in present else sql.SQL("NULL AS {}").format(sql.Identifier(column))
        for column in OPTIONAL_COLUMNS
    )
    query = sql.SQL(
        """SELECT order_id, merchant_id, order_no, status, ordered_at, shipped_at, (total_amount * 100)::bigint,
                  {optional}
           FROM core.orders WHERE order_id = ANY(%s) ORDER BY order_id FOR NO KEY UPDATE"""
    ).format(optional=optional)
    facts = {row[0]: OrderFacts(*row) for row in conn.execute(query, [wanted]).fetchall()}
    missing = [order_id for order_id in wanted if order_id not in facts]
    if missing:
        raise NotFound(f"orders {missing} do not exist")
    return facts


def paid_cents_by_order(conn: psycopg.Connection, order_ids: list[int]) -> dict[int, int]:
    rows = conn.execute(
        "SELECT order_id, (sum(amount) * 100)::bigint FROM core.payments WHERE order_id = ANY(%s) GROUP BY order_id",
        [order_ids],
    ).fetchall()
    return {order_id: int(cents) for order_id, cents in rows}


def offset_cents_by_order(conn: psycopg.Connection, order_ids: list[int]) -> dict[int, int]:
    """Refunds set against what the customer still owed, per order."""
    rows = conn.execute(
        "SELECT order_id, sum(offset_cents) FROM core.refunds WHERE order_id = ANY(%s) GROUP BY order_id",
        [order_ids],
    ).fetchall()
    return {order_id: int(cents) for order_id, cents in rows}
