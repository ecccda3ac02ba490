"""Page filters kept in the URL (dashboards/url_filters.py), on a small Streamlit script in AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import url_filters


def filtered_page() -> None:
    from datetime import date

    import streamlit as st

    from dashboards import url_filters

    grains = ["day", "week", "month"]
    kinds = ["expired", "within_30_days", "within_90_days"]
    grain = st.selectbox("grain", grains, **url_filters.one_of("grain", grains, "month"))
    chosen = st.multiselect("kinds", kinds, **url_filters.some_of("kinds", kinds, kinds[:1]))
    days = st.date_input(
        "days",
        **url_filters.day_range("days", date(2026, 1, 1), date(2026, 6, 30), (date(2026, 6, 1), date(2026, 6, 30))),
    )
    st.markdown(f"{grain}|{','.join(chosen)}|{days[0]}|{days[-1]}")


def run(query: dict[str, str | list[str]]) -> AppTest:
    app = AppTest.from_function(filtered_page)
    app.query_params.update(query)
    return app.run()


def shown(app: AppTest) -> str:
    assert not app.exception
    return app.markdown[0].value


def test_valid_values_in_the_url_set_the_filters() -> None:
    app = run({"grain": "week", "kinds": ["within_90_days", "expired"], "days": ["2026-02-01", "2026-02-28"]})

    assert shown(app) == "week|within_90_days,expired|2026-02-01|2026-02-28"


def test_invalid_values_are_ignored_and_leave_the_url() -> None:
    app = run({"grain": "'; DROP TABLE x; --", "kinds": ["soon"], "days": ["2026-02-28", "2026-02-01"]})

    assert shown(app) == "month|expired|2026-06-01|2026-06-30"
    assert not {"grain", "kinds", "days"} & set(app.query_params)


@pytest.mark.parametrize(
    "days", [["2025-12-31", "2026-01-05"], ["2026-01-01"], ["2026-01-01", "2026-13-01"], ["a", "b"]], ids=str
)
def test_a_date_range_outside_the_data_or_malformed_is_ignored(days: list[str]) -> None:
    assert shown(run({"days": days})).endswith("|2026-06-01|2026-06-30")


def test_unknown_values_among_known_ones_are_dropped_from_the_url() -> None:
    app = run({"kinds": ["within_30_days", "next_year"]})

    assert shown(app) == "month|within_30_days|2026-06-01|2026-06-30"
    assert app.query_params["kinds"] == "within_30_days"


def test_a_change_is_written_to_the_url() -> None:
    app = run({})
    app.selectbox(key="grain").set_value("day").run()
    app.multiselect(key="kinds").set_value(["expired", "within_90_days"]).run()

    assert shown(app).startswith("day|expired,within_90_days|")
    assert app.query_params["grain"] == "day"
    assert app.query_params["kinds"] == ["expired", "within_90_days"]


@pytest.mark.parametrize("key", ["merchant_id", "merchant", "merchant_code"])
def test_the_merchant_can_never_be_a_url_filter(key: str) -> None:
    with pytest.raises(ValueError, match="never the URL"):
        url_filters.one_of(key, [1, 2], 1)
