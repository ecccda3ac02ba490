"""Promotions and coupons on real orders: each kind, the combination rule to the cent, the
flash-sale cap under concurrent buyers, and the coupon limits the database itself enforces."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, orders, promotions, stock
from transactional.errors import CouponRefused, InvalidRequest

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WINDOW = {"starts_at": AT - DAY, "ends_at": AT + 30 * DAY, "at": AT - DAY}


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    food: int  # level-1 category 食品
    rice: int  # 50.00
    detergent: int  # 20.00
    kettle: int  # 98.00
    customers: tuple[int, ...]


@pytest.fixture(scope="module")
def database_url(database_factory) -> str:
    """One migrated database for the module; each test trades as a merchant of its own."""
    return database_factory()


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url) as connection:
        yield connection


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    tag = uuid.uuid4().hex[:8]
    merchant = catalogue.create_merchant(conn, f"M{tag}", "乡镇供销社", AT - DAY)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT - DAY)

    def leaf(code: str, names: tuple[str, str, str]) -> tuple[int, int]:
        path = category_path(conn, f"{tag}-{code}", names, AT - DAY)
        return path.top, path.leaf

    food, grain = leaf("F", ("食品", "粮油", "大米"))
    _, cleaning = leaf("D", ("日用品", "清洁", "洗衣粉"))
    _, kitchen = leaf("K", ("家电", "厨房电器", "电水壶"))

    def product(sku: str, category: int, price: str) -> int:
        product_id = catalogue.create_product(
            conn, merchant, sku, sku, category, Decimal("1.00"), Decimal(price), AT - DAY
        )
        stock.receive_stock(conn, warehouse_id=warehouse, product_id=product_id, quantity=500, at=AT - DAY)
        return product_id

    rice = product("RICE-5KG", grain, "50.00")
    detergent = product("DET-1KG", cleaning, "20.00")
    kettle = product("KETTLE-1", kitchen, "98.00")
    customers = tuple(catalogue.create_customer(conn, merchant, f"C{n:04d}", f"顾客{n}", AT - DAY) for n in range(25))
    conn.commit()
    return Shop(merchant, warehouse, food, rice, detergent, kettle, customers)


def place(
    conn: psycopg.Connection,
    shop: Shop,
    lines: list[tuple[int, int]],
    *,
    customer: int = 0,
    coupon: str | None = None,
    at: datetime = AT,
) -> int:
    return orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customers[customer],
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(product_id, quantity) for product_id, quantity in lines],
        at=at,
        coupon_code=coupon,
    )


def line_discounts(conn: psycopg.Connection, order_id: int) -> list[tuple[Decimal, Decimal]]:
    """(discount_amount, line_amount) per line, and the order's total equals their net sum."""
    rows = conn.execute(
        "SELECT discount_amount, line_amount FROM core.order_lines WHERE order_id = %s ORDER BY line_no", [order_id]
    ).fetchall()
    total = conn.execute("SELECT total_amount FROM core.orders WHERE order_id = %s", [order_id]).fetchone()
    assert total == (sum((row[1] for row in rows), Decimal(0)),)
    return rows


def applied(conn: psycopg.Connection, order_id: int) -> list[tuple]:
    return conn.execute(
        """SELECT l.line_no, d.level, d.source, COALESCE(p.promotion_code, c.coupon_code), d.amount
           FROM core.order_discounts d
           LEFT JOIN core.order_lines l ON l.order_line_id = d.order_line_id
           LEFT JOIN core.promotions p ON p.promotion_id = d.promotion_id
           LEFT JOIN core.coupons c ON c.coupon_id = d.coupon_id
           WHERE d.order_id = %s ORDER BY d.order_discount_id""",
        [order_id],
    ).fetchall()


def test_spread_gives_the_cents_left_over_to_the_largest_line_then_the_next() -> None:
    cents = Decimal("0.01")
    assert promotions.spread(Decimal("1.00"), [Decimal("1.00")] * 3) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert promotions.spread(Decimal("0.02"), [Decimal("5.00"), Decimal("9.00"), Decimal("1.00")]) == [
        Decimal("0.00"),
        Decimal("0.02"),
        Decimal("0.00"),
    ]
    # The largest line has no room for every cent left over: the next largest takes the rest.
    assert promotions.spread(Decimal("2.99"), [Decimal("1.00")] * 3) == [
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("0.99"),
    ]
    generator = random.Random(7)
    for _ in range(2000):
        nets = [Decimal(generator.randint(0, 50_000)) * cents for _ in range(generator.randint(1, 6))]
        total = sum(nets, Decimal(0))
        amount = Decimal(generator.randint(0, int(total * 100))) * cents
        shares = promotions.spread(amount, nets)
        assert sum(shares, Decimal(0)) == amount
        assert all(
            Decimal(0) <= share <= net and share == share.quantize(cents)
            for share, net in zip(shares, nets, strict=True)
        )


def test_full_reduction_applies_from_its_threshold_once_or_per_threshold(conn, shop: Shop) -> None:
    promotions.create_full_reduction(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="FR100-20",
        name="满100减20",
        threshold_amount=Decimal("100"),
        reduction_amount=Decimal("20"),
        **WINDOW,
    )
    below = place(conn, shop, [(shop.detergent, 4)])
    once = place(conn, shop, [(shop.detergent, 6), (shop.rice, 3)])
    assert line_discounts(conn, below) == [(Decimal("0.00"), Decimal("80.00"))]
    assert applied(conn, below) == []
    # 120 + 150 = 270 takes 20 once, spread 120:150 → 8.88 / 11.11, the cent left to the larger line.
    assert line_discounts(conn, once) == [
        (Decimal("8.88"), Decimal("111.12")),
        (Decimal("11.12"), Decimal("138.88")),
    ]
    assert applied(conn, once) == [(None, "order", "promotion", "FR100-20", Decimal("20.00"))]

    promotions.create_full_reduction(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="FR100-20-EACH",
        name="每满100减20",
        threshold_amount=Decimal("100"),
        reduction_amount=Decimal("20"),
        repeat_per_threshold=True,
        **WINDOW,
    )
    repeated = place(conn, shop, [(shop.rice, 5)])
    assert line_discounts(conn, repeated) == [(Decimal("40.00"), Decimal("210.00"))]
    assert applied(conn, repeated) == [(None, "order", "promotion", "FR100-20-EACH", Decimal("40.00"))]


def test_percentage_discount_applies_to_its_category_and_rounds_half_up(conn, shop: Shop) -> None:
    promotions.create_percentage_discount(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="FOOD-10",
        name="食品九折",
        percent_off=Decimal("10"),
        category_id=shop.food,
        **WINDOW,
    )
    order_id = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customers[0],
        warehouse_id=shop.warehouse_id,
        lines=[
            orders.OrderLineRequest(shop.rice, 1, unit_price=Decimal("12.35")),
            orders.OrderLineRequest(shop.detergent, 2),
        ],
        at=AT,
    )
    assert line_discounts(conn, order_id) == [
        (Decimal("1.24"), Decimal("11.11")),
        (Decimal("0.00"), Decimal("40.00")),
    ]
    assert applied(conn, order_id) == [(1, "line", "promotion", "FOOD-10", Decimal("1.24"))]
    with pytest.raises(InvalidRequest, match="between 0 and 100"):
        promotions.create_percentage_discount(
            conn,
            merchant_id=shop.merchant_id,
            promotion_code="ALL-100",
            name="白送",
            percent_off=Decimal("100"),
            **WINDOW,
        )


def sold(conn: psycopg.Connection, promotion_id: int) -> int:
    row = conn.execute("SELECT sold_quantity FROM core.promotions WHERE promotion_id = %s", [promotion_id]).fetchone()
    assert row is not None
    return row[0]


def test_flash_sale_sells_within_its_cap_and_per_customer_limit(conn, shop: Shop) -> None:
    flash = promotions.create_flash_sale(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="KETTLE-FLASH",
        name="电水壶秒杀",
        product_id=shop.kettle,
        flash_price=Decimal("59.00"),
        quantity_cap=3,
        per_customer_limit=2,
        **WINDOW,
    )
    first = place(conn, shop, [(shop.kettle, 2)], customer=1)
    over_own_limit = place(conn, shop, [(shop.kettle, 1)], customer=1)
    too_many = place(conn, shop, [(shop.kettle, 2)], customer=2)
    last_unit = place(conn, shop, [(shop.kettle, 1)], customer=2)
    sold_out = place(conn, shop, [(shop.kettle, 1)], customer=3)
    assert line_discounts(conn, first) == [(Decimal("78.00"), Decimal("118.00"))]
    assert applied(conn, first) == [(1, "line", "promotion", "KETTLE-FLASH", Decimal("78.00"))]
    for paid_in_full in (over_own_limit, too_many, sold_out):
        assert applied(conn, paid_in_full) == []
    assert line_discounts(conn, last_unit) == [(Decimal("39.00"), Decimal("59.00"))]
    assert sold(conn, flash) == 3

    orders.cancel_order(conn, first, AT + timedelta(hours=1))
    assert sold(conn, flash) == 1
    again = place(conn, shop, [(shop.kettle, 2)], customer=3, at=AT + timedelta(hours=2))
    assert line_discounts(conn, again) == [(Decimal("78.00"), Decimal("118.00"))]
    assert sold(conn, flash) == 3
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="promotions_sold_within_cap"):
        conn.execute("UPDATE core.promotions SET sold_quantity = 4 WHERE promotion_id = %s", [flash])


def test_flash_sale_cap_holds_under_twenty_concurrent_buyers(database_url: str, conn, shop: Shop) -> None:
    flash = promotions.create_flash_sale(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="KETTLE-RUSH",
        name="整点秒杀",
        product_id=shop.kettle,
        flash_price=Decimal("9.90"),
        quantity_cap=5,
        **WINDOW,
    )
    conn.commit()
    buyers = 20
    start = threading.Barrier(buyers)
    placed: list[int] = []
    failures: list[BaseException] = []

    def buy(customer: int) -> None:
        try:
            with psycopg.connect(database_url) as own:
                start.wait()
                placed.append(place(own, shop, [(shop.kettle, 1)], customer=customer))
                own.commit()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(placed) == buyers
    winners = conn.execute(
        "SELECT count(*), sum(amount) FROM core.order_discounts WHERE promotion_id = %s", [flash]
    ).fetchone()
    assert winners == (5, Decimal("440.50"))
    assert sold(conn, flash) == 5
    revenue = conn.execute(
        "SELECT sum(line_amount) FROM core.order_lines WHERE order_id = ANY(%s)", [placed]
    ).fetchone()
    assert revenue == (Decimal("9.90") * 5 + Decimal("98.00") * 15,)


def test_new_customer_coupon_only_on_a_first_order_that_stands(conn, shop: Shop) -> None:
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="WELCOME10",
        name="新人券",
        amount_off=Decimal("10"),
        valid_from=AT - DAY,
        valid_until=AT + 30 * DAY,
        at=AT - DAY,
        new_customers_only=True,
    )
    first = place(conn, shop, [(shop.rice, 1)], coupon="WELCOME10")
    assert line_discounts(conn, first) == [(Decimal("10.00"), Decimal("40.00"))]
    assert applied(conn, first) == [(None, "order", "coupon", "WELCOME10", Decimal("10.00"))]
    conn.commit()
    with pytest.raises(CouponRefused, match="WELCOME10 was already used"):
        place(conn, shop, [(shop.rice, 1)], coupon="WELCOME10", at=AT + DAY)
    conn.rollback()

    place(conn, shop, [(shop.rice, 1)], customer=1)
    conn.commit()
    with pytest.raises(CouponRefused, match="WELCOME10 is for a customer's first order only"):
        place(conn, shop, [(shop.rice, 1)], customer=1, coupon="WELCOME10", at=AT + DAY)
    conn.rollback()
    second = place(conn, shop, [(shop.rice, 1)], customer=1, at=AT + DAY)
    coupon_id = conn.execute(
        "SELECT coupon_id FROM core.coupons WHERE merchant_id = %s AND coupon_code = 'WELCOME10'", [shop.merchant_id]
    ).fetchone()
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation, match="first order only"):
        conn.execute(
            """INSERT INTO core.coupon_redemptions (order_id, merchant_id, coupon_id, customer_id, redeemed_at)
               VALUES (%s, %s, %s, %s, %s)""",
            [second, shop.merchant_id, coupon_id[0], shop.customers[1], AT + DAY],
        )
    conn.rollback()

    # A cancelled first order gives the coupon back: the next order is the first that stands.
    orders.cancel_order(conn, first, AT + 2 * DAY)
    retry = place(conn, shop, [(shop.rice, 1)], coupon="WELCOME10", at=AT + 2 * DAY)
    assert applied(conn, retry) == [(None, "order", "coupon", "WELCOME10", Decimal("10.00"))]


def test_a_new_customer_coupon_waits_for_a_racing_first_order_and_is_then_refused(
    database_url: str, conn, shop: Shop
) -> None:
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="WELCOME20",
        name="新人券",
        amount_off=Decimal("20"),
        valid_from=AT - DAY,
        valid_until=AT + 30 * DAY,
        at=AT - DAY,
        new_customers_only=True,
    )
    conn.commit()
    outcome: list[BaseException | int] = []

    def order_with_coupon() -> None:
        with psycopg.connect(database_url) as other:
            try:
                outcome.append(place(other, shop, [(shop.rice, 1)], customer=2, coupon="WELCOME20"))
            except (CouponRefused, psycopg.errors.CheckViolation) as refusal:
                outcome.append(refusal)

    racer = threading.Thread(target=order_with_coupon)
    # The customer's first order is placed but not yet committed when the coupon order comes.
    with conn.transaction():
        place(conn, shop, [(shop.rice, 1)], customer=2)
        racer.start()
        racer.join(timeout=1.5)
        assert racer.is_alive(), f"the coupon order should wait for the customer's open order: {outcome}"
    racer.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], BaseException)
    assert "first order only" in str(outcome[0])


def test_coupon_validity_threshold_and_use_limits(conn, shop: Shop) -> None:
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="SPRING5",
        name="满50减5",
        amount_off=Decimal("5"),
        threshold_amount=Decimal("50"),
        valid_from=AT,
        valid_until=AT + 10 * DAY,
        at=AT - DAY,
        total_quantity=2,
    )
    refusals = [
        ({"coupon": "NOPE"}, "coupon NOPE does not exist"),
        ({"coupon": "SPRING5", "at": AT - timedelta(minutes=1)}, "SPRING5 is valid from"),
        ({"coupon": "SPRING5", "at": AT + 10 * DAY}, "SPRING5 is valid from"),
    ]
    for options, message in refusals:
        with pytest.raises(CouponRefused, match=message):
            place(conn, shop, [(shop.rice, 1)], **options)
        conn.rollback()
    with pytest.raises(CouponRefused, match=r"needs 50\.00 of goods"):
        place(conn, shop, [(shop.detergent, 2)], coupon="SPRING5")
    conn.rollback()

    place(conn, shop, [(shop.rice, 1)], customer=0, coupon="SPRING5")
    with pytest.raises(CouponRefused, match="already used 1 time"):
        place(conn, shop, [(shop.rice, 1)], customer=0, coupon="SPRING5")
    conn.rollback()
    place(conn, shop, [(shop.rice, 1)], customer=1, coupon="SPRING5")
    with pytest.raises(CouponRefused, match="SPRING5 is used up"):
        place(conn, shop, [(shop.rice, 1)], customer=2, coupon="SPRING5")
    conn.rollback()
    redemptions = conn.execute(
        "SELECT count(*) FROM core.coupon_redemptions WHERE merchant_id = %s", [shop.merchant_id]
    )
    assert redemptions.fetchone() == (2,)


def test_the_combination_rule_to_the_cent(conn, shop: Shop) -> None:
    promotions.create_flash_sale(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="KETTLE-FLASH",
        name="电水壶秒杀",
        product_id=shop.kettle,
        flash_price=Decimal("59.00"),
        quantity_cap=10,
        **WINDOW,
    )
    promotions.create_percentage_discount(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="FOOD-10",
        name="食品九折",
        percent_off=Decimal("10"),
        category_id=shop.food,
        **WINDOW,
    )
    for code, reduction in (("FR100-15", "15"), ("FR100-12", "12")):
        promotions.create_full_reduction(
            conn,
            merchant_id=shop.merchant_id,
            promotion_code=code,
            name="满减",
            threshold_amount=Decimal("100"),
            reduction_amount=Decimal(reduction),
            **WINDOW,
        )
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="TAKE8",
        name="满50减8",
        amount_off=Decimal("8"),
        threshold_amount=Decimal("50"),
        valid_from=AT - DAY,
        valid_until=AT + DAY,
        at=AT - DAY,
    )
    order_id = place(conn, shop, [(shop.kettle, 1), (shop.rice, 3), (shop.detergent, 2)], coupon="TAKE8")
    # kettle: flash 98 → 59, nothing more. rice 150 - 10 % = 135. detergent 40.
    # The better full reduction, 15 off 175: 11.57 + 3.42 = 14.99, the cent to rice → 11.58 / 3.42.
    # Coupon 8 off 123.42 + 36.58 = 160: 6.17 + 1.82 = 7.99, the cent to rice → 6.18 / 1.82.
    assert line_discounts(conn, order_id) == [
        (Decimal("39.00"), Decimal("59.00")),
        (Decimal("32.76"), Decimal("117.24")),
        (Decimal("5.24"), Decimal("34.76")),
    ]
    assert applied(conn, order_id) == [
        (1, "line", "promotion", "KETTLE-FLASH", Decimal("39.00")),
        (2, "line", "promotion", "FOOD-10", Decimal("15.00")),
        (None, "order", "promotion", "FR100-15", Decimal("15.00")),
        (None, "order", "coupon", "TAKE8", Decimal("8.00")),
    ]


def test_discounts_never_exceed_what_they_apply_to(conn, shop: Shop) -> None:
    promotions.create_coupon(
        conn,
        merchant_id=shop.merchant_id,
        coupon_code="BIG30",
        name="无门槛30",
        amount_off=Decimal("30"),
        valid_from=AT - DAY,
        valid_until=AT + DAY,
        at=AT - DAY,
        per_customer_limit=5,
    )
    promotions.create_flash_sale(
        conn,
        merchant_id=shop.merchant_id,
        promotion_code="KETTLE-FLASH",
        name="电水壶秒杀",
        product_id=shop.kettle,
        flash_price=Decimal("59.00"),
        quantity_cap=10,
        **WINDOW,
    )
    small = place(conn, shop, [(shop.detergent, 1)], coupon="BIG30")
    assert line_discounts(conn, small) == [(Decimal("20.00"), Decimal("0.00"))]
    assert applied(conn, small) == [(None, "order", "coupon", "BIG30", Decimal("20.00"))]
    with pytest.raises(CouponRefused, match="outside flash sales"):
        place(conn, shop, [(shop.kettle, 1)], coupon="BIG30")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM core.orders WHERE merchant_id = %s", [shop.merchant_id]).fetchone() == (
        1,
    )
