"""Both languages carry every label the code asks for, with the same placeholders; money and dates look Chinese."""

from __future__ import annotations

import json
import re
import string
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from dashboards import digest, formatting

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
LANGUAGES = ("zh", "en")
# Literal keys passed to t("...") anywhere in the app.
LABEL_CALL = re.compile(r"""\bt\(\s*"([a-z0-9_]+)\"""")


def load(language: str) -> dict[str, str]:
    """Every label file of the language, merged; a key may be defined in one file only."""
    labels: dict[str, str] = {}
    for path in sorted((DASHBOARDS / "locales" / language).glob("*.json")):
        area = json.loads(path.read_text(encoding="utf-8"))
        assert not labels.keys() & area.keys(), f"{path} repeats labels of another file"
        labels.update(area)
    assert labels, f"no label files for {language}"
    return labels


def test_both_languages_have_the_same_label_files() -> None:
    zh, en = ({path.name for path in (DASHBOARDS / "locales" / language).glob("*.json")} for language in LANGUAGES)
    assert zh == en


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_chinese_and_english_have_the_same_keys() -> None:
    assert load("zh").keys() == load("en").keys()


def test_translations_keep_the_same_placeholders() -> None:
    zh, en = load("zh"), load("en")
    assert {key: placeholders(text) for key, text in zh.items()} == {
        key: placeholders(text) for key, text in en.items()
    }


def test_every_label_the_code_asks_for_exists() -> None:
    used = {key for path in DASHBOARDS.rglob("*.py") for key in LABEL_CALL.findall(path.read_text(encoding="utf-8"))}
    assert used, "found no t(...) calls: the pattern no longer matches the code"
    assert used <= load("zh").keys()


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12345.67, "¥12,345.67"), (0, "¥0.00"), (-1234.5, "-¥1,234.50"), (1234567.891, "¥1,234,567.89"), (None, "—")],
)
def test_money_is_shown_in_yuan_with_thousands_separators(value: float | None, shown: str) -> None:
    assert formatting.money(value) == shown


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        (553142.11, "zh", "¥55.3万"),
        (553142.11, "en", "¥553k"),
        (5531421.11, "zh", "¥553万"),
        (5531421.11, "en", "¥5.53M"),
        (123456789, "zh", "¥1.23亿"),
        (9999.4, "zh", "¥9,999"),
        (9999.6, "en", "¥10.0k"),
        (-22345.6, "zh", "-¥2.23万"),
        (999.99, "en", "¥999.99"),
        (None, "zh", "—"),
    ],
)
def test_headline_money_fits_its_card_in_the_units_merchants_read(
    value: float | None, language: str, shown: str
) -> None:
    assert formatting.money_headline(value, language) == shown


def test_dates_are_shown_as_iso_days() -> None:
    assert formatting.day(date(2026, 3, 5)) == "2026-03-05"


def test_csv_downloads_keep_text_from_becoming_formulas() -> None:
    table = pd.DataFrame({"customer_name": ['=HYPERLINK("http://x")', "张三", "-5"], "orders": [1, 2, 3]})
    lines = formatting.csv_bytes(table, {"customer_name": "客户名称"}).decode("utf-8-sig").splitlines()
    assert lines[0] == "客户名称,orders"
    assert lines[1].startswith("\"'=HYPERLINK") and lines[2] == "张三,2" and lines[3] == "'-5,3"


def test_a_churn_alert_lists_its_reasons_and_ends_cleanly_without_any() -> None:
    item = pd.Series({"kind": "churn_risk", "customer_code": "C0002", "churn_risk": 0.589, "reasons": None})
    assert digest.item_line("zh", item) == "客户 C0002 · 流失风险 58.9%"
    assert digest.item_line("en", item) == "Customer C0002 · churn risk 58.9%"
    with_reasons = item.copy()
    with_reasons["reasons"] = ["falling_frequency"]
    assert digest.item_line("zh", with_reasons) == "客户 C0002 · 流失风险 58.9% · 购买次数减少"
