"""The alert digest as merchants read it: the SQL that reads it from the serving copy, and one line
per new item, grouped by kind, in a given language.

Shared by the inbox on the Overview page and the digest email (`coopcast alerts send`), so both show
the same items in the same words; labels come from locales/<language>/inbox.json (and the churn
reasons of app.json). No Streamlit cache here: the email is sent outside the app.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboards import formatting
from dashboards.i18n import load_locale

# The merchant's digest of a given as_of, or its latest when the second parameter is NULL.
DIGEST_SUMMARY_SQL = """
SELECT merchant_id, merchant_code, as_of, previous_as_of, flagged_items, new_items, run_id
FROM ml.alert_digest_summaries
WHERE merchant_id = ? AND as_of = coalesce(?, (SELECT max(as_of) FROM ml.alert_digest_summaries WHERE merchant_id = ?))
"""
NEW_ITEMS_SQL = """
SELECT kind, sku_code, sku_name, warehouse_code, lot_code, expiry_date, days_to_expiry, near_expiry_level,
       quantity, low_stock_threshold, value_at_risk, customer_code, churn_risk, reasons
FROM ml.alert_digests
WHERE merchant_id = ? AND as_of = ? AND is_new
ORDER BY kind, item_key
"""


KINDS = ("low_stock", "near_expiry", "churn_risk")
REASON_SEPARATOR = {"zh": "、", "en": ", "}


@dataclass(frozen=True)
class DigestSection:
    kind: str
    heading: str
    lines: list[str]


def label(language: str, key: str, **values: object) -> str:
    text = load_locale(language)[key]
    return text.format(**values) if values else text


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, list | tuple) and pd.isna(value)) else str(value)


def _reasons(language: str, reasons: object) -> str:
    codes = [] if reasons is None or (isinstance(reasons, float) and pd.isna(reasons)) else list(reasons)
    return REASON_SEPARATOR[language].join(label(language, f"churn_reason_{code}") for code in codes)


def _stock_values(item: pd.Series) -> dict[str, str]:
    return {
        "sku_code": item["sku_code"],
        "sku_name": _text(item["sku_name"]),
        "warehouse": item["warehouse_code"],
        "quantity": formatting.count(int(item["quantity"])),
    }


def item_line(language: str, item: pd.Series) -> str:
    """One new item as a merchant reads it: what, where, how much, how urgent."""
    kind = item["kind"]
    if kind == "low_stock":
        threshold = formatting.count(int(item["low_stock_threshold"]))
        return label(language, "digest_low_stock_item", threshold=threshold, **_stock_values(item))
    if kind == "near_expiry":
        return label(
            language,
            "digest_near_expiry_item",
            lot=_text(item["lot_code"]),
            expiry_date=formatting.day(item["expiry_date"]),
            days=int(item["days_to_expiry"]),
            level=int(item["near_expiry_level"]),
            value=formatting.money(item["value_at_risk"]),
            **_stock_values(item),
        )
    line = label(
        language,
        "digest_churn_risk_item",
        customer_code=item["customer_code"],
        risk=formatting.percent(item["churn_risk"]),
    )
    reasons = _reasons(language, item["reasons"])
    return f"{line} · {reasons}" if reasons else line


def sections(language: str, items: pd.DataFrame) -> list[DigestSection]:
    """The items grouped by kind in a fixed order (low stock, near expiry, churn risk), headed by
    the kind and its count; kinds with no item are left out. Near-expiry items come nearest first."""
    ordered = items.sort_values(["days_to_expiry", "sku_code", "customer_code"], na_position="last")
    found = []
    for kind in KINDS:
        rows = ordered[ordered["kind"] == kind]
        if rows.empty:
            continue
        heading = label(language, "digest_kind_count", kind=label(language, f"digest_kind_{kind}"), count=len(rows))
        found.append(DigestSection(kind, heading, [item_line(language, row) for _, row in rows.iterrows()]))
    return found
