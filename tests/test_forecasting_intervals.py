"""Intervals calibrated on the backtest's scaled errors: hand-computed bounds, the last origin
calibrated on the earlier ones only, and a coverage near the nominal one where the models' own
conformal intervals fall short."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.forecasting.intervals import (
    MIN_CALIBRATION_ERRORS,
    calibrate_backtest,
    calibrate_forecasts,
    error_quantiles,
    scaled_errors,
)
from models.forecasting.pipeline import forecast_network
from tests.test_forecasting_pipeline import AS_OF, intermittent, sales_rows, weekly

BOUNDS = ["yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]


def test_bounds_are_the_forecast_plus_the_pools_scaled_error_quantiles() -> None:
    # 100 errors -5 .. 94 (over a scale of 1) in one pool: quantiles by linear interpolation.
    errors = pd.DataFrame({"pool": "smooth", "model": "adida", "bucket": "1-7", "scaled_error": np.arange(-5.0, 95.0)})
    [row] = error_quantiles(errors).to_dict("records")
    assert row["qlower_80"] == pytest.approx(-5 + 0.10 * 99)
    assert row["qupper_80"] == pytest.approx(-5 + 0.90 * 99)
    assert row["qlower_95"] == pytest.approx(-5 + 0.025 * 99)
    assert row["qupper_95"] == pytest.approx(-5 + 0.975 * 99)


def test_a_pool_with_too_few_errors_takes_the_options_errors_over_every_pool() -> None:
    many = pd.DataFrame({"pool": "lumpy", "model": "adida", "bucket": "1-7", "scaled_error": np.linspace(0, 1, 200)})
    few = pd.DataFrame(
        {"pool": "young", "model": "adida", "bucket": "1-7", "scaled_error": [50.0] * (MIN_CALIBRATION_ERRORS - 1)}
    )
    lone = pd.DataFrame({"pool": "young", "model": "tsb", "bucket": "1-7", "scaled_error": [1.0] * 3})
    quantiles = error_quantiles(pd.concat([many, few, lone])).set_index(["pool", "model"])
    overall = np.concatenate([many["scaled_error"], few["scaled_error"]])
    assert quantiles.loc[("young", "adida"), "qupper_80"] == pytest.approx(np.quantile(overall, 0.9))
    assert quantiles.loc[("lumpy", "adida"), "qupper_80"] == pytest.approx(0.9)
    assert ("young", "tsb") not in quantiles.index, "an option with too few errors anywhere keeps its own bounds"


SERIES_IDS = ["1|A", "1|B", "1|C", "1|D"]


def _history(days: int = 140) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01")
    frames = []
    for uid, level in zip(SERIES_IDS, (2.0, 4.0, 6.0, 8.0), strict=True):
        y = level + np.tile([0.0, 2.0], days // 2)  # weekly-naive error 2 on every day: scale 2
        frames.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=days), "y": y}))
    return pd.concat(frames, ignore_index=True)


def _offsets(spread: float) -> np.ndarray:
    return np.tile([-1.0, -0.5, 0.0, 0.5, 1.0, -0.75, 0.75], 4) * spread


def _rows(series: pd.DataFrame, error_at: dict[int, float]) -> pd.DataFrame:
    """Backtest rows of one flat model at three origins 28 days apart: forecast 3, each week's
    actuals spread from −error_at[origin] to +error_at[origin] around it."""
    frames = []
    last_day = series["ds"].max()
    for origin, cutoff in enumerate(last_day - pd.to_timedelta([84, 56, 28], unit="D"), start=1):
        for uid in series["unique_id"].unique():
            days = pd.date_range(cutoff + pd.Timedelta(days=1), periods=28)
            frames.append(
                pd.DataFrame(
                    {"unique_id": uid, "ds": days, "cutoff": cutoff, "model": "adida", "yhat": 3.0}
                    | {bound: 3.0 for bound in BOUNDS}
                ).assign(y=3.0 + _offsets(error_at[origin]))
            )
    return pd.concat(frames, ignore_index=True)


def _calibrated_backtest(rows: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    return calibrate_backtest(rows, scaled_errors(rows, series, pools))


def test_the_last_origin_is_calibrated_on_the_earlier_origins_only() -> None:
    series = _history()
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": "smooth"})
    calibrated = _calibrated_backtest(_rows(series, {1: 1.0, 2: 1.0, 3: 1.0}), series, pools)
    wilder_last = _calibrated_backtest(_rows(series, {1: 1.0, 2: 1.0, 3: 9.0}), series, pools)
    wilder_first = _calibrated_backtest(_rows(series, {1: 9.0, 2: 1.0, 3: 1.0}), series, pools)

    def last_origin(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows["cutoff"] == rows["cutoff"].max()][BOUNDS].reset_index(drop=True)

    pd.testing.assert_frame_equal(last_origin(calibrated), last_origin(wilder_last))
    assert (last_origin(wilder_first)["yhat_upper_95"] > last_origin(calibrated)["yhat_upper_95"]).all()
    # The first week ahead: the earlier origins' errors of days 1-7 (four series, two origins),
    # over the scale of 2.
    first_week_errors = np.tile(_offsets(1.0)[:7] / 2.0, len(SERIES_IDS) * 2)
    day_1 = last_origin(calibrated).iloc[0]
    assert day_1["yhat_upper_95"] == pytest.approx(3.0 + 2.0 * np.quantile(first_week_errors, 0.975))
    assert day_1["yhat_lower_80"] == pytest.approx(3.0 + 2.0 * np.quantile(first_week_errors, 0.10))


def test_the_forecast_is_calibrated_on_every_origin_and_days_past_the_backtest_take_the_last_bucket() -> None:
    series = _history()
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": "smooth"})
    rows = _rows(series, {1: 1.0, 2: 1.0, 3: 9.0})
    days = pd.date_range(series["ds"].max() + pd.Timedelta(days=1), periods=90)
    forecasts = pd.DataFrame(
        {"unique_id": "1|A", "model": "adida", "ds": days, "yhat": 3.0} | {bound: 3.0 for bound in BOUNDS}
    )
    calibrated = calibrate_forecasts(forecasts, scaled_errors(rows, series, pools), series, pools)
    assert list(calibrated.columns) == list(forecasts.columns)
    # The last origin's wide errors count: the 95 % bound reaches past the earlier ±1.
    assert (calibrated["yhat_upper_95"] > 4.5).all()
    far = calibrated[calibrated["ds"] > days[27]]
    day_15 = calibrated[calibrated["ds"] == days[14]]
    assert far[BOUNDS].eq(day_15[BOUNDS].iloc[0]).all().all()


def test_on_intermittent_sales_the_chosen_intervals_hold_about_their_share_of_the_days() -> None:
    sales = pd.concat(
        [sales_rows(1, f"I{n}", intermittent(seed=n, rate=0.3, max_size=6)) for n in range(24)]
        + [sales_rows(1, f"W{n}", weekly(seed=100 + n)) for n in range(6)],
        ignore_index=True,
    )
    backtests = forecast_network(sales, {1: AS_OF[1]}).backtests
    last = backtests[(backtests["origin"] == backtests["origin"].max()) & (backtests["horizon_bucket"] == "all")]
    chosen = last[last["chosen"]]
    coverage = {level: np.average(chosen[f"coverage_{level}"], weights=chosen["n_points"]) for level in (80, 95)}
    # The models' own intervals held 64 % and 69 % of these days (two conformal windows).
    assert 0.70 <= coverage[80] <= 0.95
    assert coverage[95] >= 0.85
