"""Every label the merchants read comes from locales/<language>/*.json; Chinese is the default.

Each area of the app keeps its labels in its own file (`app.json`, `sales.json`, ...), so pages can
be added without touching each other's labels; a key defined twice is an error, not a silent override.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
# The sidebar toggle writes the choice under this session-state key.
LANGUAGE_KEY = "language"


@functools.cache
def load_locale(language: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.json")):
        area = json.loads(path.read_text(encoding="utf-8"))
        repeated = labels.keys() & area.keys()
        if repeated:
            raise ValueError(f"{path}: labels already defined in another file: {sorted(repeated)}")
        labels.update(area)
    return labels


def current_language() -> str:
    language = st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values: object) -> str:
    """The label `key` in the session's language, with `{placeholders}` filled from `values`."""
    text = load_locale(current_language())[key]
    return text.format(**values) if values else text


def language_toggle() -> None:
    st.sidebar.radio(
        t("language_label"),
        LANGUAGES,
        format_func=LANGUAGE_NAMES.__getitem__,
        key=LANGUAGE_KEY,
        horizontal=True,
    )
