"""Merchants, warehouses, the category tree, suppliers, products and customers.

A product (SKU) may belong to a product group, the base product whose variants differ in pack
size or spec (复合肥 25kg and 50kg); it has a brand, an origin (产地) and tags. The standard tags
are 新品 (new), 热销 (hot) and 限时促销 (time-limited promotion); merchants may add their own.
Prices live in `transactional.prices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from transactional.errors import InvalidRequest, NotFound
from transactional.prices import TIERS

TAG_NEW = "新品"
TAG_HOT = "热销"
TAG_PROMOTION = "限时促销"
STANDARD_TAGS = (TAG_NEW, TAG_HOT, TAG_PROMOTION)
MAX_TAG_LENGTH = 32
SUPPLIER_GRADES = ("A", "B", "C", "D")


def _returning_id(conn: psycopg.Connection, sql: str, params: list) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def create_merchant(
    conn: psycopg.Connection,
    merchant_code: str,
    name: str,
    at: datetime,
    merchant_type: str = "retailer",
    region: str | None = None,
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.merchants (merchant_code, name, merchant_type, region, created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING merchant_id""",
        [merchant_code, name, merchant_type, region, at, at],
    )


def create_warehouse(
    conn: psycopg.Connection,
    merchant_id: int,
    warehouse_code: str,
    name: str,
    at: datetime,
    region: str | None = None,
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.warehouses (merchant_id, warehouse_code, name, region, created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING warehouse_id""",
        [merchant_id, warehouse_code, name, region, at, at],
    )


def create_category(
    conn: psycopg.Connection,
    category_code: str,
    name: str,
    level: int,
    at: datetime,
    parent_id: int | None = None,
    name_en: str | None = None,
    is_fresh: bool = False,
) -> int:
    """A category; `is_fresh` marks fresh goods (生鲜), which must ship within the fresh service level."""
    return _returning_id(
        conn,
        """INSERT INTO core.categories (category_code, name, name_en, level, parent_id, is_fresh, created_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING category_id""",
        [category_code, name, name_en, level, parent_id, is_fresh, at],
    )


def create_supplier(
    conn: psycopg.Connection,
    merchant_id: int,
    supplier_code: str,
    name: str,
    lead_time_days: int,
    at: datetime,
    *,
    qualification_grade: str | None = None,
) -> int:
    """A supplier; its qualification grade (A best, D worst) may be left unset until it is assessed."""
    if qualification_grade is not None:
        check_supplier_grade(qualification_grade)
    return _returning_id(
        conn,
        """INSERT INTO core.suppliers (merchant_id, supplier_code, name, lead_time_days, qualification_grade,
               created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING supplier_id""",
        [merchant_id, supplier_code, name, lead_time_days, qualification_grade, at, at],
    )


def check_supplier_grade(grade: str) -> None:
    if grade not in SUPPLIER_GRADES:
        raise InvalidRequest(f"a qualification grade is one of {', '.join(SUPPLIER_GRADES)}, not {grade!r}")


def create_product_group(conn: psycopg.Connection, merchant_id: int, group_code: str, name: str, at: datetime) -> int:
    """The base product that relates a merchant's variants (pack sizes, specs) of one product."""
    return _returning_id(
        conn,
        """INSERT INTO core.product_groups (merchant_id, group_code, name, created_at)
           VALUES (%s, %s, %s, %s) RETURNING product_group_id""",
        [merchant_id, group_code, name, at],
    )


def create_product(
    conn: psycopg.Connection,
    merchant_id: int,
    sku_code: str,
    name: str,
    category_id: int,
    unit_cost: Decimal,
    price: Decimal,
    at: datetime,
    *,
    supplier_id: int | None = None,
    spec: str | None = None,
    unit: str = "件",
    shelf_life_days: int | None = None,
    lead_time_days: int = 7,
    min_order_qty: int = 1,
    order_multiple: int = 1,
    low_stock_threshold: int = 0,
    product_group_id: int | None = None,
    brand: str | None = None,
    origin: str | None = None,
    pack_size: Decimal | None = None,
    pack_unit: str | None = None,
    min_sale_qty: int = 1,
    tags: Iterable[str] = (),
) -> int:
    """A SKU. `price` is its national retail list price and `unit_cost` its purchase cost, both
    recorded as the first rows of its price and cost history at `at`.

    `min_order_qty` and `order_multiple` are what the supplier requires (replenishment rounds to
    them); `min_sale_qty` is the least a customer may buy.
    """
    with conn.transaction():
        product_id = _insert_product(
            conn,
            [
                merchant_id,
                sku_code,
                name,
                spec,
                unit,
                category_id,
                supplier_id,
                shelf_life_days,
                unit_cost,
                price,
                lead_time_days,
                min_order_qty,
                order_multiple,
                low_stock_threshold,
                product_group_id,
                brand,
                origin,
                pack_size,
                pack_unit,
                min_sale_qty,
                at,
                at,
            ],
        )
        for tag in tags:
            _insert_tag(conn, product_id, tag, at)
    return product_id


def _insert_product(conn: psycopg.Connection, values: list) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.products (merchant_id, sku_code, name, spec, unit, category_id, supplier_id,
               shelf_life_days, unit_cost, price, lead_time_days, min_order_qty, order_multiple,
               low_stock_threshold, product_group_id, brand, origin, pack_size, pack_unit, min_sale_qty,
               created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING product_id""",
        values,
    )


def _clean_tag(tag: str) -> str:
    cleaned = tag.strip()
    if not 1 <= len(cleaned) <= MAX_TAG_LENGTH:
        raise InvalidRequest(f"a tag has 1 to {MAX_TAG_LENGTH} characters, not {tag!r}")
    return cleaned


def _insert_tag(conn: psycopg.Connection, product_id: int, tag: str, at: datetime) -> None:
    conn.execute(
        """INSERT INTO core.product_tags (product_id, merchant_id, tag, tagged_at)
           SELECT product_id, merchant_id, %s, %s FROM core.products WHERE product_id = %s
           ON CONFLICT (product_id, tag) DO UPDATE SET tagged_at = EXCLUDED.tagged_at, untagged_at = NULL
           WHERE product_tags.untagged_at IS NOT NULL""",
        [_clean_tag(tag), at, product_id],
    )


def tag_product(conn: psycopg.Connection, product_id: int, tag: str, at: datetime) -> None:
    """Give a SKU a tag (a standard one or the merchant's own); tagging twice changes nothing."""
    with conn.transaction():
        _require_product(conn, product_id)
        _insert_tag(conn, product_id, tag, at)


def untag_product(conn: psycopg.Connection, product_id: int, tag: str, at: datetime) -> None:
    """Take a tag off a SKU; the row keeps when it was carried. Removing an absent tag changes nothing."""
    with conn.transaction():
        _require_product(conn, product_id)
        conn.execute(
            """UPDATE core.product_tags SET untagged_at = greatest(tagged_at, %s)
               WHERE product_id = %s AND tag = %s AND untagged_at IS NULL""",
            [at, product_id, tag.strip()],
        )


def product_tags(conn: psycopg.Connection, product_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT tag FROM core.product_tags WHERE product_id = %s AND untagged_at IS NULL ORDER BY tag", [product_id]
    ).fetchall()
    return [row[0] for row in rows]


def products_tagged(conn: psycopg.Connection, merchant_id: int, tag: str) -> list[str]:
    """The SKU codes of a merchant's products carrying a tag."""
    rows = conn.execute(
        """SELECT p.sku_code FROM core.product_tags t JOIN core.products p USING (product_id)
           WHERE t.merchant_id = %s AND t.tag = %s AND t.untagged_at IS NULL ORDER BY p.sku_code""",
        [merchant_id, tag.strip()],
    ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class Variant:
    product_id: int
    sku_code: str
    name: str
    spec: str | None
    pack_size: Decimal | None
    pack_unit: str | None
    price: Decimal


def group_variants(conn: psycopg.Connection, product_group_id: int) -> list[Variant]:
    """The SKUs of one product group, smallest pack first (packs without a size last)."""
    rows = conn.execute(
        """SELECT product_id, sku_code, name, spec, pack_size, pack_unit, price FROM core.products
           WHERE product_group_id = %s ORDER BY pack_unit, pack_size NULLS LAST, sku_code""",
        [product_group_id],
    ).fetchall()
    return [Variant(*row) for row in rows]


def _require_product(conn: psycopg.Connection, product_id: int) -> None:
    if conn.execute("SELECT 1 FROM core.products WHERE product_id = %s", [product_id]).fetchone() is None:
        raise NotFound(f"product {product_id} does not exist")


def create_customer(
    conn: psycopg.Connection,
    merchant_id: int,
    customer_code: str,
    name: str,
    at: datetime,
    customer_type: str = "household",
    region: str | None = None,
    *,
    price_tier: str = "retail",
) -> int:
    """A customer; `price_tier` (retail, wholesale, member) is the tier its prices are quoted at."""
    _check_price_tier(price_tier)
    return _returning_id(
        conn,
        """INSERT INTO core.customers (merchant_id, customer_code, name, customer_type, region, price_tier,
               created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING customer_id""",
        [merchant_id, customer_code, name, customer_type, region, price_tier, at, at],
    )


def set_customer_price_tier(conn: psycopg.Connection, customer_id: int, price_tier: str, at: datetime) -> None:
    _check_price_tier(price_tier)
    _update_customer(conn, customer_id, "price_tier", price_tier, at)


def set_customer_credit_limit(
    conn: psycopg.Connection, customer_id: int, credit_limit: Decimal | None, at: datetime
) -> None:
    """The most a customer may owe on credit orders (transactional.orders checks it at each credit
    order); None withdraws the credit line, so no new credit order is taken. Orders already on
    credit stay owed either way."""
    if credit_limit is not None and credit_limit < 0:
        raise InvalidRequest(f"a credit limit cannot be negative, not {credit_limit}")
    _update_customer(conn, customer_id, "credit_limit", credit_limit, at)


def _update_customer(conn: psycopg.Connection, customer_id: int, column: str, value: object, at: datetime) -> None:
    """One column of a customer, `column` being a fixed name of this module's, never input."""
    changed = conn.execute(
        f"UPDATE core.customers SET {column} = %s, updated_at = %s WHERE customer_id = %s", [value, at, customer_id]
    )
    if changed.rowcount == 0:
        raise NotFound(f"customer {customer_id} does not exist")


def _check_price_tier(price_tier: str) -> None:
    if price_tier not in TIERS:
        raise InvalidRequest(f"a customer's price tier is one of {', '.join(TIERS)}, not {price_tier!r}")
