"""Column formats, coded values, headings and downloads of every dashboard table.

A table is shown with its st.column_config and downloaded with the same labels (dashboards.downloads);
an empty table says so in words instead of showing a blank grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import downloads, formatting
from dashboards.i18n import current_language, load_locale, t
from dashboards.merchant import Merchant

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

MONEY_FORMAT = "¥%,.2f"
# Streamlit shows a percent to as many places as the value needs, up to two (one column read "11%"
# beside "12.82%"); the column's step fixes them at one: 12.8 %, 11.0 %.
SHARE_STEP = 0.001


def money(label_key: str, **help_text: str) -> ColumnConfig:
    return st.column_config.NumberColumn(t(label_key), format=MONEY_FORMAT, **help_text)


def whole(label_key: str, **help_text: str) -> ColumnConfig:
    return st.column_config.NumberColumn(t(label_key), format="%,d", **help_text)


def decimal(label_key: str, **help_text: str) -> ColumnConfig:
    return st.column_config.NumberColumn(t(label_key), format="%,.1f", **help_text)


def share(label_key: str, **help_text: str) -> ColumnConfig:
    return st.column_config.NumberColumn(t(label_key), format="percent", step=SHARE_STEP, **help_text)


def text(label_key: str, **help_text: str) -> ColumnConfig:
    return st.column_config.TextColumn(t(label_key), **help_text)


def day(label_key: str) -> ColumnConfig:
    return st.column_config.DateColumn(t(label_key), format="YYYY-MM-DD")


def flag(label_key: str) -> ColumnConfig:
    return st.column_config.CheckboxColumn(t(label_key))


def coded(values: pd.Series, prefix: str) -> pd.Series:
    """Codes such as credit_7d as the merchant reads them (label `<prefix>_<code>`); an unknown code shows as is."""
    labels = load_locale(current_language())
    return values.map(lambda code: labels.get(f"{prefix}_{code}", code) if isinstance(code, str) else code)


def first_month(as_of: date, months: int) -> date:
    """The first day of the month `months - 1` months before as_of's, so the window holds `months` months."""
    return (pd.Timestamp(as_of).to_period("M") - (months - 1)).start_time.date()


def file_stem(area: str, merchant: Merchant) -> str:
    return f"{area}_{merchant.merchant_code}_{formatting.day(merchant.as_of)}"


def page_header(title_key: str, merchant: Merchant) -> None:
    st.title(t(title_key))
    st.caption(t("overview_subtitle", merchant=merchant.label, as_of=formatting.day(merchant.as_of)))


def show_table(
    frame: pd.DataFrame, columns: Mapping[str, ColumnConfig], *, stem: str, key: str, empty_key: str
) -> bool:
    """The table and its Excel download, or the empty state; whether there were rows."""
    if frame.empty:
        st.info(t(empty_key))
        return False
    st.dataframe(frame[list(columns)], hide_index=True, column_config=dict(columns), placeholder=formatting.MISSING)
    downloads.table_download(frame, columns, stem, key)
    return True
