"""Table downloads (dashboards/downloads.py): the workbook as Excel and openpyxl read it."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest
import streamlit as st

from dashboards.downloads import headers_of, shown_as_of, workbook_bytes
from tests.dashboard_pages import assert_formula_safe, header, sheet_rows


def sheet(
    frame: pd.DataFrame, headers: dict[str, str], shown_as: dict[str, str]
) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(workbook_bytes(frame, headers, shown_as))).worksheets[0]


def test_labels_money_shares_dates_and_a_frozen_header() -> None:
    frame = pd.DataFrame(
        {
            "sku_name": ["化肥", None],
            "revenue": [1234.5, 7.0],
            "sales_date": pd.to_datetime(["2026-03-01", "2026-03-02"]),
            "quantity": [3, 4],
            "revenue_share": [0.1282, 0.11],
        }
    )
    headers = {"sales_date": "日期", "sku_name": "商品名称", "revenue": "营业额", "revenue_share": "占比"}
    book = sheet(frame, headers, {"revenue": "money", "revenue_share": "percent"})

    assert header(book) == ["日期", "商品名称", "营业额", "占比"]
    assert book.freeze_panes == "A2"
    assert [(row[0].date().isoformat(), row[1], row[2], row[3]) for row in sheet_rows(book)] == [
        ("2026-03-01", "化肥", 1234.5, 0.1282),
        ("2026-03-02", None, 7.0, 0.11),
    ]
    assert book["A2"].number_format == "yyyy-mm-dd"
    assert book["C2"].number_format == '"¥"#,##0.00'
    assert book["D2"].number_format == "0.0%"


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-5", "@SUM(A1)", '=HYPERLINK("http://x","y")'])
def test_text_that_looks_like_a_formula_stays_text(text: str) -> None:
    book = sheet(pd.DataFrame({"name": [text]}), {"name": "名称"}, {})

    assert book["A2"].value == text
    assert assert_formula_safe(book) == 1


def test_a_column_the_table_lacks_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no columns \\['revenue'\\]"):
        workbook_bytes(pd.DataFrame({"sku_code": ["A"]}), {"revenue": "营业额"})


def test_headers_money_and_share_columns_come_from_the_column_config() -> None:
    columns = {
        "sku_code": st.column_config.TextColumn("商品编码"),
        "revenue": st.column_config.NumberColumn("营业额", format="¥%,.2f"),
        "quantity": st.column_config.NumberColumn("销量", format="%,d"),
        "revenue_share": st.column_config.NumberColumn("占比", format="percent"),
    }

    assert headers_of(columns) == {
        "sku_code": "商品编码",
        "revenue": "营业额",
        "quantity": "销量",
        "revenue_share": "占比",
    }
    assert shown_as_of(columns) == {"revenue": "money", "quantity": "integer", "revenue_share": "percent"}
