"""The category's year-back shape over level forecasts: what it multiplies, by how much, and what it may read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.forecasting.seasonality import (
    LEVEL_DAYS,
    SMOOTHING_DAYS,
    YEAR_DAYS,
    categories_with_a_year,
    category_profiles,
    shape_by_year_back,
)

FIRST_DAY = pd.Timestamp("2023-10-01")
DAYS = 800
LAST_DAY = FIRST_DAY + pd.Timedelta(days=599)


def _year_shape(days: pd.DatetimeIndex) -> np.ndarray:
    """A planting peak: 1 a day most of the year, 6 a day from 1 March to 15 April."""
    in_season = ((days.month == 3) | ((days.month == 4) & (days.day <= 15))).astype(float)
    return 1.0 + 5.0 * in_season


def _series(first_day: pd.Timestamp = FIRST_DAY, days: int = DAYS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two fertiliser SKUs following the planting peak, two salt SKUs selling 2 a day all year."""
    dates = pd.date_range(first_day, periods=days, freq="D")
    frames = [
        pd.DataFrame({"unique_id": f"1|F{number}", "ds": dates, "y": _year_shape(dates) * (number + 1)})
        for number in range(2)
    ]
    frames += [pd.DataFrame({"unique_id": f"1|S{number}", "ds": dates, "y": 2.0}) for number in range(2)]
    categories = pd.DataFrame(
        {"unique_id": ["1|F0", "1|F1", "1|S0", "1|S1"], "category": ["化肥", "化肥", "调味品", "调味品"]}
    )
    return pd.concat(frames, ignore_index=True), categories


def _level_forecasts(last_day: pd.Timestamp, horizon: int = 90) -> pd.DataFrame:
    ahead = pd.date_range(last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    return pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": ahead, "yhat": 2.0, "yhat_upper_95": 3.0}) for uid in ("1|F0", "1|S0")],
        ignore_index=True,
    )


def test_every_category_with_a_whole_year_is_shaped_however_mild_its_season() -> None:
    series, categories = _series()
    # Seed SKUs first sold 300 days before the last day: their category has no whole year yet.
    seed_days = pd.date_range(LAST_DAY - pd.Timedelta(days=299), LAST_DAY, freq="D")
    series = pd.concat([series, pd.DataFrame({"unique_id": "1|Z0", "ds": seed_days, "y": 1.0})], ignore_index=True)
    categories = pd.concat([categories, pd.DataFrame({"unique_id": ["1|Z0"], "category": ["种子"]})])
    assert categories_with_a_year(category_profiles(series, categories), LAST_DAY) == ["化肥", "调味品"]


def test_the_factor_is_last_years_day_over_last_years_level() -> None:
    series, categories = _series()
    profiles = category_profiles(series, categories)
    last_day = pd.Timestamp("2025-02-01")
    forecasts = _level_forecasts(last_day)
    shaped = shape_by_year_back(forecasts, pd.Series(last_day, index=forecasts.index), profiles, categories, ["yhat"])

    fertiliser = shaped[shaped["unique_id"] == "1|F0"].set_index("ds")["yhat"]
    # Mid-March a year back sits in the middle of the peak: its smoothed mean demand per SKU is
    # 6 × 1.5 (the two SKUs sell 1× and 2× the shape) against 1.5 over January's level window.
    assert fertiliser[pd.Timestamp("2025-03-20")] == pytest.approx(2.0 * 6.0)
    # Early January a year back, far from the peak: no change.
    assert fertiliser[pd.Timestamp("2025-02-02")] == pytest.approx(2.0)
    # Salt sells the same every day: shaped, by a factor of 1.
    assert shaped[shaped["unique_id"] == "1|S0"]["yhat"].to_numpy() == pytest.approx(2.0)
    # Only the named columns are multiplied.
    assert shaped["yhat_upper_95"].eq(3.0).all()


def test_nothing_after_the_last_day_changes_the_shape() -> None:
    series, categories = _series()
    last_day = pd.Timestamp("2025-02-01")
    changed = series.copy()
    changed.loc[changed["ds"] > last_day, "y"] *= 40.0
    forecasts = _level_forecasts(last_day)
    last_days = pd.Series(last_day, index=forecasts.index)
    observed = shape_by_year_back(forecasts, last_days, category_profiles(series, categories), categories, ["yhat"])
    surged = shape_by_year_back(forecasts, last_days, category_profiles(changed, categories), categories, ["yhat"])
    pd.testing.assert_frame_equal(observed, surged)
    assert observed["yhat"].max() > 2.0


@pytest.mark.parametrize("shaped_days", [0, 1])
def test_the_shape_needs_a_year_and_the_smoothed_level_window_of_history(shaped_days: int) -> None:
    # From New Year 2024 the forecasts reach into last spring's peak; one day short of the history
    # the level window needs, they are left alone.
    days = YEAR_DAYS + LEVEL_DAYS + SMOOTHING_DAYS // 2 - 1 + shaped_days
    first_day = pd.Timestamp("2024-01-01")
    series, categories = _series(first_day, days)
    last_day = first_day + pd.Timedelta(days=days - 1)
    forecasts = _level_forecasts(last_day)
    profiles = category_profiles(series, categories)
    shaped = shape_by_year_back(forecasts, pd.Series(last_day, index=forecasts.index), profiles, categories, ["yhat"])
    assert (shaped["yhat"] != forecasts["yhat"]).any() == bool(shaped_days)
