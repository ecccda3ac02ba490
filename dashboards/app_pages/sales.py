"""销售分析 / Sales: revenue and orders over time, product ranking, categories down to SKUs, regions."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import analysis_charts, charts, formatting, queries_sales, url_filters
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.merchant import Merchant
from dashboards.page_parts import date_range, money_metric, page_heading, ranked_sku_columns, table

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

DEFAULT_DAYS = 365
MONEY_AXIS = ",.0f"


def period_labels(periods: tuple[str, ...]) -> dict[str, str]:
    return {period: t(f"sales_period_{period}") for period in periods}


def render_totals(days: pd.DataFrame) -> None:
    revenue, orders = days["revenue"].sum(), int(days["orders"].sum())
    columns = st.columns(4)
    money_metric(columns[0], t("sales_revenue"), revenue, t("sales_revenue_help"))
    columns[1].metric(t("sales_orders"), formatting.count(orders), border=True)
    money_metric(columns[2], t("sales_gross_profit"), days["gross_profit"].sum())
    money_metric(columns[3], t("sales_average_order_value"), revenue / orders if orders else None)


def trend_columns() -> dict[str, ColumnConfig]:
    return {
        "period_start": tb.day("sales_col_period_start"),
        "period_end": tb.day("sales_col_period_end"),
        "orders": tb.whole("sales_orders"),
        "customers": tb.whole("sales_col_customers"),
        "new_customers": tb.whole("sales_col_new_customers"),
        "revenue": tb.money("sales_revenue"),
        "gross_profit": tb.money("sales_gross_profit"),
        "average_order_value": tb.money("sales_average_order_value"),
        "is_complete_period": tb.flag("sales_col_complete"),
    }


def render_trend(merchant: Merchant, first_day: date, last_day: date) -> None:
    st.subheader(t("sales_trend"))
    labels = period_labels(queries_sales.SALES_PERIODS)
    period = st.segmented_control(
        t("granularity"),
        queries_sales.SALES_PERIODS,
        format_func=labels.__getitem__,
        required=True,
        **url_filters.one_of("sales_period", queries_sales.SALES_PERIODS, "month"),
    )
    periods = queries_sales.merchant_period_sales(merchant.merchant_id, period, first_day, last_day)
    trend = periods.assign(
        period=pd.to_datetime(periods["period_start"]), label=periods["revenue"].map(formatting.money)
    )
    revenue, orders = st.columns(2)
    revenue.altair_chart(
        charts.revenue_trend_chart(trend, t("axis_date"), t("axis_revenue")).properties(height=240), width="stretch"
    )
    orders.altair_chart(
        analysis_charts.count_bars(trend, "period", "orders", t("axis_date"), t("sales_orders")).properties(height=240),
        width="stretch",
    )
    st.caption(t("sales_trend_caption"))
    table(periods, trend_columns(), merchant, "sales_trend")


def ranking_columns() -> dict[str, ColumnConfig]:
    return {
        **ranked_sku_columns(),
        "revenue_rank_change": st.column_config.NumberColumn(
            t("sales_col_rank_change"), format="%+d", help=t("sales_col_rank_change_help")
        ),
        "is_hot_seller": tb.flag("sales_col_hot"),
        "is_slow_seller": tb.flag("sales_col_slow"),
    }


def render_ranking(merchant: Merchant) -> None:
    st.subheader(t("sales_ranking"))
    grain_choice, start_choice = st.columns(2)
    labels = period_labels(queries_sales.RANKING_PERIODS)
    grain = grain_choice.selectbox(
        t("granularity"),
        queries_sales.RANKING_PERIODS,
        format_func=labels.__getitem__,
        **url_filters.one_of("sales_rank_period", queries_sales.RANKING_PERIODS, "month"),
    )
    starts = queries_sales.ranking_period_starts(merchant.merchant_id, grain)
    if not starts:
        st.info(t("sales_no_ranking"))
        return
    start = start_choice.selectbox(
        t("sales_ranking_period"),
        starts,
        format_func=formatting.day,
        **url_filters.one_of(f"sales_rank_start_{grain}", starts, starts[0]),
    )
    ranking = queries_sales.product_ranking(merchant.merchant_id, grain, start)
    table(ranking, ranking_columns(), merchant, "sales_ranking")


def category_columns() -> dict[str, ColumnConfig]:
    return {
        "category_name": tb.text("col_category"),
        "orders": tb.whole("sales_orders"),
        "quantity": tb.whole("sales_col_quantity"),
        "revenue": tb.money("sales_revenue"),
        "gross_profit": tb.money("sales_gross_profit"),
        "revenue_share": tb.share("sales_col_revenue_share"),
    }


def category_sku_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "category_l1": tb.text("sales_col_category_l1"),
        "category_l2": tb.text("sales_col_category_l2"),
        "category_l3": tb.text("sales_col_category_l3"),
        "quantity": tb.whole("sales_col_quantity"),
        "revenue": tb.money("sales_revenue"),
        "gross_profit": tb.money("sales_gross_profit"),
    }


def render_categories(merchant: Merchant, first_day: date, last_day: date) -> None:
    st.subheader(t("sales_categories"))
    level_choice, category_choice = st.columns(2)
    level = level_choice.segmented_control(
        t("sales_category_level"),
        queries_sales.CATEGORY_LEVELS,
        format_func=lambda level: t(f"sales_category_level_{level}"),
        required=True,
        **url_filters.one_of("sales_category_level", queries_sales.CATEGORY_LEVELS, 1),
    )
    categories = queries_sales.category_sales(merchant.merchant_id, level, first_day, last_day)
    if categories.empty:
        st.info(t("sales_no_sales_in_range"))
        return
    chart = analysis_charts.bar_chart(
        categories, "category_name", "revenue", t("col_category"), t("axis_revenue"), MONEY_AXIS
    )
    st.altair_chart(chart, width="stretch")
    table(categories, category_columns(), merchant, "sales_categories")
    names = list(dict.fromkeys(categories["category_name"].dropna()))
    category = category_choice.selectbox(
        t("sales_drill_category"), names, **url_filters.one_of(f"sales_category_{level}", names, names[0])
    )
    st.markdown(f"**{t('sales_category_skus', category=category)}**")
    skus = queries_sales.category_sku_sales(merchant.merchant_id, level, category, first_day, last_day)
    table(skus, category_sku_columns(), merchant, "sales_category_skus")


def region_columns() -> dict[str, ColumnConfig]:
    return {
        "region": tb.text("sales_col_region"),
        "orders": tb.whole("sales_orders"),
        "revenue": tb.money("sales_revenue"),
        "revenue_share": tb.share("sales_col_revenue_share"),
    }


def render_regions(merchant: Merchant, first_day: date, last_day: date) -> None:
    st.subheader(t("sales_regions"))
    regions = queries_sales.region_sales(merchant.merchant_id, first_day, last_day)
    if regions.empty:
        st.info(t("sales_no_sales_in_range"))
        return
    regions = regions.assign(region=regions["region"].fillna(t("sales_region_unknown")))
    chart = analysis_charts.bar_chart(
        regions, "region", "revenue", t("sales_col_region"), t("axis_revenue"), MONEY_AXIS
    )
    st.altair_chart(chart, width="stretch")
    table(regions, region_columns(), merchant, "sales_regions")


def channel_columns() -> dict[str, ColumnConfig]:
    return {
        "channel_type": tb.text("sales_col_channel_type"),
        "channel": tb.text("sales_col_channel"),
        "orders": tb.whole("sales_orders"),
        "revenue": tb.money("sales_revenue"),
        "revenue_share": tb.share("sales_col_channel_share"),
    }


def render_channels(merchant: Merchant, first_day: date, last_day: date) -> None:
    st.subheader(t("sales_channels"))
    channels = queries_sales.channel_sales(merchant.merchant_id, first_day, last_day)
    if channels.empty:
        st.info(t("sales_no_sales_in_range"))
        return
    shown = channels.assign(
        channel_type=channels["channel_type"].map(lambda name: t(f"sales_channel_type_{name}")),
        channel=channels["channel"].map(lambda name: t(f"sales_channel_{name}")),
    )
    table(shown, channel_columns(), merchant, "sales_channels")


def render() -> None:
    merchant = page_heading("sales_title")
    first = queries_sales.first_sales_day(merchant.merchant_id)
    if first is None:
        st.info(t("no_sales"))
        return
    first_day, last_day = date_range("sales_dates", first, merchant.as_of, DEFAULT_DAYS)
    days = queries_sales.merchant_period_sales(merchant.merchant_id, "day", first_day, last_day)
    render_totals(days)
    render_trend(merchant, first_day, last_day)
    render_categories(merchant, first_day, last_day)
    render_regions(merchant, first_day, last_day)
    render_channels(merchant, first_day, last_day)
    render_ranking(merchant)


render()
