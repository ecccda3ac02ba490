"""Entry point: `streamlit run dashboards/streamlit_app.py` (or `coopcast serve`)."""

from __future__ import annotations

import streamlit as st

from dashboards import formatting, queries
from dashboards.i18n import language_toggle, t
from dashboards.merchant import current_merchant, merchant_picker
from dashboards.navigation import pages_for


def pages() -> list[st.Page]:
    # Every page until sign-in exists; then the signed-in account's role picks them.
    return [
        st.Page(spec.path, title=t(spec.title_key), icon=spec.icon, url_path=spec.url_path, default=index == 0)
        for index, spec in enumerate(pages_for("owner"))
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
