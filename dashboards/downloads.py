"""Every table of every page downloads as an Excel workbook, exactly as shown.

Headers are the labels of the session's language, the header row stays in view, money shows as ¥,
shares as percentages and dates as YYYY-MM-DD. Text is written as text with the same formula guard as
the procurement workbooks (`pipelines.exports`), so a product name starting with "=" never runs in Excel.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from dashboards.i18n import t
from pipelines.exports import NUMBER_FORMATS, TEXT_AS_TEXT
from pipelines.exports import _write_text as write_text

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "Sheet1"
HEADER_ROW = 0
TEXT_WIDTH, NUMBER_WIDTH = 28, 14
# As the dashboard shows a share: to a tenth of a percent (dashboards.tables.SHARE_STEP).
PERCENT_FORMAT = "0.0%"
WHOLE_NUMBER_FORMATS = ("%d", "%,d")


def headers_of(columns: Mapping[str, ColumnConfig]) -> dict[str, str]:
    """The labels a table shows, from its st.column_config, in its column order."""
    return {name: str(config["label"]) for name, config in columns.items()}


def shown_as_of(columns: Mapping[str, ColumnConfig]) -> dict[str, str]:
    """The columns a table shows in ¥ ("money"), as a percentage ("percent") or as whole numbers
    ("integer": a count the query returns as a float, such as a sum, still reads 405, not 405.0),
    by name."""
    shown_as = {}
    for name, config in columns.items():
        number_format = str(config.get("type_config", {}).get("format", ""))
        if "¥" in number_format:
            shown_as[name] = "money"
        elif number_format == "percent":
            shown_as[name] = "percent"
        elif number_format in WHOLE_NUMBER_FORMATS:
            shown_as[name] = "integer"
    return shown_as


def _formats(book: xlsxwriter.Workbook) -> dict[str, Format]:
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in NUMBER_FORMATS.items()}
    formats["percent"] = book.add_format({"num_format": PERCENT_FORMAT})
    formats["header"] = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    formats["text"] = book.add_format({})
    formats["risky_text"] = book.add_format({"quote_prefix": True})
    return formats


def _kind(series: pd.Series, shown_as: str | None) -> str:
    if shown_as is not None:
        return shown_as
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "decimal"
    return "text"


def _write_cell(sheet: Worksheet, row: int, col: int, value: object, kind: str, formats: dict[str, Format]) -> None:
    if isinstance(value, list | tuple | np.ndarray):
        write_text(sheet, row, col, t("list_separator").join(str(item) for item in value), formats)
    elif value is None or pd.isna(value):
        sheet.write_blank(row, col, None)
    elif isinstance(value, datetime | date | pd.Timestamp):
        sheet.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), formats["date"])
    elif kind == "boolean" or isinstance(value, bool):
        sheet.write_boolean(row, col, bool(value))
    elif kind in NUMBER_FORMATS or kind == "percent":
        sheet.write_number(row, col, float(value), formats[kind])
    else:
        write_text(sheet, row, col, value, formats)


def workbook_bytes(frame: pd.DataFrame, headers: Mapping[str, str], shown_as: Mapping[str, str] | None = None) -> bytes:
    """The columns named in `headers`, in that order, under those labels; `shown_as` names the money
    and percent columns (`shown_as_of`)."""
    missing = [column for column in headers if column not in frame.columns]
    if missing:
        raise ValueError(f"the table has no columns {missing}: it has {list(frame.columns)}")
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, TEXT_AS_TEXT)
    formats = _formats(book)
    sheet = book.add_worksheet(SHEET)
    for col, (column, label) in enumerate(headers.items()):
        kind = _kind(frame[column], (shown_as or {}).get(column))
        sheet.write_string(HEADER_ROW, col, label, formats["header"])
        sheet.set_column(col, col, TEXT_WIDTH if kind == "text" else NUMBER_WIDTH)
        for row, value in enumerate(frame[column].tolist(), start=HEADER_ROW + 1):
            _write_cell(sheet, row, col, value, kind, formats)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    sheet.autofilter(HEADER_ROW, 0, HEADER_ROW + max(len(frame), 1), max(len(headers) - 1, 0))
    book.close()
    return buffer.getvalue()


def excel_download(
    frame: pd.DataFrame, headers: Mapping[str, str], shown_as: Mapping[str, str], file_stem: str, key: str
) -> None:
    """A download button for the table as `<file_stem>.xlsx`; `key` keeps buttons of one page apart."""
    st.download_button(
        t("download_excel"),
        data=workbook_bytes(frame, headers, shown_as),
        file_name=f"{file_stem}.xlsx",
        mime=XLSX_MIME,
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def table_download(frame: pd.DataFrame, columns: Mapping[str, ColumnConfig], file_stem: str, key: str) -> None:
    """The download of a table shown with `columns` (its st.column_config): same labels, ¥ and % where it shows them."""
    excel_download(frame, headers_of(columns), shown_as_of(columns), file_stem, key)
