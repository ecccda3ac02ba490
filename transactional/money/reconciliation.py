"""Proof that a merchant's payable in the journal is what its trade says it should be.

For any period [start, end): the net credit to merchant_payable in the journal must equal
  the totals of the orders settled in the period (core.orders.total_amount)
  − refunds made in the period (core.refund_lines)
  − commission charged on those sales (core.sale_lines) + commission given back on those refunds
  − payouts made in the period (core.payouts),
to the cent. The two sides are read from different tables, so an entry posted wrongly, or a
sale, refund or payout without its entry, shows as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class Reconciliation:
    merchant_id: int
    start: datetime | None
    end: datetime
    journal_payable_cents: int
    sales_cents: int
    commission_cents: int
    refunds_cents: int
    commission_refunded_cents: int
    payouts_cents: int

    @property
    def expected_payable_cents(self) -> int:
        return (
            self.sales_cents
            - self.commission_cents
            - self.refunds_cents
            + self.commission_refunded_cents
            - self.payouts_cents
        )

    @property
    def difference_cents(self) -> int:
        return self.journal_payable_cents - self.expected_payable_cents

    @property
    def reconciles(self) -> bool:
        return self.difference_cents == 0


def reconcile(
    conn: psycopg.Connection, merchant_id: int, end: datetime, start: datetime | None = None
) -> Reconciliation:
    """Reconcile what was posted in [start, end) (start None: from the first posting)."""
    row = conn.execute(
        """WITH sold AS (
               SELECT order_id FROM core.sales
               WHERE merchant_id = %(merchant)s AND settled_at >= %(start)s AND settled_at < %(end)s),
           refunded AS (
               SELECT refund_id FROM core.refunds
               WHERE merchant_id = %(merchant)s AND refunded_at >= %(start)s AND refunded_at < %(end)s)
           SELECT
               (SELECT coalesce(sum(l.credit_cents - l.debit_cents), 0)
                FROM core.journal_lines l JOIN core.journal_entries e USING (journal_entry_id)
                WHERE l.merchant_id = %(merchant)s AND l.account = 'merchant_payable'
                  AND e.posted_at >= %(start)s AND e.posted_at < %(end)s),
               (SELECT coalesce(sum(o.total_amount * 100), 0) FROM sold JOIN core.orders o USING (order_id)),
               (SELECT coalesce(sum(l.commission_cents), 0) FROM sold JOIN core.sale_lines l USING (order_id)),
               (SELECT coalesce(sum(l.amount_cents), 0) FROM refunded JOIN core.refund_lines l USING (refund_id)),
               (SELECT coalesce(sum(l.commission_cents), 0) FROM refunded JOIN core.refund_lines l USING (refund_id)),
               (SELECT coalesce(sum(amount_cents), 0) FROM core.payouts
                WHERE merchant_id = %(merchant)s AND paid_at >= %(start)s AND paid_at < %(end)s)""",
        {"merchant": merchant_id, "start": start or "-infinity", "end": end},
    ).fetchone()
    assert row is not None
    return Reconciliation(merchant_id, start, end, *(int(value) for value in row))
