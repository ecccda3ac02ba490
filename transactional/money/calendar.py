"""Working days for payouts: Monday to Friday, minus Chinese public holidays, plus the weekend
days the State Council declares working days (调休 make-up days), as the `holidays` package's CN
calendar knows them.

That calendar follows the official notices, which appear each November for the coming year;
for later years it estimates the festival dates but cannot know the make-up days, so payout
dates that far ahead treat every weekend as a rest day.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _china_calendar(year: int) -> holidays.HolidayBase:
    # A notice can move a weekend at the end of one year into the next year's schedule (the
    # 2002 Spring Festival made 2001-12-29 a working day), so each year also loads the next.
    return holidays.country_holidays("CN", years=(year, year + 1))


def is_working_day(day: date) -> bool:
    return _china_calendar(day.year).is_working_day(day)


def add_working_days(day: date, working_days: int) -> date:
    """The `working_days`-th working day after `day` (T+n: T itself never counts)."""
    if working_days < 1:
        raise ValueError(f"working_days must be at least 1, not {working_days}")
    remaining = working_days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
