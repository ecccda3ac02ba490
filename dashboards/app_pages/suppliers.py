"""供应商 / Suppliers: on-time delivery, quality, lead-time spread, prices paid and supplier risks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboards import bar_charts, url_filters
from dashboards import queries_suppliers as suppliers
from dashboards import tables as tb
from dashboards.i18n import current_language, t
from dashboards.merchant import Merchant, current_merchant

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.elements.lib.column_types import ColumnConfig

PERFORMANCE_WINDOWS = ("trailing", "all_time")
DEFAULT_WINDOW = "trailing"
RISK_LEVELS = ("high", "medium", "low")


def performance_columns() -> dict[str, ColumnConfig]:
    return {
        "supplier_code": tb.text("sup_col_supplier_code"),
        "supplier_name": tb.text("sup_col_supplier_name"),
        "is_blacklisted": tb.flag("sup_col_blacklisted"),
        "purchase_orders": tb.whole("sup_col_purchase_orders"),
        "open_purchase_orders": tb.whole("sup_col_open_purchase_orders"),
        "deliveries": tb.whole("sup_col_deliveries"),
        "on_time_rate": tb.share("sup_col_on_time_rate", help=t("sup_on_time_help")),
        "quality_pass_rate": tb.share("sup_col_quality_pass_rate", help=t("sup_quality_help")),
        "rejected_quantity": tb.whole("sup_col_rejected_quantity"),
        "deliveries_with_rejections": tb.whole("sup_col_deliveries_with_rejections"),
        "delivered_value": tb.money("sup_col_delivered_value"),
        "agreed_lead_time_days": tb.whole("sup_col_agreed_lead_time"),
        "lead_time_mean_days": tb.decimal("sup_col_lead_time_mean"),
        "lead_time_p90_days": tb.decimal("sup_col_lead_time_p90", help=t("sup_lead_time_p90_help")),
        "lead_time_max_days": tb.whole("sup_col_lead_time_max"),
        "days_late_mean": tb.decimal("sup_col_days_late_mean"),
        "last_received_date": tb.day("sup_col_last_received"),
    }


def render_performance(merchant: Merchant) -> pd.DataFrame:
    st.subheader(t("sup_performance"))
    labels = {window: t(f"sup_window_{window}") for window in PERFORMANCE_WINDOWS}
    # A segmented control can be cleared; then the default period stands.
    window = (
        st.segmented_control(
            t("sup_window"),
            PERFORMANCE_WINDOWS,
            format_func=labels.__getitem__,
            **url_filters.one_of("sup_window", PERFORMANCE_WINDOWS, DEFAULT_WINDOW),
        )
        or DEFAULT_WINDOW
    )
    performance = suppliers.supplier_performance(merchant.merchant_id, window)
    if tb.show_table(
        performance,
        performance_columns(),
        stem=tb.file_stem(f"suppliers_{window}", merchant),
        key="sup_performance_download",
        empty_key="sup_no_deliveries",
    ):
        delivered = performance[performance["deliveries"] > 0]
        chart = bar_charts.ranked_bars(
            delivered.assign(on_time_rate=delivered["on_time_rate"].astype(float)),
            "supplier_name",
            "on_time_rate",
            name_title=t("sup_col_supplier_name"),
            value_title=t("sup_col_on_time_rate"),
            value_format=".0%",
        )
        st.altair_chart(chart, width="stretch")
    return performance


def render_lead_times(merchant: Merchant, performance: pd.DataFrame) -> None:
    st.subheader(t("sup_lead_times"))
    delivered = performance[performance["deliveries"] > 0]
    if delivered.empty:
        st.info(t("sup_no_deliveries"))
        return
    names = dict(zip(delivered["supplier_code"], delivered["supplier_name"], strict=True))
    supplier_code = st.selectbox(
        t("sup_supplier"),
        list(names),
        format_func=lambda code: f"{names[code]} · {code}",
        **url_filters.one_of("sup_supplier", list(names), next(iter(names))),
    )
    spread = suppliers.supplier_lead_times(merchant.merchant_id, supplier_code)
    columns = {
        "lead_time_days": tb.whole("sup_col_lead_time_days"),
        "deliveries": tb.whole("sup_col_deliveries"),
        "on_time_deliveries": tb.whole("sup_col_on_time_deliveries"),
        "delivery_share": tb.share("sup_col_delivery_share"),
        "cumulative_share": tb.share("sup_col_cumulative_share"),
    }
    tb.show_table(
        spread,
        columns,
        stem=tb.file_stem(f"lead_times_{supplier_code}", merchant),
        key="sup_lead_times_download",
        empty_key="sup_no_deliveries",
    )


def render_prices(merchant: Merchant) -> None:
    st.subheader(t("sup_prices"))
    st.caption(t("sup_prices_caption"))
    columns = {
        "sku_code": tb.text("col_sku_code"),
        "sku_name": tb.text("col_sku_name"),
        "spec": tb.text("sup_col_spec"),
        "supplier_name": tb.text("sup_col_supplier_name"),
        "purchased_quantity": tb.whole("sup_col_purchased_quantity"),
        "last_ordered_date": tb.day("sup_col_last_ordered"),
        "last_unit_cost": tb.money("sup_col_last_unit_cost"),
        "avg_unit_cost": tb.money("sup_col_avg_unit_cost"),
        "agreed_unit_cost": tb.money("sup_col_agreed_unit_cost"),
        "diff_from_merchant_cheapest": tb.money("sup_col_diff_own_cheapest"),
        "network_min_last_unit_cost": tb.money("sup_col_network_cheapest"),
        "network_cheapest_supplier_name": tb.text("sup_col_network_cheapest_supplier"),
        "pct_above_network_cheapest": tb.share("sup_col_pct_above_network"),
    }
    tb.show_table(
        suppliers.supplier_prices(merchant.merchant_id),
        columns,
        stem=tb.file_stem("supplier_prices", merchant),
        key="sup_prices_download",
        empty_key="sup_no_prices",
    )


def render_risks(merchant: Merchant) -> None:
    st.subheader(t("sup_risks"))
    risks = suppliers.risk_register(merchant.merchant_id)
    counts = risks["risk_level"].value_counts()
    for column, level in zip(st.columns(len(RISK_LEVELS)), RISK_LEVELS, strict=True):
        column.metric(t(f"risk_level_{level}"), f"{int(counts.get(level, 0)):,}", border=True)
    shown = risks.assign(
        risk_kind=tb.coded(risks["risk_kind"], "risk_kind"),
        risk_type=tb.coded(risks["risk_type"], "risk_type"),
        risk_level=tb.coded(risks["risk_level"], "risk_level"),
        reason=risks["reason_zh"] if current_language() == "zh" else risks["reason"],
    )
    columns = {
        "risk_level": tb.text("sup_col_risk_level"),
        "risk_kind": tb.text("sup_col_risk_kind"),
        "risk_type": tb.text("sup_col_risk_type"),
        "subject_code": tb.text("sup_col_subject_code"),
        "subject_name": tb.text("sup_col_subject_name"),
        "probability": tb.share("sup_col_probability"),
        "amount_at_stake": tb.money("sup_col_amount_at_stake"),
        "score": tb.decimal("sup_col_score", help=t("sup_score_help")),
        "reason": tb.text("sup_col_reason"),
    }
    tb.show_table(
        shown, columns, stem=tb.file_stem("risks", merchant), key="sup_risks_download", empty_key="sup_no_risks"
    )


def render() -> None:
    merchant = current_merchant()
    tb.page_header("sup_title", merchant)
    performance = render_performance(merchant)
    render_lead_times(merchant, performance)
    render_prices(merchant)
    render_risks(merchant)


render()
