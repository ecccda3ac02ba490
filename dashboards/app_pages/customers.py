"""客户预警 / Churn warnings: the chosen merchant's customers who may stop buying, riskiest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboards import downloads, formatting, queries, url_filters
from dashboards import tables as tb
from dashboards.i18n import t
from dashboards.masking import current_role, mask_customers
from dashboards.merchant import Merchant, current_merchant

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

STATUSES = ("active", "at_risk", "sleeping", "lost")
WARNED_STATUSES = ("at_risk", "sleeping", "lost")
TABLE_COLUMNS = (
    "customer_code",
    "customer_name",
    "value_tier",
    "status",
    "days_since_last_purchase",
    "churn_risk",
    "expected_purchases",
    "reasons",
)


def reason_text(reasons: object) -> str:
    """Reason codes as the merchant reads them, most important first."""
    codes = [] if reasons is None else list(reasons)
    return t("list_separator").join(t(f"churn_reason_{code}") for code in codes)


def warned_customers(scores: pd.DataFrame, statuses: list[str]) -> pd.DataFrame:
    """The rows of the chosen statuses with tier, status and reasons in the session's language."""
    # Labels are looked up now, in this run's language, not later inside a lambda.
    tiers = {tier: t(f"value_tier_{tier}") for tier in ("diamond", "gold", "silver", "none")}
    status_labels = {status: t(f"churn_status_{status}") for status in STATUSES}
    chosen = scores[scores["status"].isin(statuses)]
    return chosen.assign(
        value_tier=chosen["value_tier"].map(lambda tier: tiers.get(tier, "") if isinstance(tier, str) else ""),
        status=chosen["status"].map(status_labels),
        reasons=chosen["reasons"].map(reason_text),
    )[list(TABLE_COLUMNS)]


def customer_columns(horizon_days: int) -> dict[str, ColumnConfig]:
    return {
        "customer_code": tb.text("col_customer_code"),
        "customer_name": tb.text("col_customer_name"),
        "value_tier": tb.text("col_value_tier"),
        "status": tb.text("col_churn_status"),
        "days_since_last_purchase": tb.whole("col_days_since_last_purchase"),
        "churn_risk": tb.share("col_churn_risk", help=t("churn_risk_help", days=horizon_days)),
        "expected_purchases": tb.decimal(
            "col_expected_purchases", help=t("expected_purchases_help", days=horizon_days)
        ),
        "reasons": tb.text("col_churn_reasons"),
    }


def render_counts(scores: pd.DataFrame) -> None:
    counts = scores["status"].value_counts()
    for column, status in zip(st.columns(len(STATUSES)), STATUSES, strict=True):
        column.metric(
            t(f"churn_status_{status}"),
            formatting.count(int(counts.get(status, 0))),
            help=t(f"churn_status_{status}_help"),
            border=True,
        )


def render_validation(merchant: Merchant, horizon_days: int) -> None:
    validation = queries.churn_validation(merchant.merchant_id, merchant.as_of)
    risk_help = t("churn_risk_help", days=horizon_days)
    if validation is None:
        st.caption(t("churn_validation_missing"), help=risk_help)
        return
    auc, model, customers, churners, cutoff = validation
    st.caption(
        t(
            "churn_validation",
            auc=f"{auc:.2f}",
            model=t(f"churn_model_{model}") if model else "—",
            customers=customers,
            churners=churners,
            cutoff=formatting.day(cutoff),
        ),
        help=risk_help,
    )


def render_table(merchant: Merchant, scores: pd.DataFrame, horizon_days: int) -> None:
    st.subheader(t("churn_warned_customers"))
    labels = {status: t(f"churn_status_{status}") for status in WARNED_STATUSES}
    statuses = st.multiselect(
        t("churn_status_filter"),
        WARNED_STATUSES,
        format_func=labels.__getitem__,
        **url_filters.some_of("churn_statuses", WARNED_STATUSES, WARNED_STATUSES),
    )
    table = mask_customers(warned_customers(scores, statuses), current_role())
    if table.empty:
        st.success(t("no_warned_customers"))
        return
    columns = customer_columns(horizon_days)
    st.dataframe(table, hide_index=True, column_config=columns, placeholder=formatting.MISSING)
    # Risk to a tenth of a percent and expected purchases to one decimal, as the table shows them.
    shown = table.assign(
        churn_risk=table["churn_risk"].round(3), expected_purchases=table["expected_purchases"].round(1)
    )
    downloads.table_download(shown, columns, tb.file_stem("churn", merchant), "churn_download")


def render() -> None:
    merchant = current_merchant()
    tb.page_header("churn_title", merchant)
    if not (queries.published("ml", "churn_scores") and queries.published("ml", "churn_evaluation")):
        st.info(t("no_churn_scores", as_of=formatting.day(merchant.as_of)))
        return
    scores = queries.churn_scores(merchant.merchant_id, merchant.as_of)
    if scores.empty:
        st.info(t("no_churn_scores", as_of=formatting.day(merchant.as_of)))
        return
    horizon_days = int(scores["horizon_days"].iloc[0])
    render_counts(scores)
    render_validation(merchant, horizon_days)
    render_table(merchant, scores, horizon_days)


render()
