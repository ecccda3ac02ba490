"""Catalogue variants and tags, and the price system against a real PostgreSQL: every branch of
the price rule, and a price history that is kept, append-only and in step with products."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, db, orders, prices, stock
from transactional.errors import BelowMinimumQuantity, InvalidRequest, NotFound

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)
T3 = T0 + timedelta(days=3)
T4 = T0 + timedelta(days=4)


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    leaf_id: int
    product_id: int
    customer_id: int


@pytest.fixture
def shop(conn: psycopg.Connection) -> Shop:
    merchant = catalogue.create_merchant(conn, "M910", "价格测试社", T0)
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", T0)
    leaf = category_path(conn, "P1", ("农资", "化肥", "复合肥"), T0).leaf
    product = catalogue.create_product(
        conn, merchant, "FERT-50", "复合肥 50kg", leaf, Decimal("80.00"), Decimal("98.00"), T0, min_order_qty=20
    )
    customer = catalogue.create_customer(conn, merchant, "C0001", "张三", T0)
    conn.commit()
    return Shop(merchant, warehouse, leaf, product, customer)


def quote(conn: psycopg.Connection, shop: Shop, quantity: int, at: datetime = T1, **kwargs) -> prices.Quote:
    return prices.quote(conn, product_id=shop.product_id, quantity=quantity, at=at, **kwargs)


def set_price(conn: psycopg.Connection, shop: Shop, unit_price: str, at: datetime, **kwargs) -> None:
    prices.set_price(conn, product_id=shop.product_id, unit_price=Decimal(unit_price), at=at, **kwargs)


def promote(
    conn: psycopg.Connection, shop: Shop, price: str, valid_from: datetime, valid_until: datetime, **kwargs
) -> int:
    return prices.set_promotion_price(
        conn,
        product_id=shop.product_id,
        promotion_price=Decimal(price),
        valid_from=valid_from,
        valid_until=valid_until,
        at=T1,
        **kwargs,
    )


def test_variants_of_one_product_share_a_group_with_brand_origin_pack_size_and_tags(conn, shop: Shop) -> None:
    group = catalogue.create_product_group(conn, shop.merchant_id, "NPK-151515", "复合肥 15-15-15", T0)

    def variant(sku_code: str, name: str, size: str, price: str, tags: list[str]) -> int:
        return catalogue.create_product(
            conn,
            shop.merchant_id,
            sku_code,
            name,
            shop.leaf_id,
            Decimal(price) * Decimal("0.8"),
            Decimal(price),
            T0,
            product_group_id=group,
            brand="史丹利",
            origin="山东临沂",
            pack_size=Decimal(size),
            pack_unit="kg",
            tags=tags,
        )

    big = variant("NPK-50", "复合肥 50kg", "50", "98.00", [catalogue.TAG_HOT, " 春耕必备 "])
    small = variant("NPK-25", "复合肥 25kg", "25", "52.00", [catalogue.TAG_NEW])
    catalogue.tag_product(conn, small, catalogue.TAG_HOT, T1)
    catalogue.tag_product(conn, small, catalogue.TAG_HOT, T1)

    variants = catalogue.group_variants(conn, group)
    assert [(v.sku_code, v.pack_size, v.pack_unit, v.price) for v in variants] == [
        ("NPK-25", Decimal("25.000"), "kg", Decimal("52.00")),
        ("NPK-50", Decimal("50.000"), "kg", Decimal("98.00")),
    ]
    assert catalogue.product_tags(conn, big) == sorted([catalogue.TAG_HOT, "春耕必备"])
    assert catalogue.products_tagged(conn, shop.merchant_id, catalogue.TAG_HOT) == ["NPK-25", "NPK-50"]
    catalogue.untag_product(conn, small, catalogue.TAG_HOT, T2)
    assert catalogue.products_tagged(conn, shop.merchant_id, catalogue.TAG_HOT) == ["NPK-50"]
    carried = conn.execute(
        "SELECT tagged_at, untagged_at FROM core.product_tags WHERE product_id = %s AND tag = %s",
        [small, catalogue.TAG_HOT],
    ).fetchone()
    assert carried == (T1, T2)
    catalogue.tag_product(conn, small, catalogue.TAG_HOT, T3)
    assert catalogue.product_tags(conn, small) == sorted([catalogue.TAG_HOT, catalogue.TAG_NEW])
    brand, origin, group_id = conn.execute(
        "SELECT brand, origin, product_group_id FROM core.products WHERE product_id = %s", [small]
    ).fetchone()
    assert (brand, origin, group_id) == ("史丹利", "山东临沂", group)

    with pytest.raises(InvalidRequest, match="1 to 32 characters"):
        catalogue.tag_product(conn, small, "x" * 33, T1)
    with pytest.raises(psycopg.errors.CheckViolation, match="products_pack_size_has_unit"):
        catalogue.create_product(
            conn,
            shop.merchant_id,
            "NPK-X",
            "复合肥",
            shop.leaf_id,
            Decimal("1"),
            Decimal("2"),
            T0,
            pack_size=Decimal(5),
        )


def test_the_list_price_is_the_base_rule_and_the_customer_minimum_is_separate_from_the_supplier_one(
    conn, shop: Shop
) -> None:
    base = quote(conn, shop, 1)
    assert (base.unit_price, base.list_price, base.rule, base.tier, base.amount) == (
        Decimal("98.00"),
        Decimal("98.00"),
        "base",
        "retail",
        Decimal("98.00"),
    )
    prices.set_min_sale_qty(conn, product_id=shop.product_id, min_sale_qty=5, at=T1)
    with pytest.raises(BelowMinimumQuantity, match="FERT-50 is sold in quantities of at least 5: requested 4"):
        quote(conn, shop, 4)
    assert quote(conn, shop, 5).unit_price == Decimal("98.00")
    supplier_minimum = conn.execute("SELECT min_order_qty FROM core.products WHERE product_id = %s", [shop.product_id])
    assert supplier_minimum.fetchone() == (20,)
    with pytest.raises(NotFound, match="FERT-50 has no retail list price"):
        quote(conn, shop, 5, at=T0 - timedelta(days=1))
    with pytest.raises(InvalidRequest, match="price tier must be one of"):
        quote(conn, shop, 5, tier="vip")


def test_a_customer_buys_at_its_price_tier(conn, shop: Shop) -> None:
    member = catalogue.create_customer(conn, shop.merchant_id, "C0002", "李四", T0, "shop", "江苏", price_tier="member")
    catalogue.set_customer_price_tier(conn, shop.customer_id, "wholesale", T1)
    tiers = conn.execute("SELECT customer_id, price_tier FROM core.customers ORDER BY customer_id").fetchall()
    assert tiers == [(shop.customer_id, "wholesale"), (member, "member")]
    with pytest.raises(InvalidRequest, match="one of retail, wholesale, member, not 'vip'"):
        catalogue.set_customer_price_tier(conn, member, "vip", T1)


def test_an_order_is_priced_at_the_customers_tier(conn, shop: Shop) -> None:
    member = catalogue.create_customer(conn, shop.merchant_id, "C0003", "王五", T0, price_tier="member")
    set_price(conn, shop, "92.00", T1, tier="member")
    stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.product_id, quantity=10, at=T1)

    def unit_price_paid(customer_id: int) -> Decimal:
        order_id = orders.place_order(
            conn,
            merchant_id=shop.merchant_id,
            customer_id=customer_id,
            warehouse_id=shop.warehouse_id,
            lines=[orders.OrderLineRequest(shop.product_id, 1)],
            at=T2,
        )
        return conn.execute("SELECT unit_price FROM core.order_lines WHERE order_id = %s", [order_id]).fetchone()[0]

    assert unit_price_paid(member) == Decimal("92.00")
    assert unit_price_paid(shop.customer_id) == Decimal("98.00")


def test_the_largest_quantity_break_not_above_the_quantity_wins(conn, shop: Shop) -> None:
    set_price(conn, shop, "95.00", T1, min_quantity=10)
    set_price(conn, shop, "90.00", T1, min_quantity=50)
    by_quantity = {q: quote(conn, shop, q, at=T2) for q in (9, 10, 49, 50, 500)}
    assert {q: (x.unit_price, x.rule, x.min_quantity) for q, x in by_quantity.items()} == {
        9: (Decimal("98.00"), "base", 1),
        10: (Decimal("95.00"), "quantity_break", 10),
        49: (Decimal("95.00"), "quantity_break", 10),
        50: (Decimal("90.00"), "quantity_break", 50),
        500: (Decimal("90.00"), "quantity_break", 50),
    }
    prices.withdraw_price(conn, product_id=shop.product_id, min_quantity=50, at=T3)
    assert quote(conn, shop, 60, at=T3).unit_price == Decimal("95.00")
    assert quote(conn, shop, 60, at=T2).unit_price == Decimal("90.00")


def test_a_tier_price_applies_only_where_it_is_not_above_retail(conn, shop: Shop) -> None:
    set_price(conn, shop, "92.00", T1, tier="wholesale")
    set_price(conn, shop, "85.00", T1, tier="wholesale", min_quantity=100)
    set_price(conn, shop, "96.00", T1, tier="member")
    set_price(conn, shop, "90.00", T1, min_quantity=50)

    wholesale = quote(conn, shop, 1, at=T2, tier="wholesale")
    assert (wholesale.unit_price, wholesale.tier, wholesale.rule, wholesale.list_price) == (
        Decimal("92.00"),
        "wholesale",
        "base",
        Decimal("98.00"),
    )
    assert quote(conn, shop, 100, at=T2, tier="wholesale").unit_price == Decimal("85.00")
    member = quote(conn, shop, 1, at=T2, tier="member")
    assert (member.unit_price, member.tier) == (Decimal("96.00"), "member")
    # 60 units: the member price (96) would be above retail's break (90), so retail applies.
    member_bulk = quote(conn, shop, 60, at=T2, tier="member")
    assert (member_bulk.unit_price, member_bulk.tier, member_bulk.rule) == (
        Decimal("90.00"),
        "retail",
        "quantity_break",
    )
    # Before any member price existed, a member paid retail.
    assert quote(conn, shop, 1, at=T0, tier="member").tier == "retail"


def test_a_regional_price_beats_the_national_one_until_it_is_withdrawn(conn, shop: Shop) -> None:
    set_price(conn, shop, "90.00", T1, min_quantity=50)
    set_price(conn, shop, "101.00", T1, region="江苏")
    set_price(conn, shop, "97.00", T1, region="江苏", min_quantity=20)

    regional = quote(conn, shop, 1, at=T2, region="江苏")
    assert (regional.unit_price, regional.rule, regional.region, regional.list_price) == (
        Decimal("101.00"),
        "regional",
        "江苏",
        Decimal("98.00"),
    )
    assert quote(conn, shop, 25, at=T2, region="江苏").unit_price == Decimal("97.00")
    # The region's own list applies at any quantity: its 20-unit break beats the national 50-unit one.
    assert quote(conn, shop, 60, at=T2, region="江苏").unit_price == Decimal("97.00")
    assert quote(conn, shop, 1, at=T2, region="浙江").rule == "base"
    assert quote(conn, shop, 60, at=T2, region="浙江").unit_price == Decimal("90.00")

    prices.withdraw_price(conn, product_id=shop.product_id, region="江苏", at=T3)
    prices.withdraw_price(conn, product_id=shop.product_id, region="江苏", min_quantity=20, at=T3)
    assert quote(conn, shop, 1, at=T3, region="江苏").rule == "base"
    assert quote(conn, shop, 1, at=T2, region="江苏").unit_price == Decimal("101.00")
    with pytest.raises(InvalidRequest, match="no retail price \\(region 江苏, from 1 units\\) to withdraw"):
        prices.withdraw_price(conn, product_id=shop.product_id, region="江苏", at=T4)
    with pytest.raises(InvalidRequest, match="can be changed, not withdrawn"):
        prices.withdraw_price(conn, product_id=shop.product_id, at=T4)


def test_an_active_promotion_applies_only_when_lower_and_only_within_its_validity(conn, shop: Shop) -> None:
    set_price(conn, shop, "88.00", T1, tier="wholesale")
    promotion = promote(conn, shop, "89.00", T2, T3, label="春耕特惠")
    promote(conn, shop, "85.00", T2, T4, tier="member")
    promote(conn, shop, "70.00", T2, T4, region="新疆")

    during = quote(conn, shop, 1, at=T2)
    assert (during.unit_price, during.rule, during.promotion_price_id, during.list_price) == (
        Decimal("89.00"),
        "promotion",
        promotion,
        Decimal("98.00"),
    )
    assert quote(conn, shop, 1, at=T2 - timedelta(seconds=1)).rule == "base"
    assert quote(conn, shop, 1, at=T3).rule == "base"  # valid_until is exclusive
    # Wholesale already pays 88, below the 89 promotion.
    wholesale = quote(conn, shop, 1, at=T2, tier="wholesale")
    assert (wholesale.unit_price, wholesale.rule) == (Decimal("88.00"), "base")
    # A member gets the lowest active promotion for members or everyone.
    assert quote(conn, shop, 1, at=T2, tier="member").unit_price == Decimal("85.00")
    assert quote(conn, shop, 1, at=T3, tier="member").unit_price == Decimal("85.00")
    assert quote(conn, shop, 1, at=T2, region="新疆").unit_price == Decimal("70.00")

    with pytest.raises(InvalidRequest, match="must end after it starts"):
        promote(conn, shop, "80.00", T3, T3)
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            """INSERT INTO core.product_promotion_prices (merchant_id, product_id, promotion_price, valid_from,
                   valid_until, recorded_at) VALUES (%s, %s, 80, %s, %s, %s)""",
            [shop.merchant_id, shop.product_id, T3, T2, T1],
        )


def test_every_price_and_cost_change_is_kept_and_the_product_row_follows(conn, shop: Shop) -> None:
    set_price(conn, shop, "99.50", T1)
    prices.set_unit_cost(conn, product_id=shop.product_id, unit_cost=Decimal("82.00"), at=T1)
    set_price(conn, shop, "103.00", T2)
    # A write straight into products (an import, an admin) is recorded too, at its updated_at.
    conn.execute(
        "UPDATE core.products SET price = 105.00, unit_cost = 84.00, updated_at = %s WHERE product_id = %s",
        [T3, shop.product_id],
    )
    conn.commit()

    history = conn.execute(
        """SELECT unit_price, valid_from FROM core.product_price_history
           WHERE product_id = %s AND tier = 'retail' AND region IS NULL AND min_quantity = 1 ORDER BY valid_from""",
        [shop.product_id],
    ).fetchall()
    assert history == [(Decimal("98.00"), T0), (Decimal("99.50"), T1), (Decimal("103.00"), T2), (Decimal("105.00"), T3)]
    costs = conn.execute(
        "SELECT unit_cost FROM core.product_cost_history WHERE product_id = %s ORDER BY valid_from", [shop.product_id]
    ).fetchall()
    assert costs == [(Decimal("80.00"),), (Decimal("82.00"),), (Decimal("84.00"),)]
    assert quote(conn, shop, 1, at=T1 + timedelta(hours=1)).unit_price == Decimal("99.50")

    # The order service prices lines from products.price, which follows the newest list price.
    stock.receive_stock(conn, warehouse_id=shop.warehouse_id, product_id=shop.product_id, quantity=5, at=T3)
    order = orders.place_order(
        conn,
        merchant_id=shop.merchant_id,
        customer_id=shop.customer_id,
        warehouse_id=shop.warehouse_id,
        lines=[orders.OrderLineRequest(shop.product_id, 2)],
        at=T4,
    )
    assert conn.execute("SELECT total_amount FROM core.orders WHERE order_id = %s", [order]).fetchone() == (
        Decimal("210.00"),
    )


def test_price_history_is_append_only_and_never_rewritten_backwards(conn, shop: Shop) -> None:
    set_price(conn, shop, "99.00", T2)
    with pytest.raises(InvalidRequest, match="FERT-50: the retail price \\(national, from 1 units\\) was last changed"):
        set_price(conn, shop, "97.00", T1)
    with pytest.raises(InvalidRequest, match="FERT-50: the unit cost was last changed"):
        prices.set_unit_cost(conn, product_id=shop.product_id, unit_cost=Decimal("70.00"), at=T0)
    with pytest.raises(InvalidRequest, match="non-negative amount in yuan with at most two decimals"):
        set_price(conn, shop, "9.999", T3)
    conn.commit()

    with pytest.raises(psycopg.errors.CheckViolation, match="would rewrite history"):
        conn.execute(
            """INSERT INTO core.product_price_history (merchant_id, product_id, tier, unit_price, valid_from)
               VALUES (%s, %s, 'retail', 1.00, %s)""",
            [shop.merchant_id, shop.product_id, T1],
        )
    conn.rollback()
    for statement in (
        "UPDATE core.product_price_history SET unit_price = 1",
        "DELETE FROM core.product_cost_history",
        "DELETE FROM core.product_promotion_prices",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only history"):
            conn.execute(statement)
        conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation, match="list_price_never_withdrawn"):
        conn.execute(
            """INSERT INTO core.product_price_history (merchant_id, product_id, tier, unit_price, valid_from)
               VALUES (%s, %s, 'retail', NULL, %s)""",
            [shop.merchant_id, shop.product_id, T4],
        )
    conn.rollback()
    assert conn.execute("SELECT price FROM core.products WHERE product_id = %s", [shop.product_id]).fetchone() == (
        Decimal("99.00"),
    )


def test_the_application_role_sets_prices_and_tags_under_row_security(pg_database_url: str, shop: Shop) -> None:
    with psycopg.connect(db.as_role(pg_database_url, db.APP_ROLE)) as app, app.transaction():
        db.act_for_merchant(app, shop.merchant_id)
        set_price(app, shop, "96.00", T1)
        prices.set_unit_cost(app, product_id=shop.product_id, unit_cost=Decimal("81.00"), at=T1)
        promote(app, shop, "90.00", T2, T3)
        catalogue.tag_product(app, shop.product_id, catalogue.TAG_PROMOTION, T2)
        catalogue.untag_product(app, shop.product_id, catalogue.TAG_PROMOTION, T3)
        assert (quote(app, shop, 1, at=T2).unit_price, quote(app, shop, 1, at=T3).unit_price) == (
            Decimal("90.00"),
            Decimal("96.00"),
        )
        assert catalogue.product_tags(app, shop.product_id) == []
