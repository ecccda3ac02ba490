"""How numbers and dates look to a merchant: ¥12,345.67, 1,234, 23.4%, 2026-10-31."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd

Number = Decimal | float | int
MISSING = "—"


def money(value: Number | None) -> str:
    if value is None or pd.isna(value):
        return MISSING
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


# A headline card fits about seven characters: large amounts go in the units merchants read
# them in, 万 and 亿 in Chinese, k, M and B in English, to three significant digits.
HEADLINE_UNITS = {"zh": ((10**8, "亿"), (10**4, "万")), "en": ((10**9, "B"), (10**6, "M"), (10**3, "k"))}


def money_headline(value: Number | None, language: str) -> str:
    """¥55.3万 / ¥553k for ¥553,142.11; whole yuan below 10 000 in Chinese; ¥999.99 in full."""
    if value is None or pd.isna(value):
        return MISSING
    amount = float(value)
    sign = "-" if amount < 0 else ""
    for size, unit in HEADLINE_UNITS[language]:
        if abs(amount) >= size:
            scaled = abs(amount) / size
            digits = 2 if round(scaled, 2) < 10 else 1 if round(scaled, 1) < 100 else 0
            return f"{sign}¥{scaled:.{digits}f}{unit}"
    if abs(amount) >= 1000:
        return f"{sign}¥{abs(amount):,.0f}"
    return money(value)


def count(value: int) -> str:
    return f"{value:,}"


def percent(ratio: Number | None) -> str:
    if ratio is None or pd.isna(ratio):
        return MISSING
    return f"{float(ratio):.1%}"


def day(value: date | datetime | pd.Timestamp) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def change(ratio: Number | None) -> str:
    """A relative change with its sign, +3.2% or -1.0%; a change that rounds to nothing reads +0.0%."""
    if ratio is None or pd.isna(ratio):
        return MISSING
    # Adding 0.0 turns -0.0 into 0.0, so a tiny fall does not read as "-0.0%".
    return f"{round(float(ratio), 3) + 0.0:+.1%}"


# Spreadsheets run a cell starting with one of these as a formula; a leading apostrophe keeps it text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells can never be read as formulas when the file is opened in Excel."""
    safe = frame.copy()
    for column in safe.select_dtypes(include="object").columns:
        safe[column] = safe[column].map(
            lambda value: f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) else value
        )
    return safe


def csv_bytes(frame: pd.DataFrame, headers: dict[str, str]) -> bytes:
    """A table as a CSV download: columns renamed to `headers`, formula-safe, with a byte-order mark so Excel
    reads the Chinese."""
    return formula_safe(frame).rename(columns=headers).to_csv(index=False).encode("utf-8-sig")
