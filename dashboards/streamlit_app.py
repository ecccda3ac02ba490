"""Entry point: `streamlit run dashboards/streamlit_app.py` (or `coopcast serve`)."""

from __future__ import annotations

import streamlit as st

from dashboards import auth, formatting, queries
from dashboards.i18n import language_toggle, t
from dashboards.merchant import NoDataYet, current_merchant, merchant_picker
from dashboards.navigation import PAGE_SPECS, PageSpec, import_page_modules, pages_for
from transactional.users import ADMIN_ROLE

# Not the key of any widget: only this module writes it.
REQUESTED_PAGE_KEY = "_coopcast_requested_page"


def page(spec: PageSpec, **options: object) -> st.Page:
    return st.Page(spec.path, title=t(spec.title_key), icon=spec.icon, **options)


def pages(role: str | None) -> list[st.Page]:
    """The signed-in role's pages; signed out, every page (hidden), so that a bookmarked URL
    still resolves, and shows the landing page after sign-in if the role may not open it.

    Streamlit serves the landing page at the root only, its url_path merely reserved: the same
    script again, as a hidden page, answers its own path too (/overview), without a menu entry.
    """
    landing, *others = pages_for(role) if role else PAGE_SPECS
    return [
        page(landing, url_path="", default=True),
        *(page(spec, url_path=spec.url_path) for spec in others),
        page(landing, url_path=landing.url_path, visibility="hidden"),
    ]


def remember_the_requested_page(requested: st.Page) -> None:
    """Signed out, every page is registered, so Streamlit resolves the one the URL names; once
    signed in, a page the role may not open silently becomes the landing page."""
    st.session_state[REQUESTED_PAGE_KEY] = requested.url_path


def drop_the_filters_of_a_page_not_opened(shown: st.Page) -> None:
    """Sent to the landing page because the role may not open the page of the URL (a sales account
    opening /finance?fin_months=12), the session drops that page's filters from the URL."""
    if st.session_state.pop(REQUESTED_PAGE_KEY, shown.url_path) != shown.url_path:
        st.query_params.clear()


def data_freshness() -> None:
    merchant = current_merchant()
    st.sidebar.caption(t("data_as_of", as_of=formatting.day(merchant.as_of)))
    st.sidebar.caption(t("published_at", time=queries.published_at().strftime("%Y-%m-%d %H:%M")))


@st.cache_resource(show_spinner=False)
def page_modules_imported() -> bool:
    """Once per server process, while the sign-in form is the page shown."""
    import_page_modules()
    return True


def main() -> None:
    st.set_page_config(page_title="coopcast 供销数据", layout="wide")
    user = auth.signed_in_user()
    # Registered before any early stop, so a bookmarked page URL still resolves.
    navigation = st.navigation(pages(user.role if user else None), position="sidebar" if user else "hidden")
    language_toggle()
    if not queries.serving_available():
        st.info(t("serving_missing"), icon=":material/hourglass_empty:")
        return
    if user is None:
        remember_the_requested_page(navigation)
        auth.sign_in_form()
        page_modules_imported()
        return
    drop_the_filters_of_a_page_not_opened(navigation)
    auth.account_sidebar(user)
    merchants = queries.merchants()
    if merchants.empty:
        st.info(t("no_merchants"))
        return
    if user.role == ADMIN_ROLE:
        merchant_picker(merchants)
    try:
        current_merchant()
    except NoDataYet as missing:
        st.info(t("auth_no_data", merchant=missing.merchant_code))
        return
    data_freshness()
    navigation.run()


main()
