"""Intervals calibrated on the backtest's scaled errors: hand-computed bounds, the last origin
calibrated on the earlier ones only, and a coverage near the nominal one where the models' own
conformal intervals fall short; for weeks and months, the errors of the backtest's period sums,
scaled to the days a period covers, with the days' spreads added up where those are missing."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from models.forecasting import pipeline
from models.forecasting.intervals import (
    MIN_CALIBRATION_ERRORS,
    PERIOD_ERROR_GROWTH,
    calibrate_backtest,
    calibrate_forecasts,
    calibrate_periods,
    error_quantiles,
    period_rollups,
    period_scales,
    period_sum_errors,
    scaled_errors,
    summed_with_independent_days,
    with_period_bounds,
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


def _window_errors(uid: str, cutoff: pd.Timestamp, origin: int, weekly_errors: list[float]) -> pd.DataFrame:
    """`scaled_errors` rows of one series × origin: forecast 3 a day, each week's actuals off by
    weekly_errors[week] units in all (spread evenly over its days)."""
    days = len(weekly_errors) * 7
    y = 3.0 + np.repeat(np.asarray(weekly_errors, dtype=float) / 7.0, 7)
    return pd.DataFrame(
        {
            "unique_id": uid,
            "model": "adida",
            "cutoff": cutoff,
            "ds": pd.date_range(cutoff + pd.Timedelta(days=1), periods=days),
            "y": y,
            "yhat": 3.0,
            "scale": 1.0,
            "pool": "smooth",
            "origin": origin,
        }
    )


def test_the_period_scale_is_the_mean_difference_between_consecutive_weeks_before_the_origin() -> None:
    days = pd.date_range("2026-01-01", periods=30)
    series = pd.concat(
        [
            # Weeks counted back from the 30th: days 24-30, 17-23, 10-16, 3-9 (days 1-2 are left
            # over); their sums 7·(n−3) apart for y = n on day n: 49 each.
            pd.DataFrame({"unique_id": "1|A", "ds": days, "y": np.arange(1.0, 31.0)}),
            # The same every week: no difference, no scale.
            pd.DataFrame({"unique_id": "1|B", "ds": days, "y": 1.0}),
            # Two whole weeks make one difference: too few.
            pd.DataFrame({"unique_id": "1|C", "ds": days[:14], "y": np.arange(14.0)}),
        ],
        ignore_index=True,
    )
    origins = pd.DataFrame(
        {"unique_id": ["1|A", "1|A", "1|B", "1|C"], "cutoff": [days[29], days[20], days[29], days[13]]}
    )
    scales = period_scales(series, origins).set_index(["unique_id", "cutoff"])["scale"]
    assert scales.loc[("1|A", days[29])] == pytest.approx(49.0)
    # At the 21st: weeks 15-21, 8-14, 1-7.
    assert scales.loc[("1|A", days[20])] == pytest.approx(49.0)
    assert np.isnan(scales.loc[("1|B", days[29])])
    assert np.isnan(scales.loc[("1|C", days[13])])


def test_period_errors_are_the_scaled_errors_of_each_weeks_and_the_28_days_sums() -> None:
    cutoff = pd.Timestamp("2026-03-01")
    errors = pd.concat(
        [
            _window_errors("1|A", cutoff, 1, [7.0, -7.0, 14.0, 0.0]),
            # A backtest three weeks long fills no fourth week and no 28 days.
            _window_errors("1|B", cutoff, 1, [1.0, 2.0, 3.0]),
        ],
        ignore_index=True,
    )
    scales = pd.DataFrame({"unique_id": ["1|A", "1|B"], "cutoff": cutoff, "scale": [2.0, 0.5]})
    sums = (
        period_sum_errors(errors, scales)
        .set_index(["unique_id", "period_grain", "first_day"])
        .sort_index()["scaled_error"]
    )
    assert sums.loc["1|A", "week"].tolist() == pytest.approx([3.5, -3.5, 7.0, 0.0])
    assert sums.loc["1|A", "month"].tolist() == pytest.approx([7.0])
    assert sums.loc["1|B", "week"].tolist() == pytest.approx([2.0, 4.0, 6.0])
    assert ("1|B", "month") not in sums.index.droplevel("first_day")


def _period_errors_of(series_ids: list[str], origins: int) -> pd.DataFrame:
    """Weekly error sums of 0, 1, 2, ... units in turn over every series × origin × week."""
    frames, units = [], 0.0
    for uid in series_ids:
        for origin in range(1, origins + 1):
            weekly_errors = [units + week for week in range(4)]
            units += 4
            frames.append(
                # Origins a week apart from the 36th day of `_history`, where it has five weeks.
                _window_errors(uid, pd.Timestamp("2026-01-29") + pd.Timedelta(days=7 * origin), origin, weekly_errors)
            )
    return pd.concat(frames, ignore_index=True)


def _daily_forecasts(uid: str, first_day: pd.Timestamp, model: str = "adida") -> pd.DataFrame:
    """90 days of 3 a day, each day's 95 % bound 1.96 above (σ = 1)."""
    days = pd.date_range(first_day, periods=90)
    z_95 = NormalDist().inv_cdf(0.975)
    return pd.DataFrame({"unique_id": uid, "model": model, "ds": days, "yhat": 3.0}).assign(
        yhat_lower_80=3.0, yhat_upper_80=3.0, yhat_lower_95=3.0 - z_95, yhat_upper_95=3.0 + z_95
    )


def test_period_bounds_are_the_period_forecast_plus_its_sums_error_quantiles_times_the_scale() -> None:
    # Every series' weeks differ by 2 (its period scale); the last day is 20 May 2026, a Wednesday.
    series = _history()
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": "smooth"})
    errors = _period_errors_of(SERIES_IDS, origins=13)  # 208 weekly sums, 52 of 28 days
    periods = period_rollups(_daily_forecasts("1|A", pd.Timestamp("2026-05-21")))
    calibrated = calibrate_periods(periods, errors, series, pools).set_index(["period_grain", "period_start"])

    # Weekly sums err by 0 .. 207 units, over the period scale of 2.
    weekly = np.arange(208.0) / 2.0
    week = calibrated.loc[("week", pd.Timestamp("2026-05-25"))]
    assert (week["days_covered"], week["yhat"]) == (7, 21.0)
    assert week["yhat_upper_80"] == pytest.approx(21.0 + 2.0 * np.quantile(weekly, 0.90))
    assert week["yhat_lower_80"] == pytest.approx(21.0 + 2.0 * np.quantile(weekly, 0.10))
    assert week["yhat_upper_95"] == pytest.approx(21.0 + 2.0 * np.quantile(weekly, 0.975))
    # 28-day sums: each series × origin's four weeks, 16u + 6 for u = 0 .. 51.
    monthly = (16.0 * np.arange(52.0) + 6.0) / 2.0
    june = calibrated.loc[("month", pd.Timestamp("2026-06-01"))]
    assert (june["days_covered"], june["yhat"]) == (30, 90.0)
    assert june["yhat_upper_80"] == pytest.approx(
        90.0 + 2.0 * (30 / 28) ** PERIOD_ERROR_GROWTH * np.quantile(monthly, 0.9)
    )


def test_a_period_cut_short_takes_its_windows_quantiles_scaled_down_by_its_days() -> None:
    series = _history()
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": "smooth"})
    errors = _period_errors_of(SERIES_IDS, origins=13)
    periods = period_rollups(_daily_forecasts("1|A", pd.Timestamp("2026-05-21")))
    calibrated = calibrate_periods(periods, errors, series, pools)
    weeks = calibrated[calibrated["period_grain"] == "week"].set_index("days_covered")
    # Thursday 21 May to Sunday 24 May: 4 days; the 90th day, 18 August, is a Tuesday: 2 days.
    assert sorted(weeks.index.unique()) == [2, 4, 7]
    full_spread = weeks.loc[7, "yhat_upper_80"].iloc[0] - 21.0
    for days in (2, 4):
        spread = weeks.loc[days, "yhat_upper_80"] - 3.0 * days
        assert spread == pytest.approx(full_spread * (days / 7) ** PERIOD_ERROR_GROWTH)
    months = calibrated[calibrated["period_grain"] == "month"]
    assert months["days_covered"].tolist() == [11, 30, 31, 18]
    assert months["yhat"].tolist() == pytest.approx([33.0, 90.0, 93.0, 54.0])


def test_without_a_scale_or_enough_errors_a_period_adds_up_its_days_spreads() -> None:
    series = _history()
    # Series D sold the same every day before its forecast: its weeks do not differ, no scale.
    series.loc[series["unique_id"] == "1|D", "y"] = 5.0
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": "smooth"})
    errors = _period_errors_of(SERIES_IDS[:3], origins=5)  # 60 weekly sums, 15 of 28 days
    forecasts = pd.concat(
        [
            _daily_forecasts("1|A", pd.Timestamp("2026-05-21")),
            _daily_forecasts("1|C", pd.Timestamp("2026-05-21"), model="tsb"),  # no errors of its option
            _daily_forecasts("1|D", pd.Timestamp("2026-05-21")),
        ],
        ignore_index=True,
    )
    periods = period_rollups(forecasts)
    calibrated = calibrate_periods(periods, errors, series, pools).set_index(
        ["unique_id", "period_grain", "period_start"]
    )
    whole_week = ("week", pd.Timestamp("2026-05-25"))
    # Seven days of σ = 1, as if independent: σ √7 around 21.
    independent = {
        "yhat_upper_80": 21.0 + NormalDist().inv_cdf(0.9) * np.sqrt(7),
        "yhat_lower_95": 21.0 - NormalDist().inv_cdf(0.975) * np.sqrt(7),
    }
    for uid in ("1|C", "1|D"):
        for column, value in independent.items():
            assert calibrated.loc[(uid, *whole_week), column] == pytest.approx(value)
    assert calibrated.loc[("1|A", *whole_week), "yhat_upper_80"] != pytest.approx(independent["yhat_upper_80"])
    # 15 sums of 28 days are too few: A's months keep their days' spreads too.
    a_july = calibrated.loc[("1|A", "month", pd.Timestamp("2026-07-01"))]
    assert a_july["yhat_upper_80"] == pytest.approx(93.0 + NormalDist().inv_cdf(0.9) * np.sqrt(31))


def test_a_pool_with_too_few_period_sums_takes_the_options_sums_over_every_pool() -> None:
    series = _history()
    pools = pd.DataFrame({"unique_id": SERIES_IDS, "pool": ["smooth", "smooth", "smooth", "young"]})
    errors = _period_errors_of(SERIES_IDS, origins=13).merge(pools, on="unique_id", suffixes=("_unused", ""))
    errors = errors.drop(columns="pool_unused")
    periods = period_rollups(_daily_forecasts("1|D", pd.Timestamp("2026-05-21")))
    week = (
        calibrate_periods(periods, errors, series, pools)
        .set_index(["period_grain", "period_start"])
        .loc[("week", pd.Timestamp("2026-05-25"))]
    )
    # D's own pool holds 52 weekly sums, enough; its 13 sums of 28 days are not, so its months
    # take the 52 of every pool.
    assert week["yhat_upper_80"] == pytest.approx(21.0 + 2.0 * np.quantile(np.arange(156.0, 208.0) / 2.0, 0.9))
    month = (
        calibrate_periods(periods, errors, series, pools)
        .set_index(["period_grain", "period_start"])
        .loc[("month", pd.Timestamp("2026-06-01"))]
    )
    monthly = (16.0 * np.arange(52.0) + 6.0) / 2.0
    assert month["yhat_upper_80"] == pytest.approx(
        90.0 + 2.0 * (30 / 28) ** PERIOD_ERROR_GROWTH * np.quantile(monthly, 0.9)
    )


def test_on_intermittent_sales_weekly_intervals_hold_nearer_their_share_than_the_days_added_up(monkeypatch) -> None:
    sales = pd.concat(
        [sales_rows(1, f"I{n}", intermittent(seed=n, rate=0.3, max_size=6)) for n in range(24)]
        + [sales_rows(1, f"W{n}", weekly(seed=100 + n)) for n in range(6)],
        ignore_index=True,
    )
    captured = {}

    def capturing_scaled_errors(rows: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
        captured.update(rows=rows, series=series, errors=scaled_errors(rows, series, pools))
        return captured["errors"]

    monkeypatch.setattr(pipeline, "scaled_errors", capturing_scaled_errors)
    backtests = forecast_network(sales, {1: AS_OF[1]}).backtests
    rows, series, errors = captured["rows"], captured["series"], captured["errors"]
    chosen = backtests.loc[backtests["chosen"], ["merchant_id", "sku_code", "model"]].drop_duplicates()
    chosen = chosen.assign(unique_id=chosen["merchant_id"].astype(str) + "|" + chosen["sku_code"])

    # The last origin's four weeks of the chosen options: their days' bounds calibrated on the
    # earlier origins and added up, against the earlier origins' errors of weekly sums.
    last = errors["origin"] == errors["origin"].max()
    scales = period_scales(series, errors[["unique_id", "cutoff"]].drop_duplicates())
    days = pipeline.nested_bounds(calibrate_backtest(rows, errors)).join(errors["pool"])[last]
    days = days.merge(chosen[["unique_id", "model"]]).merge(scales, on=["unique_id", "cutoff"])
    days_ahead = (pd.to_datetime(days["ds"]) - pd.to_datetime(days["cutoff"])).dt.days
    days = days.assign(period_grain="week", week=(days_ahead - 1) // 7)
    keys = ["unique_id", "model", "period_grain", "week", "pool", "scale"]
    added_up = summed_with_independent_days(days, keys).merge(days.groupby(keys, as_index=False)["y"].sum())
    quantiles = error_quantiles(period_sum_errors(errors[~last], scales), horizon="period_grain")
    from_sums = with_period_bounds(added_up, quantiles)

    def coverage(weeks: pd.DataFrame, level: str) -> float:
        return weeks["y"].between(weeks[f"yhat_lower_{level}"], weeks[f"yhat_upper_{level}"]).mean()

    assert len(added_up) == 30 * 4
    # Added up, the days' 80 % bounds held 92 % of these weeks; from the sums' errors, 83 %.
    assert abs(coverage(from_sums, "80") - 0.8) < abs(coverage(added_up, "80") - 0.8)
    assert 0.7 <= coverage(from_sums, "80") <= 0.9
    assert coverage(from_sums, "95") >= 0.9
