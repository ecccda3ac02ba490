"""Settlement periods in business dates (Asia/Shanghai), and the days statements have closed.

- daily: one day;
- weekly: Monday to Sunday (the platform settles last week's trades every Monday);
- monthly: a calendar month.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import psycopg

from transactional.errors import InvalidRequest, PeriodClosed
from transactional.stock import BUSINESS_TIMEZONE

KINDS = ("daily", "weekly", "monthly")


def period_end(kind: str, period_start: date) -> date:
    """The last day of the period starting on `period_start`; refuses a start the kind cannot have."""
    if kind == "daily":
        return period_start
    if kind == "weekly":
        if period_start.weekday() != 0:
            raise InvalidRequest(f"a weekly statement starts on a Monday; period_start {period_start} is not one")
        return period_start + timedelta(days=6)
    if kind == "monthly":
        if period_start.day != 1:
            raise InvalidRequest(f"a monthly statement starts on the 1st; period_start {period_start} does not")
        next_month = (period_start + timedelta(days=31)).replace(day=1)
        return next_month - timedelta(days=1)
    raise InvalidRequest(f"unknown statement kind {kind!r}: expected one of {', '.join(KINDS)}")


def last_complete_period(kind: str, business_day: date) -> date:
    """The start of the latest period of `kind` that has ended before `business_day`."""
    if kind == "daily":
        return business_day - timedelta(days=1)
    if kind == "weekly":
        return business_day - timedelta(days=business_day.weekday() + 7)
    if kind == "monthly":
        return (business_day.replace(day=1) - timedelta(days=1)).replace(day=1)
    raise InvalidRequest(f"unknown statement kind {kind!r}: expected one of {', '.join(KINDS)}")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TIMEZONE)


def refuse_closed_days(conn: psycopg.Connection, postings: Sequence[tuple[int, date, str]]) -> None:
    """Refuse (merchant_id, business day, what) postings into a day an issued statement covers.

    PostgreSQL refuses them too; this names the order or refund in the message.
    """
    if not postings:
        return
    row = conn.execute(
        """SELECT p.ordinality, s.kind, s.period_start, s.period_end
           FROM unnest(%s::bigint[], %s::date[]) WITH ORDINALITY AS p(merchant_id, day, ordinality)
           JOIN core.settlement_statements s
             ON s.merchant_id = p.merchant_id AND p.day BETWEEN s.period_start AND s.period_end
           ORDER BY p.ordinality LIMIT 1""",
        [[merchant_id for merchant_id, _, _ in postings], [day for _, day, _ in postings]],
    ).fetchone()
    if row is not None:
        ordinality, kind, start, end = row
        _, day, what = postings[ordinality - 1]
        raise PeriodClosed(f"{what} is dated {day}, which the {kind} statement for {start} to {end} already covers")
