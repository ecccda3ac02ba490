"""商品分析 / Products: the ABC-XYZ matrix, hot sellers and slow movers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import analysis_charts, formatting, queries_sales, queries_stock, url_filters
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.merchant import Merchant
from dashboards.page_parts import page_heading, ranked_sku_columns, table
from dashboards.stock_parts import render_slow_movers

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

MEASURES = ("skus", "revenue_share")
CLASSES = tuple(abc + xyz for abc in queries_stock.ABC_CLASSES for xyz in queries_stock.XYZ_CLASSES)


def matrix(skus: pd.DataFrame) -> pd.DataFrame:
    """The 3×3 grid, one row per ABC × XYZ cell (empty cells included): SKUs and revenue share."""
    cells = pd.MultiIndex.from_product(
        [queries_stock.ABC_CLASSES, queries_stock.XYZ_CLASSES], names=["abc_class", "xyz_class"]
    )
    total = skus["revenue"].sum()
    grouped = skus.groupby(["abc_class", "xyz_class"]).agg(skus=("sku_code", "count"), revenue=("revenue", "sum"))
    grid = grouped.reindex(cells, fill_value=0).reset_index()
    return grid.assign(revenue_share=grid["revenue"].astype(float) / float(total) if total else 0.0)


def matrix_columns(measure: str) -> dict[str, ColumnConfig]:
    cell = tb.whole if measure == "skus" else tb.share
    return {
        "abc_class": tb.text("products_col_abc"),
        **{xyz: cell(f"products_xyz_{xyz}") for xyz in queries_stock.XYZ_CLASSES},
    }


def render_matrix(merchant: Merchant, skus: pd.DataFrame) -> None:
    st.subheader(t("products_matrix"))
    # Labels are looked up now: a format_func calling t() later could see another language.
    labels = {name: t(f"products_measure_{name}") for name in MEASURES}
    measure = st.segmented_control(
        t("products_matrix_measure"),
        MEASURES,
        format_func=labels.__getitem__,
        required=True,
        **url_filters.one_of("products_measure", MEASURES, "skus"),
    )
    grid = matrix(skus)
    text = grid["skus"].map(formatting.count) if measure == "skus" else grid["revenue_share"].map(formatting.percent)
    shown = grid.assign(
        text=text,
        abc=grid["abc_class"].map(lambda abc: t(f"products_abc_{abc}")),
        xyz=grid["xyz_class"].map(lambda xyz: t(f"products_xyz_{xyz}")),
    )
    titles = (t("products_col_xyz"), t("products_col_abc"), t(f"products_measure_{measure}"))
    st.altair_chart(analysis_charts.heatmap(shown, "xyz", "abc", measure, "text", titles), width="stretch")
    st.caption(t("products_matrix_caption", first=formatting.day(skus["window_start_date"].min())))
    pivot = grid.pivot(index="abc_class", columns="xyz_class", values=measure).reset_index()
    table(
        pivot.assign(abc_class=pivot["abc_class"].map(lambda abc: t(f"products_abc_{abc}"))),
        matrix_columns(measure),
        merchant,
        "abc_xyz_matrix",
    )


def class_columns() -> dict[str, ColumnConfig]:
    return {
        "abc_xyz_class": tb.text("products_col_class"),
        **ranked_sku_columns(),
        "weeks_with_sales": tb.whole("products_col_weeks_with_sales"),
        "demand_cv": st.column_config.NumberColumn(t("products_col_demand_cv"), format="%.2f"),
    }


def render_class(merchant: Merchant, skus: pd.DataFrame) -> None:
    counts = skus["abc_xyz_class"].value_counts()
    labels = {name: t("products_class_option", name=name, skus=int(counts.get(name, 0))) for name in CLASSES}
    # AX, the first class, often holds no SKU: the list opens on the first class that holds one.
    first_held = next(name for name in CLASSES if counts.get(name, 0))
    chosen = st.selectbox(
        t("products_class_filter"),
        CLASSES,
        format_func=labels.__getitem__,
        **url_filters.one_of("products_class", CLASSES, first_held),
    )
    table(skus[skus["abc_xyz_class"] == chosen], class_columns(), merchant, "abc_xyz_skus")


def hot_columns() -> dict[str, ColumnConfig]:
    return {
        **ranked_sku_columns(),
        "period_end_on_hand": tb.whole("col_on_hand"),
        "period_start": tb.day("products_col_period_start"),
    }


def render_hot_sellers(merchant: Merchant) -> None:
    st.subheader(t("products_hot_sellers"))
    periods = queries_sales.RANKING_PERIODS
    labels = {name: t(f"sales_period_{name}") for name in periods}
    period = st.segmented_control(
        t("granularity"),
        periods,
        format_func=labels.__getitem__,
        required=True,
        **url_filters.one_of("products_hot_period", periods, "month"),
    )
    hot = queries_stock.hot_sellers(merchant.merchant_id, period)
    if hot.empty:
        st.info(t("products_no_hot_sellers"))
        return
    st.caption(
        t(
            "products_hot_caption",
            first=formatting.day(hot["period_start"].iloc[0]),
            last=formatting.day(hot["period_end"].iloc[0]),
        )
    )
    table(hot, hot_columns(), merchant, "hot_sellers")


def render() -> None:
    merchant = page_heading("products_title")
    skus = queries_stock.abc_xyz(merchant.merchant_id, merchant.as_of)
    if skus.empty:
        st.info(t("no_products"))
        return
    render_matrix(merchant, skus)
    render_class(merchant, skus)
    render_hot_sellers(merchant)
    render_slow_movers(merchant)


render()
