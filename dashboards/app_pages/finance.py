"""财务 / Finance: revenue and profit, commission, settlement statements, receivables and cash flow."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import streamlit as st

from dashboards import bar_charts, formatting, url_filters
from dashboards import queries_finance as finance
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.masking import current_role, mask_customers
from dashboards.merchant import Merchant, current_merchant
from dashboards.page_parts import money_metric

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.elements.lib.column_types import ColumnConfig

WINDOW_MONTHS = (1, 3, 6, 12)
DEFAULT_MONTHS = 3
CATEGORY_LEVELS = (1, 2, 3)
OVERDUE_BUCKETS = ("not_due", "overdue_1_30", "overdue_31_60", "overdue_61_plus")


def choose_window(merchant: Merchant) -> date:
    labels = {months: t("fin_window_months", months=months) for months in WINDOW_MONTHS}
    months = st.segmented_control(
        t("fin_window"),
        WINDOW_MONTHS,
        format_func=labels.__getitem__,
        **url_filters.one_of("fin_months", WINDOW_MONTHS, DEFAULT_MONTHS),
    )
    # A segmented control can be cleared; then the default window stands.
    first = tb.first_month(merchant.as_of, months or DEFAULT_MONTHS)
    st.caption(t("fin_window_caption", first=formatting.day(first), last=formatting.day(merchant.as_of)))
    return first


def render_kpis(merchant: Merchant, first: date, ageing: pd.DataFrame) -> None:
    revenue, costed_revenue, gross_profit = finance.profit_totals(merchant.merchant_id, first)
    commission = finance.commission_by_category(merchant.merchant_id, first)["net_commission"].sum()
    overdue = ageing.loc[ageing["overdue_bucket"] != "not_due", "open_amount"].sum()
    columns = st.columns(5)
    money_metric(columns[0], t("fin_kpi_revenue"), revenue, t("fin_kpi_revenue_help"))
    money_metric(columns[1], t("fin_kpi_gross_profit"), gross_profit, t("fin_kpi_gross_profit_help"))
    columns[2].metric(
        t("fin_kpi_gross_margin"),
        formatting.percent(Decimal(gross_profit) / costed_revenue if costed_revenue else None),
        help=t("fin_kpi_gross_margin_help"),
        border=True,
    )
    money_metric(columns[3], t("fin_kpi_commission"), commission, t("fin_kpi_commission_help"))
    money_metric(columns[4], t("fin_kpi_receivables"), ageing["open_amount"].sum(), t("fin_kpi_receivables_help"))
    columns[-1].caption(t("fin_kpi_overdue", amount=formatting.money(overdue)))


def profit_columns(name_column: str, name_key: str) -> dict[str, ColumnConfig]:
    return {
        name_column: tb.text(name_key),
        "orders": tb.whole("fin_col_orders"),
        "revenue": tb.money("fin_col_revenue"),
        "cost": tb.money("fin_col_cost"),
        "gross_profit": tb.money("fin_col_gross_profit"),
        "gross_margin": tb.share("fin_col_gross_margin"),
    }


def render_profit(merchant: Merchant, first: date) -> None:
    st.subheader(t("fin_profit"))
    by_category, by_group = st.tabs([t("fin_profit_by_category"), t("fin_profit_by_customer_type")])
    with by_category:
        labels = {level: t(f"fin_category_level_{level}") for level in CATEGORY_LEVELS}
        level = st.radio(
            t("fin_category_level"),
            CATEGORY_LEVELS,
            format_func=labels.__getitem__,
            horizontal=True,
            **url_filters.one_of("fin_level", CATEGORY_LEVELS, 1),
        )
        profit = finance.profit_by_category(merchant.merchant_id, first, level)
        if tb.show_table(
            profit,
            profit_columns("category_name", "fin_col_category"),
            stem=tb.file_stem("profit_by_category", merchant),
            key="fin_profit_category_download",
            empty_key="fin_no_sales",
        ):
            chart = bar_charts.ranked_bars(
                profit,
                "category_name",
                "gross_profit",
                name_title=t("fin_col_category"),
                value_title=t("fin_col_gross_profit"),
            )
            st.altair_chart(chart, width="stretch")
    with by_group:
        groups = finance.profit_by_customer_type(merchant.merchant_id, first)
        shown = groups.assign(customer_type=tb.coded(groups["customer_type"], "cust_type"))
        tb.show_table(
            shown,
            profit_columns("customer_type", "fin_col_customer_type"),
            stem=tb.file_stem("profit_by_customer_type", merchant),
            key="fin_profit_group_download",
            empty_key="fin_no_sales",
        )


def render_commission(merchant: Merchant, first: date) -> None:
    st.subheader(t("fin_commission"))
    st.caption(t("fin_commission_caption"))
    commission = finance.commission_by_category(merchant.merchant_id, first)
    columns = {
        "category_l1": tb.text("fin_col_category_l1"),
        "category_name": tb.text("fin_col_category"),
        "gross_sales": tb.money("fin_col_gross_sales"),
        "commission": tb.money("fin_col_commission"),
        "commission_refunded": tb.money("fin_col_commission_refunded"),
        "net_commission": tb.money("fin_col_net_commission"),
        "effective_rate": tb.share("fin_col_effective_rate"),
    }
    tb.show_table(
        commission,
        columns,
        stem=tb.file_stem("commission", merchant),
        key="fin_commission_download",
        empty_key="fin_no_commission",
    )


def render_settlements(merchant: Merchant, first: date) -> None:
    st.subheader(t("fin_settlements"))
    statements = finance.settlement_statements(merchant.merchant_id, first)
    shown = statements.assign(
        kind=tb.coded(statements["kind"], "settlement_kind"),
        payout_status=tb.coded(statements["payout_status"], "payout_status"),
    )
    columns = {
        "period_start": tb.day("fin_col_period_start"),
        "period_end": tb.day("fin_col_period_end"),
        "kind": tb.text("fin_col_settlement_kind"),
        "order_count": tb.whole("fin_col_orders"),
        "refund_count": tb.whole("fin_col_refunds_count"),
        "gross_sales": tb.money("fin_col_gross_sales"),
        "commission": tb.money("fin_col_commission"),
        "refunds": tb.money("fin_col_refunds"),
        "net_payable": tb.money("fin_col_net_payable"),
        "is_reconciled": tb.flag("fin_col_reconciled"),
        "payout_due_date": tb.day("fin_col_payout_due"),
        "paid_date": tb.day("fin_col_paid_date"),
        "payout_amount": tb.money("fin_col_payout_amount"),
        "payout_status": tb.text("fin_col_payout_status"),
        "days_late": tb.whole("fin_col_days_late"),
    }
    tb.show_table(
        shown,
        columns,
        stem=tb.file_stem("settlements", merchant),
        key="fin_settlements_download",
        empty_key="fin_no_settlements",
    )


def ageing_matrix(ageing: pd.DataFrame) -> pd.DataFrame:
    """Open amount per credit term (rows) and overdue bucket (columns), with a total column."""
    matrix = (
        ageing.pivot_table(
            index="credit_term", columns="overdue_bucket", values="open_amount", aggfunc="sum", sort=False
        )
        .reindex(columns=list(OVERDUE_BUCKETS))
        .astype(float)
        .fillna(0.0)
    )
    matrix["total"] = matrix.sum(axis=1)
    return matrix.reset_index().assign(credit_term=lambda frame: tb.coded(frame["credit_term"], "credit_term"))


def render_receivables(merchant: Merchant, ageing: pd.DataFrame) -> None:
    st.subheader(t("fin_receivables"))
    columns = (
        {"credit_term": tb.text("fin_col_credit_term")}
        | {bucket: tb.money(f"overdue_bucket_{bucket}") for bucket in OVERDUE_BUCKETS}
        | {"total": tb.money("fin_col_total")}
    )
    matrix = ageing_matrix(ageing) if not ageing.empty else ageing
    if not tb.show_table(
        matrix,
        columns,
        stem=tb.file_stem("receivables_ageing", merchant),
        key="fin_ageing_download",
        empty_key="fin_no_receivables",
    ):
        return
    st.markdown(f"**{t('fin_open_orders')}**")
    orders = mask_customers(finance.open_receivables(merchant.merchant_id), current_role())
    shown = orders.assign(
        credit_term=tb.coded(orders["credit_term"], "credit_term"),
        overdue_bucket=tb.coded(orders["overdue_bucket"], "overdue_bucket"),
    )
    order_columns = {
        "order_no": tb.text("fin_col_order_no"),
        "customer_code": tb.text("col_customer_code"),
        "customer_name": tb.text("col_customer_name"),
        "credit_term": tb.text("fin_col_credit_term"),
        "receivable_due_date": tb.day("fin_col_due_date"),
        "open_amount": tb.money("fin_col_open_amount"),
        "days_overdue": tb.whole("fin_col_days_overdue"),
        "overdue_bucket": tb.text("fin_col_overdue_bucket"),
    }
    tb.show_table(
        shown,
        order_columns,
        stem=tb.file_stem("open_receivables", merchant),
        key="fin_open_download",
        empty_key="fin_no_receivables",
    )


def render_cash_flow(merchant: Merchant, first: date) -> None:
    st.subheader(t("fin_cash_flow"))
    st.caption(t("fin_cash_flow_caption"))
    weekly = finance.weekly_cash_flow(merchant.merchant_id, first)
    columns = {
        "week_start": tb.day("fin_col_week_start"),
        "cash_in": tb.money("fin_col_cash_in"),
        "cash_out": tb.money("fin_col_cash_out"),
        "net_cash_flow": tb.money("fin_col_net_cash_flow"),
        "balance": tb.money("fin_col_balance"),
    }
    if weekly.empty:
        st.info(t("fin_no_cash_flow"))
        return
    chart = bar_charts.cash_flow_chart(
        weekly.astype({"cash_in": float, "cash_out": float, "net_cash_flow": float, "balance": float}),
        week_title=t("fin_col_week_start"),
        net_title=t("fin_col_net_cash_flow"),
        balance_title=t("fin_col_balance"),
    )
    st.altair_chart(chart, width="stretch")
    tb.show_table(
        weekly, columns, stem=tb.file_stem("cash_flow", merchant), key="fin_cash_download", empty_key="fin_no_cash_flow"
    )


def render() -> None:
    merchant = current_merchant()
    tb.page_header("fin_title", merchant)
    first = choose_window(merchant)
    ageing = finance.receivables_ageing(merchant.merchant_id)
    render_kpis(merchant, first, ageing)
    render_profit(merchant, first)
    render_commission(merchant, first)
    render_settlements(merchant, first)
    render_receivables(merchant, ageing)
    render_cash_flow(merchant, first)


render()
