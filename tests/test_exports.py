"""The procurement workbook: a summary and one sheet per supplier, an editable and validated
confirmed quantity on protected sheets, totals by formula with cached values, ¥ and date formats,
text that stays text."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from pipelines.exports import NO_SUPPLIER, SUMMARY_SHEET, build_workbook, sheet_name

AS_OF = date(2026, 10, 31)
S01 = "S01 丰收化肥厂"
S02 = "S02 金穗种业"
# Supplier sheet with the mart's pack columns: A SKU … H safety stock, I MOQ, J order multiple,
# K suggested, L confirmed, M unit cost, N suggested amount, O confirmed amount. Row 1 title,
# row 2 as-of date, row 3 headers, lines from row 4, then the total row.
MONEY = '"¥"#,##0.00'


def suggestion(supplier_code: str, supplier_name: str, sku_code: str, suggested_qty: int, unit_cost: float) -> dict:
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
        "min_order_qty": 6,
        "order_multiple": 6,
        "suggested_qty": suggested_qty,
        "unit_cost": unit_cost,
        "suggested_value": unit_cost * suggested_qty,
    }


@pytest.fixture(scope="module")
def workbook_bytes() -> bytes:
    rows = pd.DataFrame(
        [
            suggestion("S02", "金穗种业", "B1", 6, 3.2),
            suggestion("S01", "丰收化肥厂", "A2", 12, 8.0),
            suggestion("S01", "丰收化肥厂", "A1", 24, 12.5),
            suggestion("S03", "无需补货供应商", "C1", 0, 5.0),
        ]
    )
    return build_workbook(rows, "M001", AS_OF)


def load(content: bytes, data_only: bool = False) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content), data_only=data_only)


def test_one_sheet_per_supplier_with_lines_to_order(workbook_bytes: bytes) -> None:
    book = load(workbook_bytes)
    assert book.sheetnames == [SUMMARY_SHEET, S01, S02]
    sheet = book[S01]
    assert sheet.freeze_panes == "A4"
    assert sheet["L3"].value == "确认数量 Confirmed qty"
    assert [sheet[f"A{row}"].value for row in (4, 5)] == ["A1", "A2"]
    assert [sheet[f"K{row}"].value for row in (4, 5)] == [24, 12]
    assert sheet["A6"].value == "合计 Total"
    assert sheet.max_row == 6
    assert [book[SUMMARY_SHEET][f"A{row}"].value for row in (4, 5)] == ["S01", "S02"]


def test_confirmed_quantity_is_prefilled_and_the_only_unlocked_column(workbook_bytes: bytes) -> None:
    sheet = load(workbook_bytes)[S01]
    assert sheet.protection.sheet
    assert not sheet.protection.password
    assert sheet.protection.autoFilter is False  # False means "not protected": filtering stays allowed
    assert [sheet[f"L{row}"].value for row in (4, 5)] == [24, 12]
    unlocked = {cell.coordinate for row in sheet.iter_rows() for cell in row if not cell.protection.locked}
    assert unlocked == {"L4", "L5"}
    assert load(workbook_bytes)[SUMMARY_SHEET].protection.sheet


def test_confirmed_quantity_must_be_a_whole_number_and_a_pack_multiple(workbook_bytes: bytes) -> None:
    validations = load(workbook_bytes)[S01].data_validations.dataValidation
    assert len(validations) == 1
    rule = validations[0]
    assert str(rule.sqref) == "L4:L5"
    assert rule.type == "custom"
    assert rule.formula1 == "AND(ISNUMBER(L4),L4>=0,L4=INT(L4),IF(N($J4)>0,MOD(L4,$J4)=0,TRUE))"
    assert rule.showErrorMessage and rule.errorStyle in (None, "stop")
    assert "包装倍数" in rule.prompt and "multiple of the order multiple" in rule.prompt
    assert "数量无效" in rule.errorTitle and "Invalid" in rule.errorTitle
    assert "整数" in rule.error and "whole number" in rule.error


def test_without_order_multiples_the_quantity_is_a_whole_number_at_least_zero() -> None:
    row = suggestion("S01", "丰收化肥厂", "A1", 24, 12.5)
    del row["min_order_qty"], row["order_multiple"]
    sheet = load(build_workbook(pd.DataFrame([row]), "M001", AS_OF))[S01]
    assert sheet["J3"].value == "确认数量 Confirmed qty"
    (rule,) = sheet.data_validations.dataValidation
    assert str(rule.sqref) == "J4"
    assert (rule.type, rule.operator, rule.formula1) == ("whole", "greaterThanOrEqual", "0")
    assert "整数" in rule.prompt and "whole number" in rule.prompt


def test_amounts_and_totals_are_formulas_with_cached_values(workbook_bytes: bytes) -> None:
    formulas, values = load(workbook_bytes), load(workbook_bytes, data_only=True)
    sheet, cached = formulas[S01], values[S01]
    assert [sheet[f"O{row}"].value for row in (4, 5)] == ["=L4*M4", "=L5*M5"]
    assert [cached[f"O{row}"].value for row in (4, 5)] == [300.0, 96.0]
    assert [sheet[f"{col}6"].value for col in "KLNO"] == ["=SUM(K4:K5)", "=SUM(L4:L5)", "=SUM(N4:N5)", "=SUM(O4:O5)"]
    assert [cached[f"{col}6"].value for col in "KLNO"] == [36, 36, 396.0, 396.0]

    # Summary: supplier, name, lines, suggested qty, suggested amount, confirmed qty, confirmed amount.
    summary, summary_cached = formulas[SUMMARY_SHEET], values[SUMMARY_SHEET]
    assert [summary[f"{col}4"].value for col in "DEFG"] == [f"='{S01}'!{col}6" for col in "KNLO"]
    assert [summary_cached[f"{col}4"].value for col in "CDEFG"] == [2, 36, 396.0, 36, 396.0]
    # Cached to the fen: 6 × 3.20 is 19.2 to a reader, not 19.200000000000003.
    assert [summary_cached[f"{col}5"].value for col in "CDEFG"] == [1, 6, 19.2, 6, 19.2]
    assert summary["A6"].value == "合计 Total"
    assert summary["G6"].value == "=SUM(G4:G5)"
    assert summary_cached["G6"].value == 415.2


def test_money_and_date_formats(workbook_bytes: bytes) -> None:
    book = load(workbook_bytes)
    for sheet in (book[S01], book[SUMMARY_SHEET]):
        assert sheet["B2"].value == datetime(2026, 10, 31)
        assert sheet["B2"].number_format == "yyyy-mm-dd"
    sheet = book[S01]
    assert {sheet[f"{col}4"].number_format for col in "MNO"} == {MONEY}
    assert sheet["O6"].number_format == MONEY
    assert sheet["K4"].number_format == "#,##0"
    assert book[SUMMARY_SHEET]["G4"].number_format == MONEY


@pytest.mark.parametrize(
    "payload", ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(1)", "\t=1+1", "\r=1+1"]
)
def test_text_that_looks_like_a_formula_stays_text(payload: str) -> None:
    rows = pd.DataFrame([suggestion("S09", payload, payload, 6, 1.0)])
    book = load(build_workbook(rows, "M001", AS_OF))
    supplier_sheet = book.worksheets[1]
    for cell in (supplier_sheet["A4"], supplier_sheet["B4"], book[SUMMARY_SHEET]["B4"]):
        assert cell.data_type == "s"
        # A carriage return is stored as the OOXML escape _x000D_, which Excel decodes and openpyxl does not.
        assert cell.value.replace("_x000D_", "\r").endswith(payload)
    assert supplier_sheet["A4"].value.replace("_x000D_", "\r") == payload
    assert supplier_sheet["A4"].quotePrefix
    assert supplier_sheet["A1"].data_type == "s"


def test_summary_references_sheet_names_with_apostrophes() -> None:
    rows = pd.DataFrame([suggestion("S07", "O'Brien's Seeds", "D1", 6, 2.0)])
    summary = load(build_workbook(rows, "M001", AS_OF))[SUMMARY_SHEET]
    assert summary["G4"].value == "='S07 O''Brien''s Seeds'!O5"


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    first = sheet_name("S1", "很长的供应商名称/有限公司[华东]:分公司*总部?" * 2, taken)
    second = sheet_name("S1", "很长的供应商名称/有限公司[华东]:分公司*总部?" * 2, taken)
    assert len(first) <= 31 and len(second) <= 31
    assert first != second
    assert not set("[]:*?/\\") & set(first + second)
    assert sheet_name("S2", "\t=1+1\r", taken) == "S2 _=1+1_"
    assert not sheet_name("S1", "x" * 27 + "'tail", taken).endswith("'")


def test_skus_without_a_supplier_get_a_sheet_of_their_own() -> None:
    rows = pd.DataFrame([suggestion("S01", "丰收化肥厂", "A1", 6, 2.0), suggestion(None, None, "Z1", 12, 1.5)])
    book = load(build_workbook(rows, "M001", AS_OF))
    assert book.sheetnames == [SUMMARY_SHEET, "- 未指定供应商 No supplier", "S01 丰收化肥厂"]
    assert book["- 未指定供应商 No supplier"]["A4"].value == "Z1"
    summary = book[SUMMARY_SHEET]
    assert (summary["A4"].value, summary["B4"].value) == NO_SUPPLIER
