"""价格趋势 / Price trends: one SKU's monthly cost or shelf price, its outlook and the buying hint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import charts, formatting, queries, url_filters
from dashboards import tables as tb
from dashboards.i18n import current_language, t
from dashboards.merchant import Merchant
from dashboards.page_parts import page_heading

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

PRICE_KINDS = ("cost", "selling")
HINT_ICONS = {"buy_ahead": ":material/shopping_cart:", "wait": ":material/schedule:", "neutral": ":material/check:"}


def reason_column() -> str:
    return "reason_zh" if current_language() == "zh" else "reason"


def render_signal(signal: pd.Series) -> None:
    price, month, year, outlook = st.columns(4)
    price.metric(t("price_last"), formatting.money(signal["last_price"]), border=True)
    month.metric(t("price_mom"), formatting.change(signal["mom_change"]), help=t("price_mom_help"), border=True)
    year.metric(t("price_yoy"), formatting.change(signal["yoy_change"]), help=t("price_yoy_help"), border=True)
    outlook.metric(
        t("price_outlook_change", days=int(signal["horizon_days"])),
        formatting.change(signal["outlook_change"]),
        help=t("price_outlook_change_help"),
        border=True,
    )
    hint = str(signal["hint"])
    st.info(f"**{t(f'price_hint_{hint}')}** · {signal[reason_column()]}", icon=HINT_ICONS.get(hint))
    if pd.notna(signal["last_change_point"]):
        st.caption(t("price_last_change_point", day=formatting.day(signal["last_change_point"])))


def render_category_index(merchant: Merchant, sku_code: str, price_kind: str) -> None:
    index = queries.category_index(merchant.merchant_id, sku_code, price_kind)
    if index is None:
        return
    category, mom_change, outlook_change, horizon_days = index
    st.caption(
        t(
            "price_category_index",
            category=category,
            kind=t(f"price_kind_{price_kind}"),
            mom=formatting.change(mom_change),
            days=horizon_days,
            outlook=formatting.change(outlook_change),
        )
    )


def render_trend(merchant: Merchant) -> None:
    skus = queries.price_skus(merchant.merchant_id)
    if skus.empty:
        st.info(t("no_price_signals"))
        return
    names = dict(zip(skus["sku_code"], skus["sku_name"], strict=True))
    kinds = {kind: t(f"price_kind_{kind}") for kind in PRICE_KINDS}
    choice, kind_choice = st.columns([3, 2])
    sku_code = choice.selectbox(
        t("price_sku"),
        list(names),
        format_func=lambda code: f"{names[code]} · {code}",
        **url_filters.one_of("price_sku", list(names), next(iter(names))),
    )
    price_kind = kind_choice.radio(
        t("price_kind"),
        PRICE_KINDS,
        format_func=kinds.__getitem__,
        horizontal=True,
        **url_filters.one_of("price_kind", PRICE_KINDS, "cost"),
    )
    signal = queries.price_signal(merchant.merchant_id, sku_code, price_kind)
    months = queries.price_trend(merchant.merchant_id, sku_code, price_kind)
    if signal.empty or months.empty:
        st.info(t("no_price_trend"))
        return
    render_signal(signal.iloc[0])
    render_category_index(merchant, sku_code, price_kind)
    chart = charts.price_chart(
        months,
        price_label=t("series_price"),
        trend_label=t("series_price_trend"),
        outlook_label=t("series_price_outlook"),
        month_title=t("axis_month"),
        price_title=t("axis_price"),
    )
    st.altair_chart(chart, width="stretch")
    st.caption(t("price_chart_caption", as_of=formatting.day(signal["as_of"].iloc[0])))


def hint_columns() -> dict[str, ColumnConfig]:
    return {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "price_kind": tb.text("price_kind"),
        "hint": tb.text("col_price_hint"),
        "last_price": tb.money("price_last"),
        "outlook_change": tb.share("col_outlook_change"),
        "horizon_days": tb.whole("col_horizon_days"),
        "reason": tb.text("col_price_reason"),
    }


def render_hints(merchant: Merchant) -> None:
    st.subheader(t("price_hints"))
    hints = queries.price_hints(merchant.merchant_id)
    kinds = {kind: t(f"price_kind_{kind}") for kind in PRICE_KINDS}
    labels = {hint: t(f"price_hint_{hint}") for hint in HINT_ICONS}
    shown = hints.assign(
        price_kind=hints["price_kind"].map(kinds), hint=hints["hint"].map(labels), reason=hints[reason_column()]
    ).drop(columns="reason_zh")
    tb.show_table(
        shown,
        hint_columns(),
        stem=tb.file_stem("price_hints", merchant),
        key="download_price_hints",
        empty_key="no_price_hints",
    )


def render() -> None:
    merchant = page_heading("prices_title")
    if not (queries.published("ml", "price_signals") and queries.published("ml", "price_trends")):
        st.info(t("no_price_signals"))
        return
    render_trend(merchant)
    render_hints(merchant)


render()
