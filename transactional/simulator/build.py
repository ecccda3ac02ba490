"""Write a planned network's master data through the catalogue services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import psycopg

from transactional import catalogue
from transactional.simulator.plan import CustomerPlan, MerchantPlan, SkuPlan
from transactional.simulator.reference import CATEGORY_TREE, CUSTOMER_TYPES
from transactional.stock import BUSINESS_TIMEZONE


def moment(day: date, hour: int, minute: int = 0, seconds: int = 0) -> datetime:
    """A business-local time on a simulated day."""
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TIMEZONE) + timedelta(seconds=seconds)


@dataclass
class MerchantIds:
    merchant_id: int
    warehouse_ids: list[int]
    supplier_ids: list[int]
    product_ids: list[int | None] = field(default_factory=list)  # None until the SKU launches
    customer_ids: list[int | None] = field(default_factory=list)  # None until the customer joins


def ensure_categories(conn: psycopg.Connection, at: datetime) -> dict[str, int]:
    """The network-wide tree; categories already present (same code) are reused. Leaf code -> id."""
    codes = [
        code
        for division in CATEGORY_TREE
        for group in division.groups
        for code in (division.code, group.code, *(leaf.code for leaf in group.leaves))
    ]
    ids = dict(
        conn.execute(
            "SELECT category_code, category_id FROM core.categories WHERE category_code = ANY(%s)", [codes]
        ).fetchall()
    )

    def ensure(code: str, name: str, name_en: str, level: int, parent: int | None, is_fresh: bool = False) -> int:
        if code not in ids:
            ids[code] = catalogue.create_category(conn, code, name, level, at, parent, name_en, is_fresh)
        return ids[code]

    leaves = {}
    for division in CATEGORY_TREE:
        top = ensure(division.code, division.name, division.name_en, 1, None)
        for group in division.groups:
            middle = ensure(group.code, group.name, group.name_en, 2, top)
            for leaf in group.leaves:
                leaves[leaf.code] = ensure(leaf.code, leaf.name, leaf.name_en, 3, middle, leaf.fresh)
    return leaves


def create_merchant(conn: psycopg.Connection, plan: MerchantPlan, at: datetime) -> MerchantIds:
    spec = plan.spec
    merchant_id = catalogue.create_merchant(conn, spec.code, spec.name, at, spec.merchant_type, spec.region)
    warehouse_ids = [
        catalogue.create_warehouse(conn, merchant_id, wh.code, wh.name, at, wh.townships[0]) for wh in spec.warehouses
    ]
    supplier_ids = [
        catalogue.create_supplier(conn, merchant_id, supplier.code, supplier.name, supplier.lead_time_days, at)
        for supplier in plan.suppliers
    ]
    return MerchantIds(
        merchant_id,
        warehouse_ids,
        supplier_ids,
        product_ids=[None] * len(plan.skus),
        customer_ids=[None] * len(plan.customers),
    )


def create_product(
    conn: psycopg.Connection,
    ids: MerchantIds,
    plan: MerchantPlan,
    index: int,
    category_ids: dict[str, int],
    low_stock_threshold: int,
    at: datetime,
) -> int:
    sku: SkuPlan = plan.skus[index]
    product_id = catalogue.create_product(
        conn,
        ids.merchant_id,
        sku.sku_code,
        sku.name,
        category_ids[sku.leaf.code],
        sku.unit_cost,
        sku.price,
        at,
        supplier_id=ids.supplier_ids[sku.supplier],
        spec=sku.spec,
        unit=sku.unit,
        shelf_life_days=sku.leaf.shelf_life_days,
        lead_time_days=plan.suppliers[sku.supplier].lead_time_days,
        min_order_qty=sku.leaf.min_order_qty,
        order_multiple=sku.leaf.order_multiple,
        low_stock_threshold=low_stock_threshold,
    )
    ids.product_ids[index] = product_id
    return product_id


def create_customer(conn: psycopg.Connection, ids: MerchantIds, plan: MerchantPlan, index: int, at: datetime) -> int:
    customer: CustomerPlan = plan.customers[index]
    customer_id = catalogue.create_customer(
        conn,
        ids.merchant_id,
        customer.customer_code,
        customer.name,
        at,
        CUSTOMER_TYPES[customer.customer_type],
        customer.region,
    )
    ids.customer_ids[index] = customer_id
    return customer_id
