"""Platform commission by category, 3%–8%, with its history.

A line's rate is the one in force when its order was placed (`ordered_at`), so a later rate
change never reprices a trade already made: the leaf category's rate, else its parent's, else
its top level's, else the network default. The default is 5% (the middle of the 3%–8% band),
seeded from 2000-01-01 by the migration and changed like any rate, with `category_id=None`.
Rates are append-only: a change is a new row with a later `valid_from`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from transactional.errors import InvalidAmount, NotFound
from transactional.money.rounding import rate_in_ten_thousandths

MIN_RATE = Decimal("0.03")
MAX_RATE = Decimal("0.08")
DEFAULT_RATE = Decimal("0.05")


def rate_in_force_sql(category: str, effective_at: str) -> str:
    """A LATERAL subquery giving `rate`: the rate in force at `effective_at` for the category
    row aliased `category`, walking up to its parent and grandparent, then the default."""
    return f"""LEFT JOIN core.categories rate_parent ON rate_parent.category_id = {category}.parent_id
        LEFT JOIN LATERAL (
            SELECT r.rate FROM core.commission_rates r
            WHERE r.valid_from <= {effective_at}
              AND (r.category_id IS NULL
                   OR r.category_id IN ({category}.category_id, {category}.parent_id, rate_parent.parent_id))
            ORDER BY CASE r.category_id
                         WHEN {category}.category_id THEN 1
                         WHEN {category}.parent_id THEN 2
                         WHEN rate_parent.parent_id THEN 3
                         ELSE 4 END,
                     r.valid_from DESC
            LIMIT 1) rate ON true"""


def set_commission_rate(
    conn: psycopg.Connection,
    *,
    rate: Decimal,
    valid_from: datetime,
    at: datetime,
    category_id: int | None = None,
) -> int:
    """Record a rate for a category (any level; None: the network default) from `valid_from` on."""
    rate = Decimal(rate)
    rate_in_ten_thousandths(rate)
    with conn.transaction():
        category_code = "the network default"
        if category_id is not None:
            row = conn.execute(
                "SELECT category_code FROM core.categories WHERE category_id = %s", [category_id]
            ).fetchone()
            if row is None:
                raise NotFound(f"category {category_id} does not exist")
            category_code = f"category {row[0]}"
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InvalidAmount(
                f"commission rate {rate.normalize():%} for {category_code} is outside {MIN_RATE:%}–{MAX_RATE:%}"
            )
        row = conn.execute(
            """INSERT INTO core.commission_rates (category_id, rate, valid_from, created_at)
               VALUES (%s, %s, %s, %s) RETURNING commission_rate_id""",
            [category_id, rate, valid_from, at],
        ).fetchone()
    assert row is not None
    return int(row[0])


def commission_rate(conn: psycopg.Connection, category_id: int, at: datetime) -> Decimal:
    """The rate a sale in this category would be charged for an order placed at `at`."""
    row = conn.execute(
        f"""SELECT rate.rate FROM core.categories c {rate_in_force_sql("c", "%(at)s")}
            WHERE c.category_id = %(category_id)s""",
        {"at": at, "category_id": category_id},
    ).fetchone()
    if row is None:
        raise NotFound(f"category {category_id} does not exist")
    if row[0] is None:
        raise NotFound(f"no commission rate is in force at {at.isoformat()}")
    return Decimal(row[0])
