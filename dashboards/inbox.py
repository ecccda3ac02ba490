"""The alert inbox on the Overview page: the new items of the merchant's latest daily digest."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboards import formatting, queries, queries_alerts
from dashboards.digest import sections
from dashboards.i18n import current_language, t
from dashboards.merchant import current_merchant

# What markdown would read as emphasis, code, links, HTML, strike-through, tables or formulas.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~|$])")


def _plain(text: str) -> str:
    """Shown as typed: a product name with * or _ must not turn into markdown."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def render_inbox() -> None:
    merchant = current_merchant()
    if not queries.published("ml", "alert_digest_summaries"):
        st.caption(t("inbox_missing"))
        return
    summary = queries_alerts.latest_digest(merchant.merchant_id)
    if summary.empty:
        st.caption(t("inbox_missing"))
        return
    digest = summary.iloc[0]
    as_of = formatting.day(digest["as_of"])
    new_items = int(digest["new_items"])
    title = t("inbox_new_items", as_of=as_of, count=new_items) if new_items else t("inbox_nothing_new", as_of=as_of)
    with st.expander(f"{t('inbox_title')} · {title}", expanded=new_items > 0, icon=":material/inbox:"):
        previous = digest["previous_as_of"]
        st.caption(
            t("inbox_first_digest")
            if pd.isna(previous)
            else t("inbox_compared_with", previous=formatting.day(previous))
        )
        items = queries_alerts.new_digest_items(merchant.merchant_id, pd.Timestamp(digest["as_of"]).date())
        for section in sections(current_language(), items):
            st.markdown(f"**{_plain(section.heading)}**")
            st.markdown("\n".join(f"- {_plain(line)}" for line in section.lines))
