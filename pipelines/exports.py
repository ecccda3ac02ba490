"""Procurement workbooks: one per merchant, a summary sheet and one sheet per supplier."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pandas as pd
import xlsxwriter

from pipelines import warehouse

SHEET_NAME_LIMIT = 31
SUMMARY_SHEET = "汇总 Summary"

# (column in fct_replenishment_suggestions, header, kind)
SUPPLIER_SHEET_COLUMNS = [
    ("sku_code", "SKU编码 SKU", "text"),
    ("sku_name", "商品名称 Product", "text"),
    ("warehouse_code", "仓库 Warehouse", "text"),
    ("on_hand", "现有库存 On hand", "integer"),
    ("available", "可用库存 Available", "integer"),
    ("on_order", "在途 On order", "integer"),
    ("forecast_lead_time_demand", "提前期预测需求 Lead-time demand", "decimal"),
    ("safety_stock", "安全库存 Safety stock", "decimal"),
    ("suggested_qty", "建议采购量 Suggested qty", "integer"),
    ("unit_cost", "单价 Unit cost", "money"),
    ("suggested_value", "金额 Amount", "money"),
]
SUMMARY_COLUMNS = [
    ("supplier_code", "供应商编码 Supplier", "text"),
    ("supplier_name", "供应商名称 Name", "text"),
    ("lines", "品项数 Lines", "integer"),
    ("suggested_qty", "建议采购量 Qty", "integer"),
    ("suggested_value", "金额 Amount", "money"),
]
NUMBER_FORMATS = {"integer": "#,##0", "decimal": "#,##0.0", "money": "¥#,##0.00"}


def workbook_path(exports_dir: Path, merchant_code: str, as_of: date) -> Path:
    return exports_dir / f"replenishment_{merchant_code}_{as_of.isoformat()}.xlsx"


def sheet_name(supplier_code: str, supplier_name: str, taken: set[str]) -> str:
    """Excel forbids []:*?/\\ in sheet names and caps them at 31 characters; names stay unique."""
    base = re.sub(r"[\[\]:*?/\\]", "_", f"{supplier_code} {supplier_name}").strip("'")[:SHEET_NAME_LIMIT]
    name, counter = base, 2
    while name.lower() in taken:
        suffix = f"~{counter}"
        name, counter = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, counter + 1
    taken.add(name.lower())
    return name


def build_workbook(suggestions: pd.DataFrame, merchant_code: str, as_of: date) -> bytes:
    """The workbook for one merchant's suggestions with suggested_qty > 0.

    Text is always written as text (never a formula or link), so a product or supplier name
    starting with "=" cannot run in the buyer's Excel.
    """
    to_order = suggestions[suggestions["suggested_qty"] > 0].sort_values(["supplier_code", "sku_code"])
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in NUMBER_FORMATS.items()}

    summary = (
        to_order.groupby(["supplier_code", "supplier_name"], dropna=False, sort=True)
        .agg(
            lines=("sku_code", "count"),
            suggested_qty=("suggested_qty", "sum"),
            suggested_value=("suggested_value", "sum"),
        )
        .reset_index()
    )
    title = f"补货建议 Replenishment · {merchant_code} · {as_of.isoformat()}"
    _write_sheet(book, SUMMARY_SHEET, summary, SUMMARY_COLUMNS, header, formats, title)
    taken = {SUMMARY_SHEET.lower()}
    for (supplier_code, supplier_name), lines in to_order.groupby(
        ["supplier_code", "supplier_name"], dropna=False, sort=True
    ):
        name = sheet_name(str(supplier_code), str(supplier_name), taken)
        _write_sheet(book, name, lines, SUPPLIER_SHEET_COLUMNS, header, formats, f"{supplier_code} {supplier_name}")
    book.close()
    return buffer.getvalue()


def _write_sheet(book, name, frame, columns, header, formats, title) -> None:
    sheet = book.add_worksheet(name)
    sheet.write_string(0, 0, title)
    for col, (_, label, kind) in enumerate(columns):
        sheet.write_string(1, col, label, header)
        sheet.set_column(col, col, 28 if kind == "text" else 16)
    for row_index, record in enumerate(frame.to_dict("records"), start=2):
        for col, (field, _, kind) in enumerate(columns):
            value = record.get(field)
            if value is None or (isinstance(value, float) and pd.isna(value)):
                sheet.write_blank(row_index, col, None)
            elif kind == "text":
                sheet.write_string(row_index, col, str(value))
            else:
                sheet.write_number(row_index, col, float(value), formats[kind])
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, max(1, len(frame) + 1), len(columns) - 1)


def export_replenishment(warehouse_path: Path, exports_dir: Path) -> list[Path]:
    """Write every merchant's workbook for its current as_of; returns the files written."""
    conn = warehouse.connect(warehouse_path, read_only=True)
    try:
        suggestions = conn.execute(
            "SELECT * FROM marts.fct_replenishment_suggestions ORDER BY merchant_code, supplier_code, sku_code"
        ).df()
    finally:
        conn.close()
    exports_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (merchant_code, as_of), rows in suggestions.groupby(["merchant_code", "as_of"], sort=True):
        as_of_date = pd.Timestamp(as_of).date()
        target = workbook_path(exports_dir, str(merchant_code), as_of_date)
        partial = target.with_suffix(".xlsx.partial")
        partial.write_bytes(build_workbook(rows, str(merchant_code), as_of_date))
        partial.replace(target)
        written.append(target)
    return written
