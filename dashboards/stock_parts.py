"""The slow-moving stock table, shown on both the Products and the Inventory page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboards import formatting, queries_stock
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.merchant import Merchant
from dashboards.page_parts import table

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig


def slow_mover_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "category_l1": tb.text("col_category"),
        "last_sale_date": tb.day("stock_col_last_sale_date"),
        "days_without_sale": tb.whole("stock_col_days_without_sale"),
        "warehouses": tb.whole("stock_col_warehouses"),
        "on_hand": tb.whole("col_on_hand"),
        "slow_moving_value": tb.money("stock_col_slow_moving_value"),
        "share_of_stock_value": tb.share("stock_col_share_of_stock_value"),
    }


def render_slow_movers(merchant: Merchant) -> None:
    st.subheader(t("stock_slow_movers"))
    slow = queries_stock.slow_movers(merchant.merchant_id, merchant.as_of)
    if slow.empty:
        st.success(t("stock_no_slow_movers"))
        return
    st.caption(t("stock_slow_movers_caption", skus=len(slow), value=formatting.money(slow["slow_moving_value"].sum())))
    table(slow, slow_mover_columns(), merchant, "slow_movers")
