"""The render benchmark's baseline: two pages holding only a title, in the dashboard's navigation.

`python -m tests.bench.dashboard_render` runs it with `streamlit run` and times switching to a page
here exactly as it times the dashboard's pages: what any Streamlit page costs in the same browser.
"""

from __future__ import annotations

import streamlit as st

EMPTY_TITLES = ("Empty page", "Other empty page")
EMPTY_PATHS = ("empty", "other")


def empty_page() -> None:
    st.title(EMPTY_TITLES[0])


def other_empty_page() -> None:
    st.title(EMPTY_TITLES[1])


# `streamlit run` runs the script as __main__; the benchmark imports it only for the titles.
if __name__ == "__main__":
    st.navigation(
        [
            st.Page(empty_page, title=EMPTY_TITLES[0], url_path=EMPTY_PATHS[0], default=True),
            st.Page(other_empty_page, title=EMPTY_TITLES[1], url_path=EMPTY_PATHS[1]),
        ]
    ).run()
