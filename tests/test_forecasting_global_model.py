"""The global model's year-back features: what they hold, that nothing after the origin feeds them,
and that with two years of history LightGBM sees last year's peak coming; its backtest's conformal
intervals; its threads setting and its windows fitted side by side."""

import warnings

import numpy as np
import pandas as pd
import pytest

from models.forecasting.demand_classes import classify_demand
from models.forecasting.global_model import (
    GLOBAL_MODEL,
    THREADS_SETTING,
    YEAR_BACK_FEATURES,
    backtest_and_forecast_global,
    backtest_global,
    engine,
    fit_workers,
    forecast_global,
    history_features_may_be_missing,
    threads,
    usable_cores,
    with_conformal_intervals,
    year_back_features,
)
from models.forecasting.pipeline import series_and_history
from tests.test_forecasting_pipeline import AS_OF, PEAK_DAYS_AHEAD, planting_peak, sales_rows

DAYS = 800


def counting_series(days: int = DAYS) -> pd.DataFrame:
    """One series whose demand on its n-th day is n, so every feature names the days it read."""
    return pd.DataFrame(
        {"unique_id": "1|A", "ds": pd.date_range("2024-01-01", periods=days), "y": np.arange(days, dtype=float)}
    )


def test_year_back_features_read_the_same_weekday_and_the_fortnight_around_it_a_year_back() -> None:
    features = year_back_features(counting_series(), days_ahead=90).set_index("ds")
    assert len(features) == DAYS + 90
    day = features.index[500]
    # Day n: the demand of day n − 364, and the mean of days n − 370 … n − 357.
    assert features.loc[day, "year_back_demand"] == 500 - 364
    assert features.loc[day, "year_back_fortnight"] == np.mean(np.arange(500 - 370, 500 - 357 + 1))
    # The first year has no year back; the days ahead do, from the history.
    assert features.iloc[:364]["year_back_demand"].isna().all()
    assert features.iloc[:370]["year_back_fortnight"].isna().all()
    assert features.iloc[DAYS:][YEAR_BACK_FEATURES].notna().all().all()
    assert features.iloc[-1]["year_back_demand"] == DAYS + 90 - 1 - 364


def test_year_back_features_of_a_day_never_read_the_357_days_before_it() -> None:
    whole = year_back_features(counting_series()).set_index("ds")
    changed = counting_series()
    changed.loc[600:, "y"] = -1.0
    # Days up to 600 + 356 read nothing from day 600 on, so changing those days moves none of them.
    pd.testing.assert_frame_equal(
        year_back_features(changed).set_index("ds").iloc[: 600 + 357], whole.iloc[: 600 + 357]
    )


def test_with_two_years_of_history_the_global_model_sees_last_years_peak_coming() -> None:
    sales = pd.concat([sales_rows(1, f"FERTILISER{i}", planting_peak(300 + i, 0.6 + 0.2 * i)) for i in range(6)])
    as_of = {1: AS_OF[1]}
    series, history = series_and_history(sales, as_of)
    classes = classify_demand(series)
    assert history.groupby("unique_id").size().min() > series.groupby("unique_id").size().max()

    def rise(with_history: pd.DataFrame | None) -> float:
        """Forecast units a day in the peak window over those a day in the first fortnight ahead."""
        rows = backtest_global(series, classes, history=with_history)
        forecasts = forecast_global(series, rows, history=with_history)
        ahead = (forecasts["ds"] - pd.Timestamp(AS_OF[1])).dt.days
        first, last = PEAK_DAYS_AHEAD
        peak = forecasts.loc[(ahead > first) & (ahead <= last), "yhat"].sum() / (last - first)
        return peak / (forecasts.loc[ahead <= 14, "yhat"].sum() / 14)

    # The peak window is six times as busy a day as the fortnight before it. From one year of
    # series the year back is missing and the model expects the recent level; from two it rises.
    assert rise(history) >= 3.0
    assert rise(None) < 2.0


def test_only_the_features_read_from_the_past_may_be_missing_without_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with history_features_may_be_missing():
            warnings.warn(
                "Found null values in rolling_mean_lag7_window_size28, year_back_demand, year_back_fortnight.",
                UserWarning,
                stacklevel=1,
            )
            warnings.warn("Found null values in lag7, lag28, year_back_demand.", UserWarning, stacklevel=1)
            warnings.warn("Found null values in lag28, dayofweek.", UserWarning, stacklevel=1)
            warnings.warn("Found null values in lag28_extra.", UserWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == [
        "Found null values in lag28, dayofweek.",
        "Found null values in lag28_extra.",
    ]


def test_lightgbm_runs_on_one_thread_unless_the_setting_names_more() -> None:
    assert threads({}) == 1
    assert threads({THREADS_SETTING: " "}) == 1
    assert threads({THREADS_SETTING: "2"}) == 2
    for wrong in ("0", "-1", "1.5", "two"):
        with pytest.raises(ValueError, match=THREADS_SETTING):
            threads({THREADS_SETTING: wrong})


def test_two_threads_give_the_very_forecasts_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    sales = pd.concat([sales_rows(1, f"FERTILISER{i}", planting_peak(400 + i, 0.5 + 0.3 * i)) for i in range(4)])
    series, history = series_and_history(sales, {1: AS_OF[1]})
    classes = classify_demand(series)

    def backtest_on(thread_count: str) -> pd.DataFrame:
        monkeypatch.setenv(THREADS_SETTING, thread_count)
        assert engine().models[GLOBAL_MODEL].get_params()["n_jobs"] == int(thread_count)
        return backtest_global(series, classes, history=history)

    # deterministic=True: the threads change how fast the trees grow, never which trees.
    pd.testing.assert_frame_equal(backtest_on("2"), backtest_on("1"), check_exact=True)


def test_windows_fitted_side_by_side_give_the_very_forecasts_of_one_at_a_time() -> None:
    sales = pd.concat([sales_rows(1, f"FERTILISER{i}", planting_peak(400 + i, 0.5 + 0.3 * i)) for i in range(4)])
    series, history = series_and_history(sales, {1: AS_OF[1]})
    classes = classify_demand(series)
    one_at_a_time = backtest_global(series, classes, history=history, workers=1)
    assert one_at_a_time["cutoff"].nunique() == 3
    pd.testing.assert_frame_equal(
        backtest_global(series, classes, history=history, workers=3), one_at_a_time, check_exact=True
    )


def test_the_final_fit_beside_the_windows_gives_the_very_rows_and_forecasts_of_one_after_the_other() -> None:
    sales = pd.concat([sales_rows(1, f"FERTILISER{i}", planting_peak(400 + i, 0.5 + 0.3 * i)) for i in range(4)])
    series, history = series_and_history(sales, {1: AS_OF[1]})
    classes = classify_demand(series)
    rows = backtest_global(series, classes, history=history, workers=1)
    forecasts = forecast_global(series, rows, history=history)
    assert forecasts["unique_id"].nunique() == 4
    together_rows, together_forecasts = backtest_and_forecast_global(series, classes, history=history, workers=2)
    pd.testing.assert_frame_equal(together_rows, rows, check_exact=True)
    pd.testing.assert_frame_equal(together_forecasts, forecasts, check_exact=True)


def test_the_global_model_fits_side_by_side_one_per_usable_core_and_never_more_than_its_fits() -> None:
    assert fit_workers() == min(6, usable_cores())
    assert fit_workers(5) == min(5, usable_cores())
    assert fit_workers(1) == 1


def test_each_origins_intervals_come_from_the_errors_of_the_two_windows_before_it() -> None:
    cutoffs = pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-05"])
    windows = pd.DataFrame(
        {
            "unique_id": "1|A",
            "cutoff": cutoffs.repeat(2),
            "ds": [cutoff + pd.Timedelta(days=ahead) for cutoff in cutoffs for ahead in (1, 2)],
            # The two calibration windows erred by 1 and 2 on their first and second days, then by 3 and 0.
            "y": [11.0, 2.0, 7.0, 4.0, 12.0, 4.0],
            "yhat": [10.0, 4.0, 10.0, 4.0, 10.0, 5.0],
        }
    )
    rows = with_conformal_intervals(windows, h=2)
    assert rows["cutoff"].tolist() == [cutoffs[2]] * 2
    # A day ahead: yhat 10 ± 1 and ± 3, so 7, 9, 11, 13; two days: 5 ± 2 and ± 0, so 3, 5, 5, 7.
    # Quantiles interpolate linearly between them (the 10 % one sits 0.3 of the way from the first).
    assert rows["yhat_lower_80"].tolist() == pytest.approx([7.6, 3.6])
    assert rows["yhat_upper_80"].tolist() == pytest.approx([12.4, 6.4])
    assert rows["yhat_lower_95"].tolist() == pytest.approx([7.15, 3.15])
    assert rows["yhat_upper_95"].tolist() == pytest.approx([12.85, 6.85])


def test_the_global_backtest_needs_origins_one_horizon_apart() -> None:
    series = counting_series()
    with pytest.raises(ValueError, match="28 days apart, not 7"):
        backtest_global(series, classify_demand(series), step_size=7)
