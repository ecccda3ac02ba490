"""The money of one merchant's drawn history, in arrays: the rows the money services
(`transactional.money`, `transactional.returns.refund_return`) would have written had each event
been posted when it happened, the way a live merchant's would be.

- Commission: one rate per top-level category (`DIVISION_COMMISSION_RATES`), set through
  `set_commission_rate` at the start of the history; a line pays its leaf's rate in force.
- Payments by the order's method: online at checkout (a few seconds after the order); cash on
  delivery when delivered; credit up to a week before its due date, a quarter of them 1–45 days
  late and 3% never, so receivables stay open. Cancelled orders take no money (the service refuses a
  payment on a cancelled order).
- Sales as `post_sales` settles them: online orders once paid in full (at the payment), credit and
  cash on delivery at shipment, their receivable falling due on the delivery date (the ship date
  while still in transit at the end) + term, as `post_sales` reads the order's delivery. Order
  totals are spread over lines by rounding rule 3, commission by rule 2 (`money.rounding`).
- Returns the simulator received are refunded (`refund_return`) a few hours later, or for credit
  customers at their monthly statement of account on the 1st of the next month: the net line
  amount pro rata to the units, the commission given back by rule 4, set first against what the
  customer still owed, the rest paid back.
- Weekly statements every Monday at 02:00 for last week's sales and refunds (empty weeks too),
  and the payout of each positive one T+1 (co-ops) or T+3 (wholesalers, retailers) working days
  after the Sunday, at 10:00, when the merchant is owed that much (`pay_statement`).

Events after the end of the history are not posted. Everything is integer cents.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg

from transactional.errors import DomainError
from transactional.money.calendar import add_working_days
from transactional.money.commission import commission_rate, set_commission_rate
from transactional.money.journal import COMMISSION_REVENUE, CUSTOMER_RECEIVABLE, MERCHANT_PAYABLE, PLATFORM_CASH
from transactional.money.rounding import RATE_SCALE, allocate, rate_in_ten_thousandths
from transactional.simulator.bulk.history import DAY_US, SECOND_US, IdCounters, MerchantHistory, NetworkContext

# Thin-margin farm inputs pay least, fresh produce (spoilage, cold chain) most; all within 3%–8%.
DIVISION_COMMISSION_RATES = {
    "01": Decimal("0.0300"),
    "02": Decimal("0.0500"),
    "03": Decimal("0.0600"),
    "04": Decimal("0.0800"),
}
PAYOUT_WORKING_DAYS = {"county_coop": 1, "grassroots_coop": 1, "wholesaler": 3, "retailer": 3}
STATEMENT_SECONDS = 2 * 3600  # Monday's statements are issued at 02:00
PAYOUT_SECONDS = 10 * 3600
CREDIT_NEVER_PAID_SHARE = 0.03
CREDIT_LATE_SHARE = 0.25  # paid 1–45 days after the due date; the rest up to a week early
# After the goods are received; a credit customer's, a tenth of it after 14:00 on the 1st (after
# the payouts at 10:00, which the day's refunds would otherwise eat into).
REFUND_HOURS = (1.0, 30.0)
ENTRY_ORDER = {"payment": 0, "sale": 1, "refund": 2, "payout": 3}  # at one instant
TABLES = (
    "journal_entries",
    "journal_lines",
    "payments",
    "sales",
    "sale_lines",
    "refunds",
    "refund_lines",
    "settlement_statements",
    "settlement_statement_entries",
    "payouts",
)


def set_commission_rates(
    conn: psycopg.Connection, at: datetime, end: datetime, leaf_ids: dict[str, int]
) -> dict[int, int]:
    """Each top-level category's rate from `at` (through the commission service; once per
    database); returns every leaf's rate in ten-thousandths, which must hold all history long."""
    divisions = dict(
        conn.execute(
            "SELECT category_code, category_id FROM core.categories WHERE category_code = ANY(%s)",
            [list(DIVISION_COMMISSION_RATES)],
        ).fetchall()
    )
    for code, rate in DIVISION_COMMISSION_RATES.items():
        present = conn.execute(
            "SELECT 1 FROM core.commission_rates WHERE category_id = %s AND valid_from = %s", [divisions[code], at]
        ).fetchone()
        if present is None:
            set_commission_rate(conn, rate=rate, valid_from=at, at=at, category_id=divisions[code])
    rates = {}
    for code, leaf_id in leaf_ids.items():
        first, last = commission_rate(conn, leaf_id, at), commission_rate(conn, leaf_id, end)
        if first != last:
            raise DomainError(f"the commission rate of category {code} changes during the simulated history")
        rates[leaf_id] = rate_in_ten_thousandths(first)
    return rates


def _micros(column: pd.Series) -> np.ndarray:
    """Epoch microseconds, 0 where missing."""
    values = pd.to_datetime(column, utc=True).dt.as_unit("us").array.asi8
    return np.where(column.isna().to_numpy(), 0, values)


def _timestamps(microseconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(microseconds, dtype=np.int64), unit="us", utc=True))


def _cents(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy(dtype=np.float64) * 100).astype(np.int64)


def _half_up(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """round half up(numerator ÷ denominator) for non-negative integers (rounding.round_half_up_ratio)."""
    return (2 * numerator + denominator) // (2 * denominator)


class _MerchantMoney:
    def __init__(
        self,
        history: MerchantHistory,
        context: NetworkContext,
        rates: dict[int, int],
        ids: IdCounters,
        rng: np.random.Generator,
    ) -> None:
        self.core = history.core
        self.history = history
        self.day0 = context.day0_us
        self.first_date = context.calendar.days[0]
        self.days = context.days
        self.end = self.day0 + self.days * DAY_US
        self.rates = rates
        self.ids = ids
        self.rng = rng
        merchant = self.core["merchants"]
        self.merchant_id = int(merchant["merchant_id"].iloc[0])
        self.merchant_code = str(merchant["merchant_code"].iloc[0])
        self.payout_days = PAYOUT_WORKING_DAYS[str(merchant["merchant_type"].iloc[0])]
        merchant["payout_working_days"] = self.payout_days

    def day_of(self, us: np.ndarray) -> np.ndarray:
        """Business day index of epoch microseconds."""
        return (np.asarray(us, dtype=np.int64) - self.day0) // DAY_US

    def at(self, day: np.ndarray, seconds: np.ndarray | int) -> np.ndarray:
        return self.day0 + np.asarray(day, dtype=np.int64) * DAY_US + np.asarray(seconds, dtype=np.int64) * SECOND_US

    def date_of(self, day: int) -> date:
        return self.first_date + timedelta(days=int(day))

    def run(self) -> None:
        self._orders()
        self._sales()
        self._refunds()
        self._payments()
        self._statements()
        self._journal()

    # ---- orders, their lines and the sales ---------------------------------------------------

    def _orders(self) -> None:
        orders, rng = self.core["orders"], self.rng
        count = len(orders)
        self.order_id = orders["order_id"].to_numpy(dtype=np.int64)
        self.order_no = orders["order_no"].to_numpy()
        self.method = orders["payment_method"].to_numpy().astype(str)
        self.term = orders["credit_term_days"].fillna(0).to_numpy(dtype=np.int64)
        self.total = _cents(orders["total_amount"])
        self.ordered_us = _micros(orders["ordered_at"])
        self.shipped_us = _micros(orders["shipped_at"])
        self.delivered_us = _micros(orders["delivered_at"])
        live = orders["status"].to_numpy() != "cancelled"
        # Drawn for every order, so each draw's size depends on the orders alone.
        checkout_seconds = rng.integers(5, 300, count)
        pay_roll = rng.random(count)
        late_days = rng.integers(1, 46, count)
        early_days = rng.integers(0, 8, count)
        pay_seconds = rng.integers(9 * 3600, 17 * 3600, count)
        online = live & (self.method == "online")
        on_account = live & np.isin(self.method, ["credit", "cod"]) & (self.shipped_us > 0)
        self.settled = online | on_account
        checkout = self.ordered_us + checkout_seconds * SECOND_US
        self.settled_us = np.where(online, checkout, self.shipped_us)
        handed_over = np.where(self.delivered_us > 0, self.delivered_us, self.shipped_us)
        self.due_day = np.where(online, self.day_of(checkout), self.day_of(handed_over) + self.term)
        credit = on_account & (self.method == "credit")
        pay_day = np.where(
            pay_roll < CREDIT_LATE_SHARE,
            self.due_day + late_days,
            self.due_day - np.minimum(early_days, np.maximum(self.term - 1, 0)),
        )
        credit_paid_us = np.maximum(
            self.at(pay_day, pay_seconds), np.maximum(self.delivered_us, self.shipped_us) + 3600 * SECOND_US
        )
        credit &= pay_roll < 1 - CREDIT_NEVER_PAID_SHARE
        cod = on_account & (self.method == "cod") & (self.delivered_us > 0)
        self.paid_us = np.select([online, cod, credit], [checkout, self.delivered_us, credit_paid_us], 0)
        self.pays = (self.paid_us > 0) & (self.paid_us < self.end)
        self.settled &= self.settled_us < self.end
        self.index_of = pd.Series(np.arange(count), index=self.order_id)

    def _sales(self) -> None:
        lines = self.core["order_lines"].sort_values(["order_id", "line_no"], kind="stable")
        products = self.core["products"].set_index("product_id")["category_id"]
        category = products.reindex(lines["product_id"]).to_numpy(dtype=np.int64)
        rate = np.array([self.rates[c] for c in category], dtype=np.int64)
        amount = lines["quantity"].to_numpy(dtype=np.int64) * _cents(lines["unit_price"]) - _cents(
            lines["discount_amount"]
        )
        order = self.index_of.reindex(lines["order_id"]).to_numpy()
        gross = amount.copy()
        line_sum = np.bincount(order, weights=amount, minlength=len(self.order_id)).astype(np.int64)
        for index in np.flatnonzero((line_sum != self.total) & self.settled):
            members = np.flatnonzero(order == index)
            gross[members] = allocate(int(self.total[index]), [int(a) for a in amount[members]])
        self.line_id = lines["order_line_id"].to_numpy(dtype=np.int64)
        self.line_no = lines["line_no"].to_numpy(dtype=np.int64)
        self.line_qty = lines["quantity"].to_numpy(dtype=np.int64)
        self.line_order = order
        self.line_amount = amount
        self.line_gross = gross
        self.line_commission = _half_up(gross * rate, np.full(len(gross), RATE_SCALE))
        self.line_category = category
        self.line_rate = rate
        self.commission = np.bincount(order, weights=self.line_commission, minlength=len(self.order_id)).astype(
            np.int64
        )

    # ---- refunds of received returns ---------------------------------------------------------

    def _refunds(self) -> None:
        returns, return_lines = self.core["returns"], self.core["return_lines"]
        final = self.history.updates["returns"].set_index("return_id").reindex(returns["return_id"])
        refund_hours = self.rng.uniform(*REFUND_HOURS, len(returns))
        received_us = _micros(final["received_at"].reset_index(drop=True))
        hours = (refund_hours * 3600 * SECOND_US).astype(np.int64)
        on_account = self.method[self.index_of.reindex(returns["order_id"]).to_numpy()] == "credit"
        statement_day = np.array([self._next_month_day(day) for day in self.day_of(received_us)], dtype=np.int64)
        refunded_us = np.where(on_account, self.at(statement_day, 14 * 3600) + hours // 10, received_us + hours)
        refunded = (final["status"].to_numpy() == "received") & (refunded_us < self.end)
        line_of_return = return_lines.set_index("return_id").reindex(returns["return_id"])
        if (return_lines["return_id"].value_counts() > 1).any():
            raise DomainError("a simulated return has more than one line; refunds expect one")
        line_index = pd.Series(np.arange(len(self.line_id)), index=self.line_id)
        line = line_index.reindex(line_of_return["order_line_id"]).to_numpy()[refunded]
        units = line_of_return["quantity"].to_numpy(dtype=np.int64)[refunded]
        if len(np.unique(line)) != len(line):
            raise DomainError("a simulated order line is refunded twice; refunds expect once")
        # refund_return: the net line amount pro rata to the units, rounded half up to the cent.
        cents = _half_up(self.line_amount[line] * units, self.line_qty[line])
        self.refund_return_id = returns["return_id"].to_numpy(dtype=np.int64)[refunded]
        self.refund_return_line_id = line_of_return["return_line_id"].to_numpy(dtype=np.int64)[refunded]
        self.refund_return_no = returns["return_no"].to_numpy()[refunded]
        self.refund_us = refunded_us[refunded]
        self.refund_cents = cents
        self.refund_line = line
        self.refund_order = self.line_order[line]
        if not self.settled[self.refund_order].all():
            raise DomainError("a simulated return is refunded on an order that was never settled")
        gross = self.line_gross[line]
        self.refund_commission = np.where(
            gross > 0, _half_up(self.line_commission[line] * cents, np.maximum(gross, 1)), 0
        )
        amount = _timestamps(self.refund_us)
        self.history.updates["return_refund_lines"] = pd.DataFrame(
            {"return_line_id": self.refund_return_line_id, "refund_amount": cents / 100}
        )
        self.history.updates["return_refunds"] = pd.DataFrame(
            {
                "return_id": self.refund_return_id,
                "status": "refunded",
                "refunded_at": amount,
                "refund_amount": cents / 100,
                "updated_at": amount,
            }
        )

    def _next_month_day(self, day: int) -> int:
        """The day index of the 1st of the month after day index `day`."""
        month = self.date_of(day).replace(day=1)
        return ((month + timedelta(days=32)).replace(day=1) - self.first_date).days

    def _payments(self) -> None:
        """Payment amounts and what each refund sets against the debt, in the order they happen:
        a payment settles what is still owed, a refund first cancels what is still owed."""
        self.pay_cents = np.where(self.pays, self.total, 0)
        self.refund_offset = np.zeros(len(self.refund_cents), dtype=np.int64)
        posts = self.refund_cents > 0
        for order in np.unique(self.refund_order[posts]):
            owed = int(self.total[order])
            events = [(int(self.paid_us[order]), 0, -1)] if self.pays[order] else []
            events += [
                (int(self.refund_us[i]), 2, int(i)) for i in np.flatnonzero(posts & (self.refund_order == order))
            ]
            for _, _, refund in sorted(events):
                if refund < 0:
                    self.pay_cents[order] = max(owed, 0)
                    owed -= self.pay_cents[order]
                else:
                    offset = min(int(self.refund_cents[refund]), max(owed, 0))
                    self.refund_offset[refund] = offset
                    owed -= offset
        self.pays &= self.pay_cents > 0

    # ---- statements and payouts --------------------------------------------------------------

    def _statements(self) -> None:
        sold = np.flatnonzero(self.settled)
        posted_refunds = np.flatnonzero(self.refund_cents > 0)
        first_weekday = self.first_date.weekday()
        mondays = np.array([d for d in range(1, self.days) if (first_weekday + d) % 7 == 0], dtype=np.int64)

        def statement_of(us: np.ndarray) -> np.ndarray:
            day = self.day_of(us)
            monday = day - (first_weekday + day) % 7 + 7
            return np.searchsorted(mondays, monday)  # len(mondays) when issued after the history

        sale_statement = statement_of(self.settled_us[sold])
        refund_statement = statement_of(self.refund_us[posted_refunds])
        n = len(mondays)
        weights = {
            "order_count": np.bincount(sale_statement, minlength=n + 1)[:n],
            "refund_count": np.bincount(refund_statement, minlength=n + 1)[:n],
            "gross_sales_cents": np.bincount(sale_statement, self.total[sold], n + 1)[:n],
            "commission_cents": np.bincount(sale_statement, self.commission[sold], n + 1)[:n],
            "refunds_cents": np.bincount(refund_statement, self.refund_cents[posted_refunds], n + 1)[:n],
            "commission_refunded_cents": np.bincount(refund_statement, self.refund_commission[posted_refunds], n + 1)[
                :n
            ],
        }
        sums = {name: np.rint(values).astype(np.int64) for name, values in weights.items()}
        net = (
            sums["gross_sales_cents"]
            - sums["commission_cents"]
            - sums["refunds_cents"]
            + sums["commission_refunded_cents"]
        )
        self.statement_ids = self.ids.take("settlement_statements", n)
        period_start = [self.date_of(m - 7) for m in mondays]
        period_end = [self.date_of(m - 1) for m in mondays]
        due = [add_working_days(last, self.payout_days) for last in period_end]
        generated_us = self.at(mondays, STATEMENT_SECONDS)
        self.core["settlement_statements"] = pd.DataFrame(
            {
                "settlement_statement_id": self.statement_ids,
                "merchant_id": self.merchant_id,
                "kind": "weekly",
                "period_start": period_start,
                "period_end": period_end,
                **sums,
                "net_payable_cents": net,
                "payout_working_days": self.payout_days,
                "payout_due_date": due,
                "generated_at": _timestamps(generated_us),
            }
        )
        self.sale_statement, self.refund_statement = sale_statement, refund_statement
        self.sold, self.posted_refunds = sold, posted_refunds
        # A payout is made when due, if the merchant is owed the amount then (pay_statement).
        due_day = np.array([(d - self.first_date).days for d in due], dtype=np.int64)
        paid_us = self.at(due_day, PAYOUT_SECONDS)
        payable_us = np.concatenate([self.settled_us[sold], self.refund_us[posted_refunds]])
        payable = np.concatenate(
            [
                self.total[sold] - self.commission[sold],
                -(self.refund_cents[posted_refunds] - self.refund_commission[posted_refunds]),
            ]
        )
        order = np.argsort(payable_us, kind="stable")
        payable_us, running = payable_us[order], np.cumsum(payable[order])
        paid_out = 0
        payouts = []
        for statement in np.argsort(paid_us, kind="stable"):
            at = int(paid_us[statement])
            if net[statement] <= 0 or at >= self.end:
                continue
            seen = np.searchsorted(payable_us, at, side="right")
            owed = (int(running[seen - 1]) if seen else 0) - paid_out
            if net[statement] > owed:
                continue
            payouts.append((statement, at))
            paid_out += int(net[statement])
        self.payout_statement = np.array([s for s, _ in payouts], dtype=np.int64)
        self.payout_us = np.array([at for _, at in payouts], dtype=np.int64)
        self.payout_cents = net[self.payout_statement]

    # ---- the journal and the ledger tables ---------------------------------------------------

    def _journal(self) -> None:
        paid = np.flatnonzero(self.pays)
        sold, refunds = self.sold, self.posted_refunds
        kinds = (
            ["payment"] * len(paid)
            + ["sale"] * len(sold)
            + ["refund"] * len(refunds)
            + ["payout"] * len(self.payout_us)
        )
        entries = pd.DataFrame(
            {
                "entry_type": kinds,
                "posted_us": np.concatenate(
                    [self.paid_us[paid], self.settled_us[sold], self.refund_us[refunds], self.payout_us]
                ),
                "source": np.concatenate([paid, sold, refunds, np.arange(len(self.payout_us))]),
            }
        )
        entries["rank"] = entries["entry_type"].map(ENTRY_ORDER)
        chronological = entries.sort_values(["posted_us", "rank", "source"], kind="stable").index.to_numpy()
        entry_ids = np.empty(len(entries), dtype=np.int64)
        entry_ids[chronological] = self.ids.take("journal_entries", len(entries))
        blocks = np.cumsum([0, len(paid), len(sold), len(refunds), len(self.payout_us)])
        payment_entry, sale_entry, refund_entry, payout_entry = (entry_ids[blocks[i] : blocks[i + 1]] for i in range(4))
        method = self.method[paid]
        refund_refs = np.array(
            [
                f"{no}/{line_no}"
                for no, line_no in zip(
                    self.refund_return_no[refunds], self.line_no[self.refund_line[refunds]], strict=True
                )
            ],
            dtype=object,
        )
        order_of_refund = self.refund_order[refunds]
        memos = np.concatenate(
            [
                np.array(
                    [f"{m} payment for order {no}" for m, no in zip(method, self.order_no[paid], strict=True)],
                    dtype=object,
                ),
                np.array([f"sale of order {no}" for no in self.order_no[sold]], dtype=object),
                np.array(
                    [
                        f"refund on order {no} {ref}"
                        for no, ref in zip(self.order_no[order_of_refund], refund_refs, strict=True)
                    ],
                    dtype=object,
                ),
                np.full(len(self.payout_us), f"payout to merchant {self.merchant_code}", dtype=object),
            ]
        )
        order_ids = np.concatenate(
            [
                self.order_id[paid],
                self.order_id[sold],
                self.order_id[order_of_refund],
                np.zeros(len(self.payout_us), np.int64),
            ]
        )
        self.core["journal_entries"] = pd.DataFrame(
            {
                "journal_entry_id": entry_ids[chronological],
                "merchant_id": self.merchant_id,
                "entry_type": entries["entry_type"].to_numpy()[chronological],
                "order_id": pd.Series(order_ids[chronological], dtype="Int64").where(
                    entries["entry_type"].to_numpy()[chronological] != "payout"
                ),
                "posted_at": _timestamps(entries["posted_us"].to_numpy()[chronological]),
                "memo": memos[chronological],
            }
        )
        gross, commission = self.total[sold], self.commission[sold]
        refunded, refund_commission = self.refund_cents[refunds], self.refund_commission[refunds]
        offset = self.refund_offset[refunds]
        pay, payout = self.pay_cents[paid], self.payout_cents
        postings = [  # (entry ids, posting number, account, debit, credit), as journal.py orders them
            (payment_entry, 0, PLATFORM_CASH, pay, 0 * pay),
            (payment_entry, 1, CUSTOMER_RECEIVABLE, 0 * pay, pay),
            (sale_entry, 0, CUSTOMER_RECEIVABLE, gross, 0 * gross),
            (sale_entry, 1, MERCHANT_PAYABLE, 0 * gross, gross - commission),
            (sale_entry, 2, COMMISSION_REVENUE, 0 * gross, commission),
            (refund_entry, 0, MERCHANT_PAYABLE, refunded - refund_commission, 0 * refunded),
            (refund_entry, 1, COMMISSION_REVENUE, refund_commission, 0 * refunded),
            (refund_entry, 2, CUSTOMER_RECEIVABLE, 0 * refunded, offset),
            (refund_entry, 3, PLATFORM_CASH, 0 * refunded, refunded - offset),
            (payout_entry, 0, MERCHANT_PAYABLE, payout, 0 * payout),
            (payout_entry, 1, PLATFORM_CASH, 0 * payout, payout),
        ]
        lines = pd.concat(
            [
                pd.DataFrame({"journal_entry_id": e, "number": k, "account": a, "debit_cents": d, "credit_cents": c})
                for e, k, a, d, c in postings
            ],
            ignore_index=True,
        )
        lines = lines[(lines["debit_cents"] != 0) | (lines["credit_cents"] != 0)]
        lines = lines.sort_values(["journal_entry_id", "number"], kind="stable")
        self.core["journal_lines"] = pd.DataFrame(
            {
                "journal_entry_id": lines["journal_entry_id"].to_numpy(),
                "merchant_id": self.merchant_id,
                "account": lines["account"].to_numpy(),
                "debit_cents": lines["debit_cents"].to_numpy(),
                "credit_cents": lines["credit_cents"].to_numpy(),
            }
        )
        self._ledger_tables(paid, payment_entry, sale_entry, refund_entry, payout_entry, refund_refs)

    def _ledger_tables(
        self,
        paid: np.ndarray,
        payment_entry: np.ndarray,
        sale_entry: np.ndarray,
        refund_entry: np.ndarray,
        payout_entry: np.ndarray,
        refund_refs: np.ndarray,
    ) -> None:
        sold, refunds = self.sold, self.posted_refunds
        by_time = np.argsort(self.paid_us[paid], kind="stable")
        payment_ids = np.empty(len(paid), dtype=np.int64)
        payment_ids[by_time] = self.ids.take("payments", len(paid))
        self.core["payments"] = pd.DataFrame(
            {
                "payment_id": payment_ids,
                "merchant_id": self.merchant_id,
                "order_id": self.order_id[paid],
                "method": self.method[paid],
                "amount": self.pay_cents[paid] / 100,
                "paid_at": _timestamps(self.paid_us[paid]),
                "journal_entry_id": payment_entry,
            }
        ).iloc[by_time]
        credit = self.method[sold] == "credit"
        self.core["sales"] = pd.DataFrame(
            {
                "order_id": self.order_id[sold],
                "merchant_id": self.merchant_id,
                "payment_method": self.method[sold],
                "credit_term_days": pd.Series(self.term[sold], dtype="Int64").where(credit),
                "receivable_due_date": [self.date_of(d) for d in self.due_day[sold]],
                "gross_cents": self.total[sold],
                "settled_at": _timestamps(self.settled_us[sold]),
                "journal_entry_id": sale_entry,
            }
        )
        sold_lines = np.flatnonzero(self.settled[self.line_order])
        self.core["sale_lines"] = pd.DataFrame(
            {
                "order_line_id": self.line_id[sold_lines],
                "order_id": self.order_id[self.line_order[sold_lines]],
                "merchant_id": self.merchant_id,
                "category_id": self.line_category[sold_lines],
                "commission_rate": [str(Decimal(int(r)) / RATE_SCALE) for r in self.line_rate[sold_lines]],
                "gross_cents": self.line_gross[sold_lines],
                "commission_cents": self.line_commission[sold_lines],
            }
        )
        by_time = np.argsort(self.refund_us[refunds], kind="stable")
        refund_ids = np.empty(len(refunds), dtype=np.int64)
        refund_ids[by_time] = self.ids.take("refunds", len(refunds))
        order = self.refund_order[refunds]
        refunded_at = _timestamps(self.refund_us[refunds])
        self.core["refunds"] = pd.DataFrame(
            {
                "refund_id": refund_ids,
                "merchant_id": self.merchant_id,
                "order_id": self.order_id[order],
                "amount_cents": self.refund_cents[refunds],
                "offset_cents": self.refund_offset[refunds],
                "cash_cents": self.refund_cents[refunds] - self.refund_offset[refunds],
                "refunded_at": refunded_at,
                "reference": refund_refs,
                "reason": [f"return {no}" for no in self.refund_return_no[refunds]],
                "journal_entry_id": refund_entry,
            }
        ).iloc[by_time]
        self.core["refund_lines"] = pd.DataFrame(
            {
                "refund_id": refund_ids,
                "order_line_id": self.line_id[self.refund_line[refunds]],
                "order_id": self.order_id[order],
                "merchant_id": self.merchant_id,
                "amount_cents": self.refund_cents[refunds],
                "commission_cents": self.refund_commission[refunds],
            }
        ).iloc[by_time]
        covered_sales = self.sale_statement < len(self.statement_ids)
        covered_refunds = self.refund_statement < len(self.statement_ids)
        self.core["settlement_statement_entries"] = pd.DataFrame(
            {
                "kind": "weekly",
                "journal_entry_id": np.concatenate([sale_entry[covered_sales], refund_entry[covered_refunds]]),
                "settlement_statement_id": np.concatenate(
                    [
                        self.statement_ids[self.sale_statement[covered_sales]],
                        self.statement_ids[self.refund_statement[covered_refunds]],
                    ]
                ),
                "merchant_id": self.merchant_id,
                "entry_type": ["sale"] * int(covered_sales.sum()) + ["refund"] * int(covered_refunds.sum()),
            }
        ).sort_values(["settlement_statement_id", "journal_entry_id"], kind="stable")
        self.core["payouts"] = pd.DataFrame(
            {
                "payout_id": self.ids.take("payouts", len(self.payout_us)),
                "merchant_id": self.merchant_id,
                "amount_cents": self.payout_cents,
                "paid_at": _timestamps(self.payout_us),
                "settlement_statement_id": self.statement_ids[self.payout_statement],
                "journal_entry_id": payout_entry,
            }
        )


def draw_money(
    history: MerchantHistory,
    context: NetworkContext,
    rates: dict[int, int],
    ids: IdCounters,
    rng: np.random.Generator,
    *,
    post: bool = True,
) -> None:
    """Add the merchant's ledger rows to `history` (and its payout terms); with `post` False only
    the payout terms, leaving the ledger to be posted through the services."""
    money = _MerchantMoney(history, context, rates, ids, rng)
    if post:
        money.run()
    for name in TABLES:
        history.counts[name] = len(history.core.get(name, ()))
