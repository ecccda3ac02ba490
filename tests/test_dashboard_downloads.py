"""Table downloads (dashboards/downloads.py): the workbook as Excel and openpyxl read it."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest
import streamlit as st

from dashboards.downloads import headers_of, money_of, workbook_bytes
from tests.dashboard_pages import assert_formula_safe, header, sheet_rows


def sheet(frame: pd.DataFrame, headers: dict[str, str], money: set[str]) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(workbook_bytes(frame, headers, money))).worksheets[0]


def test_labels_money_dates_and_a_frozen_header() -> None:
    frame = pd.DataFrame(
        {
            "sku_name": ["化肥", None],
            "revenue": [1234.5, 7.0],
            "sales_date": pd.to_datetime(["2026-03-01", "2026-03-02"]),
            "quantity": [3, 4],
        }
    )
    book = sheet(frame, {"sales_date": "日期", "sku_name": "商品名称", "revenue": "营业额"}, {"revenue"})

    assert header(book) == ["日期", "商品名称", "营业额"]
    assert book.freeze_panes == "A2"
    assert [(row[0].date().isoformat(), row[1], row[2]) for row in sheet_rows(book)] == [
        ("2026-03-01", "化肥", 1234.5),
        ("2026-03-02", None, 7.0),
    ]
    assert book["A2"].number_format == "yyyy-mm-dd"
    assert book["C2"].number_format == '"¥"#,##0.00'


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-5", "@SUM(A1)", '=HYPERLINK("http://x","y")'])
def test_text_that_looks_like_a_formula_stays_text(text: str) -> None:
    book = sheet(pd.DataFrame({"name": [text]}), {"name": "名称"}, set())

    assert book["A2"].value == text
    assert assert_formula_safe(book) == 1


def test_a_column_the_table_lacks_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no columns \\['revenue'\\]"):
        workbook_bytes(pd.DataFrame({"sku_code": ["A"]}), {"revenue": "营业额"})


def test_headers_and_money_columns_come_from_the_column_config() -> None:
    columns = {
        "sku_code": st.column_config.TextColumn("商品编码"),
        "revenue": st.column_config.NumberColumn("营业额", format="¥%,.2f"),
        "quantity": st.column_config.NumberColumn("销量", format="%,d"),
    }

    assert headers_of(columns) == {"sku_code": "商品编码", "revenue": "营业额", "quantity": "销量"}
    assert money_of(columns) == {"revenue"}
