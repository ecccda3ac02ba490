"""Entry point: `streamlit run dashboards/streamlit_app.py` (or `coopcast serve`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import formatting, queries
from dashboards.i18n import language_toggle, t
from dashboards.merchant import current_merchant, merchant_picker

APP_PAGES = Path(__file__).resolve().parent / "app_pages"


def pages() -> list[st.Page]:
    return [
        st.Page(
            APP_PAGES / "overview.py",
            title=t("nav_overview"),
            icon=":material/dashboard:",
            url_path="overview",
            default=True,
        ),
        st.Page(
            APP_PAGES / "customers.py",
            title=t("nav_customers"),
            icon=":material/person_alert:",
            url_path="customers",
        ),
        st.Page(
            APP_PAGES / "prices.py",
            title=t("nav_prices"),
            icon=":material/trending_up:",
            url_path="prices",
        ),
    ]


def data_freshness() -> None:
    merchant = current_merchant()
    st.sidebar.caption(t("data_as_of", as_of=formatting.day(merchant.as_of)))
    st.sidebar.caption(t("published_at", time=queries.published_at().strftime("%Y-%m-%d %H:%M")))


def main() -> None:
    st.set_page_config(page_title="coopcast 供销数据", layout="wide")
    # Registered before any early stop, so a bookmarked page URL still resolves.
    navigation = st.navigation(pages())
    language_toggle()
    if not queries.serving_available():
        st.info(t("serving_missing"), icon=":material/hourglass_empty:")
        return
    merchants = queries.merchants()
    if merchants.empty:
        st.info(t("no_merchants"))
        return
    merchant_picker(merchants)
    data_freshness()
    navigation.run()


main()
