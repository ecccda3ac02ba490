"""客户分析 / Customer insight: value tiers, RFM segments, customer groups, sleeping customers and a
contact list to export; customer names are masked for roles that do not need them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboards import bar_charts, url_filters
from dashboards import queries_customers as customers
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.masking import current_role, mask_customers
from dashboards.merchant import Merchant, current_merchant

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.elements.lib.column_types import ColumnConfig

RFM_SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "cannot_lose",
    "at_risk",
    "hibernating",
)


def render_tiers(merchant: Merchant) -> None:
    st.subheader(t("cust_tiers"))
    st.caption(t("cust_tiers_caption"))
    tiers = customers.value_tiers(merchant.merchant_id)
    columns = {
        "value_tier": tb.text("col_value_tier"),
        "customers": tb.whole("cust_col_customers"),
        "tier_window_orders": tb.whole("cust_col_tier_orders"),
        "tier_window_amount": tb.money("cust_col_tier_amount"),
        "amount_share": tb.share("cust_col_amount_share"),
    }
    tb.show_table(
        tiers.assign(value_tier=tb.coded(tiers["value_tier"], "value_tier")),
        columns,
        stem=tb.file_stem("customer_tiers", merchant),
        key="cust_tiers_download",
        empty_key="cust_no_customers",
    )


def render_rfm(merchant: Merchant) -> None:
    st.subheader(t("cust_rfm"))
    st.caption(t("cust_rfm_caption"))
    segments = customers.rfm_segments(merchant.merchant_id)
    shown = segments.assign(rfm_segment=tb.coded(segments["rfm_segment"], "rfm_segment"))
    columns = {
        "rfm_segment": tb.text("cust_col_rfm_segment"),
        "customers": tb.whole("cust_col_customers"),
        "recency_days": tb.decimal("cust_col_recency"),
        "frequency": tb.decimal("cust_col_frequency"),
        "monetary": tb.money("cust_col_monetary"),
    }
    if tb.show_table(
        shown, columns, stem=tb.file_stem("customer_rfm", merchant), key="cust_rfm_download", empty_key="cust_no_rfm"
    ):
        chart = bar_charts.ranked_bars(
            shown,
            "rfm_segment",
            "customers",
            name_title=t("cust_col_rfm_segment"),
            value_title=t("cust_col_customers"),
            value_format=",d",
        )
        st.altair_chart(chart, width="stretch")


def render_groups(merchant: Merchant) -> None:
    st.subheader(t("cust_groups"))
    groups = customers.customer_groups(merchant.merchant_id)
    shown = groups.assign(
        customer_type=tb.coded(groups["customer_type"], "cust_type"),
        habit_segment=tb.coded(groups["habit_segment"], "cust_habit"),
    )
    columns = {
        "customer_type": tb.text("fin_col_customer_type"),
        "region": tb.text("cust_col_region"),
        "habit_segment": tb.text("cust_col_habit"),
        "customers": tb.whole("cust_col_customers"),
        "active_customers": tb.whole("cust_col_active"),
        "sleeping_customers": tb.whole("cust_col_sleeping"),
        "revenue": tb.money("cust_col_revenue"),
        "revenue_share": tb.share("cust_col_revenue_share"),
    }
    tb.show_table(
        shown,
        columns,
        stem=tb.file_stem("customer_groups", merchant),
        key="cust_groups_download",
        empty_key="cust_no_customers",
    )


def contact_columns() -> dict[str, ColumnConfig]:
    return {
        "customer_code": tb.text("col_customer_code"),
        "customer_name": tb.text("col_customer_name"),
        "customer_type": tb.text("fin_col_customer_type"),
        "region": tb.text("cust_col_region"),
        "value_tier": tb.text("col_value_tier"),
        "rfm_segment": tb.text("cust_col_rfm_segment"),
        "habit_segment": tb.text("cust_col_habit"),
        "main_category_l1": tb.text("cust_col_main_category"),
        "last_purchase_date": tb.day("cust_col_last_purchase"),
        "days_since_last_purchase": tb.whole("col_days_since_last_purchase"),
        "orders": tb.whole("cust_col_orders"),
        "amount": tb.money("cust_col_amount"),
        "avg_order_value": tb.money("cust_col_avg_order_value"),
        "is_sleeping": tb.flag("cust_col_is_sleeping"),
    }


def readable_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    """Codes as the merchant reads them, names masked for the session's role."""
    return mask_customers(contacts, current_role()).assign(
        customer_type=tb.coded(contacts["customer_type"], "cust_type"),
        value_tier=tb.coded(contacts["value_tier"], "value_tier"),
        rfm_segment=tb.coded(contacts["rfm_segment"], "rfm_segment"),
        habit_segment=tb.coded(contacts["habit_segment"], "cust_habit"),
    )


def render_sleeping(merchant: Merchant, contacts: pd.DataFrame) -> None:
    st.subheader(t("cust_sleeping"))
    st.caption(t("cust_sleeping_caption"))
    sleeping = contacts[contacts["is_sleeping"]].sort_values(["amount", "customer_code"], ascending=[False, True])
    tb.show_table(
        readable_contacts(sleeping),
        contact_columns(),
        stem=tb.file_stem("sleeping_customers", merchant),
        key="cust_sleeping_download",
        empty_key="cust_no_sleeping",
    )


def render_contact_list(merchant: Merchant, contacts: pd.DataFrame) -> None:
    st.subheader(t("cust_contacts"))
    st.caption(t("cust_contacts_caption"))
    tier_labels = {tier: t(f"value_tier_{tier}") for tier in customers.VALUE_TIERS}
    segment_labels = {segment: t(f"rfm_segment_{segment}") for segment in RFM_SEGMENTS}
    tier_filter, segment_filter = st.columns(2)
    tiers = tier_filter.multiselect(
        t("col_value_tier"),
        customers.VALUE_TIERS,
        format_func=tier_labels.__getitem__,
        **url_filters.some_of("cust_tiers", customers.VALUE_TIERS, customers.VALUE_TIERS),
    )
    segments = segment_filter.multiselect(
        t("cust_col_rfm_segment"),
        RFM_SEGMENTS,
        format_func=segment_labels.__getitem__,
        placeholder=t("cust_all_segments"),
        **url_filters.some_of("cust_segments", RFM_SEGMENTS, ()),
    )
    chosen = contacts[contacts["value_tier"].isin(tiers)]
    if segments:
        chosen = chosen[chosen["rfm_segment"].isin(segments)]
    tb.show_table(
        readable_contacts(chosen),
        contact_columns(),
        stem=tb.file_stem("customer_contacts", merchant),
        key="cust_contacts_download",
        empty_key="cust_no_contacts",
    )


def render() -> None:
    merchant = current_merchant()
    tb.page_header("cust_title", merchant)
    contacts = customers.contact_list(merchant.merchant_id)
    if contacts.empty:
        st.info(t("cust_no_customers"))
        return
    render_tiers(merchant)
    render_rfm(merchant)
    render_groups(merchant)
    render_sleeping(merchant, contacts)
    render_contact_list(merchant, contacts)


render()
