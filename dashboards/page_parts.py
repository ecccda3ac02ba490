"""Pieces the analysis pages share: the heading, a date-range filter kept in the URL and a table
with its Excel download."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import formatting, url_filters
from dashboards import tables as tb
from dashboards.downloads import table_download
from dashboards.i18n import current_language, t
from dashboards.merchant import Merchant, current_merchant

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.elements.lib.column_types import ColumnConfig


def page_heading(title_key: str) -> Merchant:
    """The page title and whose data it shows; returns the session's merchant."""
    merchant = current_merchant()
    tb.page_header(title_key, merchant)
    return merchant


def date_range(key: str, first: date, last: date, default_days: int) -> tuple[date, date]:
    """A from–to filter inside [first, last], the last `default_days` days unless the URL says otherwise."""
    default = (max(first, last - timedelta(days=default_days - 1)), last)
    chosen = st.date_input(
        t("filter_date_range"),
        min_value=first,
        max_value=last,
        format="YYYY-MM-DD",
        **url_filters.day_range(key, first, last, default),
    )
    # While the user is picking, the widget holds the start day alone.
    return chosen[0], chosen[-1]


def money_metric(
    place: DeltaGenerator, label: str, amount: formatting.Number | None, explanation: str | None = None, **delta
) -> None:
    """A money headline card: the amount in its short form (¥55.3万), which fits the card, and
    exactly in its tooltip, after the explanation if there is one."""
    exact = t("exact_amount", amount=formatting.money(amount))
    place.metric(
        label,
        formatting.money_headline(amount, current_language()),
        help=f"{explanation}\n\n{exact}" if explanation else exact,
        border=True,
        **delta,
    )


def table(frame: pd.DataFrame, columns: Mapping[str, ColumnConfig], merchant: Merchant, name: str) -> None:
    """The table with the columns of `columns` under their labels, and its Excel download."""
    shown = frame[list(columns)]
    st.dataframe(shown, hide_index=True, column_config=dict(columns), placeholder=formatting.MISSING)
    table_download(shown, columns, tb.file_stem(name, merchant), key=f"download_{name}")


def ranked_sku_columns() -> dict[str, ColumnConfig]:
    """The columns of a product ranking: rank, product, category, units and revenue."""
    return {
        "revenue_rank": tb.whole("rank_col_rank"),
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "category_l1": tb.text("col_category"),
        "quantity": tb.whole("rank_col_quantity"),
        "revenue": tb.money("rank_col_revenue"),
        "revenue_share": tb.share("rank_col_revenue_share"),
    }
