"""Opening stock (`coopcast import stock`): one received batch per row, through the stock service.

Each row is put into its warehouse by transactional.stock.receive_stock, so a batch, its receipt
movement and the on-hand it adds follow exactly the rules of any other receipt (default expiry
from the shelf life, default cost from the product). A lot_code already recorded for the SKU is
skipped and reported; the same SKU and lot_code twice in one file is an error on both rows. Rows
without a lot_code cannot be recognised later: importing such a file twice adds its stock twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from transactional import stock
from transactional.errors import DomainError, ImportRejected
from transactional.imports import values as parse
from transactional.imports.columns import CellNote, Column
from transactional.imports.loading import KindImporter
from transactional.imports.report import Status


class StockListImporter(KindImporter):
    kind = "stock"
    columns = (
        Column(
            "sku_code",
            parse.code,
            True,
            "Code of an existing SKU of the merchant",
            "该商户已有的商品编码（SKU）",
            "FERT-001",
        ),
        Column(
            "warehouse_code",
            parse.code,
            True,
            "Code of an existing warehouse of the merchant",
            "该商户已有的仓库编码",
            "WH01",
        ),
        Column(
            "quantity",
            parse.quantity,
            True,
            "Units received into the warehouse (at least 1)",
            "入库数量（至少 1）",
            40,
        ),
        Column(
            "lot_code",
            parse.code,
            False,
            "Batch or lot number (default: generated); unique per SKU",
            "批次号（默认自动生成）；同一商品内唯一",
            "L20250301",
        ),
        Column(
            "expiry_date",
            parse.calendar_date,
            False,
            "Expiry date (default: received date + shelf life)",
            "到期日（默认：入库日期 + 保质期）",
            date(2027, 3, 1),
        ),
        Column(
            "unit_cost",
            parse.unit_price,
            False,
            "Cost per unit of this batch, CNY (default: the product's)",
            "该批次单位成本，元（默认取商品成本）",
            Decimal("80.00"),
        ),
        Column(
            "received_at",
            parse.timestamp,
            False,
            "When it was received (default: the import time); Asia/Shanghai",
            "入库时间（默认：导入时间）；北京时间",
            date(2025, 3, 1),
        ),
    )
    template_notes = (
        (
            "每行是入库到某个仓库的一个批次；商品和仓库都必须已存在。",
            "Each row is one batch received into a warehouse; the SKU and the warehouse must exist.",
        ),
        (
            "该商品已记录过的 lot_code 会被跳过；没有 lot_code 的行重新导入时会再次入库。",
            "A lot_code already recorded for the SKU is skipped; rows without lot_code are added again on a re-import.",
        ),
    )
    staging_table = "import_stock_rows"
    staging_columns = (
        "row_no integer",
        "sku_code text",
        "warehouse_code text",
        "quantity integer",
        "lot_code text",
        "expiry_date date",
        "unit_cost numeric(14, 2)",
        "received_at timestamptz",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows_by_lot: dict[tuple[str, str], list[int]] = {}

    def stage(self, row: int, values: dict[str, Any], notes: list[CellNote]) -> tuple:
        if values["sku_code"] is not None and values["lot_code"] is not None:
            self.rows_by_lot.setdefault((values["sku_code"], values["lot_code"]), []).append(row)
        if values["quantity"] == 0:
            self.bad(row, "quantity", "must be at least 1")
        if values["received_at"] is not None and values["received_at"] > self.at:
            self.bad(row, "received_at", f"is {values['received_at']:%Y-%m-%d %H:%M %z}, later than the import itself")
        received_on = stock.business_date(values["received_at"] or self.at)
        if values["expiry_date"] is not None and values["expiry_date"] < received_on:
            self.bad(
                row,
                "expiry_date",
                f"is {values['expiry_date']:%Y-%m-%d}, before the batch was received on {received_on:%Y-%m-%d}",
            )
        return (row, *(values[column] for column in self.staging_names()[1:]))

    def after_file(self) -> None:
        repeated = {key: rows for key, rows in self.rows_by_lot.items() if len(rows) > 1}
        for (sku, lot), rows in repeated.items():
            shown = ", ".join(map(str, rows))
            for row in rows:
                self.bad(row, "lot_code", f"lot {lot} of SKU {sku} appears on rows {shown}; each lot once per file")

    def check(self) -> None:
        unknown = self.conn.execute(
            f"""SELECT s.row_no, s.sku_code, p.product_id IS NULL, s.warehouse_code, w.warehouse_id IS NULL
                FROM {self.staging_table} s
                LEFT JOIN core.products p ON p.merchant_id = %(merchant_id)s AND p.sku_code = s.sku_code
                LEFT JOIN core.warehouses w ON w.merchant_id = %(merchant_id)s AND w.warehouse_code = s.warehouse_code
                WHERE (s.sku_code IS NOT NULL AND p.product_id IS NULL)
                   OR (s.warehouse_code IS NOT NULL AND w.warehouse_id IS NULL)
                ORDER BY s.row_no""",
            {"merchant_id": self.merchant_id},
        ).fetchall()
        merchant = self.report.merchant_code
        for row, sku_code, no_product, warehouse_code, no_warehouse in unknown:
            if sku_code is not None and no_product:
                self.bad(row, "sku_code", f"SKU {sku_code} is unknown to merchant {merchant}")
            if warehouse_code is not None and no_warehouse:
                self.bad(row, "warehouse_code", f"warehouse {warehouse_code} is unknown to merchant {merchant}")
        self.drop_bad_rows()
        present = self.conn.execute(
            f"""DELETE FROM {self.staging_table} s USING core.products p, core.batches b
                WHERE p.merchant_id = %s AND p.sku_code = s.sku_code
                  AND b.product_id = p.product_id AND b.lot_code = s.lot_code
                RETURNING s.row_no, s.sku_code, s.lot_code""",
            [self.merchant_id],
        ).fetchall()
        for row, sku_code, lot_code in present:
            self.report.add(
                row, None, Status.ALREADY_PRESENT, f"lot {lot_code} of SKU {sku_code} is already in stock; skipped"
            )

    def load(self) -> None:
        receipts = self.conn.execute(
            f"""SELECT s.row_no, w.warehouse_id, p.product_id, s.quantity, s.received_at, s.unit_cost, s.lot_code,
                       s.expiry_date
                FROM {self.staging_table} s
                JOIN core.products p ON p.merchant_id = %(merchant_id)s AND p.sku_code = s.sku_code
                JOIN core.warehouses w ON w.merchant_id = %(merchant_id)s AND w.warehouse_code = s.warehouse_code
                ORDER BY s.row_no""",
            {"merchant_id": self.merchant_id},
        ).fetchall()
        received = refused = 0
        for row, warehouse_id, product_id, quantity, received_at, unit_cost, lot_code, expiry_date in receipts:
            try:
                stock.receive_stock(
                    self.conn,
                    warehouse_id=warehouse_id,
                    product_id=product_id,
                    quantity=quantity,
                    at=received_at or self.at,
                    unit_cost=unit_cost,
                    lot_code=lot_code,
                    expiry_date=expiry_date,
                )
            except DomainError as error:
                # The receipt ran in its own savepoint, so the rows before and after it still count.
                self.bad(row, None, str(error))
                refused += 1
                continue
            received += 1
            self.report.created["units"] += quantity
        self.report.created["batches"] = received
        if refused and not self.options.skip_bad_rows:
            raise ImportRejected(self.report.failure_summary(), self.report)
