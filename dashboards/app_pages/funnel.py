"""转化漏斗 / Funnel: visits → product views → carts → purchases, conversion over time, by SKU, repurchase."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import analysis_charts, formatting, queries_sales, url_filters
from dashboards import tables as tb
from dashboards.charts import PERIODS
from dashboards.i18n import t
from dashboards.merchant import Merchant
from dashboards.page_parts import date_range, page_heading, table

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

DEFAULT_DAYS = 90
STAGES = ("visit_sessions", "product_view_sessions", "cart_add_sessions", "purchase_sessions")
# Each rate: (numerator stage, denominator stage).
RATES = {
    "visit_to_view_rate": ("product_view_sessions", "visit_sessions"),
    "view_to_cart_rate": ("cart_add_sessions", "product_view_sessions"),
    "cart_to_purchase_rate": ("purchase_sessions", "cart_add_sessions"),
    "visit_to_purchase_rate": ("purchase_sessions", "visit_sessions"),
}
TREND_PERIODS = ("day", "week", "month")


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rates from summed sessions (not averaged daily rates), empty where the denominator is 0."""
    rates = {
        name: frame[top].astype(float) / frame[bottom].where(frame[bottom] > 0).astype(float)
        for name, (top, bottom) in RATES.items()
    }
    return frame.assign(**rates)


def render_stages(days: pd.DataFrame) -> None:
    totals = days[list(STAGES)].sum()
    columns = st.columns(len(STAGES) + 1)
    for column, stage in zip(columns, STAGES, strict=False):
        column.metric(t(f"funnel_{stage}"), formatting.count(int(totals[stage])), border=True)
    columns[-1].metric(
        t("funnel_visit_to_purchase_rate"),
        formatting.percent(ratio(totals["purchase_sessions"], totals["visit_sessions"])),
        help=t("funnel_conversion_help"),
        border=True,
    )
    stages = pd.DataFrame({"stage": [t(f"funnel_{stage}") for stage in STAGES], "sessions": totals.to_list()})
    chart = analysis_charts.bar_chart(stages, "stage", "sessions", t("funnel_stage"), t("funnel_sessions"), ",.0f")
    st.altair_chart(chart.properties(height=180), width="stretch")


def trend_columns() -> dict[str, ColumnConfig]:
    stages = {stage: tb.whole(f"funnel_{stage}") for stage in STAGES}
    rates = {rate: tb.share(f"funnel_{rate}") for rate in RATES}
    return {"period": tb.day("funnel_col_period"), **stages, **rates}


def render_conversion_trend(merchant: Merchant, days: pd.DataFrame) -> None:
    st.subheader(t("funnel_conversion_trend"))
    labels = {period: t(f"granularity_{period}") for period in TREND_PERIODS}
    period = st.segmented_control(
        t("granularity"),
        TREND_PERIODS,
        format_func=labels.__getitem__,
        required=True,
        **url_filters.one_of("funnel_period", TREND_PERIODS, "week"),
    )
    starts = pd.to_datetime(days["funnel_date"]).dt.to_period(PERIODS[period]).dt.start_time.rename("period")
    trend = with_rates(days.groupby(starts)[list(STAGES)].sum().reset_index())
    rates = {rate: t(f"funnel_{rate}") for rate in RATES}
    st.altair_chart(
        analysis_charts.rate_chart(trend, "period", rates, t("axis_date"), t("funnel_rate")), width="stretch"
    )
    table(trend, trend_columns(), merchant, "funnel_trend")


def sku_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "product_view_sessions": tb.whole("funnel_product_view_sessions"),
        "cart_add_sessions": tb.whole("funnel_cart_add_sessions"),
        "purchase_sessions": tb.whole("funnel_purchase_sessions"),
        "view_to_purchase_rate": tb.share("funnel_view_to_purchase_rate"),
    }


def render_skus(merchant: Merchant, first_day: date, last_day: date) -> None:
    st.subheader(t("funnel_by_sku"))
    skus = queries_sales.funnel_skus(merchant.merchant_id, first_day, last_day)
    if skus.empty:
        st.info(t("funnel_no_traffic"))
        return
    table(skus, sku_columns(), merchant, "funnel_skus")


def repurchase_columns() -> dict[str, ColumnConfig]:
    return {
        "period_start": st.column_config.DateColumn(t("funnel_col_month"), format="YYYY-MM"),
        "buying_customers": tb.whole("funnel_col_buying_customers"),
        "repurchased_customers": tb.whole("funnel_col_repurchased_customers"),
        "repurchase_rate": tb.share("funnel_repurchase_rate"),
        "new_customers": tb.whole("funnel_col_new_customers"),
        "new_customers_repurchased": tb.whole("funnel_col_new_customers_repurchased"),
        "new_customer_repurchase_rate": tb.share("funnel_new_customer_repurchase_rate"),
        "is_complete": tb.flag("funnel_col_complete"),
    }


def render_repurchase(merchant: Merchant) -> None:
    st.subheader(t("funnel_repurchase"))
    months = queries_sales.monthly_repurchase(merchant.merchant_id)
    if months.empty:
        st.info(t("funnel_no_repurchase"))
        return
    rates = {rate: t(f"funnel_{rate}") for rate in ("repurchase_rate", "new_customer_repurchase_rate")}
    st.altair_chart(
        analysis_charts.rate_chart(months, "period_start", rates, t("funnel_col_month"), t("funnel_rate")),
        width="stretch",
    )
    st.caption(t("funnel_repurchase_caption"))
    table(months, repurchase_columns(), merchant, "funnel_repurchase")


def render() -> None:
    merchant = page_heading("funnel_title")
    first = queries_sales.first_funnel_day(merchant.merchant_id)
    if first is None:
        st.info(t("funnel_no_traffic"))
        return
    first_day, last_day = date_range("funnel_dates", first, merchant.as_of, DEFAULT_DAYS)
    days = queries_sales.funnel_days(merchant.merchant_id, first_day, last_day)
    if days.empty:
        st.info(t("funnel_no_traffic_in_range"))
    else:
        render_stages(days)
        render_conversion_trend(merchant, days)
        render_skus(merchant, first_day, last_day)
    render_repurchase(merchant)


render()
