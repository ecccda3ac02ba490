"""The calendar the simulated market follows: farming seasons, festivals, weekdays, market prices.

Festival dates come from the `holidays` package's China calendar (lunar dates move every year).
Every curve is an array with one value per simulated day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays
import numpy as np

from transactional.simulator.reference import Leaf


@dataclass(frozen=True)
class SeasonProfile:
    base: float
    bumps: tuple[tuple[int, float, float], ...]  # (day of year of the peak, height, width in days)
    spring_festival: float  # extra demand at its peak, about a week before 春节
    mid_autumn: float  # extra demand just before 中秋


# Farming calendar of the North China plain: top-dressing and seed before spring planting
# (Mar-Apr), pesticide through summer, fertiliser and wheat seed again for autumn sowing.
PROFILES: dict[str, SeasonProfile] = {
    "fertiliser": SeasonProfile(0.45, ((75, 2.5, 22), (275, 1.2, 15), (190, 0.5, 15)), 0.0, 0.0),
    "seed": SeasonProfile(0.3, ((60, 3.0, 20), (270, 1.5, 12)), 0.0, 0.0),
    "pesticide": SeasonProfile(0.3, ((180, 2.2, 35), (110, 0.6, 15)), 0.0, 0.0),
    "staples": SeasonProfile(1.0, (), 0.8, 0.3),
    "snacks": SeasonProfile(1.0, (), 2.0, 1.0),
    "drinks": SeasonProfile(0.9, ((200, 0.5, 30),), 2.0, 0.8),
    "household": SeasonProfile(1.0, (), 0.6, 0.0),
    "personal_care": SeasonProfile(1.0, ((200, 0.2, 40),), 0.4, 0.0),
    "vegetables": SeasonProfile(1.0, ((20, 0.2, 30),), 0.6, 0.2),
    "fruit": SeasonProfile(0.8, ((210, 0.6, 40),), 0.8, 0.6),
}

WEEKDAY_TRAFFIC = (0.94, 0.90, 0.95, 1.0, 1.06, 1.12, 1.03)  # Monday first: weekend market days


@dataclass(frozen=True)
class Calendar:
    days: tuple[date, ...]
    spring_festivals: tuple[date, ...]
    mid_autumns: tuple[date, ...]

    def __len__(self) -> int:
        return len(self.days)

    def years_since_start(self) -> np.ndarray:
        return np.arange(len(self.days)) / 365.25


def build_calendar(first: date, last: date) -> Calendar:
    years = list(range(first.year - 1, last.year + 2))
    china = holidays.country_holidays("CN", years=years, language="en_US")
    spring = _first_day_per_year(china, "Spring Festival")
    autumn = _first_day_per_year(china, "Mid-Autumn")
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    return Calendar(days, spring, autumn)


def _first_day_per_year(calendar: holidays.HolidayBase, name: str) -> tuple[date, ...]:
    dates = sorted(day for day, names in calendar.items() if name in names and "observed" not in names)
    firsts: dict[int, date] = {}
    for day in dates:
        firsts.setdefault(day.year, day)
    if not firsts:
        raise RuntimeError(f"the holidays package has no {name} dates")
    return tuple(firsts.values())


def _days_until_next(days: tuple[date, ...], festivals: tuple[date, ...]) -> np.ndarray:
    ordinals = np.array([day.toordinal() for day in days])
    festival_ordinals = np.array([festival.toordinal() for festival in festivals])
    position = np.searchsorted(festival_ordinals, ordinals)
    has_next = position < len(festival_ordinals)
    following = festival_ordinals[np.minimum(position, len(festival_ordinals) - 1)]
    return np.where(has_next, following - ordinals, 10_000)


def _yearly_shape(profile: SeasonProfile) -> np.ndarray:
    """Demand by day of year (1..366), scaled to average 1 over a year."""
    day_of_year = np.arange(1, 367)
    shape = np.full(366, profile.base)
    for peak, height, width in profile.bumps:
        distance = np.abs(day_of_year - peak)
        distance = np.minimum(distance, 365 - distance)
        shape += height * np.exp(-0.5 * (distance / width) ** 2)
    return shape / shape[:365].mean()


def seasonal_curve(profile: SeasonProfile, calendar: Calendar) -> np.ndarray:
    day_of_year = np.array([day.timetuple().tm_yday for day in calendar.days])
    curve = _yearly_shape(profile)[day_of_year - 1]
    to_spring = _days_until_next(calendar.days, calendar.spring_festivals)
    to_autumn = _days_until_next(calendar.days, calendar.mid_autumns)
    curve = curve + np.where(
        (to_spring >= 1) & (to_spring <= 30), profile.spring_festival * np.exp(-0.5 * ((to_spring - 8) / 6) ** 2), 0.0
    )
    return curve + np.where(
        (to_autumn >= 1) & (to_autumn <= 15), profile.mid_autumn * np.exp(-0.5 * ((to_autumn - 5) / 3.5) ** 2), 0.0
    )


def store_traffic(calendar: Calendar) -> np.ndarray:
    """Weekday rhythm, and shops mostly shut over the first days of Spring Festival."""
    traffic = np.array([WEEKDAY_TRAFFIC[day.weekday()] for day in calendar.days])
    festival_days = {festival: index for index, festival in enumerate(calendar.spring_festivals)}
    for index, day in enumerate(calendar.days):
        for offset, factor in ((-1, 0.7), (0, 0.35), (1, 0.35), (2, 0.35), (3, 0.7), (4, 0.7), (5, 0.7)):
            if day - timedelta(days=offset) in festival_days:
                traffic[index] *= factor
    return traffic


@dataclass(frozen=True)
class PriceShock:
    day: int  # index of the first day at the new level
    magnitude: float  # relative step, e.g. 0.15 for 15% dearer


def price_index(leaf: Leaf, calendar: Calendar, rng: np.random.Generator) -> tuple[np.ndarray, list[PriceShock]]:
    """A market price multiplier and the shocks injected into it: mean-reverting noise, mild
    inflation, a multi-year commodity cycle, one or two lasting steps (a raw-material shock),
    produce dearer in winter, fertiliser dearer just before spring top-dressing."""
    days = len(calendar)
    persistence, volatility = (0.97, 0.02) if leaf.fresh else (0.995, 0.006)
    noise = rng.normal(0.0, volatility, days)
    log_level = np.zeros(days)
    for index in range(1, days):
        log_level[index] = persistence * log_level[index - 1] + noise[index]
    day_of_year = np.array([day.timetuple().tm_yday for day in calendar.days])
    season = np.zeros(days)
    if leaf.fresh:
        season = 0.2 * np.cos(2 * np.pi * (day_of_year - 20) / 365)
    elif leaf.code.startswith("0101"):
        season = 0.06 * np.exp(-0.5 * ((day_of_year - 60) / 25) ** 2)
    years = calendar.years_since_start()
    cycle = 0.05 * np.sin(2 * np.pi * years / rng.uniform(2.0, 3.5) + rng.uniform(0, 2 * np.pi))
    shocks = []
    steps = np.zeros(days)
    if days > 150:
        for _ in range(int(rng.integers(1, 3))):
            day = int(rng.integers(60, days - 60))
            magnitude = float(rng.choice([-1, 1]) * rng.uniform(0.08, 0.2))
            shocks.append(PriceShock(day, magnitude))
            steps[day:] += np.log1p(magnitude)
    index = np.exp(log_level + 0.02 * years + cycle + steps) * (1 + season)
    return index, sorted(shocks, key=lambda shock: shock.day)
