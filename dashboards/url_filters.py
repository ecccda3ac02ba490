"""A page's filters live in the URL, so a link reproduces the same view for the same merchant.

A filter is a widget with a session-state key; the query parameter has the same name. Before the
widget is drawn, its state is seeded from the query string when the value there is one the widget
allows (anything else is ignored: the URL is never trusted, never reaches SQL and never raises),
otherwise from the page's default; when the user changes the widget, the URL follows. The merchant
is never a URL parameter: it comes from the session only.

    st.selectbox(t("granularity"), GRANULARITIES, **url_filters.one_of("sales_granularity", GRANULARITIES, "month"))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import streamlit as st

from dashboards.merchant import MERCHANT_KEY

FORBIDDEN_KEYS = frozenset({MERCHANT_KEY, "merchant", "merchant_code"})
WidgetBinding = dict[str, Any]


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _write_back(key: str) -> Callable[[], None]:
    def write() -> None:
        value = st.session_state.get(key)
        texts = [_text(item) for item in value] if isinstance(value, list | tuple) else [_text(value)]
        if texts:
            st.query_params[key] = texts if isinstance(value, list | tuple) else texts[0]
        else:
            st.query_params.pop(key, None)

    return write


def _bind(
    key: str, parse: Callable[[list[str]], object | None], is_valid: Callable[[object], bool], default: object
) -> WidgetBinding:
    """Seed the widget's state unless it already holds a valid value; returns the widget's key and on_change."""
    if key in FORBIDDEN_KEYS:
        raise ValueError(f"{key!r} cannot be a URL filter: the merchant comes from the session, never the URL")
    if key not in st.session_state or not is_valid(st.session_state[key]):
        from_url = parse(st.query_params.get_all(key)) if key in st.query_params else None
        st.session_state[key] = default if from_url is None else from_url
        # The URL keeps only what the page applied, so a shared link shows the same page.
        if from_url is None:
            st.query_params.pop(key, None)
        else:
            _write_back(key)()
    return {"key": key, "on_change": _write_back(key)}


def one_of(key: str, options: Sequence[Any], default: Any) -> WidgetBinding:
    """A single choice (selectbox, radio, segmented control) among `options`."""
    by_text = {_text(option): option for option in options}

    def parse(texts: list[str]) -> object | None:
        return by_text.get(texts[0]) if len(texts) == 1 else None

    return _bind(key, parse, lambda value: _text(value) in by_text, default)


def some_of(key: str, options: Sequence[Any], default: Sequence[Any]) -> WidgetBinding:
    """Several choices (multiselect) among `options`; unknown values in the URL are dropped."""
    by_text = {_text(option): option for option in options}

    def parse(texts: list[str]) -> object | None:
        chosen = [by_text[text] for text in dict.fromkeys(texts) if text in by_text]
        return chosen or None

    def is_valid(value: object) -> bool:
        return isinstance(value, list) and all(_text(item) in by_text for item in value)

    return _bind(key, parse, is_valid, list(default))


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def day_range(key: str, first: date, last: date, default: tuple[date, date]) -> WidgetBinding:
    """A (start, end) date range (st.date_input) inside [first, last]."""

    def is_valid(value: object) -> bool:
        # While the user picks, the widget holds the start alone.
        return (
            isinstance(value, tuple | list)
            and len(value) in (1, 2)
            and all(isinstance(day, date) and first <= day <= last for day in value)
            and value[0] <= value[-1]
        )

    def parse(texts: list[str]) -> object | None:
        days = tuple(_day(text) for text in texts)
        return days if len(days) == 2 and is_valid(days) else None

    return _bind(key, parse, is_valid, default)
