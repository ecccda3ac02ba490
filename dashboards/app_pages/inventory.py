"""库存管理 / Inventory: low stock, slow movers, stock ageing, near-expiry batches and turnover."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import analysis_charts, formatting, queries_stock, url_filters
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.merchant import Merchant
from dashboards.page_parts import money_metric, page_heading, table
from dashboards.stock_parts import render_slow_movers

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

EXPIRY_CLASSES = ("expired", "within_30_days", "within_90_days", "within_180_days")


def render_totals(positions: pd.DataFrame, low: pd.DataFrame, batches: pd.DataFrame) -> None:
    value, low_count, at_risk, expired = st.columns(4)
    money_metric(value, t("inventory_stock_value"), positions["stock_value"].sum())
    low_count.metric(
        t("inventory_low_stock_count"), formatting.count(len(low)), help=t("inventory_low_stock_help"), border=True
    )
    near = batches[~batches["is_expired"]]
    money_metric(at_risk, t("inventory_value_at_risk"), near["value_at_risk"].sum())
    money_metric(expired, t("inventory_expired_value"), batches.loc[batches["is_expired"], "value_at_risk"].sum())


def low_stock_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "warehouse_code": tb.text("col_warehouse"),
        "sellable": tb.whole("inventory_col_sellable"),
        "low_stock_threshold": tb.whole("inventory_col_threshold"),
        "is_stocked_out": tb.flag("col_out_of_stock"),
        "low_stock_days": tb.whole("inventory_col_low_stock_days"),
        "stock_out_days": tb.whole("inventory_col_stock_out_days"),
        "units_sold": tb.whole("inventory_col_units_sold"),
    }


def render_low_stock(merchant: Merchant, low: pd.DataFrame) -> None:
    st.subheader(t("inventory_low_stock"))
    if low.empty:
        st.success(t("inventory_no_low_stock"))
        return
    st.caption(t("inventory_low_stock_caption", days=queries_stock.LOW_STOCK_WINDOW))
    table(low, low_stock_columns(), merchant, "low_stock")


def ageing_columns() -> dict[str, ColumnConfig]:
    return {
        "bucket_label": tb.text("inventory_col_age_days"),
        "skus": tb.whole("inventory_col_skus"),
        "batches": tb.whole("inventory_col_batches"),
        "quantity": tb.whole("col_on_hand"),
        "stock_value": tb.money("col_stock_value"),
    }


def render_ageing(merchant: Merchant) -> None:
    st.subheader(t("inventory_ageing"))
    buckets = queries_stock.stock_ageing(merchant.merchant_id, merchant.as_of)
    if buckets.empty:
        st.info(t("inventory_no_stock"))
        return
    chart = analysis_charts.bar_chart(
        buckets, "bucket_label", "stock_value", t("inventory_col_age_days"), t("col_stock_value"), ",.0f", ordered=True
    )
    st.altair_chart(chart, width="stretch")
    table(buckets, ageing_columns(), merchant, "stock_ageing")


def expiry_columns() -> dict[str, ColumnConfig]:
    return {
        "expiry_class": tb.text("inventory_col_expiry_class"),
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "warehouse_code": tb.text("col_warehouse"),
        "lot_code": tb.text("inventory_col_lot"),
        "expiry_date": tb.day("inventory_col_expiry_date"),
        "days_to_expiry": tb.whole("inventory_col_days_to_expiry"),
        "on_hand": tb.whole("col_on_hand"),
        "unit_cost": tb.money("inventory_col_unit_cost"),
        "value_at_risk": tb.money("col_value_at_risk"),
    }


def render_expiry_levels(batches: pd.DataFrame) -> None:
    for column, expiry_class in zip(st.columns(len(EXPIRY_CLASSES)), EXPIRY_CLASSES, strict=True):
        chosen = batches[batches["expiry_class"] == expiry_class]
        money_metric(column, t(f"inventory_expiry_{expiry_class}"), chosen["value_at_risk"].sum())
        column.caption(t("inventory_batches", batches=len(chosen)))


def render_near_expiry(merchant: Merchant, batches: pd.DataFrame) -> None:
    st.subheader(t("inventory_near_expiry"))
    if batches.empty:
        st.success(t("inventory_no_near_expiry"))
        return
    render_expiry_levels(batches)
    labels = {expiry_class: t(f"inventory_expiry_{expiry_class}") for expiry_class in EXPIRY_CLASSES}
    chosen = st.multiselect(
        t("inventory_expiry_filter"),
        EXPIRY_CLASSES,
        format_func=labels.__getitem__,
        **url_filters.some_of("inventory_expiry", EXPIRY_CLASSES, EXPIRY_CLASSES),
    )
    shown = batches[batches["expiry_class"].isin(chosen)]
    table(shown.assign(expiry_class=shown["expiry_class"].map(labels)), expiry_columns(), merchant, "near_expiry")


def turnover_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "category_l3": tb.text("col_category"),
        "units_sold": tb.whole("inventory_col_units_sold"),
        "cogs": tb.money("inventory_col_cogs"),
        "average_inventory_value": tb.money("inventory_col_average_inventory"),
        "turnover": st.column_config.NumberColumn(t("inventory_col_turnover"), format="%.2f"),
        "turnover_days": st.column_config.NumberColumn(t("inventory_col_turnover_days"), format="%,.0f"),
        "category_median_turnover": st.column_config.NumberColumn(t("inventory_col_category_median"), format="%.2f"),
        "is_low_turnover": tb.flag("inventory_col_low_turnover"),
        "advice": tb.text("inventory_col_advice"),
    }


def render_turnover(merchant: Merchant) -> None:
    st.subheader(t("inventory_turnover"))
    windows = queries_stock.TURNOVER_WINDOWS
    window = st.segmented_control(
        t("inventory_turnover_window"),
        windows,
        format_func=lambda days: t("inventory_days", days=days),
        required=True,
        **url_filters.one_of("inventory_turnover_window", windows, windows[0]),
    )
    overall = queries_stock.merchant_turnover(merchant.merchant_id, merchant.as_of, window)
    skus = queries_stock.turnover(merchant.merchant_id, merchant.as_of, window)
    if overall.empty or skus.empty:
        st.info(t("inventory_no_turnover"))
        return
    row = overall.iloc[0]
    days = row["turnover_days"]
    st.metric(
        t("inventory_turnover_days"),
        formatting.MISSING if pd.isna(days) else t("inventory_days", days=f"{days:,.0f}"),
        help=t("inventory_turnover_days_help", window=window),
        border=True,
    )
    advice = skus["advice_code"].map(lambda code: t(f"inventory_advice_{code}") if isinstance(code, str) else "")
    table(skus.assign(advice=advice), turnover_columns(), merchant, "turnover")


def render() -> None:
    merchant = page_heading("inventory_title")
    positions = queries_stock.stock_positions(merchant.merchant_id, merchant.as_of)
    if positions.empty:
        st.info(t("inventory_no_stock"))
        return
    low = queries_stock.low_stock(merchant.merchant_id, merchant.as_of)
    batches = queries_stock.near_expiry(merchant.merchant_id, merchant.as_of)
    render_totals(positions, low, batches)
    render_low_stock(merchant, low)
    render_near_expiry(merchant, batches)
    render_slow_movers(merchant)
    render_ageing(merchant)
    render_turnover(merchant)


render()
