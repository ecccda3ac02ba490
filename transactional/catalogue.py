"""Merchants, warehouses, the category tree, suppliers, products and customers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg


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
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.categories (category_code, name, name_en, level, parent_id, created_at)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING category_id""",
        [category_code, name, name_en, level, parent_id, at],
    )


def create_supplier(
    conn: psycopg.Connection,
    merchant_id: int,
    supplier_code: str,
    name: str,
    lead_time_days: int,
    at: datetime,
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.suppliers (merchant_id, supplier_code, name, lead_time_days, created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING supplier_id""",
        [merchant_id, supplier_code, name, lead_time_days, at, at],
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
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.products (merchant_id, sku_code, name, spec, unit, category_id, supplier_id,
               shelf_life_days, unit_cost, price, lead_time_days, min_order_qty, order_multiple,
               low_stock_threshold, created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING product_id""",
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
            at,
            at,
        ],
    )


def set_product_active(conn: psycopg.Connection, product_id: int, is_active: bool, at: datetime) -> None:
    conn.execute(
        "UPDATE core.products SET is_active = %s, updated_at = %s WHERE product_id = %s",
        [is_active, at, product_id],
    )


def create_customer(
    conn: psycopg.Connection,
    merchant_id: int,
    customer_code: str,
    name: str,
    at: datetime,
    customer_type: str = "household",
    region: str | None = None,
) -> int:
    return _returning_id(
        conn,
        """INSERT INTO core.customers (merchant_id, customer_code, name, customer_type, region,
               created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING customer_id""",
        [merchant_id, customer_code, name, customer_type, region, at, at],
    )
