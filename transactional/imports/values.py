"""Turn one cell into a typed value, or say in one phrase why it cannot be one.

Each parser takes what a reader hands over (text from CSV, typed values from a workbook) and
returns None for an empty cell. Messages complete a sentence that starts with the column name.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal

from transactional.imports.files import CellValue
from transactional.limits import MAX_ORDER_AMOUNT, MAX_QUANTITY, MAX_UNIT_PRICE
from transactional.stock import BUSINESS_TIMEZONE

MAX_CODE_CHARS = 64
MAX_TEXT_CHARS = 200
MAX_WHOLE_NUMBER = 2_147_483_647  # PostgreSQL integer
CENT = Decimal("0.01")
# Excel keeps 15 significant digits; longer numbers in a workbook have already been rounded.
EXCEL_DIGITS = 15
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
DATE_TIME = re.compile(
    r"(?P<year>\d{4})[-/.年](?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})日?"
    r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?"
)
EXCEL_ERRORS = frozenset(
    {"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
)
SUSPICIOUS_FIRST_CHARACTERS = frozenset("=+-@#")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CODE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


class CellProblem(ValueError):
    """Why a cell cannot be read; str() completes 'column X ...'."""


def refuse_formula(value: CellValue) -> None:
    """Refuse formula cells and text a spreadsheet would run as a formula when the data is exported.

    openpyxl hands a formula cell over as its text ('=SUM(A1:A3)'). The rule, for every column of
    CSV and workbook alike: after leading blanks, a value starting with '=' or '@' is refused; one
    starting with '+' or '-' is refused unless it is a plain number such as -5 or +3.50, which
    then meets its column's own rules (so a negative amount is refused as negative, not as a
    formula).
    """
    if not isinstance(value, str):
        return
    stripped = value.strip()
    if not stripped or stripped[0] not in SUSPICIOUS_FIRST_CHARACTERS:
        return
    if stripped in EXCEL_ERRORS:
        raise CellProblem(f"holds the spreadsheet error {stripped}")
    first = stripped[0]
    if first in "=@" or (first in "+-" and not PLAIN_NUMBER.fullmatch(stripped)):
        raise CellProblem(
            f"starts with {first!r} like a formula; formulas are not imported, enter the value itself: {_quote(value)}"
        )


def is_blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def code(value: CellValue) -> str | None:
    """An identifier such as a SKU, customer or order code: text of at most 64 characters."""
    result = _as_text(value)
    if result is None:
        return None
    if len(result) > MAX_CODE_CHARS:
        raise CellProblem(f"is longer than {MAX_CODE_CHARS} characters")
    if CODE_FORBIDDEN.search(result):
        raise CellProblem("contains a line break or control character")
    return result


def text(value: CellValue) -> str | None:
    """A name or description of at most 200 characters."""
    result = _as_text(value)
    if result is None:
        return None
    if len(result) > MAX_TEXT_CHARS:
        raise CellProblem(f"is longer than {MAX_TEXT_CHARS} characters")
    if CONTROL_CHARACTERS.search(result):
        raise CellProblem("contains a control character")
    return result


def _as_text(value: CellValue) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise CellProblem(f"is {str(value).upper()}, expected text")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellProblem("is not a finite number")
        if value.is_integer() and abs(value) >= 10**EXCEL_DIGITS:
            raise CellProblem(
                f"is a number of more than {EXCEL_DIGITS} digits, which Excel has already rounded; "
                "format the column as Text and enter it again"
            )
        return str(int(value)) if value.is_integer() else format(value, f".{EXCEL_DIGITS}g")
    raise CellProblem(f"is a date or time ({value}), expected text; format the column as Text")


def money(value: CellValue) -> Decimal | None:
    """CNY with at most two decimals, not negative, at most what an order may reach."""
    return _money(value, MAX_ORDER_AMOUNT)


def unit_price(value: CellValue) -> Decimal | None:
    """CNY for one unit (a price or a cost), with at most two decimals, not negative."""
    return _money(value, MAX_UNIT_PRICE)


def _money(value: CellValue, limit: Decimal) -> Decimal | None:
    number = _as_decimal(value, "an amount like 1234.50 (no currency sign or thousands separator)")
    if number is None:
        return None
    if number != number.quantize(CENT):
        raise CellProblem(f"has more than two decimals: {_quote(value)}")
    if number < 0:
        raise CellProblem(f"must not be negative: {_quote(value)}")
    if number > limit:
        raise CellProblem(f"is too large: {_quote(value)} is above {limit}")
    return number.quantize(CENT)


def whole_number(value: CellValue) -> int | None:
    """An integer such as a number of days, not negative."""
    return _whole_number(value, MAX_WHOLE_NUMBER)


def quantity(value: CellValue) -> int | None:
    """Units of a SKU, not negative, at most what one line or batch may hold."""
    return _whole_number(value, MAX_QUANTITY)


def _whole_number(value: CellValue, limit: int) -> int | None:
    number = _as_decimal(value, "a whole number")
    if number is None:
        return None
    if number != number.to_integral_value():
        raise CellProblem(f"must be a whole number: {_quote(value)}")
    if number < 0:
        raise CellProblem(f"must not be negative: {_quote(value)}")
    if number > limit:
        raise CellProblem(f"is too large: {_quote(value)} is above {limit:,}")
    return int(number)


def _as_decimal(value: CellValue, expected: str) -> Decimal | None:
    if is_blank(value):
        return None
    if isinstance(value, bool | datetime | date | time):
        raise CellProblem(f"is {_quote(value)}, expected {expected}")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellProblem(f"is not a finite number, expected {expected}")
        # What Excel shows: binary noise beyond 15 significant digits is not part of the value.
        return Decimal(format(value, f".{EXCEL_DIGITS}g"))
    stripped = value.strip()
    if not PLAIN_NUMBER.fullmatch(stripped):
        raise CellProblem(f"is {_quote(value)}, expected {expected}")
    return Decimal(stripped)


def timestamp(value: CellValue) -> datetime | None:
    """A date or a date and time; times without a zone are Asia/Shanghai, a bare date is its midnight."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        result = value if value.tzinfo else value.replace(tzinfo=BUSINESS_TIMEZONE)
    elif isinstance(value, date):
        result = datetime.combine(value, time(0), BUSINESS_TIMEZONE)
    elif isinstance(value, str):
        result = _parse_date_time(value)
        if result.tzinfo is None:
            result = result.replace(tzinfo=BUSINESS_TIMEZONE)
    else:
        raise CellProblem(f"is {_quote(value)}, expected a date like 2026-03-01 or 2026-03-01 14:30")
    _check_plausible(result.astimezone(BUSINESS_TIMEZONE).date(), value)
    return result


def calendar_date(value: CellValue) -> date | None:
    """A date without a time of day."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise CellProblem(f"is {_quote(value)}, expected a date without a time")
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, str):
        parsed = _parse_date_time(value)
        if parsed.time() != time(0):
            raise CellProblem(f"is {_quote(value)}, expected a date without a time")
        result = parsed.date()
    else:
        raise CellProblem(f"is {_quote(value)}, expected a date like 2026-03-01")
    _check_plausible(result, value)
    return result


def _parse_date_time(value: str) -> datetime:
    """ISO 8601 through the standard library's fast parser, other spellings through DATE_TIME;
    the result is naive unless the text names a zone."""
    stripped = value.strip()
    if ISO_DATE_START.match(stripped):
        try:
            return datetime.fromisoformat(stripped)
        except ValueError:
            pass  # not ISO after all, or not a real date: DATE_TIME says which
    match = DATE_TIME.fullmatch(stripped)
    if match is None:
        raise CellProblem(f"is {_quote(value)}, expected a date like 2026-03-01 or 2026-03-01 14:30")
    parts = match.groupdict()
    try:
        naive = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0").ljust(6, "0")),
        )
    except ValueError as error:
        raise CellProblem(f"is not a real date or time: {_quote(value)}") from error
    return naive if parts["offset"] is None else naive.replace(tzinfo=_zone(parts["offset"]))


def _zone(offset: str) -> tzinfo:
    if offset == "Z":
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _check_plausible(day: date, value: CellValue) -> None:
    if day < EARLIEST_DATE or day > LATEST_DATE:
        raise CellProblem(
            f"is {_quote(value)}, outside {EARLIEST_DATE.year}–{LATEST_DATE.year}: check the year (and the column)"
        )


def _quote(value: CellValue) -> str:
    shown = value if isinstance(value, str) else str(value)
    return repr(shown[:40] + "…" if len(shown) > 40 else shown)
