"""The finance marts on one shop traded through the real money services: what its accountant checks.

Merchant M1 sells fertiliser (3% commission), urea (the 5% default) and oil (8%) in March and
April 2026, online, prepaid, cash on delivery and on 7/15/30-day credit; refunds one order in
cash and one against what the customer still owed; gets daily statements for 2–10 March and the
weekly one for 2–8 March, two of them paid late and one not at all. PostgreSQL → ingestion →
`dbt build` of the finance marts at a fixed as_of of 20 April (a payment on 25 April must not
count), then the settlement test is run again on a statement altered to disagree with the journal.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import psycopg
import pytest

from pipelines.ingest import ingest_full
from tests.conftest import dbt, warehouse_rows
from transactional import catalogue, orders, stock
from transactional.money import commission, payments, sales, settlements

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = date(2026, 4, 20)
RATES = {"AG-F-1": Decimal("0.03"), "FD-G-1": Decimal("0.08")}
DEFAULT_RATE = Decimal("0.05")


def shanghai(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Scenario:
    warehouse: Path
    database_url: str
    tmp: Path
    orders: dict[str, int]
    statements: dict[str, int]


def _trade(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    t0 = shanghai(1, 5)
    ids: dict[str, int] = {}
    for top, name, middles in (
        ("AG", "农资", {"AG-F": ("化肥", ["AG-F-1", "AG-F-2"])}),
        ("FD", "食品", {"FD-G": ("粮油", ["FD-G-1"])}),
    ):
        ids[top] = catalogue.create_category(conn, top, name, 1, t0)
        for middle, (middle_name, leaves) in middles.items():
            ids[middle] = catalogue.create_category(conn, middle, middle_name, 2, t0, ids[top])
            for leaf in leaves:
                ids[leaf] = catalogue.create_category(conn, leaf, f"{middle_name}{leaf[-1]}", 3, t0, ids[middle])
    for leaf, rate in RATES.items():
        commission.set_commission_rate(conn, rate=rate, valid_from=t0, at=t0, category_id=ids[leaf])

    m1 = catalogue.create_merchant(conn, "M1", "城关供销社", t0, "county_coop")
    wh = catalogue.create_warehouse(conn, m1, "WH01", "主仓", t0)
    household = catalogue.create_customer(conn, m1, "C0001", "张三", t0)
    shop = catalogue.create_customer(conn, m1, "C0002", "李记商店", t0, "shop", price_tier="wholesale")
    conn.execute("UPDATE core.customers SET credit_limit = 100000 WHERE customer_id = %s", [shop])
    products = {}
    for sku, leaf, cost, price in (
        ("FERT", "AG-F-1", "80.00", "100.00"),
        ("UREA", "AG-F-2", "40.00", "50.00"),
        ("OIL", "FD-G-1", "45.00", "60.00"),
    ):
        products[sku] = catalogue.create_product(conn, m1, sku, sku, ids[leaf], Decimal(cost), Decimal(price), t0)
        stock.receive_stock(conn, warehouse_id=wh, product_id=products[sku], quantity=100, at=t0)

    def order(
        customer: int, lines: dict[str, int], at: datetime, method: str = "online", term: int | None = None
    ) -> int:
        return orders.place_order(
            conn,
            merchant_id=m1,
            customer_id=customer,
            warehouse_id=wh,
            lines=[orders.OrderLineRequest(products[sku], quantity) for sku, quantity in lines.items()],
            at=at,
            payment_method=method,
            credit_term_days=term,
        )

    def paid_online(key: str, customer: int, lines: dict[str, int], at: datetime, method: str = "online") -> None:
        placed[key] = order(customer, lines, at, method)
        total = conn.execute("SELECT total_amount FROM core.orders WHERE order_id = %s", [placed[key]]).fetchone()
        payments.record_payment(conn, placed[key], total[0], at)  # paid in full: settled

    def on_terms(
        key: str,
        customer: int,
        lines: dict[str, int],
        at: datetime,
        shipped: datetime,
        method: str,
        term: int | None = None,
    ) -> None:
        placed[key] = order(customer, lines, at, method, term)
        orders.ship_order(conn, placed[key], shipped)  # settled at shipment

    placed: dict[str, int] = {}
    paid_online("O1", household, {"FERT": 2, "OIL": 1}, shanghai(3, 2))  # 260.00
    on_terms("O2", shop, {"FERT": 5}, shanghai(3, 3), shanghai(3, 4), "credit", 7)  # 500.00, due 11 March
    on_terms("O4", household, {"UREA": 2}, shanghai(3, 5), shanghai(3, 6), "cod")  # 100.00
    payments.record_payment(conn, placed["O4"], Decimal("100.00"), shanghai(3, 7))
    sales.post_refund(conn, placed["O4"], Decimal("20.00"), shanghai(3, 8))  # paid: 20.00 back in cash
    paid_online("O5", household, {"OIL": 2}, shanghai(3, 9))  # 120.00
    sales.post_refund(conn, placed["O5"], Decimal("60.00"), shanghai(3, 10))
    sales.post_refund(conn, placed["O2"], Decimal("100.00"), shanghai(3, 10))  # set against the 500.00 owed
    paid_online("O8", household, {"UREA": 10}, shanghai(3, 10))  # 500.00

    statements: dict[str, int] = {}
    closing = shanghai(3, 11, 9)
    for day in range(2, 11):
        statements[f"daily {day}"] = settlements.generate_statement(
            conn, m1, "daily", date(2026, 3, day), closing
        ).statement_id
    statements["weekly"] = settlements.generate_statement(conn, m1, "weekly", date(2026, 3, 2), closing).statement_id
    settlements.pay_statement(conn, statements["weekly"], shanghai(3, 11, 11))  # due 9 March: 2 days late
    settlements.pay_statement(conn, statements["daily 9"], shanghai(3, 11, 11))  # due 10 March: 1 day late

    on_terms("O3", shop, {"OIL": 10}, shanghai(3, 23), shanghai(3, 25), "credit", 30)  # 600.00, due 24 April
    on_terms("O7", shop, {"FERT": 3}, shanghai(3, 18), shanghai(3, 20), "credit", 15)  # 300.00, due 4 April
    payments.record_payment(conn, placed["O7"], Decimal("100.00"), shanghai(4, 10))
    paid_online("O9", household, {"UREA": 1}, shanghai(3, 20), "prepaid")  # 50.00
    on_terms("O6", shop, {"UREA": 4}, shanghai(4, 12), shanghai(4, 13), "credit", 7)  # 200.00, due 20 April
    payments.record_payment(conn, placed["O2"], Decimal("400.00"), shanghai(4, 25))  # after as_of
    conn.commit()
    return placed, statements


def _dbt(tmp: Path, warehouse: Path, command: str, *selection: str) -> subprocess.CompletedProcess:
    return dbt(
        warehouse,
        tmp,
        command,
        "--vars",
        f'{{"as_of": "{AS_OF.isoformat()}"}}',
        "--indirect-selection",
        "cautious",
        # Unit tests run in the project's own build; here the parents they mock are not all built.
        "--exclude-resource-type",
        "unit_test",
        "--select",
        *selection,
    )


@pytest.fixture(scope="module")
def scenario(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    uri = database_factory()
    with psycopg.connect(uri) as conn:
        placed, statements = _trade(conn)
    tmp = tmp_path_factory.mktemp("finance")
    warehouse = tmp / "warehouse.duckdb"
    ingest_full(uri, warehouse)
    result = _dbt(tmp, warehouse, "build", "+path:models/marts/finance", "path:tests/finance")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return Scenario(warehouse, uri, tmp, placed, statements)


def pg_rows(scenario: Scenario, sql: str) -> list[tuple]:
    with psycopg.connect(scenario.database_url) as conn:
        return conn.execute(sql).fetchall()


def test_settlement_statements_state_what_their_journal_entries_post(scenario: Scenario) -> None:
    marts = warehouse_rows(
        scenario.warehouse,
        """SELECT settlement_statement_id, order_count, refund_count, gross_sales, commission, refunds,
                  commission_refunded, net_payable, journal_order_count, journal_refund_count, journal_gross_sales,
                  journal_commission, journal_refunds, journal_commission_refunded, journal_net_payable,
                  net_payable_difference, is_reconciled
           FROM marts.fct_settlement_statements ORDER BY 1""",
    )
    issued = pg_rows(
        scenario,
        """SELECT settlement_statement_id, order_count, refund_count, gross_sales_cents, commission_cents,
                  refunds_cents, commission_refunded_cents, net_payable_cents
           FROM core.settlement_statements ORDER BY 1""",
    )
    assert len(marts) == len(issued) == 10
    for mart, source in zip(marts, issued, strict=True):
        stated = tuple(Decimal(cents) / 100 for cents in source[3:])
        assert mart[:3] == source[:3]
        assert mart[3:8] == stated, f"statement {source[0]} as issued"
        assert mart[8:10] == source[1:3], f"statement {source[0]}: entries covered in the journal"
        assert mart[10:15] == stated, f"statement {source[0]} recomputed from the journal"
        assert mart[15:] == (Decimal("0.00"), True)
    weekly = {row[0]: row for row in marts}[scenario.statements["weekly"]]
    # O1 260 + O2 500 + O4 100 gross; FERT 3%, OIL 8%, UREA 5%; O4's 20.00 refund gives back 1.00.
    assert weekly[1:8] == (
        3,
        1,
        Decimal("860.00"),
        Decimal("30.80"),
        Decimal("20.00"),
        Decimal("1.00"),
        Decimal("810.20"),
    )


def test_payout_status_tells_late_unpaid_and_paid_with_the_weekly_statement(scenario: Scenario) -> None:
    ids = {statement_id: key for key, statement_id in scenario.statements.items()}
    status = {
        ids[row[0]]: row[1:]
        for row in warehouse_rows(
            scenario.warehouse,
            "SELECT settlement_statement_id, payout_due_date, paid_date, payout_status, days_late "
            "FROM marts.fct_settlement_statements",
        )
    }
    assert status["weekly"] == (date(2026, 3, 9), date(2026, 3, 11), "paid_late", 2)
    assert status["daily 9"] == (date(2026, 3, 10), date(2026, 3, 11), "paid_late", 1)
    # 10 March: O8's 500.00 less refunds, never paid: overdue since the 11th.
    assert status["daily 10"] == (date(2026, 3, 11), None, "overdue", (AS_OF - date(2026, 3, 11)).days)
    # Days of the paid week: their trades went out with the weekly payout; a day with no trade had nothing to pay.
    assert status["daily 2"][2:] == ("paid_with_other_statements", 0)
    assert status["daily 3"][1:] == (None, "nothing_to_pay", 0)


def test_the_settlement_test_fails_on_a_statement_that_disagrees_with_the_journal(scenario: Scenario) -> None:
    altered = scenario.tmp / "altered" / "warehouse.duckdb"
    altered.parent.mkdir()
    shutil.copy(scenario.warehouse, altered)
    conn = duckdb.connect(str(altered))
    try:
        conn.execute(
            "UPDATE raw.settlement_statements SET commission_cents = commission_cents + 1 "
            "WHERE settlement_statement_id = ?",
            [scenario.statements["weekly"]],
        )
    finally:
        conn.close()
    result = _dbt(
        scenario.tmp / "altered",
        altered,
        "build",
        "fct_settlement_statements",
        "assert_settlement_statements_match_journal",
    )
    assert result.returncode != 0
    assert "FAIL 1 assert_settlement_statements_match_journal" in result.stdout, result.stdout[-3000:]


def test_cash_flow_is_payments_less_cash_refunds_and_payouts_day_by_day(scenario: Scenario) -> None:
    posted: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day, method, amount in pg_rows(
        scenario, "SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date, method, amount FROM core.payments"
    ):
        posted[day]["in"] += amount
        posted[day][method] += amount
    for day, cents in pg_rows(
        scenario, "SELECT (refunded_at AT TIME ZONE 'Asia/Shanghai')::date, cash_cents FROM core.refunds"
    ):
        posted[day]["refunds"] += Decimal(cents) / 100
    for day, cents in pg_rows(
        scenario, "SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date, amount_cents FROM core.payouts"
    ):
        posted[day]["payouts"] += Decimal(cents) / 100
    expected = {day: flows for day, flows in posted.items() if day <= AS_OF}

    marts = warehouse_rows(
        scenario.warehouse,
        """SELECT cash_date, cash_in, cash_in_online, cash_in_credit, cash_in_prepaid, cash_in_cod, refunds_paid,
                  payouts_paid, cash_out, net_cash_flow, platform_cash_balance
           FROM marts.fct_cash_flow_daily ORDER BY cash_date""",
    )
    assert [row[0] for row in marts] == sorted(expected), "one row per day with cash, none after as_of"
    balance = Decimal(0)
    for day, cash_in, online, credit, prepaid, cod, refunds, payouts, cash_out, net, closing in marts:
        flows = expected[day]
        balance += flows["in"] - flows["refunds"] - flows["payouts"]
        assert (cash_in, online, credit, prepaid, cod) == (
            flows["in"],
            flows["online"],
            flows["credit"],
            flows["prepaid"],
            flows["cod"],
        ), day
        assert (refunds, payouts, cash_out) == (
            flows["refunds"],
            flows["payouts"],
            flows["refunds"] + flows["payouts"],
        ), day
        assert (net, closing) == (cash_in - cash_out, balance), day
    # The refund of 100.00 against O2's debt moved no cash: 10 March pays back only O5's 60.00.
    assert {row[0]: row[6] for row in marts}[date(2026, 3, 10)] == Decimal("60.00")
    assert balance == Decimal("1130.00") - Decimal("80.00") - sum(
        (Decimal(c) / 100 for (c,) in pg_rows(scenario, "SELECT amount_cents FROM core.payouts")), Decimal(0)
    )


def test_unpaid_credit_sales_show_in_the_right_overdue_bucket(scenario: Scenario) -> None:
    open_orders = {
        row[0]: row[1:]
        for row in warehouse_rows(
            scenario.warehouse,
            """SELECT order_id, credit_term, receivable_due_date, open_amount, days_overdue, overdue_bucket
               FROM marts.fct_open_receivables""",
        )
    }
    placed = scenario.orders
    assert open_orders == {
        # Due 11 March, 100.00 refunded against it, its payment of 25 April is after as_of.
        placed["O2"]: ("credit_7d", date(2026, 3, 11), Decimal("400.00"), 40, "overdue_31_60"),
        placed["O7"]: ("credit_15d", date(2026, 4, 4), Decimal("200.00"), 16, "overdue_1_30"),
        placed["O6"]: ("credit_7d", AS_OF, Decimal("200.00"), 0, "not_due"),  # due today is not overdue
        placed["O3"]: ("credit_30d", date(2026, 4, 24), Decimal("600.00"), 0, "not_due"),
    }
    ageing = warehouse_rows(
        scenario.warehouse,
        """SELECT credit_term, overdue_bucket, orders, customers, open_amount, max_days_overdue
           FROM marts.fct_receivables_ageing ORDER BY 1, 2""",
    )
    assert ageing == [
        ("credit_15d", "overdue_1_30", 1, 1, Decimal("200.00"), 16),
        ("credit_30d", "not_due", 1, 1, Decimal("600.00"), 0),
        ("credit_7d", "not_due", 1, 1, Decimal("200.00"), 0),
        ("credit_7d", "overdue_31_60", 1, 1, Decimal("400.00"), 40),
    ]


def test_commission_is_the_categorys_rate_times_its_gross_sales(scenario: Scenario) -> None:
    marts = warehouse_rows(
        scenario.warehouse,
        """SELECT posting_month, category_code, category_l1, gross_sales, commission, refunds, commission_refunded,
                  net_commission, effective_rate, commission_rate_min, commission_rate_max
           FROM marts.fct_commission_by_category ORDER BY 1, 2""",
    )
    march = date(2026, 3, 1)
    gross = {(row[0], row[1]): row[3] for row in marts}
    assert gross == {
        (march, "AG-F-1"): Decimal("1000.00"),  # FERT: O1 200, O2 500, O7 300
        (march, "AG-F-2"): Decimal("650.00"),  # UREA: O4 100, O8 500, O9 50
        (march, "FD-G-1"): Decimal("780.00"),  # OIL: O1 60, O5 120, O3 600
        (date(2026, 4, 1), "AG-F-2"): Decimal("200.00"),  # O6
    }
    for month, code, _, gross_sales, charged, _, given_back, net, effective, low, high in marts:
        rate = RATES.get(code, DEFAULT_RATE)
        assert charged == (gross_sales * rate).quantize(Decimal("0.01")), (month, code)
        assert effective == pytest.approx(float(rate)) and low == high == pytest.approx(float(rate))
        assert net == charged - given_back
    refunds = {(row[1]): (row[5], row[6]) for row in marts if row[0] == march}
    # O2's 100.00 of FERT at 3%, O4's 20.00 of UREA at 5%, O5's 60.00 of OIL at 8%.
    assert refunds == {
        "AG-F-1": (Decimal("100.00"), Decimal("3.00")),
        "AG-F-2": (Decimal("20.00"), Decimal("1.00")),
        "FD-G-1": (Decimal("60.00"), Decimal("4.80")),
    }
    assert {row[2] for row in marts} == {"农资", "食品"}


def test_profit_by_category_adds_up_at_every_level_and_by_customer_group(scenario: Scenario) -> None:
    by_category = warehouse_rows(
        scenario.warehouse,
        """SELECT sales_month, category_level, category_code, revenue, cost, gross_profit, gross_margin
           FROM marts.fct_profit_by_category ORDER BY 1, 2, 3""",
    )
    march = [row[1:] for row in by_category if row[0] == date(2026, 3, 1)]
    # March: FERT 10 × 100 (cost 80), UREA 13 × 50 (cost 40), OIL 13 × 60 (cost 45).
    assert march == [
        (1, "AG", Decimal("1650.00"), Decimal("1320.00"), Decimal("330.00"), pytest.approx(0.2)),
        (1, "FD", Decimal("780.00"), Decimal("585.00"), Decimal("195.00"), pytest.approx(0.25)),
        (2, "AG-F", Decimal("1650.00"), Decimal("1320.00"), Decimal("330.00"), pytest.approx(0.2)),
        (2, "FD-G", Decimal("780.00"), Decimal("585.00"), Decimal("195.00"), pytest.approx(0.25)),
        (3, "AG-F-1", Decimal("1000.00"), Decimal("800.00"), Decimal("200.00"), pytest.approx(0.2)),
        (3, "AG-F-2", Decimal("650.00"), Decimal("520.00"), Decimal("130.00"), pytest.approx(0.2)),
        (3, "FD-G-1", Decimal("780.00"), Decimal("585.00"), Decimal("195.00"), pytest.approx(0.25)),
    ]
    groups = warehouse_rows(
        scenario.warehouse,
        """SELECT sales_month, customer_type, price_tier, orders, customers, revenue, cost, gross_profit
           FROM marts.fct_profit_by_customer_group ORDER BY 1, 2""",
    )
    assert groups == [
        (date(2026, 3, 1), "household", "retail", 5, 1, Decimal("1030.00"), Decimal("815.00"), Decimal("215.00")),
        (date(2026, 3, 1), "shop", "wholesale", 3, 1, Decimal("1400.00"), Decimal("1090.00"), Decimal("310.00")),
        (date(2026, 4, 1), "shop", "wholesale", 1, 1, Decimal("200.00"), Decimal("160.00"), Decimal("40.00")),
    ]
