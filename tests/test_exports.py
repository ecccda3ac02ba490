"""The procurement workbook: one sheet per supplier, frozen header, number formats, text stays text."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pandas as pd

from pipelines.exports import SUMMARY_SHEET, build_workbook, sheet_name


def suggestion(supplier_code: str, supplier_name: str, sku_code: str, suggested_qty: int) -> dict:
    return {
        "supplier_code": supplier_code,
        "supplier_name": supplier_name,
        "sku_code": sku_code,
        "sku_name": f"商品{sku_code}",
        "warehouse_code": "WH01",
        "on_hand": 3,
        "available": 2,
        "on_order": 0,
        "forecast_lead_time_demand": 12.4,
        "safety_stock": 4.2,
        "suggested_qty": suggested_qty,
        "unit_cost": 12.5,
        "suggested_value": 12.5 * suggested_qty,
    }


def test_one_sheet_per_supplier_with_lines_to_order() -> None:
    rows = pd.DataFrame(
        [
            suggestion("S01", "丰收化肥厂", "A1", 20),
            suggestion("S01", "丰收化肥厂", "A2", 10),
            suggestion("S02", "金穗种业", "B1", 6),
            suggestion("S03", "无需补货供应商", "C1", 0),
        ]
    )
    book = openpyxl.load_workbook(io.BytesIO(build_workbook(rows, "M001", date(2026, 10, 31))))
    assert book.sheetnames == [SUMMARY_SHEET, "S01 丰收化肥厂", "S02 金穗种业"]
    sheet = book["S01 丰收化肥厂"]
    assert sheet.freeze_panes == "A3"
    assert [sheet.cell(row, 1).value for row in (3, 4)] == ["A1", "A2"]
    assert sheet.cell(3, 9).value == 20
    assert sheet.cell(3, 11).number_format.startswith("¥")
    summary = book[SUMMARY_SHEET]
    assert [summary.cell(row, 1).value for row in (3, 4)] == ["S01", "S02"]
    assert summary.cell(3, 4).value == 30


def test_text_that_looks_like_a_formula_stays_text() -> None:
    payload = '=HYPERLINK("http://evil.example","点我")'
    rows = pd.DataFrame([suggestion("S09", payload, payload, 5)])
    book = openpyxl.load_workbook(io.BytesIO(build_workbook(rows, "M001", date(2026, 10, 31))))
    supplier_sheet = book.worksheets[1]
    cell = supplier_sheet.cell(3, 1)
    assert cell.value == payload
    assert cell.data_type == "s"


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    first = sheet_name("S1", "很长的供应商名称/有限公司[华东]:分公司*总部?" * 2, taken)
    second = sheet_name("S1", "很长的供应商名称/有限公司[华东]:分公司*总部?" * 2, taken)
    assert len(first) <= 31 and len(second) <= 31
    assert first != second
    assert not set("[]:*?/\\") & set(first + second)
