"""The product list (`coopcast import products`): new SKUs of one merchant.

A SKU already present is skipped and reported, never changed (price changes keep their history
through the catalogue's own price services). A sku_code twice in one file is an error on both rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from transactional.imports import values as parse
from transactional.imports.columns import CellNote, Column
from transactional.imports.loading import KindImporter
from transactional.imports.report import Status

DEFAULT_LEAD_TIME_DAYS = 7
MAX_LEAD_TIME_DAYS = 365


class ProductListImporter(KindImporter):
    kind = "products"
    columns = (
        Column(
            "sku_code",
            parse.code,
            True,
            "The merchant's code for the SKU, unique per merchant",
            "商户自己的商品编码（SKU），同一商户内唯一",
            "FERT-001",
        ),
        Column("name", parse.text, True, "Product name", "商品名称", "复合肥 15-15-15 50kg"),
        Column(
            "category_code",
            parse.code,
            True,
            "Code of an existing level-3 (leaf) category",
            "已有的三级（末级）品类编码",
            "010101",
        ),
        Column(
            "unit_cost", parse.unit_price, True, "Purchase cost per unit, CNY", "单位进货成本，元", Decimal("80.00")
        ),
        Column("price", parse.unit_price, True, "Retail price per unit, CNY", "单位零售价，元", Decimal("98.00")),
        Column("spec", parse.text, False, "Pack size or specification", "规格或包装", "50kg/袋"),
        Column("brand", parse.text, False, "Brand", "品牌", "丰收"),
        Column("origin", parse.text, False, "Place of origin", "产地", "山东临沂"),
        Column("unit", parse.text, False, "Sales unit (default 件)", "销售单位（默认“件”）", "袋"),
        Column(
            "shelf_life_days",
            parse.whole_number,
            False,
            "Shelf life in days; empty when it does not expire",
            "保质期天数；不会过期的商品留空",
            1095,
        ),
        Column(
            "supplier_code",
            parse.code,
            False,
            "Code of an existing supplier of the merchant",
            "该商户已有的供应商编码",
            "S01",
        ),
        Column(
            "lead_time_days",
            parse.whole_number,
            False,
            "Days from order to delivery (default: the supplier's, else 7)",
            "从下单到到货的天数（默认取供应商的，否则为 7）",
            5,
        ),
        Column(
            "min_order_qty",
            parse.quantity,
            False,
            "Smallest purchase quantity (default 1)",
            "最小采购量（默认 1）",
            10,
        ),
        Column(
            "order_multiple",
            parse.quantity,
            False,
            "Purchases in multiples of this (default 1)",
            "采购量须为此数的整数倍（默认 1）",
            10,
        ),
        Column(
            "low_stock_threshold",
            parse.quantity,
            False,
            "Warn below this on-hand quantity (default 0)",
            "库存低于此数量时预警（默认 0）",
            20,
        ),
    )
    template_notes = (
        (
            "已有的 SKU 会被跳过，不会被修改；同一 sku_code 在一个文件中出现两次即为错误。",
            "A SKU already present is skipped, never changed; the same sku_code twice in one file is an error.",
        ),
        (
            "category_code 须为已有的三级品类；supplier_code 须为已有的供应商。",
            "category_code must name an existing level-3 category; supplier_code an existing supplier.",
        ),
    )
    staging_table = "import_product_rows"
    staging_columns = (
        "row_no integer",
        "sku_code text",
        "name text",
        "category_code text",
        "unit_cost numeric(14, 2)",
        "price numeric(14, 2)",
        "spec text",
        "brand text",
        "origin text",
        "unit text",
        "shelf_life_days integer",
        "supplier_code text",
        "lead_time_days integer",
        "min_order_qty integer",
        "order_multiple integer",
        "low_stock_threshold integer",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows_by_sku: dict[str, list[int]] = {}

    def stage(self, row: int, values: dict[str, Any], notes: list[CellNote]) -> tuple:
        if values["sku_code"] is not None:
            self.rows_by_sku.setdefault(values["sku_code"], []).append(row)
        for column in ("shelf_life_days", "min_order_qty", "order_multiple"):
            if values[column] == 0:
                self.bad(row, column, "must be at least 1")
        if values["lead_time_days"] is not None and values["lead_time_days"] > MAX_LEAD_TIME_DAYS:
            self.bad(row, "lead_time_days", f"must be at most {MAX_LEAD_TIME_DAYS}")
        return (row, *(values[column] for column in self.staging_names()[1:]))

    def after_file(self) -> None:
        repeated = {sku: rows for sku, rows in self.rows_by_sku.items() if len(rows) > 1}
        for sku, rows in repeated.items():
            shown = ", ".join(map(str, rows))
            for row in rows:
                self.bad(row, "sku_code", f"SKU {sku} appears on rows {shown}; each SKU once per file")

    def check(self) -> None:
        categories = self.conn.execute(
            f"""SELECT s.row_no, s.category_code, c.level
                FROM {self.staging_table} s LEFT JOIN core.categories c USING (category_code)
                WHERE s.category_code IS NOT NULL AND c.level IS DISTINCT FROM 3 ORDER BY s.row_no"""
        ).fetchall()
        for row, category_code, level in categories:
            reason = (
                f"category {category_code} does not exist"
                if level is None
                else f"category {category_code} is a level-{level} category; products belong in level-3 categories"
            )
            self.bad(row, "category_code", reason)
        suppliers = self.conn.execute(
            f"""SELECT s.row_no, s.supplier_code FROM {self.staging_table} s
                WHERE s.supplier_code IS NOT NULL
                  AND NOT EXISTS (SELECT FROM core.suppliers p
                                  WHERE p.merchant_id = %s AND p.supplier_code = s.supplier_code)
                ORDER BY s.row_no""",
            [self.merchant_id],
        ).fetchall()
        for row, supplier_code in suppliers:
            merchant = self.report.merchant_code
            self.bad(row, "supplier_code", f"supplier {supplier_code} is unknown to merchant {merchant}")
        self.drop_bad_rows()
        present = self.conn.execute(
            f"""DELETE FROM {self.staging_table} s USING core.products p
                WHERE p.merchant_id = %s AND p.sku_code = s.sku_code RETURNING s.row_no, s.sku_code""",
            [self.merchant_id],
        ).fetchall()
        for row, sku_code in present:
            self.report.add(row, None, Status.ALREADY_PRESENT, f"SKU {sku_code} already exists; skipped, not changed")

    def load(self) -> None:
        self.report.created["products"] = self.conn.execute(
            INSERT_PRODUCTS,
            {"merchant_id": self.merchant_id, "at": self.at, "default_lead_time_days": DEFAULT_LEAD_TIME_DAYS},
        ).rowcount


INSERT_PRODUCTS = """
INSERT INTO core.products (merchant_id, sku_code, name, spec, brand, origin, unit, category_id, supplier_id,
                           shelf_life_days, unit_cost, price, lead_time_days, min_order_qty, order_multiple,
                           low_stock_threshold, created_at, updated_at)
SELECT %(merchant_id)s, s.sku_code, s.name, s.spec, s.brand, s.origin, COALESCE(s.unit, '件'), c.category_id,
       sup.supplier_id,
       s.shelf_life_days, s.unit_cost, s.price,
       COALESCE(s.lead_time_days, sup.lead_time_days, %(default_lead_time_days)s),
       COALESCE(s.min_order_qty, 1), COALESCE(s.order_multiple, 1), COALESCE(s.low_stock_threshold, 0),
       %(at)s, %(at)s
FROM import_product_rows s
JOIN core.categories c ON c.category_code = s.category_code
LEFT JOIN core.suppliers sup ON sup.merchant_id = %(merchant_id)s AND sup.supplier_code = s.supplier_code
ORDER BY s.row_no
"""
