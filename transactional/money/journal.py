"""The double-entry journal, per merchant, in integer cents.

The chart of accounts is the platform's view of one merchant's trade:

| account | type | what its balance is |
|---|---|---|
| platform_cash | asset | money the platform holds from this merchant's customers |
| customer_receivable | asset | what customers still owe (credit terms, cash on delivery) |
| merchant_payable | liability | what the platform owes the merchant |
| commission_revenue | revenue | the platform's commission |

Entries, each balanced (PostgreSQL refuses at commit any entry whose debits and credits differ):

- payment: Dr platform_cash / Cr customer_receivable
- sale: Dr customer_receivable (gross) / Cr merchant_payable (gross - commission),
  Cr commission_revenue (commission)
- refund: Dr merchant_payable (amount - commission share), Dr commission_revenue (commission
  share) / Cr customer_receivable (the part the customer still owed), Cr platform_cash (the part
  paid back)
- payout: Dr merchant_payable / Cr platform_cash

Lines of zero are left out (a line has exactly one non-zero side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from transactional.money.bulk import insert_rows, reserve_ids

PLATFORM_CASH = "platform_cash"
CUSTOMER_RECEIVABLE = "customer_receivable"
MERCHANT_PAYABLE = "merchant_payable"
COMMISSION_REVENUE = "commission_revenue"
ACCOUNTS = (PLATFORM_CASH, CUSTOMER_RECEIVABLE, MERCHANT_PAYABLE, COMMISSION_REVENUE)

ENTRY_COLUMNS = (
    ("journal_entry_id", "bigint"),
    ("merchant_id", "bigint"),
    ("entry_type", "text"),
    ("order_id", "bigint"),
    ("posted_at", "timestamptz"),
    ("memo", "text"),
)
LINE_COLUMNS = (
    ("journal_entry_id", "bigint"),
    ("merchant_id", "bigint"),
    ("account", "text"),
    ("debit_cents", "bigint"),
    ("credit_cents", "bigint"),
)


@dataclass(frozen=True)
class Posting:
    account: str
    debit_cents: int = 0
    credit_cents: int = 0


def debit(account: str, cents: int) -> Posting:
    return Posting(account, debit_cents=cents)


def credit(account: str, cents: int) -> Posting:
    return Posting(account, credit_cents=cents)


@dataclass(frozen=True)
class EntryDraft:
    merchant_id: int
    entry_type: str
    posted_at: datetime
    postings: tuple[Posting, ...]
    order_id: int | None = None
    memo: str | None = None


def write_entries(conn: psycopg.Connection, drafts: Sequence[EntryDraft]) -> list[int]:
    """Insert the entries and their non-zero lines in two statements; returns the entry ids in
    the drafts' order. The balance is checked by PostgreSQL when the transaction commits."""
    entry_ids = reserve_ids(conn, "journal_entries", "journal_entry_id", len(drafts))
    insert_rows(
        conn,
        "journal_entries",
        ENTRY_COLUMNS,
        [
            (entry_id, d.merchant_id, d.entry_type, d.order_id, d.posted_at, d.memo)
            for entry_id, d in zip(entry_ids, drafts, strict=True)
        ],
        with_identity=True,
    )
    insert_rows(
        conn,
        "journal_lines",
        LINE_COLUMNS,
        [
            (entry_id, draft.merchant_id, p.account, p.debit_cents, p.credit_cents)
            for entry_id, draft in zip(entry_ids, drafts, strict=True)
            for p in draft.postings
            if p.debit_cents or p.credit_cents
        ],
    )
    return entry_ids


def account_balance_cents(conn: psycopg.Connection, merchant_id: int, account: str, at: datetime) -> int:
    """Debits minus credits of the entries posted up to `at` (a liability's balance is negative)."""
    row = conn.execute(
        """SELECT coalesce(sum(l.debit_cents - l.credit_cents), 0)
           FROM core.journal_lines l JOIN core.journal_entries e USING (journal_entry_id)
           WHERE l.merchant_id = %s AND l.account = %s AND e.posted_at <= %s""",
        [merchant_id, account, at],
    ).fetchone()
    assert row is not None
    return int(row[0])


def payable_balance_cents(conn: psycopg.Connection, merchant_id: int, at: datetime) -> int:
    """What the platform owes the merchant for everything posted up to `at`."""
    return -account_balance_cents(conn, merchant_id, MERCHANT_PAYABLE, at)
