"""Settlement statements and payouts.

A statement sums, for one merchant and one period (daily, weekly Monday–Sunday, monthly; see
`periods`), the sales and refunds posted in it: gross sales, commission, refunds, commission
given back, and the net payable = gross − commission − refunds + commission given back. It lists
the journal entries it covers; none appears in two statements of the same kind.

Statements are generated once a period has ended, by `generate_statement` for a given period or
by `generate_due_statements` for the periods ending just before `at` (yesterday; last week on a
Monday; last month on the 1st). Generating again returns the statement already issued, never a
second one; once issued, its days are closed to new sales and refunds, so it can never be
incomplete. Empty statements are issued too: they close their days all the same.

The payout falls due T+1 or T+3 working days (the merchant's `payout_working_days`) after the
period's last day T, counted on the Chinese working calendar of `calendar`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg

from transactional.errors import InvalidAmount, InvalidTransition, NotFound
from transactional.money.bulk import insert_rows, reserve_ids
from transactional.money.calendar import add_working_days
from transactional.money.journal import MERCHANT_PAYABLE, PLATFORM_CASH, EntryDraft, credit, debit, write_entries
from transactional.money.journal import payable_balance_cents as journal_payable_balance_cents
from transactional.money.periods import day_start, last_complete_period, period_end
from transactional.money.rounding import to_amount, to_cents
from transactional.stock import BUSINESS_TIMEZONE, business_date

PAYOUT_WORKING_DAYS = (1, 3)
STATEMENT_ENTRY_COLUMNS = (
    ("kind", "text"),
    ("journal_entry_id", "bigint"),
    ("settlement_statement_id", "bigint"),
    ("merchant_id", "bigint"),
    ("entry_type", "text"),
)
PAYOUT_COLUMNS = (
    ("payout_id", "bigint"),
    ("merchant_id", "bigint"),
    ("amount_cents", "bigint"),
    ("paid_at", "timestamptz"),
    ("settlement_statement_id", "bigint"),
    ("reference", "text"),
    ("journal_entry_id", "bigint"),
)


@dataclass(frozen=True)
class Statement:
    statement_id: int
    merchant_id: int
    kind: str
    period_start: date
    period_end: date
    order_count: int
    refund_count: int
    gross_sales_cents: int
    commission_cents: int
    refunds_cents: int
    commission_refunded_cents: int
    net_payable_cents: int
    payout_working_days: int
    payout_due_date: date
    generated_at: datetime
    order_ids: tuple[int, ...]
    refund_ids: tuple[int, ...]


def set_payout_working_days(conn: psycopg.Connection, merchant_id: int, working_days: int, at: datetime) -> None:
    """Pay this merchant T+1 or T+3 working days after each period; later statements use it."""
    if working_days not in PAYOUT_WORKING_DAYS:
        raise InvalidTransition(f"payouts are T+1 or T+3 working days, not T+{working_days}")
    with conn.transaction():
        updated = conn.execute(
            "UPDATE core.merchants SET payout_working_days = %s, updated_at = %s WHERE merchant_id = %s",
            [working_days, at, merchant_id],
        )
        if updated.rowcount == 0:
            raise NotFound(f"merchant {merchant_id} does not exist")


def _lock_statements_of(conn: psycopg.Connection, merchant_id: int) -> None:
    """Exclusive against every sale and refund being posted for the merchant (they take the
    shared side in the journal's trigger), so none commits into a period while its statement
    is being written."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('core.settlement_statements'), core.settlement_lock_key(%s))",
        [merchant_id],
    )


def generate_statement(
    conn: psycopg.Connection,
    merchant_id: int,
    kind: str,
    period_start: date,
    at: datetime,
    *,
    now: datetime | None = None,
) -> Statement:
    """Issue the merchant's statement of `kind` for the period starting `period_start`, or
    return the one already issued. The period must have ended by `at` (business date) and by
    `now`, the real time (default: the server's clock; a simulation of future trading passes its
    own), since an issued statement closes its days: one dated ahead would refuse the sales and
    refunds still to come in a period that is not over."""
    last_day = period_end(kind, period_start)
    settled_on = business_date(min(at, now or datetime.now(UTC)))
    if settled_on <= last_day:
        raise InvalidTransition(
            f"the {kind} period {period_start} to {last_day} has not ended on {settled_on}; "
            "it can be settled from the next day"
        )
    with conn.transaction():
        _lock_statements_of(conn, merchant_id)
        existing = conn.execute(
            """SELECT settlement_statement_id FROM core.settlement_statements
               WHERE merchant_id = %s AND kind = %s AND period_start = %s""",
            [merchant_id, kind, period_start],
        ).fetchone()
        if existing is not None:
            return get_statement(conn, existing[0])
        settings = conn.execute(
            "SELECT payout_working_days FROM core.merchants WHERE merchant_id = %s", [merchant_id]
        ).fetchone()
        if settings is None:
            raise NotFound(f"merchant {merchant_id} does not exist")
        statement_id = _issue(conn, merchant_id, kind, period_start, last_day, settings[0], at)
        return get_statement(conn, statement_id)


def _issue(
    conn: psycopg.Connection,
    merchant_id: int,
    kind: str,
    first_day: date,
    last_day: date,
    payout_working_days: int,
    at: datetime,
) -> int:
    window = {"merchant": merchant_id, "from": day_start(first_day), "to": day_start(last_day + timedelta(days=1))}
    sales = conn.execute(
        """SELECT s.journal_entry_id, s.gross_cents, sum(l.commission_cents)::bigint
           FROM core.sales s JOIN core.sale_lines l USING (order_id)
           WHERE s.merchant_id = %(merchant)s AND s.settled_at >= %(from)s AND s.settled_at < %(to)s
           GROUP BY s.order_id""",
        window,
    ).fetchall()
    refunds = conn.execute(
        """SELECT r.journal_entry_id, r.amount_cents, sum(l.commission_cents)::bigint
           FROM core.refunds r JOIN core.refund_lines l USING (refund_id)
           WHERE r.merchant_id = %(merchant)s AND r.refunded_at >= %(from)s AND r.refunded_at < %(to)s
           GROUP BY r.refund_id""",
        window,
    ).fetchall()
    gross = sum(row[1] for row in sales)
    commission = sum(row[2] for row in sales)
    refunded = sum(row[1] for row in refunds)
    commission_refunded = sum(row[2] for row in refunds)
    row = conn.execute(
        """INSERT INTO core.settlement_statements (merchant_id, kind, period_start, period_end, order_count,
               refund_count, gross_sales_cents, commission_cents, refunds_cents, commission_refunded_cents,
               net_payable_cents, payout_working_days, payout_due_date, generated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING settlement_statement_id""",
        [
            merchant_id,
            kind,
            first_day,
            last_day,
            len(sales),
            len(refunds),
            gross,
            commission,
            refunded,
            commission_refunded,
            gross - commission - refunded + commission_refunded,
            payout_working_days,
            add_working_days(last_day, payout_working_days),
            at,
        ],
    ).fetchone()
    assert row is not None
    statement_id = int(row[0])
    covered = [(entry_id, "sale") for entry_id, _, _ in sales] + [(entry_id, "refund") for entry_id, _, _ in refunds]
    insert_rows(
        conn,
        "settlement_statement_entries",
        STATEMENT_ENTRY_COLUMNS,
        [(kind, entry_id, statement_id, merchant_id, entry_type) for entry_id, entry_type in covered],
    )
    return statement_id


def get_statement(conn: psycopg.Connection, statement_id: int) -> Statement:
    row = conn.execute(
        """SELECT settlement_statement_id, merchant_id, kind, period_start, period_end, order_count, refund_count,
                  gross_sales_cents, commission_cents, refunds_cents, commission_refunded_cents, net_payable_cents,
                  payout_working_days, payout_due_date, generated_at
           FROM core.settlement_statements WHERE settlement_statement_id = %s""",
        [statement_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"settlement statement {statement_id} does not exist")
    order_ids = conn.execute(
        """SELECT s.order_id FROM core.settlement_statement_entries e JOIN core.sales s USING (journal_entry_id)
           WHERE e.settlement_statement_id = %s ORDER BY s.order_id""",
        [statement_id],
    ).fetchall()
    refund_ids = conn.execute(
        """SELECT r.refund_id FROM core.settlement_statement_entries e JOIN core.refunds r USING (journal_entry_id)
           WHERE e.settlement_statement_id = %s ORDER BY r.refund_id""",
        [statement_id],
    ).fetchall()
    return Statement(
        *row,
        order_ids=tuple(order_id for (order_id,) in order_ids),
        refund_ids=tuple(refund_id for (refund_id,) in refund_ids),
    )


def generate_due_statements(
    conn: psycopg.Connection, at: datetime, merchant_ids: Sequence[int] | None = None
) -> list[Statement]:
    """The statements whose periods ended just before `at`'s business date, for every merchant
    (or those named): yesterday's daily; on a Monday last week's; on the 1st last month's."""
    today = business_date(at)
    kinds = ["daily"] + (["weekly"] if today.weekday() == 0 else []) + (["monthly"] if today.day == 1 else [])
    if merchant_ids is None:
        merchant_ids = [row[0] for row in conn.execute("SELECT merchant_id FROM core.merchants ORDER BY 1")]
    return [
        generate_statement(conn, merchant_id, kind, last_complete_period(kind, today), at)
        for merchant_id in merchant_ids
        for kind in kinds
    ]


def unsettled_weeks(conn: psycopg.Connection, last_week: date) -> list[tuple[int, date]]:
    """(merchant_id, Monday) of every week up to `last_week` without a weekly statement, from the
    week each merchant was registered in: a merchant registered after a week has nothing to
    settle in it."""
    rows = conn.execute(
        """SELECT m.merchant_id, week::date
           FROM core.merchants m
           CROSS JOIN LATERAL generate_series(
               date_trunc('week', (m.created_at AT TIME ZONE %(zone)s)::date), %(last_week)s::date, interval '7 days'
           ) AS week
           WHERE NOT EXISTS (
               SELECT 1 FROM core.settlement_statements s
               WHERE s.merchant_id = m.merchant_id AND s.kind = 'weekly' AND s.period_start = week::date
           )
           ORDER BY 1, 2""",
        {"zone": str(BUSINESS_TIMEZONE), "last_week": last_week},
    )
    return [(merchant_id, week) for merchant_id, week in rows]


def post_payout(
    conn: psycopg.Connection,
    merchant_id: int,
    amount: Decimal,
    at: datetime,
    *,
    statement_id: int | None = None,
    reference: str | None = None,
) -> int:
    """Pay the merchant out of what it is owed at `at`; returns the payout id."""
    with conn.transaction():
        # Serialises payouts per merchant, so two cannot both pass the balance check.
        merchant = conn.execute(
            "SELECT merchant_code FROM core.merchants WHERE merchant_id = %s FOR NO KEY UPDATE", [merchant_id]
        ).fetchone()
        if merchant is None:
            raise NotFound(f"merchant {merchant_id} does not exist")
        cents = to_cents(amount, f"payout to merchant {merchant[0]}")
        if cents <= 0:
            raise InvalidAmount(f"payout to merchant {merchant[0]}: the amount must be positive, not {amount}")
        owed = journal_payable_balance_cents(conn, merchant_id, at)
        if cents > owed:
            raise InvalidAmount(
                f"payout of {to_amount(cents)} CNY to merchant {merchant[0]} is more than the "
                f"{to_amount(max(owed, 0))} CNY it is owed at {at.isoformat()}"
            )
        [entry_id] = write_entries(
            conn,
            [
                EntryDraft(
                    merchant_id=merchant_id,
                    entry_type="payout",
                    posted_at=at,
                    memo=f"payout to merchant {merchant[0]}" + (f" ({reference})" if reference else ""),
                    postings=(debit(MERCHANT_PAYABLE, cents), credit(PLATFORM_CASH, cents)),
                )
            ],
        )
        [payout_id] = reserve_ids(conn, "payouts", "payout_id", 1)
        insert_rows(
            conn,
            "payouts",
            PAYOUT_COLUMNS,
            [(payout_id, merchant_id, cents, at, statement_id, reference, entry_id)],
            with_identity=True,
        )
    return payout_id


def pay_statement(conn: psycopg.Connection, statement_id: int, at: datetime, reference: str | None = None) -> int:
    """Pay a statement's net payable; returns the payout id. A statement is paid at most once."""
    with conn.transaction():
        statement = get_statement(conn, statement_id)
        described = f"the {statement.kind} statement for {statement.period_start} to {statement.period_end}"
        paid = conn.execute(
            "SELECT payout_id FROM core.payouts WHERE settlement_statement_id = %s", [statement_id]
        ).fetchone()
        if paid is not None:
            raise InvalidTransition(f"{described} is already paid (payout {paid[0]})")
        if statement.net_payable_cents <= 0:
            raise InvalidTransition(
                f"{described} has nothing to pay: its net payable is {to_amount(statement.net_payable_cents)} CNY"
            )
        return post_payout(
            conn,
            statement.merchant_id,
            to_amount(statement.net_payable_cents),
            at,
            statement_id=statement_id,
            reference=reference,
        )
