"""经营概览 / Overview: the chosen merchant's last 30 days, stock alerts and forecast accuracy."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import charts, forecast_view, formatting, queries, url_filters
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.inbox import render_inbox
from dashboards.masking import current_role
from dashboards.merchant import Merchant
from dashboards.navigation import pages_for
from dashboards.page_parts import money_metric, page_heading, table

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

KPI_DAYS = 30
FORECAST_PAGE = "forecast.py"


def percent_change(current: Decimal, previous: Decimal) -> str | None:
    return f"{(current - previous) / previous:+.1%}" if previous else None


def margin_change(now: queries.SalesTotals, before: queries.SalesTotals) -> str | None:
    """Change in percentage points; None when either window sold nothing."""
    if now.gross_margin is None or before.gross_margin is None:
        return None
    points = round(float(now.gross_margin - before.gross_margin) * 100, 1)
    # Adding 0.0 turns -0.0 into 0.0, so an unchanged margin does not show as a red decrease.
    return t("kpi_margin_delta", points=points + 0.0)


def render_kpis(merchant: Merchant, flags: pd.DataFrame) -> None:
    first, last = queries.trailing_window(merchant.as_of, KPI_DAYS)
    now = queries.sales_totals(merchant.merchant_id, first, last)
    before = queries.sales_totals(merchant.merchant_id, *queries.trailing_window(merchant.as_of, KPI_DAYS, 1))
    st.caption(t("kpi_window", first=formatting.day(first), last=formatting.day(last)))
    revenue, orders, margin, flagged = st.columns(4)
    vs_previous = t("kpi_vs_previous")
    money_metric(
        revenue,
        t("kpi_revenue"),
        now.revenue,
        t("kpi_revenue_help", previous=formatting.money(before.revenue)),
        delta=percent_change(now.revenue, before.revenue),
        delta_description=vs_previous,
    )
    orders.metric(
        t("kpi_orders"),
        formatting.count(now.orders),
        f"{now.orders - before.orders:+,}",
        delta_description=vs_previous,
        help=t("kpi_orders_help"),
        border=True,
    )
    margin.metric(
        t("kpi_margin"),
        formatting.percent(now.gross_margin),
        margin_change(now, before),
        delta_description=vs_previous,
        border=True,
    )
    flagged.metric(
        t("kpi_flagged"),
        formatting.count(flags["sku_code"].nunique()),
        help=t("kpi_flagged_help"),
        border=True,
    )
    flagged.caption(
        t(
            "kpi_flag_breakdown",
            slow=flags.loc[flags["is_slow_moving"], "sku_code"].nunique(),
            expiry=flags.loc[
                flags["near_expiry_level"].notna() | (flags["expired_quantity"] > 0), "sku_code"
            ].nunique(),
            low=flags.loc[flags["is_low_stock"] | flags["is_out_of_stock"], "sku_code"].nunique(),
        )
    )


def render_sales_trend(merchant: Merchant) -> None:
    st.subheader(t("sales_trend"))
    # Labels are looked up now: a format_func calling t() later could see another language.
    labels = {option: t(f"granularity_{option}") for option in charts.GRANULARITIES}
    granularity = st.radio(
        t("granularity"),
        charts.GRANULARITIES,
        format_func=labels.__getitem__,
        horizontal=True,
        **url_filters.one_of("overview_period", charts.GRANULARITIES, "day"),
    )
    trend = charts.revenue_by_period(
        queries.daily_revenue(merchant.merchant_id, merchant.as_of), granularity, merchant.as_of
    )
    if trend.empty:
        st.info(t("no_sales"))
        return
    st.altair_chart(charts.revenue_trend_chart(trend, t("axis_date"), t("axis_revenue")), width="stretch")


def flagged_stock_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "category": tb.text("col_category"),
        "warehouse_code": tb.text("col_warehouse"),
        "on_hand": tb.whole("col_on_hand"),
        "available": tb.whole("col_available"),
        "stock_value": tb.money("col_stock_value"),
        "days_since_last_sale": tb.whole("col_days_since_last_sale"),
        "is_slow_moving": tb.flag("col_slow_moving"),
        "near_expiry_level": tb.text("col_near_expiry_level"),
        "nearest_expiry_date": tb.day("col_nearest_expiry_date"),
        "expired_quantity": tb.whole("col_expired_quantity"),
        "value_at_risk": tb.money("col_value_at_risk"),
        "is_low_stock": tb.flag("col_low_stock"),
        "is_out_of_stock": tb.flag("col_out_of_stock"),
    }


def render_flagged_stock(merchant: Merchant, flags: pd.DataFrame) -> None:
    st.subheader(t("flagged_stock"))
    if flags.empty:
        st.success(t("no_flagged_stock"))
        return
    # A level reads as "90天内到期"; stock with no near-expiry warning shows an empty cell, not "None".
    shown = flags.assign(
        near_expiry_level=flags["near_expiry_level"].map(
            lambda level: t("near_expiry_level_format") % int(level) if pd.notna(level) else ""
        )
    )
    table(shown, flagged_stock_columns(), merchant, "flagged_stock")


def render_forecast(merchant: Merchant) -> None:
    """The merchant's forecast accuracy; each SKU's forecast and the suggestions live on their own page."""
    st.subheader(t("demand_forecast"))
    forecast_view.render_forecast_accuracy(merchant)
    if FORECAST_PAGE in {spec.script for spec in pages_for(current_role())}:
        st.page_link(f"app_pages/{FORECAST_PAGE}", label=t("fc_open_page"), icon=":material/arrow_forward:")


def render() -> None:
    merchant = page_heading("overview_title")
    render_inbox()
    flags = queries.flagged_stock(merchant.merchant_id)
    render_kpis(merchant, flags)
    render_sales_trend(merchant)
    render_flagged_stock(merchant, flags)
    render_forecast(merchant)


render()
