"""Procurement workbooks: one per merchant, a summary sheet and one sheet per supplier.

Buyers edit only the confirmed quantity on each supplier sheet; line amounts, supplier totals and
the summary follow by formula. Sheets are protected without a password: a guard against typing
over a formula by accident, not a lock.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from pipelines import warehouse

SHEET_NAME_LIMIT = 31
SUMMARY_SHEET = "汇总 Summary"

# Rows of every sheet (0-based): title, as-of date, header, then the lines and a total row.
TITLE_ROW, AS_OF_ROW, HEADER_ROW, FIRST_LINE_ROW = 0, 1, 2, 3
TOTAL_LABEL = "合计 Total"

NUMBER_FORMATS = {"integer": "#,##0", "decimal": "#,##0.0", "money": '"¥"#,##0.00', "date": "yyyy-mm-dd"}
# Excel (and tools that re-parse exported text) treat cells starting with these as formulas.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# In-memory workbooks whose text is never turned into a formula, a link or a number.
TEXT_AS_TEXT = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


class Column(NamedTuple):
    field: str
    label: str
    kind: str  # text, integer, decimal, money, confirmed (editable quantity) or line_value (formula)


CONFIRMED_QTY = Column("confirmed_qty", "确认数量 Confirmed qty", "confirmed")
CONFIRMED_VALUE = Column("confirmed_value", "确认金额 Confirmed amount", "line_value")
LINE_COLUMNS = [
    Column("sku_code", "SKU编码 SKU", "text"),
    Column("sku_name", "商品名称 Product", "text"),
    Column("warehouse_code", "仓库 Warehouse", "text"),
    Column("on_hand", "现有库存 On hand", "integer"),
    Column("available", "可用库存 Available", "integer"),
    Column("on_order", "在途 On order", "integer"),
    Column("forecast_lead_time_demand", "提前期及补货周期预测需求 Demand over lead time + review", "decimal"),
    Column("safety_stock", "安全库存 Safety stock", "decimal"),
]
# Written only when the suggestions carry them (the mart does; hand-made frames may not).
MART_COLUMNS = [
    Column("min_order_qty", "起订量 MOQ", "integer"),
    Column("order_multiple", "包装倍数 Order multiple", "integer"),
    Column("reorder_point", "再订货点 Reorder point", "decimal"),
    Column("days_of_cover", "订货后可售天数 Days of cover", "decimal"),
    Column("reason_zh", "原因 Reason", "text"),
]
QUANTITY_COLUMNS = [
    Column("suggested_qty", "建议采购量 Suggested qty", "integer"),
    CONFIRMED_QTY,
    Column("unit_cost", "单价 Unit cost", "money"),
    Column("suggested_value", "建议金额 Suggested amount", "money"),
    CONFIRMED_VALUE,
]
SUPPLIER_TOTAL_FIELDS = ("suggested_qty", "confirmed_qty", "suggested_value", "confirmed_value")
SUMMARY_COLUMNS = [
    Column("supplier_code", "供应商编码 Supplier", "text"),
    Column("supplier_name", "供应商名称 Name", "text"),
    Column("lines", "品项数 Lines", "integer"),
    Column("suggested_qty", "建议采购量 Suggested qty", "integer"),
    Column("suggested_value", "建议金额 Suggested amount", "money"),
    Column("confirmed_qty", "确认数量 Confirmed qty", "integer"),
    Column("confirmed_value", "确认金额 Confirmed amount", "money"),
]
# Filtering stays possible on a protected sheet; everything else keeps Excel's protected defaults.
PROTECTION_OPTIONS = {"autofilter": True, "format_columns": True}

CONFIRMED_INPUT_TITLE = "确认数量 Confirmed qty"
CONFIRMED_INPUT_MESSAGE = (
    "请填写确认采购数量：不小于 0 的整数。\nEnter the quantity to order: a whole number, 0 or more."
)
CONFIRMED_PACK_MESSAGE = (
    "请填写确认采购数量：不小于 0 的整数，且为包装倍数的整数倍。\n"
    "Enter the quantity to order: a whole number, 0 or more, and a multiple of the order multiple."
)
CONFIRMED_ERROR_TITLE = "数量无效 Invalid quantity"
CONFIRMED_ERROR_MESSAGE = "数量须为不小于 0 的整数。\nThe quantity must be a whole number, 0 or more."
CONFIRMED_PACK_ERROR_MESSAGE = (
    "数量须为不小于 0 的整数，且为包装倍数的整数倍。\n"
    "The quantity must be a whole number, 0 or more, and a multiple of the order multiple."
)


class SupplierTotals(NamedTuple):
    """One supplier sheet's totals: where they are (for the summary's formulas) and their values."""

    supplier_code: str
    supplier_name: str
    lines: int
    cells: dict[str, str]  # field -> cell reference on the supplier sheet, e.g. "'S01 x'!J6"
    values: dict[str, float]


def workbook_path(exports_dir: Path, merchant_code: str, as_of: date) -> Path:
    return exports_dir / f"replenishment_{merchant_code}_{as_of.isoformat()}.xlsx"


def sheet_name(supplier_code: str, supplier_name: str, taken: set[str]) -> str:
    """Excel forbids []:*?/\\ and control characters in sheet names, a leading or trailing
    apostrophe and more than 31 characters; names stay unique."""
    base = re.sub(r"[\[\]:*?/\\\x00-\x1f]", "_", f"{supplier_code} {supplier_name}")[:SHEET_NAME_LIMIT].strip("'")
    name, counter = base, 2
    while name.lower() in taken:
        suffix = f"~{counter}"
        name, counter = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, counter + 1
    taken.add(name.lower())
    return name


def supplier_sheet_columns(suggestions: pd.DataFrame) -> list[Column]:
    from_mart = [column for column in MART_COLUMNS if column.field in suggestions.columns]
    return LINE_COLUMNS + from_mart + QUANTITY_COLUMNS


# SKUs without a default supplier still need buying: they get a sheet of their own.
NO_SUPPLIER = ("-", "未指定供应商 No supplier")


def build_workbook(suggestions: pd.DataFrame, merchant_code: str, as_of: date) -> bytes:
    """The workbook for one merchant's suggestions with suggested_qty > 0.

    Text is always written as text (never a formula or link), so a product or supplier name
    starting with "=" cannot run in the buyer's Excel.
    """
    to_order = (
        suggestions[suggestions["suggested_qty"] > 0]
        .fillna({"supplier_code": NO_SUPPLIER[0], "supplier_name": NO_SUPPLIER[1]})
        .sort_values(["supplier_code", "sku_code"])
    )
    columns = supplier_sheet_columns(to_order)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, TEXT_AS_TEXT)
    formats = _formats(book)
    # Created first so it is the first tab; filled once the supplier totals are known.
    summary = book.add_worksheet(SUMMARY_SHEET)
    taken = {SUMMARY_SHEET.lower()}
    supplier_totals = []
    for (supplier_code, supplier_name), lines in to_order.groupby(
        ["supplier_code", "supplier_name"], dropna=False, sort=True
    ):
        supplier = (str(supplier_code), str(supplier_name))
        sheet = book.add_worksheet(sheet_name(*supplier, taken))
        supplier_totals.append(_write_supplier_sheet(sheet, supplier, lines, columns, formats, as_of))
    _write_summary(summary, supplier_totals, formats, f"补货建议 Replenishment · {merchant_code}", as_of)
    book.close()
    return buffer.getvalue()


def _formats(book: xlsxwriter.Workbook) -> dict[str, Format]:
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in NUMBER_FORMATS.items()}
    formats["header"] = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    formats["title"] = book.add_format({"bold": True})
    formats["text"] = book.add_format({})
    # The quote prefix keeps such text as text even when a buyer re-edits the cell.
    formats["risky_text"] = book.add_format({"quote_prefix": True})
    formats["risky_title"] = book.add_format({"quote_prefix": True, "bold": True})
    formats["confirmed"] = book.add_format(
        {"num_format": NUMBER_FORMATS["integer"], "locked": False, "bg_color": "#FFF2CC", "border": 1}
    )
    for kind in ("integer", "money"):
        formats[f"total_{kind}"] = book.add_format({"num_format": NUMBER_FORMATS[kind], "bold": True, "top": 1})
    formats["total_label"] = book.add_format({"bold": True, "top": 1})
    return formats


def _write_text(sheet: Worksheet, row: int, col: int, value: object, formats: dict[str, Format]) -> None:
    text = str(value)
    sheet.write_string(row, col, text, formats["risky_text" if text.startswith(FORMULA_TRIGGERS) else "text"])


def _write_heading(
    sheet: Worksheet, columns: list[Column], formats: dict[str, Format], title: str, as_of: date
) -> None:
    sheet.write_string(TITLE_ROW, 0, title, formats["risky_title" if title.startswith(FORMULA_TRIGGERS) else "title"])
    sheet.write_string(AS_OF_ROW, 0, "日期 As of")
    sheet.write_datetime(AS_OF_ROW, 1, as_of, formats["date"])
    for col, column in enumerate(columns):
        sheet.write_string(HEADER_ROW, col, column.label, formats["header"])
        sheet.set_column(col, col, 28 if column.kind == "text" else 14)
    sheet.freeze_panes(FIRST_LINE_ROW, 0)


def _number(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _write_supplier_sheet(
    sheet: Worksheet,
    supplier: tuple[str, str],
    lines: pd.DataFrame,
    columns: list[Column],
    formats: dict[str, Format],
    as_of: date,
) -> SupplierTotals:
    _write_heading(sheet, columns, formats, " ".join(supplier), as_of)
    col_of = {column.field: col for col, column in enumerate(columns)}
    sums = dict.fromkeys(SUPPLIER_TOTAL_FIELDS, 0.0)
    last_line_row = FIRST_LINE_ROW + len(lines) - 1
    for row, record in enumerate(lines.to_dict("records"), start=FIRST_LINE_ROW):
        quantity, line_value = _write_line(sheet, row, record, columns, col_of, formats)
        sums["suggested_qty"] += quantity
        sums["confirmed_qty"] += quantity
        sums["suggested_value"] += _number(record.get("suggested_value")) or 0.0
        sums["confirmed_value"] += line_value
    _validate_confirmed(sheet, col_of, last_line_row)
    total_columns = {field: col_of[field] for field in SUPPLIER_TOTAL_FIELDS}
    cells = _write_total_row(sheet, last_line_row + 1, total_columns, sums, formats)
    sheet.autofilter(HEADER_ROW, 0, last_line_row, len(columns) - 1)
    sheet.protect("", PROTECTION_OPTIONS)
    reference = "'" + sheet.get_name().replace("'", "''") + "'!"
    return SupplierTotals(*supplier, len(lines), {field: reference + cell for field, cell in cells.items()}, sums)


def _write_line(
    sheet: Worksheet,
    row: int,
    record: dict,
    columns: list[Column],
    col_of: dict[str, int],
    formats: dict[str, Format],
) -> tuple[float, float]:
    """One SKU line, the confirmed quantity prefilled with the suggestion; returns the quantity
    and the line value (the cached value of its formula)."""
    quantity = _number(record["suggested_qty"]) or 0.0
    # Rounded to the fen as Excel shows it: a reader of the cached value must not see 874.8000000000001.
    line_value = round(quantity * (_number(record.get("unit_cost")) or 0.0), 2)
    for col, column in enumerate(columns):
        value = record.get(column.field)
        if column.kind == "confirmed":
            sheet.write_number(row, col, quantity, formats["confirmed"])
        elif column.kind == "line_value":
            confirmed = xl_rowcol_to_cell(row, col_of["confirmed_qty"])
            unit_cost = xl_rowcol_to_cell(row, col_of["unit_cost"])
            sheet.write_formula(row, col, f"={confirmed}*{unit_cost}", formats["money"], line_value)
        elif value is None or pd.isna(value):
            sheet.write_blank(row, col, None)
        elif column.kind == "text":
            _write_text(sheet, row, col, value, formats)
        else:
            sheet.write_number(row, col, float(value), formats[column.kind])
    return quantity, line_value


def _validate_confirmed(sheet: Worksheet, col_of: dict[str, int], last_line_row: int) -> None:
    """A whole number ≥ 0 and, where the SKU has one, a multiple of its order multiple."""
    col = col_of["confirmed_qty"]
    if "order_multiple" in col_of:
        # Relative to the first line: Excel shifts both references row by row.
        cell = xl_rowcol_to_cell(FIRST_LINE_ROW, col)
        multiple = f"${xl_col_to_name(col_of['order_multiple'])}{FIRST_LINE_ROW + 1}"
        whole = f"ISNUMBER({cell}),{cell}>=0,{cell}=INT({cell})"
        # A missing order multiple (blank, 0) must not reject every quantity with #DIV/0!.
        packed = f"IF(N({multiple})>0,MOD({cell},{multiple})=0,TRUE)"
        rule = {
            "validate": "custom",
            "value": f"=AND({whole},{packed})",
            "input_message": CONFIRMED_PACK_MESSAGE,
            "error_message": CONFIRMED_PACK_ERROR_MESSAGE,
        }
    else:
        rule = {
            "validate": "integer",
            "criteria": ">=",
            "value": 0,
            "input_message": CONFIRMED_INPUT_MESSAGE,
            "error_message": CONFIRMED_ERROR_MESSAGE,
        }
    rule |= {"input_title": CONFIRMED_INPUT_TITLE, "error_title": CONFIRMED_ERROR_TITLE, "error_type": "stop"}
    sheet.data_validation(FIRST_LINE_ROW, col, last_line_row, col, rule)


def _write_total_row(
    sheet: Worksheet, row: int, columns: dict[str, int], values: dict[str, float], formats: dict[str, Format]
) -> dict[str, str]:
    """SUM formulas over the lines above, with their values cached for readers that do not
    recalculate; returns each total's cell."""
    sheet.write_string(row, 0, TOTAL_LABEL, formats["total_label"])
    cells = {}
    for field, col in columns.items():
        kind = "money" if field.endswith("_value") else "integer"
        lines = f"{xl_rowcol_to_cell(FIRST_LINE_ROW, col)}:{xl_rowcol_to_cell(row - 1, col)}"
        sheet.write_formula(row, col, f"=SUM({lines})", formats[f"total_{kind}"], round(values[field], 2))
        cells[field] = xl_rowcol_to_cell(row, col)
    return cells


def _write_summary(
    sheet: Worksheet, suppliers: list[SupplierTotals], formats: dict[str, Format], title: str, as_of: date
) -> None:
    _write_heading(sheet, SUMMARY_COLUMNS, formats, title, as_of)
    col_of = {column.field: col for col, column in enumerate(SUMMARY_COLUMNS)}
    for row, supplier in enumerate(suppliers, start=FIRST_LINE_ROW):
        _write_text(sheet, row, col_of["supplier_code"], supplier.supplier_code, formats)
        _write_text(sheet, row, col_of["supplier_name"], supplier.supplier_name, formats)
        sheet.write_number(row, col_of["lines"], supplier.lines, formats["integer"])
        for field in SUPPLIER_TOTAL_FIELDS:
            kind = "money" if field.endswith("_value") else "integer"
            cached = round(supplier.values[field], 2)
            sheet.write_formula(row, col_of[field], f"={supplier.cells[field]}", formats[kind], cached)
    last_line_row = FIRST_LINE_ROW + len(suppliers) - 1
    if suppliers:
        totals = {field: sum(supplier.values[field] for supplier in suppliers) for field in SUPPLIER_TOTAL_FIELDS}
        totals["lines"] = float(sum(supplier.lines for supplier in suppliers))
        total_columns = {field: col_of[field] for field in ("lines", *SUPPLIER_TOTAL_FIELDS)}
        _write_total_row(sheet, last_line_row + 1, total_columns, totals, formats)
    sheet.autofilter(HEADER_ROW, 0, max(FIRST_LINE_ROW, last_line_row), len(SUMMARY_COLUMNS) - 1)
    sheet.protect("", PROTECTION_OPTIONS)


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
