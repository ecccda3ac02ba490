"""The money a tiny simulated network posts: a balanced journal, statements that reconcile, sales,
payments, refunds and payouts where the money services would put them, and the same rows as the
services give when the history is replayed through them event by event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby

import psycopg
import pytest

from transactional.errors import DomainError, PeriodClosed
from transactional.money.payments import PaymentRequest, open_receivables, record_payments
from transactional.money.periods import day_start
from transactional.money.reconciliation import reconcile
from transactional.money.sales import SaleRequest, post_refund, post_sales
from transactional.money.settlements import generate_statement, pay_statement
from transactional.returns import refund_return
from transactional.simulator import simulate
from transactional.simulator.bulk.load import (
    LEDGER_CHECK_TRIGGERS,
    ledger_checked_per_merchant,
    refuse_broken_ledger_sums,
)
from transactional.simulator.bulk.money import DIVISION_COMMISSION_RATES
from transactional.simulator.scales import scale_named

SEED = 23


@dataclass(frozen=True)
class Networks:
    posted: str  # the simulator posted the money
    unposted: str  # the same history with an empty ledger, for the services to post


@pytest.fixture(scope="module")
def networks(database_factory) -> Networks:
    posted, unposted = database_factory(), database_factory()
    with psycopg.connect(posted) as conn:
        simulate(conn, "tiny", SEED)
    with psycopg.connect(unposted) as conn:
        simulate(conn, "tiny", SEED, post_money=False)
    return Networks(posted, unposted)


@pytest.fixture
def db(networks: Networks):
    with psycopg.connect(networks.posted) as conn:
        yield conn


def history_end(db: psycopg.Connection) -> datetime:
    return day_start(scale_named("tiny").last_date + timedelta(days=1))


def test_every_journal_entry_balances_and_every_table_is_written(db: psycopg.Connection) -> None:
    unbalanced = db.execute(
        """SELECT e.journal_entry_id FROM core.journal_entries e
           LEFT JOIN core.journal_lines l USING (journal_entry_id)
           GROUP BY e.journal_entry_id HAVING coalesce(sum(l.debit_cents), 0) <> coalesce(sum(l.credit_cents), 0)"""
    ).fetchall()
    assert unbalanced == []
    counts = db.execute(
        """SELECT (SELECT count(*) FROM core.sales), (SELECT count(*) FROM core.payments),
                  (SELECT count(*) FROM core.refunds), (SELECT count(*) FROM core.settlement_statements),
                  (SELECT count(*) FROM core.payouts), (SELECT count(*) FROM core.commission_rates)"""
    ).fetchone()
    assert counts is not None and all(count > 0 for count in counts)
    assert counts[5] == 1 + len(DIVISION_COMMISSION_RATES)


def test_the_ledger_triggers_the_load_switched_off_are_on_again(db: psycopg.Connection) -> None:
    states = db.execute(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgname = ANY(%s) ORDER BY 1",
        [[trigger for _, trigger in LEDGER_CHECK_TRIGGERS]],
    ).fetchall()
    assert states == sorted((trigger, "O") for _, trigger in LEDGER_CHECK_TRIGGERS)


def test_the_load_refuses_an_unbalanced_entry_in_the_triggers_stead(db: psycopg.Connection) -> None:
    entry_id, merchant_id = db.execute(
        "SELECT journal_entry_id, merchant_id FROM core.journal_entries ORDER BY journal_entry_id LIMIT 1"
    ).fetchone()
    lines = "SELECT count(*) FROM core.journal_lines WHERE journal_entry_id = %s"
    lines_before = db.execute(lines, [entry_id]).fetchone()
    with (
        pytest.raises(DomainError, match=f"journal entry {entry_id} does not balance: debits \\d+ cents"),
        db.transaction(),
        ledger_checked_per_merchant(db),
    ):
        refuse_broken_ledger_sums(db, merchant_id)
        db.execute(
            """INSERT INTO core.journal_lines (journal_entry_id, merchant_id, account, debit_cents)
               VALUES (%s, %s, 'platform_cash', 1)""",
            [entry_id, merchant_id],
        )
        refuse_broken_ledger_sums(db, merchant_id)
    assert db.execute(lines, [entry_id]).fetchone() == lines_before


def test_commission_follows_the_category(db: psycopg.Connection) -> None:
    rates = dict(
        db.execute(
            """SELECT top.category_code, array_agg(DISTINCT s.commission_rate)
               FROM core.sale_lines s
               JOIN core.categories leaf ON leaf.category_id = s.category_id
               JOIN core.categories mid ON mid.category_id = leaf.parent_id
               JOIN core.categories top ON top.category_id = mid.parent_id
               GROUP BY 1"""
        ).fetchall()
    )
    assert rates and {code: [DIVISION_COMMISSION_RATES[code]] for code in rates} == rates


def test_a_sale_for_each_order_the_services_would_settle(db: psycopg.Connection) -> None:
    """Online orders once paid (at checkout), credit and cash on delivery once shipped; none for
    cancelled orders."""
    wrong = db.execute(
        """SELECT o.order_no, o.status, o.payment_method, s.settled_at, o.ordered_at, o.shipped_at
           FROM core.orders o LEFT JOIN core.sales s USING (order_id)
           WHERE (s.order_id IS NOT NULL) IS DISTINCT FROM
                 (o.status <> 'cancelled' AND (o.payment_method = 'online' OR o.shipped_at IS NOT NULL))
              OR (o.payment_method = 'online'
                  AND s.settled_at NOT BETWEEN o.ordered_at AND o.ordered_at + interval '5 minutes')
              OR (o.payment_method <> 'online' AND s.settled_at <> o.shipped_at)
              OR s.gross_cents <> o.total_amount * 100
           LIMIT 5"""
    ).fetchall()
    assert wrong == []
    paid_first = db.execute(
        """SELECT count(*) FROM core.sales s JOIN core.payments p USING (order_id)
           WHERE s.payment_method = 'online' AND p.paid_at = s.settled_at AND p.amount * 100 = s.gross_cents"""
    ).fetchone()
    online = db.execute("SELECT count(*) FROM core.sales WHERE payment_method = 'online'").fetchone()
    assert paid_first == online and online[0] > 0


def test_refunds_follow_the_refunded_returns(db: psycopg.Connection) -> None:
    rows = db.execute(
        """SELECT r.return_no, r.status, r.refund_amount, rl.refund_amount, f.amount_cents, l.refunded_amount,
                  f.refunded_at = r.refunded_at
           FROM core.returns r JOIN core.return_lines rl USING (return_id)
           JOIN core.order_lines l ON l.order_line_id = rl.order_line_id
           LEFT JOIN core.refunds f ON f.reference = r.return_no || '/' || l.line_no"""
    ).fetchall()
    refunded = [row for row in rows if row[1] == "refunded"]
    assert refunded, "the tiny network refunds some returns"
    for return_no, _, amount, line_amount, cents, line_refunded, same_time in refunded:
        assert amount == line_amount == line_refunded, return_no
        assert (cents or 0) == amount * 100 and (cents is None or same_time), return_no
    # Received goods are refunded within hours, a credit customer's on the 1st of the next month.
    waiting = db.execute(
        """SELECT o.payment_method, min(r.received_at) FROM core.returns r JOIN core.orders o USING (order_id)
           WHERE r.status = 'received' GROUP BY 1"""
    ).fetchall()
    end = history_end(db)
    for method, first_received in waiting:
        last_month = day_start(scale_named("tiny").last_date.replace(day=1))
        assert first_received >= (last_month if method == "credit" else end - timedelta(days=2)), method
    credit_refunds = db.execute(
        """SELECT DISTINCT extract(day FROM r.refunded_at AT TIME ZONE 'Asia/Shanghai')
           FROM core.returns r JOIN core.orders o USING (order_id)
           WHERE r.status = 'refunded' AND o.payment_method = 'credit'"""
    ).fetchall()
    assert credit_refunds in ([], [(1,)])


def test_each_weekly_statement_reconciles_with_the_journal(db: psycopg.Connection) -> None:
    statements = db.execute(
        """SELECT merchant_id, period_start, period_end, net_payable_cents, order_count, generated_at
           FROM core.settlement_statements ORDER BY merchant_id, period_start"""
    ).fetchall()
    assert statements and {row[1].weekday() for row in statements} == {0}
    for merchant_id, start, end, net, _, generated_at in statements:
        assert generated_at.date() >= end
        result = reconcile(db, merchant_id, day_start(end + timedelta(days=1)), day_start(start))
        assert result.reconciles, (merchant_id, start)
        assert result.journal_payable_cents + result.payouts_cents == net, (merchant_id, start)
    # Every sale and refund dated in a covered week is on that week's statement, and only there.
    missing = db.execute(
        """SELECT e.journal_entry_id FROM core.journal_entries e
           JOIN core.settlement_statements s ON s.merchant_id = e.merchant_id
            AND (e.posted_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN s.period_start AND s.period_end
           LEFT JOIN core.settlement_statement_entries x
             ON x.journal_entry_id = e.journal_entry_id AND x.settlement_statement_id = s.settlement_statement_id
           WHERE e.entry_type IN ('sale', 'refund') AND (x.journal_entry_id IS NULL OR e.posted_at >= s.generated_at)"""
    ).fetchall()
    assert missing == []


def test_closed_weeks_refuse_postings(db: psycopg.Connection) -> None:
    order_id, settled_at = db.execute(
        """SELECT s.order_id, s.settled_at FROM core.sales s
           JOIN core.settlement_statements st ON st.merchant_id = s.merchant_id
            AND (s.settled_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN st.period_start AND st.period_end
           WHERE s.gross_cents > 100 ORDER BY s.order_id LIMIT 1"""
    ).fetchone()
    with pytest.raises(PeriodClosed):
        post_refund(db, order_id, Decimal("0.01"), settled_at + timedelta(minutes=1))
    db.rollback()


def test_payouts_pay_each_statement_when_due(db: psycopg.Connection) -> None:
    rows = db.execute(
        """SELECT s.merchant_id, s.period_start, s.net_payable_cents, s.payout_due_date, s.payout_working_days,
                  p.amount_cents, (p.paid_at AT TIME ZONE 'Asia/Shanghai')::date
           FROM core.settlement_statements s LEFT JOIN core.payouts p USING (settlement_statement_id)"""
    ).fetchall()
    end = history_end(db).date()
    assert {row[4] for row in rows} == {1, 3}
    paid = [row for row in rows if row[5] is not None]
    assert paid
    for merchant_id, start, net, due, _, amount, paid_on in rows:
        if amount is None:
            assert net <= 0 or due >= end, (merchant_id, start)
        else:
            assert (amount, paid_on) == (net, due), (merchant_id, start)
    # Everything paid out was owed: the payable never goes into the platform's favour.
    overpaid = db.execute(
        """SELECT p.payout_id FROM core.payouts p
           WHERE (SELECT sum(l.credit_cents - l.debit_cents) FROM core.journal_lines l
                  JOIN core.journal_entries e USING (journal_entry_id)
                  WHERE l.merchant_id = p.merchant_id AND l.account = 'merchant_payable'
                    AND e.posted_at <= p.paid_at) < 0"""
    ).fetchall()
    assert overpaid == []


def test_credit_customers_owe_money_at_the_end(db: psycopg.Connection) -> None:
    end = history_end(db)
    receivables = [
        receivable
        for (merchant_id,) in db.execute("SELECT merchant_id FROM core.merchants").fetchall()
        for receivable in open_receivables(db, merchant_id, end)
    ]
    credit = [r for r in receivables if r.payment_method == "credit"]
    assert credit and any(r.days_overdue > 0 for r in credit) and any(r.days_overdue == 0 for r in credit)
    assert {r.payment_method for r in receivables} <= {"credit", "cod"}
    late = db.execute(
        """SELECT count(*) FROM core.payments p JOIN core.sales s USING (order_id)
           WHERE s.payment_method = 'credit'
             AND (p.paid_at AT TIME ZONE 'Asia/Shanghai')::date > s.receivable_due_date"""
    ).fetchone()
    assert late is not None and late[0] > 0


# ---- the simulator's rows are the services' rows -------------------------------------------------


def _events(conn: psycopg.Connection, merchant_id: int) -> list[tuple]:
    """Every money event of the merchant, in the order they happened (payment before sale at one
    instant, as an online order is paid and then settled)."""
    query = """
        SELECT paid_at, 0, 'payment', order_id, amount, NULL::date FROM core.payments WHERE merchant_id = %(m)s
        UNION ALL SELECT settled_at, 1, 'sale', order_id, NULL, NULL FROM core.sales WHERE merchant_id = %(m)s
        UNION ALL SELECT refunded_at, 2, 'refund', return_id, NULL, NULL FROM core.returns
                  WHERE merchant_id = %(m)s AND status = 'refunded'
        UNION ALL SELECT generated_at, 3, 'statement', NULL, NULL, period_start FROM core.settlement_statements
                  WHERE merchant_id = %(m)s
        UNION ALL SELECT p.paid_at, 4, 'payout', NULL, NULL, s.period_start FROM core.payouts p
                  JOIN core.settlement_statements s USING (settlement_statement_id) WHERE p.merchant_id = %(m)s
        ORDER BY 1, 2, 4"""
    return conn.execute(query, {"m": merchant_id}).fetchall()


def _replay(conn: psycopg.Connection, merchant_id: int, events: list[tuple]) -> None:
    statements: dict = {}
    for kind, run in groupby(events, key=lambda event: event[2]):
        batch = list(run)
        if kind == "payment":
            record_payments(conn, [PaymentRequest(order_id, amount, at) for at, _, _, order_id, amount, _ in batch])
        elif kind == "sale":
            # The payment that completed an online or prepaid order settled it; the others settle at shipment.
            order_ids = [order_id for _, _, _, order_id, _, _ in batch]
            settled = {
                row[0] for row in conn.execute("SELECT order_id FROM core.sales WHERE order_id = ANY(%s)", [order_ids])
            }
            post_sales(
                conn, [SaleRequest(order_id, at) for at, _, _, order_id, _, _ in batch if order_id not in settled]
            )
        for at, _, _, key, _, period_start in batch:
            if kind == "refund":
                refund_return(conn, key, at)
            elif kind == "statement":
                statements[period_start] = generate_statement(conn, merchant_id, "weekly", period_start, at)
            elif kind == "payout":
                pay_statement(conn, statements[period_start].statement_id, at)


LEDGER = {
    "sales": """SELECT order_id, payment_method, credit_term_days, receivable_due_date, gross_cents, settled_at
                FROM core.sales WHERE merchant_id = %(m)s""",
    "sale_lines": """SELECT order_line_id, category_id, commission_rate, gross_cents, commission_cents,
                            refunded_cents, commission_refunded_cents FROM core.sale_lines WHERE merchant_id = %(m)s""",
    "payments": "SELECT order_id, method, amount, paid_at, reference FROM core.payments WHERE merchant_id = %(m)s",
    "refunds": """SELECT r.order_id, r.amount_cents, r.offset_cents, r.cash_cents, r.refunded_at, r.reference, r.reason,
                         l.order_line_id, l.amount_cents, l.commission_cents
                  FROM core.refunds r JOIN core.refund_lines l USING (refund_id) WHERE r.merchant_id = %(m)s""",
    "journal": """SELECT e.entry_type, e.order_id, e.posted_at, e.memo,
                         array_agg(ARRAY[l.account, l.debit_cents::text, l.credit_cents::text] ORDER BY l.account)
                  FROM core.journal_entries e LEFT JOIN core.journal_lines l USING (journal_entry_id)
                  WHERE e.merchant_id = %(m)s GROUP BY e.journal_entry_id""",
    "statements": """SELECT kind, period_start, period_end, order_count, refund_count, gross_sales_cents,
                            commission_cents, refunds_cents, commission_refunded_cents, net_payable_cents,
                            payout_working_days, payout_due_date, generated_at
                     FROM core.settlement_statements WHERE merchant_id = %(m)s""",
    "statement_entries": """SELECT s.period_start, e.entry_type, e.order_id, e.posted_at
                            FROM core.settlement_statement_entries x
                            JOIN core.settlement_statements s USING (settlement_statement_id)
                            JOIN core.journal_entries e ON e.journal_entry_id = x.journal_entry_id
                            WHERE x.merchant_id = %(m)s""",
    "payouts": """SELECT p.amount_cents, p.paid_at, s.period_start, p.reference FROM core.payouts p
                  JOIN core.settlement_statements s USING (settlement_statement_id) WHERE p.merchant_id = %(m)s""",
    "returns": """SELECT r.return_id, r.status, r.refunded_at, r.refund_amount, r.updated_at, rl.refund_amount,
                         l.refunded_amount
                  FROM core.returns r JOIN core.return_lines rl USING (return_id)
                  JOIN core.order_lines l ON l.order_line_id = rl.order_line_id WHERE r.merchant_id = %(m)s""",
}


def test_the_services_post_the_same_rows_when_the_history_is_replayed(networks: Networks) -> None:
    with psycopg.connect(networks.posted) as posted, psycopg.connect(networks.unposted) as unposted:
        merchant_id = posted.execute(
            "SELECT merchant_id FROM core.merchants WHERE payout_working_days = 3 ORDER BY merchant_id LIMIT 1"
        ).fetchone()[0]
        assert unposted.execute("SELECT count(*) FROM core.journal_entries").fetchone() == (0,)
        events = _events(posted, merchant_id)
        assert {event[2] for event in events} == {"payment", "sale", "refund", "statement", "payout"}
        _replay(unposted, merchant_id, events)
        unposted.commit()
        for table, query in LEDGER.items():
            simulated = sorted(posted.execute(query, {"m": merchant_id}).fetchall(), key=repr)
            serviced = sorted(unposted.execute(query, {"m": merchant_id}).fetchall(), key=repr)
            assert simulated, table
            assert simulated == serviced, table
