"""The money ledger against a real PostgreSQL: commission, payments, sales, refunds, the journal's
balance, statements, T+1/T+3 payouts on the Chinese calendar, and reconciliation to the cent."""

from __future__ import annotations

import itertools
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from transactional import catalogue, orders, stock
from transactional.errors import InvalidAmount, InvalidRequest, InvalidTransition, PeriodClosed
from transactional.money import commission, journal, payments, sales, settlements
from transactional.money.calendar import add_working_days, is_working_day
from transactional.money.reconciliation import reconcile

SHANGHAI = ZoneInfo("Asia/Shanghai")
SETUP_AT = datetime(2026, 8, 1, tzinfo=UTC)
ORDER_NUMBERS = itertools.count(1)


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def round_half_up(numerator: int, denominator: int) -> int:
    """The rounding rule as the tests understand it, in exact fractions."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def to_cents(amount: Decimal) -> int:
    return int(amount * 100)


@dataclass(frozen=True)
class Tree:
    """Three-level categories: top → middle → leaf, by code."""

    ids: dict[str, int]
    parents: dict[int, int | None]


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    customer_id: int
    products: dict[str, int]  # leaf code → product


@dataclass(frozen=True)
class OrderSpec:
    shop: Shop
    ordered_at: datetime
    lines: list[tuple[str, int, Decimal, Decimal]]  # leaf code, quantity, unit price, line discount
    shipped_at: datetime | None = None
    order_discount: Decimal = Decimal("0")
    payment_method: str = "online"
    credit_term_days: int | None = None

    @property
    def total(self) -> Decimal:
        return sum((q * p - d for _, q, p, d in self.lines), Decimal(0)) - self.order_discount


def build_tree(conn: psycopg.Connection, shape: dict[str, dict[str, list[str]]]) -> Tree:
    ids: dict[str, int] = {}
    parents: dict[int, int | None] = {}
    for top, middles in shape.items():
        ids[top] = catalogue.create_category(conn, top, top, 1, SETUP_AT)
        parents[ids[top]] = None
        for middle, leaves in middles.items():
            ids[middle] = catalogue.create_category(conn, middle, middle, 2, SETUP_AT, ids[top])
            parents[ids[middle]] = ids[top]
            for leaf in leaves:
                ids[leaf] = catalogue.create_category(conn, leaf, leaf, 3, SETUP_AT, ids[middle])
                parents[ids[leaf]] = ids[middle]
    return Tree(ids, parents)


def open_shop(conn: psycopg.Connection, code: str, tree: Tree, leaves: list[str]) -> Shop:
    merchant = catalogue.create_merchant(conn, code, f"供销社 {code}", SETUP_AT)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", SETUP_AT)
    customer = catalogue.create_customer(conn, merchant, "C0001", "张三", SETUP_AT)
    products = {
        leaf: catalogue.create_product(
            conn, merchant, f"SKU-{leaf}", leaf, tree.ids[leaf], Decimal("1.00"), Decimal("9.90"), SETUP_AT
        )
        for leaf in leaves
    }
    return Shop(merchant, warehouse, customer, products)


def order_columns(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'orders'"
    ).fetchall()
    return {row[0] for row in rows}


def insert_orders(conn: psycopg.Connection, specs: list[OrderSpec]) -> list[int]:
    """Orders as the order services leave them, written in bulk (the 10 000-order test needs the
    speed); the payment terms go on the order where the schema has those columns."""
    with_terms = {"payment_method", "credit_term_days"} <= order_columns(conn)
    numbers = [f"MT{next(ORDER_NUMBERS):08d}" for _ in specs]
    columns = ["merchant_id", "order_no", "customer_id", "warehouse_id", "status", "ordered_at", "confirmed_at"]
    columns += ["shipped_at", "total_amount", "updated_at"] + (
        ["payment_method", "credit_term_days"] if with_terms else []
    )
    types = ["bigint", "text", "bigint", "bigint", "text", "timestamptz", "timestamptz", "timestamptz", "numeric"]
    types += ["timestamptz"] + (["text", "integer"] if with_terms else [])
    values = [
        [s.shop.merchant_id for s in specs],
        numbers,
        [s.shop.customer_id for s in specs],
        [s.shop.warehouse_id for s in specs],
        ["shipped" if s.shipped_at else "confirmed" for s in specs],
        [s.ordered_at for s in specs],
        [s.ordered_at for s in specs],
        [s.shipped_at for s in specs],
        [s.total for s in specs],
        [s.shipped_at or s.ordered_at for s in specs],
    ] + ([[s.payment_method for s in specs], [s.credit_term_days for s in specs]] if with_terms else [])
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    ids = dict(
        conn.execute(
            f"INSERT INTO core.orders ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
            "RETURNING order_no, order_id",
            values,
        ).fetchall()
    )
    order_ids = [ids[number] for number in numbers]
    lines = [
        (order_id, spec.shop.merchant_id, line_no, spec.shop.products[leaf], quantity, price, discount)
        for order_id, spec in zip(order_ids, specs, strict=True)
        for line_no, (leaf, quantity, price, discount) in enumerate(spec.lines, start=1)
    ]
    conn.execute(
        """INSERT INTO core.order_lines (order_id, merchant_id, line_no, product_id, quantity, unit_price,
               discount_amount)
           SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::bigint[], %s::int[], %s::numeric[],
                                %s::numeric[])""",
        [list(column) for column in zip(*lines, strict=True)],
    )
    return order_ids


def settle(conn: psycopg.Connection, order_id: int, spec: OrderSpec, at: datetime) -> None:
    """Settle one order the way the lifecycle does: paying an online or prepaid order in full settles
    it; a credit or cash-on-delivery one is settled at its shipment."""
    if spec.payment_method in ("online", "prepaid"):
        payments.record_payment(conn, order_id, spec.total, at)
    else:
        sales.post_sale(conn, order_id, at, payment_method=spec.payment_method, credit_term_days=spec.credit_term_days)


def sale_entry(conn: psycopg.Connection, order_id: int) -> int:
    return conn.execute("SELECT journal_entry_id FROM core.sales WHERE order_id = %s", [order_id]).fetchone()[0]


def journal_lines_of(conn: psycopg.Connection, entry_id: int) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        "SELECT account, debit_cents, credit_cents FROM core.journal_lines WHERE journal_entry_id = %s",
        [entry_id],
    ).fetchall()
    return {account: (debit_cents, credit_cents) for account, debit_cents, credit_cents in rows}


def unbalanced_entries(conn: psycopg.Connection) -> list[tuple[int, int, int]]:
    return conn.execute(
        """SELECT e.journal_entry_id, coalesce(sum(l.debit_cents), 0), coalesce(sum(l.credit_cents), 0)
           FROM core.journal_entries e LEFT JOIN core.journal_lines l USING (journal_entry_id)
           GROUP BY e.journal_entry_id HAVING coalesce(sum(l.debit_cents), 0) <> coalesce(sum(l.credit_cents), 0)"""
    ).fetchall()


@pytest.fixture
def tree(conn: psycopg.Connection) -> Tree:
    tree = build_tree(
        conn,
        {
            "AG": {"AG-F": ["AG-F-1", "AG-F-2"], "AG-S": ["AG-S-1"]},
            "FD": {"FD-G": ["FD-G-1"]},
        },
    )
    conn.commit()
    return tree


@pytest.fixture
def shop(conn: psycopg.Connection, tree: Tree) -> Shop:
    shop = open_shop(conn, "M001", tree, ["AG-F-1", "AG-F-2", "AG-S-1", "FD-G-1"])
    conn.commit()
    return shop


def test_commission_rate_is_the_leafs_else_its_parents_else_its_top_levels_else_the_default(conn, tree) -> None:
    ids = tree.ids
    commission.set_commission_rate(conn, rate=Decimal("0.07"), valid_from=SETUP_AT, at=SETUP_AT, category_id=ids["AG"])
    commission.set_commission_rate(
        conn, rate=Decimal("0.06"), valid_from=SETUP_AT, at=SETUP_AT, category_id=ids["AG-F"]
    )
    commission.set_commission_rate(
        conn, rate=Decimal("0.04"), valid_from=SETUP_AT, at=SETUP_AT, category_id=ids["AG-F-1"]
    )
    change = shanghai(2026, 10, 1)
    commission.set_commission_rate(
        conn, rate=Decimal("0.035"), valid_from=change, at=SETUP_AT, category_id=ids["AG-F-1"]
    )
    before, after = change - timedelta(seconds=1), change

    assert commission.commission_rate(conn, ids["AG-F-1"], before) == Decimal("0.04")
    assert commission.commission_rate(conn, ids["AG-F-1"], after) == Decimal("0.035")
    assert commission.commission_rate(conn, ids["AG-F-2"], after) == Decimal("0.06")
    assert commission.commission_rate(conn, ids["AG-S-1"], after) == Decimal("0.07")
    assert commission.commission_rate(conn, ids["FD-G-1"], after) == commission.DEFAULT_RATE == Decimal("0.05")
    assert commission.commission_rate(conn, ids["AG-F-1"], SETUP_AT - timedelta(days=1)) == Decimal("0.05")

    commission.set_commission_rate(conn, rate=Decimal("0.03"), valid_from=change, at=SETUP_AT)
    assert commission.commission_rate(conn, ids["FD-G-1"], after) == Decimal("0.03")
    assert commission.commission_rate(conn, ids["FD-G-1"], before) == Decimal("0.05")

    with pytest.raises(InvalidAmount, match=r"9% for category FD-G-1 is outside 3%–8%"):
        commission.set_commission_rate(
            conn, rate=Decimal("0.09"), valid_from=change, at=SETUP_AT, category_id=ids["FD-G-1"]
        )
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO core.commission_rates (category_id, rate, valid_from, created_at) VALUES (%s, 0.02, %s, %s)",
            [ids["FD-G-1"], change, SETUP_AT],
        )
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE core.commission_rates SET rate = 0.08")


def test_a_sale_charges_each_line_its_categorys_commission_rounded_half_up(conn, tree, shop) -> None:
    commission.set_commission_rate(
        conn, rate=Decimal("0.035"), valid_from=SETUP_AT, at=SETUP_AT, category_id=tree.ids["AG-F-1"]
    )
    spec = OrderSpec(
        shop,
        shanghai(2026, 9, 1, 10),
        [
            ("AG-F-1", 1, Decimal("12.50"), Decimal("0")),  # 1250 × 3.5% = 43.75 → 44
            ("FD-G-1", 1, Decimal("10.10"), Decimal("0")),  # 1010 × 5% = 50.5 → 51
            ("AG-S-1", 1, Decimal("10.09"), Decimal("0")),  # 1009 × 5% = 50.45 → 50
        ],
    )
    [order_id] = insert_orders(conn, [spec])
    payments.record_payment(conn, order_id, Decimal("32.69"), spec.ordered_at)  # paid in full: settled
    entry = sale_entry(conn, order_id)
    conn.commit()

    lines = conn.execute(
        "SELECT commission_rate, gross_cents, commission_cents FROM core.sale_lines WHERE order_id = %s "
        "ORDER BY order_line_id",
        [order_id],
    ).fetchall()
    assert lines == [(Decimal("0.0350"), 1250, 44), (Decimal("0.0500"), 1010, 51), (Decimal("0.0500"), 1009, 50)]
    assert journal_lines_of(conn, entry) == {
        "customer_receivable": (3269, 0),
        "merchant_payable": (0, 3269 - 145),
        "commission_revenue": (0, 145),
    }
    with pytest.raises(InvalidTransition, match=r"orders MT\d+ are already settled"):
        sales.post_sale(conn, order_id, spec.ordered_at)


def test_an_order_level_discount_is_spread_over_the_lines_by_largest_remainder(conn, shop) -> None:
    # Lines of 1.00, 1.00 and 1.00 with 0.01 off the order: 299 cents over three equal weights
    # gives 99 each and two cents left, which go to the first two lines (equal remainders: ties
    # go to the earlier line).
    spec = OrderSpec(
        shop,
        shanghai(2026, 9, 1, 10),
        [("AG-F-1", 1, Decimal("1.00"), Decimal("0"))] * 3,
        order_discount=Decimal("0.01"),
    )
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    grosses = conn.execute(
        "SELECT gross_cents FROM core.sale_lines WHERE order_id = %s ORDER BY order_line_id", [order_id]
    ).fetchall()
    assert [g for (g,) in grosses] == [100, 100, 99]
    assert conn.execute("SELECT gross_cents FROM core.sales WHERE order_id = %s", [order_id]).fetchone() == (299,)


def test_refunds_give_back_commission_pro_rata_and_never_drift(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 9, 1, 10), [("FD-G-1", 1, Decimal("10.00"), Decimal("0"))])
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    refund_at = spec.ordered_at + timedelta(days=1)
    refund_ids = sales.post_refunds(
        conn, [sales.RefundRequest(order_id, Decimal(amount), refund_at) for amount in ("3.33", "3.33", "3.34")]
    )
    conn.commit()

    # Commission 50 on 1000; cumulative reversals round(16.65) = 17, round(33.3) = 33, round(50) = 50.
    shares = conn.execute(
        "SELECT commission_cents FROM core.refund_lines WHERE refund_id = ANY(%s) ORDER BY refund_id", [refund_ids]
    ).fetchall()
    assert [s for (s,) in shares] == [17, 16, 17]
    entries = conn.execute(
        "SELECT journal_entry_id, cash_cents FROM core.refunds WHERE refund_id = %s", [refund_ids[0]]
    ).fetchone()
    assert entries is not None and entries[1] == 333  # paid online: the refund goes back in cash
    assert journal_lines_of(conn, entries[0]) == {
        "merchant_payable": (333 - 17, 0),
        "commission_revenue": (17, 0),
        "platform_cash": (0, 333),
    }
    with pytest.raises(InvalidAmount, match=r"refund of 0.01 CNY on order MT\d+ is more than the 0.00 CNY still"):
        sales.post_refund(conn, order_id, Decimal("0.01"), refund_at)
    with pytest.raises(InvalidAmount, match="more than two decimals"):
        sales.post_refund(conn, order_id, Decimal("0.001"), refund_at)
    assert journal.payable_balance_cents(conn, shop.merchant_id, refund_at) == 0


def test_a_refund_of_the_whole_order_is_spread_by_what_each_line_has_left(conn, tree, shop) -> None:
    commission.set_commission_rate(
        conn, rate=Decimal("0.08"), valid_from=SETUP_AT, at=SETUP_AT, category_id=tree.ids["AG-F-2"]
    )
    spec = OrderSpec(
        shop,
        shanghai(2026, 9, 1, 10),
        [("FD-G-1", 1, Decimal("1.00"), Decimal("0")), ("AG-F-2", 1, Decimal("2.00"), Decimal("0"))],
    )
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    refund_id = sales.post_refund(conn, order_id, Decimal("1.00"), spec.ordered_at + timedelta(hours=1))
    conn.commit()
    # 100 cents over weights 100 and 200: 33.3 and 66.7 → 33 and 67. Commissions 5 and 16 give
    # back round(5 × 33/100) = 2 and round(16 × 67/200) = 5.
    rows = conn.execute(
        "SELECT amount_cents, commission_cents FROM core.refund_lines WHERE refund_id = %s ORDER BY order_line_id",
        [refund_id],
    ).fetchall()
    assert rows == [(33, 2), (67, 5)]


def test_the_database_refuses_a_payment_beyond_what_the_order_owes(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 10, 8, 9), [("AG-S-1", 2, Decimal("10.00"), Decimal("0"))])
    [order_id] = insert_orders(conn, [spec])
    payments.record_payment(conn, order_id, Decimal("15.00"), spec.ordered_at)
    conn.commit()

    def raw_payment(amount: str) -> None:
        """A payment written past the service, with its balanced journal entry."""
        cents = int(Decimal(amount) * 100)
        entry = conn.execute(
            """INSERT INTO core.journal_entries (merchant_id, entry_type, order_id, posted_at)
               VALUES (%s, 'payment', %s, %s) RETURNING journal_entry_id""",
            [shop.merchant_id, order_id, spec.ordered_at],
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO core.journal_lines (journal_entry_id, merchant_id, account, debit_cents, credit_cents)
               VALUES (%s, %s, 'platform_cash', %s, 0), (%s, %s, 'customer_receivable', 0, %s)""",
            [entry, shop.merchant_id, cents, entry, shop.merchant_id, cents],
        )
        conn.execute(
            """INSERT INTO core.payments (merchant_id, order_id, method, amount, paid_at, journal_entry_id)
               VALUES (%s, %s, 'online', %s, %s, %s)""",
            [shop.merchant_id, order_id, Decimal(amount), spec.ordered_at, entry],
        )

    with pytest.raises(psycopg.errors.CheckViolation, match=r"more than the 5\.00 CNY it still owes"):
        raw_payment("5.01")
    conn.rollback()
    raw_payment("5.00")
    conn.commit()
    paid = conn.execute("SELECT sum(amount) FROM core.payments WHERE order_id = %s", [order_id]).fetchone()
    assert paid == (Decimal("20.00"),)


def test_credit_orders_settle_at_shipment_and_fall_due_after_their_term(conn, shop) -> None:
    shipped = shanghai(2026, 10, 9, 10)
    credit = OrderSpec(
        shop,
        shanghai(2026, 10, 8, 9),
        [("AG-S-1", 10, Decimal("10.00"), Decimal("0"))],
        shipped_at=shipped,
        payment_method="credit",
        credit_term_days=15,
    )
    online = OrderSpec(shop, shanghai(2026, 10, 8, 9), [("AG-S-1", 1, Decimal("5.00"), Decimal("0"))])
    unshipped = OrderSpec(
        shop, shanghai(2026, 10, 8, 9), [("AG-S-1", 1, Decimal("5.00"), Decimal("0"))], payment_method="cod"
    )
    credit_id, online_id, unshipped_id = insert_orders(conn, [credit, online, unshipped])
    conn.commit()

    with pytest.raises(InvalidTransition, match=r"paid 0.00 of 5.00 CNY; online orders are settled once paid"):
        sales.post_sale(conn, online_id, shipped)
    with pytest.raises(InvalidTransition, match=r"has not shipped; cod orders are settled at shipment"):
        sales.post_sale(conn, unshipped_id, shipped, payment_method="cod")
    sales.post_sale(conn, credit_id, shipped, payment_method="credit", credit_term_days=15)
    payments.record_payment(conn, credit_id, Decimal("30.00"), shipped + timedelta(days=5))
    sales.post_refund(conn, credit_id, Decimal("20.00"), shipped + timedelta(days=6))
    with pytest.raises(InvalidAmount, match=r"payment of 50.01 CNY for order MT\d+ is more than the 50.00 CNY"):
        payments.record_payment(conn, credit_id, Decimal("50.01"), shipped + timedelta(days=7))

    [receivable] = payments.open_receivables(conn, shop.merchant_id, shanghai(2026, 10, 30, 12))
    assert receivable.order_id == credit_id
    assert receivable.due_date == date(2026, 10, 24)  # shipped 10-09 + 15 days
    assert (receivable.paid_cents, receivable.refunded_against_cents, receivable.open_cents) == (3000, 2000, 5000)
    assert receivable.days_overdue == 6
    assert payments.open_receivables(conn, shop.merchant_id, shipped - timedelta(seconds=1)) == []
    # The refund came off what the customer still owed, so no cash went back.
    assert conn.execute("SELECT offset_cents, cash_cents FROM core.refunds").fetchone() == (2000, 0)
    payments.record_payment(conn, credit_id, Decimal("50.00"), shipped + timedelta(days=20))
    assert payments.open_receivables(conn, shop.merchant_id, shanghai(2026, 11, 30)) == []
    exposure = conn.execute(
        "SELECT sum(amount) FROM core.payments WHERE order_id = %s AND method = 'credit'", [credit_id]
    ).fetchone()
    assert exposure == (Decimal("80.00"),)


def place(conn: psycopg.Connection, shop: Shop, at: datetime, payment_method: str = "online") -> int:
    """Three fertiliser bags at 19.90 (59.70 CNY), from stock received at the same moment."""
    stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.products["AG-F-1"], quantity=3, at=at)
    return orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.products["AG-F-1"], 3, Decimal("19.90"))],
        at=at,
        payment_method=payment_method,
    )


def test_the_order_services_flow_through_payment_sale_and_refund(conn, shop) -> None:
    at = shanghai(2026, 9, 7, 10)
    order_id = place(conn, shop, at)
    payments.record_payment(conn, order_id, Decimal("59.70"), at + timedelta(minutes=1))  # settles it
    orders.ship_order(conn, order_id, at + timedelta(hours=5))
    sales.post_refund(conn, order_id, Decimal("19.90"), at + timedelta(days=2), reference="RT-1")
    conn.commit()

    # 5970 × 5% = 298.5 → 299; refunding a third gives back round(299 × 1990 / 5970) = 100.
    assert journal.payable_balance_cents(conn, shop.merchant_id, at + timedelta(days=3)) == 5970 - 299 - 1990 + 100
    assert reconcile(conn, shop.merchant_id, at + timedelta(days=3)).reconciles
    with pytest.raises(InvalidTransition, match="refund references RT-1 are already used"):
        sales.post_refund(conn, order_id, Decimal("1.00"), at + timedelta(days=2), reference="RT-1")


def settled_at(conn: psycopg.Connection, order_id: int) -> datetime | None:
    row = conn.execute("SELECT settled_at FROM core.sales WHERE order_id = %s", [order_id]).fetchone()
    return row[0] if row else None


def test_the_payment_that_completes_an_online_order_or_the_shipment_of_a_cod_one_settles_it(conn, shop) -> None:
    at = shanghai(2026, 9, 8, 10)
    online, cod = place(conn, shop, at), place(conn, shop, at, "cod")

    payments.record_payment(conn, online, Decimal("20.00"), at + timedelta(minutes=1))
    assert settled_at(conn, online) is None  # paid in part
    payments.record_payment(conn, online, Decimal("39.70"), at + timedelta(minutes=2))
    assert settled_at(conn, online) == at + timedelta(minutes=2)
    orders.ship_order(conn, online, at + timedelta(hours=3))  # settled once only
    assert settled_at(conn, cod) is None
    orders.ship_order(conn, cod, at + timedelta(hours=4))
    assert settled_at(conn, cod) == at + timedelta(hours=4)
    conn.commit()

    # 5970 × 5% = 298.5 → 299 commission on each.
    assert journal.payable_balance_cents(conn, shop.merchant_id, at + timedelta(days=1)) == 2 * (5970 - 299)
    assert reconcile(conn, shop.merchant_id, at + timedelta(days=1)).reconciles


def test_cancelling_a_paid_order_refunds_it_whole_and_a_part_paid_one_is_refused(conn, shop) -> None:
    at = shanghai(2026, 9, 9, 10)
    paid, part_paid = place(conn, shop, at), place(conn, shop, at)
    payments.record_payment(conn, paid, Decimal("59.70"), at + timedelta(minutes=1))
    payments.record_payment(conn, part_paid, Decimal("1.00"), at + timedelta(minutes=1))
    conn.commit()

    orders.cancel_order(conn, paid, at + timedelta(hours=1), reason="changed my mind")
    with pytest.raises(InvalidTransition, match=r"has 1\.00 of its 59\.70 CNY paid; a part payment cannot be refunded"):
        orders.cancel_order(conn, part_paid, at + timedelta(hours=1))
    conn.rollback()
    with pytest.raises(InvalidTransition, match=r"order SO\d+ is cancelled already"):
        orders.cancel_order(conn, paid, at + timedelta(hours=2))
    conn.rollback()

    refund = conn.execute(
        "SELECT amount_cents, offset_cents, cash_cents, reason FROM core.refunds WHERE order_id = %s", [paid]
    ).fetchone()
    assert refund == (5970, 0, 5970, "order cancelled")
    # The sale and its refund cancel out, commission included: the merchant is owed nothing.
    assert journal.payable_balance_cents(conn, shop.merchant_id, at + timedelta(days=1)) == 0
    assert reconcile(conn, shop.merchant_id, at + timedelta(days=1)).reconciles


def test_a_back_dated_shipment_of_a_confirmed_order_names_the_shipment(conn, shop) -> None:
    at = shanghai(2026, 9, 10, 10)
    order_id = place(conn, shop, at)  # placed and confirmed at `at`
    with pytest.raises(InvalidTransition, match=r"cannot become shipped at .*, before its last step"):
        orders.ship_order(conn, order_id, at - timedelta(hours=1))


def test_an_unbalanced_entry_is_refused_by_the_database_at_commit(conn, shop) -> None:
    entry = conn.execute(
        """INSERT INTO core.journal_entries (merchant_id, entry_type, posted_at)
           VALUES (%s, 'payout', %s) RETURNING journal_entry_id""",
        [shop.merchant_id, SETUP_AT],
    ).fetchone()
    assert entry is not None
    conn.execute(
        """INSERT INTO core.journal_lines (journal_entry_id, merchant_id, account, debit_cents, credit_cents)
           VALUES (%s, %s, 'merchant_payable', 100, 0), (%s, %s, 'platform_cash', 0, 99)""",
        [entry[0], shop.merchant_id, entry[0], shop.merchant_id],
    )
    with pytest.raises(psycopg.errors.CheckViolation, match="does not balance: debits 100 cents, credits 99 cents"):
        conn.commit()
    assert conn.execute("SELECT count(*) FROM core.journal_entries").fetchone() == (0,)

    with pytest.raises(psycopg.errors.CheckViolation, match="journal_line_one_side"):
        conn.execute(
            """INSERT INTO core.journal_lines (journal_entry_id, merchant_id, account, debit_cents, credit_cents)
               VALUES (1, %s, 'platform_cash', 5, 5)""",
            [shop.merchant_id],
        )
    conn.rollback()


def test_the_ledgers_refuse_update_and_delete(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 9, 1, 10), [("FD-G-1", 1, Decimal("10.00"), Decimal("0"))])
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    sales.post_refund(conn, order_id, Decimal("1.00"), spec.ordered_at)
    conn.commit()
    for statement in (
        "UPDATE core.journal_lines SET debit_cents = debit_cents + 1",
        "DELETE FROM core.journal_lines",
        "UPDATE core.journal_entries SET posted_at = posted_at + interval '1 day'",
        "DELETE FROM core.journal_entries",
        "UPDATE core.payments SET amount = 0.01",
        "DELETE FROM core.sales",
        "DELETE FROM core.refunds",
        "UPDATE core.sale_lines SET refunded_cents = 0, commission_refunded_cents = 0",
        "TRUNCATE core.journal_lines CASCADE",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    assert conn.execute("SELECT count(*) FROM core.journal_lines").fetchone() == (8,)


def test_weekly_statement_on_a_monday_covers_exactly_the_previous_week(conn, shop) -> None:
    settings_at = shanghai(2026, 9, 1)
    times = {
        "sunday before": shanghai(2026, 9, 27, 23, 59, 59),
        "monday start": shanghai(2026, 9, 28, 0, 0),
        "sunday end": shanghai(2026, 10, 4, 23, 59, 59),
        "next monday": shanghai(2026, 10, 5, 0, 0),
    }
    specs = {name: OrderSpec(shop, at, [("FD-G-1", 1, Decimal("10.00"), Decimal("0"))]) for name, at in times.items()}
    order_ids = dict(zip(specs, insert_orders(conn, list(specs.values())), strict=True))
    for name, spec in specs.items():
        settle(conn, order_ids[name], spec, spec.ordered_at)
    refund = sales.post_refund(conn, order_ids["sunday before"], Decimal("4.00"), shanghai(2026, 10, 2, 12))
    settlements.set_payout_working_days(conn, shop.merchant_id, 3, settings_at)
    conn.commit()

    monday = shanghai(2026, 10, 5, 9)
    issued = settlements.generate_due_statements(conn, monday, [shop.merchant_id])
    [weekly] = [s for s in issued if s.kind == "weekly"]
    assert [s.kind for s in issued] == ["daily", "weekly"]
    assert (weekly.period_start, weekly.period_end) == (date(2026, 9, 28), date(2026, 10, 4))
    assert weekly.order_ids == (order_ids["monday start"], order_ids["sunday end"])
    assert weekly.refund_ids == (refund,)
    # 2 × (1000 − 50) − (400 − 20)
    assert (weekly.gross_sales_cents, weekly.commission_cents, weekly.refunds_cents) == (2000, 100, 400)
    assert (weekly.commission_refunded_cents, weekly.net_payable_cents) == (20, 1520)
    # T = Sunday 10-04; 10-05..07 are National Day; 10-08 Thu, 10-09 Fri, 10-10 a make-up Saturday.
    assert (weekly.payout_working_days, weekly.payout_due_date) == (3, date(2026, 10, 10))
    assert (
        reconcile(conn, shop.merchant_id, shanghai(2026, 10, 5), start=shanghai(2026, 9, 28)).journal_payable_cents
        == 1520
    )


def test_statement_generation_is_idempotent_and_closes_its_days(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 9, 30, 15), [("FD-G-1", 2, Decimal("10.00"), Decimal("0"))])
    late = OrderSpec(shop, shanghai(2026, 9, 30, 16), [("FD-G-1", 1, Decimal("10.00"), Decimal("0"))])
    order_id, late_id = insert_orders(conn, [spec, late])
    settle(conn, order_id, spec, spec.ordered_at)
    conn.commit()

    with pytest.raises(InvalidTransition, match="daily period 2026-09-30 to 2026-09-30 has not ended on 2026-09-30"):
        settlements.generate_statement(conn, shop.merchant_id, "daily", date(2026, 9, 30), shanghai(2026, 9, 30, 23))
    with pytest.raises(InvalidRequest, match="weekly statement starts on a Monday; period_start 2026-09-30 is not one"):
        settlements.generate_statement(conn, shop.merchant_id, "weekly", date(2026, 9, 30), shanghai(2026, 10, 9))
    # A time ahead of the real one does not end a period early.
    with pytest.raises(InvalidTransition, match="daily period 2026-09-30 to 2026-09-30 has not ended on 2026-09-30"):
        settlements.generate_statement(
            conn, shop.merchant_id, "daily", date(2026, 9, 30), shanghai(2026, 10, 5), now=shanghai(2026, 9, 30, 23)
        )
    first = settlements.generate_statement(conn, shop.merchant_id, "daily", date(2026, 9, 30), shanghai(2026, 10, 1, 1))
    again = settlements.generate_statement(conn, shop.merchant_id, "daily", date(2026, 9, 30), shanghai(2026, 10, 2, 1))
    conn.commit()
    assert again == first
    assert (first.order_ids, first.net_payable_cents) == ((order_id,), 2000 - 100)
    assert first.payout_due_date == date(2026, 10, 8)  # T+1 after 09-30 skips National Day
    assert conn.execute("SELECT count(*) FROM core.settlement_statements").fetchone() == (1,)

    # Paying the late order in full would settle it on a day the statement has closed.
    with pytest.raises(PeriodClosed, match=r"sale of order MT\d+ is dated 2026-09-30, which the daily statement"):
        payments.record_payment(conn, late_id, late.total, late.ordered_at)
    with pytest.raises(PeriodClosed, match=r"refund on order MT\d+ is dated 2026-09-30"):
        sales.post_refund(conn, order_id, Decimal("1.00"), shanghai(2026, 9, 30, 20))
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="already issued"):
        conn.execute(
            """INSERT INTO core.journal_entries (merchant_id, entry_type, order_id, posted_at)
               VALUES (%s, 'sale', %s, %s)""",
            [shop.merchant_id, late_id, late.ordered_at],
        )
    conn.rollback()
    payments.record_payment(conn, late_id, late.total, shanghai(2026, 10, 1, 8))  # the next, open day takes it
    conn.commit()
    assert conn.execute("SELECT settled_at FROM core.sales WHERE order_id = %s", [late_id]).fetchone() == (
        shanghai(2026, 10, 1, 8),
    )


def test_payouts_fall_due_on_chinese_working_days() -> None:
    assert add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 9)  # Friday → Monday
    assert add_working_days(date(2026, 11, 6), 3) == date(2026, 11, 11)
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)  # over National Day
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # a make-up Saturday works
    assert not any(is_working_day(date(2026, 10, day)) for day in range(1, 8))
    assert is_working_day(date(2026, 9, 20))  # Sunday, worked for National Day
    assert not is_working_day(date(2026, 9, 25))  # Mid-Autumn Festival, a Friday


def test_statements_are_paid_once_and_payouts_never_exceed_the_payable(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 11, 3, 10), [("FD-G-1", 1, Decimal("100.00"), Decimal("0"))])
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    conn.commit()
    weekly = settlements.generate_statement(conn, shop.merchant_id, "weekly", date(2026, 11, 2), shanghai(2026, 11, 9))
    assert weekly.payout_due_date == date(2026, 11, 9)
    settlements.pay_statement(conn, weekly.statement_id, shanghai(2026, 11, 9, 10))
    with pytest.raises(InvalidTransition, match=r"weekly statement for 2026-11-02 to 2026-11-08 is already paid"):
        settlements.pay_statement(conn, weekly.statement_id, shanghai(2026, 11, 9, 11))
    with pytest.raises(
        InvalidAmount, match=r"payout of 0\.01 CNY to merchant M001 is more than the 0\.00 CNY it is owed"
    ):
        settlements.post_payout(conn, shop.merchant_id, Decimal("0.01"), shanghai(2026, 11, 9, 12))
    conn.commit()
    result = reconcile(conn, shop.merchant_id, shanghai(2026, 12, 1))
    assert (result.sales_cents, result.commission_cents, result.payouts_cents) == (10000, 500, 9500)
    assert result.journal_payable_cents == 0 and result.reconciles


def test_reconciliation_shows_an_entry_posted_outside_the_rules(conn, shop) -> None:
    spec = OrderSpec(shop, shanghai(2026, 9, 1, 10), [("FD-G-1", 1, Decimal("10.00"), Decimal("0"))])
    [order_id] = insert_orders(conn, [spec])
    settle(conn, order_id, spec, spec.ordered_at)
    assert reconcile(conn, shop.merchant_id, shanghai(2026, 9, 2)).reconciles
    # Balanced, so the database accepts it, but no sale, refund or payout explains it.
    journal.write_entries(
        conn,
        [
            journal.EntryDraft(
                shop.merchant_id,
                "payment",
                shanghai(2026, 9, 1, 12),
                (journal.debit("commission_revenue", 1), journal.credit("merchant_payable", 1)),
                order_id=order_id,
            )
        ],
    )
    conn.commit()
    assert reconcile(conn, shop.merchant_id, shanghai(2026, 9, 2)).difference_cents == 1


# --- 10 000 random settlements ------------------------------------------------------------------

SEED = 20261001
ORDERS = 10_000
FIRST_DAY = shanghai(2026, 9, 1)
RATE_CHANGE = shanghai(2026, 10, 1)
SHAPE = {
    "T1": {"T1-A": ["T1-A-1", "T1-A-2"], "T1-B": ["T1-B-1", "T1-B-2"]},
    "T2": {"T2-A": ["T2-A-1", "T2-A-2"], "T2-B": ["T2-B-1"]},
    "T3": {"T3-A": ["T3-A-1", "T3-A-2"]},
}
LEAVES = [leaf for middles in SHAPE.values() for leaves in middles.values() for leaf in leaves]


@dataclass
class RateModel:
    """The tests' own resolution of rates: category → [(valid_from, rate)], None the default."""

    tree: Tree
    history: dict[int | None, list[tuple[datetime, Decimal]]] = field(
        default_factory=lambda: {None: [(datetime(2000, 1, 1, tzinfo=SHANGHAI), Decimal("0.05"))]}
    )

    def rate(self, leaf_id: int, at: datetime) -> Decimal:
        middle = self.tree.parents[leaf_id]
        top = self.tree.parents[middle] if middle else None
        for category in (leaf_id, middle, top, None):
            in_force = [(start, rate) for start, rate in self.history.get(category, []) if start <= at]
            if in_force:
                return max(in_force)[1]
        raise AssertionError("the default rate is always in force")


def random_rates(conn: psycopg.Connection, rng: random.Random, tree: Tree) -> RateModel:
    model = RateModel(tree)
    chosen = [tree.ids[code] for code in ("T1", "T1-A", "T1-A-1", "T2-A-2", "T2-B", "T1-B-2")]
    for category_id in chosen:
        for valid_from in (SETUP_AT, RATE_CHANGE):
            rate = Decimal(rng.randint(300, 800)) / 10_000
            commission.set_commission_rate(conn, rate=rate, valid_from=valid_from, at=SETUP_AT, category_id=category_id)
            model.history.setdefault(category_id, []).append((valid_from, rate))
    return model


def random_orders(rng: random.Random, shops: list[Shop]) -> list[OrderSpec]:
    specs = []
    for _ in range(ORDERS):
        ordered_at = FIRST_DAY + timedelta(seconds=rng.randrange(61 * 86_400))
        lines = [
            (
                rng.choice(LEAVES),
                rng.randint(1, 20),
                Decimal(rng.randint(1, 99_999)) / 100,
                Decimal(0),
            )
            for _ in range(rng.randint(1, 3))
        ]
        lines = [
            (leaf, q, p, Decimal(rng.randint(0, int(q * p * 10))) / 100 if rng.random() < 0.2 else d)
            for leaf, q, p, d in lines
        ]
        subtotal = sum((q * p - d for _, q, p, d in lines), Decimal(0))
        order_discount = Decimal(rng.randint(0, int(subtotal * 10))) / 100 if rng.random() < 0.15 else Decimal(0)
        method = rng.choice(["online", "online", "prepaid", "credit", "cod"])
        specs.append(
            OrderSpec(
                rng.choice(shops),
                ordered_at,
                lines,
                shipped_at=ordered_at + timedelta(hours=rng.randint(1, 72)),
                order_discount=order_discount,
                payment_method=method,
                credit_term_days=rng.choice([7, 15, 30]) if method == "credit" else None,
            )
        )
    return specs


def test_ten_thousand_random_settlements_balance_reconcile_and_round_by_the_rule(conn) -> None:
    started = time.perf_counter()
    rng = random.Random(SEED)
    tree = build_tree(conn, SHAPE)
    shops = [open_shop(conn, f"R{n}", tree, LEAVES) for n in range(3)]
    rates = random_rates(conn, rng, tree)
    specs = random_orders(rng, shops)
    order_ids = insert_orders(conn, specs)
    conn.commit()

    paid_first = [(o, s) for o, s in zip(order_ids, specs, strict=True) if s.payment_method in ("online", "prepaid")]
    payments.record_payments(
        conn, [payments.PaymentRequest(o, s.total, s.ordered_at + timedelta(minutes=1)) for o, s in paid_first]
    )
    settled_at = {
        o: s.ordered_at + timedelta(minutes=1) if s.payment_method in ("online", "prepaid") else s.shipped_at
        for o, s in zip(order_ids, specs, strict=True)
    }
    on_credit = [(o, s) for o, s in zip(order_ids, specs, strict=True) if s.payment_method in ("credit", "cod")]
    # The payments settled the online and prepaid orders; the shipped ones settle here.
    sales.post_sales(
        conn, [sales.SaleRequest(o, settled_at[o], s.payment_method, s.credit_term_days) for o, s in on_credit]
    )
    credit_paid_cents = {o: to_cents(s.total) * rng.choice([0, 1, 2]) // 2 for o, s in on_credit}
    payments.record_payments(
        conn,
        [
            payments.PaymentRequest(o, Decimal(cents) / 100, settled_at[o] + timedelta(days=rng.randint(1, 30)))
            for o, cents in credit_paid_cents.items()
            if cents
        ],
    )

    refunds = random_refunds(rng, conn, order_ids, settled_at)
    sales.post_refunds(conn, refunds)
    payouts = []
    for shop in shops:
        for at, share in ((shanghai(2026, 10, 15), 0.4), (shanghai(2026, 12, 20), 0.5)):
            owed = journal.payable_balance_cents(conn, shop.merchant_id, at)
            cents = int(owed * share)
            settlements.post_payout(conn, shop.merchant_id, Decimal(cents) / 100, at)
            payouts.append((shop.merchant_id, cents))
    conn.commit()
    posted = time.perf_counter()

    assert unbalanced_entries(conn) == []
    assert_sale_lines_follow_the_rules(conn, rates, specs, order_ids)
    assert_refunds_follow_the_rules(conn)
    assert_journal_matches_the_trade(conn, shops, specs, order_ids, refunds, credit_paid_cents, payouts)
    assert_statements_cover_every_trade_once(conn, shops)
    print(f"\n10 000 settlements: posted in {posted - started:.1f} s, checked in {time.perf_counter() - posted:.1f} s")


def random_refunds(
    rng: random.Random, conn: psycopg.Connection, order_ids: list[int], settled_at: dict[int, datetime]
) -> list[sales.RefundRequest]:
    """About a third of the orders get one to three refunds, partial or of everything left:
    half of them on named lines, half on the whole order (spread by the service)."""
    lines_by_order: dict[int, dict[int, int]] = defaultdict(dict)
    for order_id, line_id, gross in conn.execute("SELECT order_id, order_line_id, gross_cents FROM core.sale_lines"):
        lines_by_order[order_id][line_id] = gross
    requests = []
    for order_id in order_ids:
        if rng.random() > 0.35:
            continue
        left = dict(lines_by_order[order_id])
        by_line = rng.random() < 0.5
        at = settled_at[order_id]
        for _ in range(rng.randint(1, 3)):
            at += timedelta(hours=rng.randint(1, 240))
            line_id = rng.choice(list(left)) if by_line else None
            available = left[line_id] if line_id else sum(left.values())
            if available == 0:
                continue
            cents = available if rng.random() < 0.25 else rng.randint(1, available)
            if line_id:
                left[line_id] -= cents
            else:
                # Only the order's total left matters for an order-level refund.
                left = {next(iter(left)): available - cents}
            requests.append(sales.RefundRequest(order_id, Decimal(cents) / 100, at, order_line_id=line_id))
    return requests


def assert_sale_lines_follow_the_rules(
    conn: psycopg.Connection, rates: RateModel, specs: list[OrderSpec], order_ids: list[int]
) -> None:
    rows = conn.execute(
        """SELECT s.order_id, s.category_id, s.commission_rate, s.gross_cents, s.commission_cents,
                  (l.line_amount * 100)::bigint
           FROM core.sale_lines s JOIN core.order_lines l USING (order_line_id) ORDER BY s.order_id, l.line_no"""
    ).fetchall()
    by_order = defaultdict(list)
    for order_id, *line in rows:
        by_order[order_id].append(line)
    for order_id, spec in zip(order_ids, specs, strict=True):
        lines = by_order[order_id]
        total = to_cents(spec.total)
        weights = sum(amount for *_, amount in lines)
        assert sum(gross for _, _, gross, _, _ in lines) == total
        for category_id, rate, gross, commission_cents, amount in lines:
            assert rate == rates.rate(category_id, spec.ordered_at)
            assert commission_cents == round_half_up(gross * int(rate * 10_000), 10_000)
            if weights:  # within a cent of the exact pro-rata share of the order's total
                assert abs(gross * weights - total * amount) < weights


def assert_refunds_follow_the_rules(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """SELECT r.refund_id, r.amount_cents, l.order_line_id, l.amount_cents, l.commission_cents,
                  s.gross_cents, s.commission_cents
           FROM core.refunds r JOIN core.refund_lines l USING (refund_id) JOIN core.sale_lines s USING (order_line_id)
           ORDER BY r.refund_id, l.order_line_id"""
    ).fetchall()
    assert rows, "the random run made no refunds"
    refunded: dict[int, int] = defaultdict(int)
    reversed_: dict[int, int] = defaultdict(int)
    amounts: dict[int, tuple[int, int]] = {}
    for refund_id, amount, line_id, cents, commission_cents, gross, line_commission in rows:
        refunded[line_id] += cents
        reversed_[line_id] += commission_cents
        assert reversed_[line_id] == round_half_up(line_commission * refunded[line_id], gross)
        amounts[refund_id] = (amount, amounts.get(refund_id, (0, 0))[1] + cents)
    assert all(amount == lines for amount, lines in amounts.values())
    fully_refunded = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE commission_refunded_cents = commission_cents) "
        "FROM core.sale_lines WHERE refunded_cents = gross_cents AND gross_cents > 0"
    ).fetchone()
    assert fully_refunded is not None and fully_refunded[0] > 100 and fully_refunded[0] == fully_refunded[1]


def assert_journal_matches_the_trade(
    conn: psycopg.Connection,
    shops: list[Shop],
    specs: list[OrderSpec],
    order_ids: list[int],
    refunds: list[sales.RefundRequest],
    credit_paid_cents: dict[int, int],
    payouts: list[tuple[int, int]],
) -> None:
    end = shanghai(2027, 1, 1)
    merchant_of = {o: s.shop.merchant_id for o, s in zip(order_ids, specs, strict=True)}
    for shop in shops:
        mine = [(o, s) for o, s in zip(order_ids, specs, strict=True) if s.shop is shop]
        gross = sum(to_cents(s.total) for _, s in mine)
        refunded = sum(to_cents(r.amount) for r in refunds if merchant_of[r.order_id] == shop.merchant_id)
        paid_out = sum(cents for merchant_id, cents in payouts if merchant_id == shop.merchant_id)
        commission_row = conn.execute(
            """SELECT sum(commission_cents), sum(commission_refunded_cents) FROM core.sale_lines
               WHERE merchant_id = %s""",
            [shop.merchant_id],
        ).fetchone()
        assert commission_row is not None
        charged, given_back = commission_row
        payable = journal.payable_balance_cents(conn, shop.merchant_id, end)
        assert payable == gross - charged - refunded + given_back - paid_out
        assert -journal.account_balance_cents(conn, shop.merchant_id, "commission_revenue", end) == charged - given_back
        paid_in = sum(to_cents(s.total) for _, s in mine if s.payment_method in ("online", "prepaid"))
        paid_in += sum(credit_paid_cents.get(o, 0) for o, _ in mine)
        cash_back, offsets = conn.execute(
            """SELECT coalesce(sum(cash_cents), 0), coalesce(sum(offset_cents), 0) FROM core.refunds
               WHERE merchant_id = %s""",
            [shop.merchant_id],
        ).fetchone() or (0, 0)
        assert cash_back + offsets == refunded
        assert journal.account_balance_cents(conn, shop.merchant_id, "platform_cash", end) == (
            paid_in - cash_back - paid_out
        )
        assert journal.account_balance_cents(conn, shop.merchant_id, "customer_receivable", end) == (
            gross - paid_in - offsets
        )
        assert reconcile(conn, shop.merchant_id, end).reconciles
        for start in (shanghai(2026, 9, 1), shanghai(2026, 9, 17, 13), shanghai(2026, 10, 1), shanghai(2026, 10, 15)):
            window = reconcile(conn, shop.merchant_id, shanghai(2026, 11, 2), start=start)
            assert window.reconciles and window.sales_cents > 0


def assert_statements_cover_every_trade_once(conn: psycopg.Connection, shops: list[Shop]) -> None:
    """Monthly and weekly statements over the whole run: each sale and refund in exactly one of
    each kind, and the statements' net payable is the journal's payable before payouts."""
    at = shanghai(2027, 1, 5)
    months = [date(2026, month, 1) for month in (9, 10, 11, 12)]
    weeks = [date(2026, 8, 31) + timedelta(weeks=n) for n in range(18)]  # Mondays to 2026-12-28
    for shop in shops:
        trades = conn.execute(
            """SELECT count(*) FROM core.journal_entries
               WHERE merchant_id = %s AND entry_type IN ('sale', 'refund')""",
            [shop.merchant_id],
        ).fetchone()
        paid_out = conn.execute(
            "SELECT sum(amount_cents) FROM core.payouts WHERE merchant_id = %s", [shop.merchant_id]
        ).fetchone()
        assert trades is not None and paid_out is not None
        for kind, starts in (("monthly", months), ("weekly", weeks)):
            issued = [
                settlements.generate_statement(conn, shop.merchant_id, kind, start, at, now=at) for start in starts
            ]
            assert sum(len(s.order_ids) + len(s.refund_ids) for s in issued) == trades[0]
            net = sum(s.net_payable_cents for s in issued)
            assert net == journal.payable_balance_cents(conn, shop.merchant_id, at) + paid_out[0]
    conn.commit()
