"""The network forecast on synthetic sales: shape, intervals, fallbacks, a choice the last
backtest origin cannot move, and a choice pooled per demand class that no single model beats."""

from __future__ import annotations

from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from models.forecasting.backtest import BACKTEST_HORIZON_DAYS, MIN_ORIGINS
from models.forecasting.demand_classes import classify_demand
from models.forecasting.global_model import (
    GLOBAL_MODEL,
    backtest_global,
    chinese_holiday,
    fit_workers,
    forecast_global,
)
from models.forecasting.pipeline import (
    FALLBACK_MODEL,
    MODEL_VERSION,
    YOUNG_POOL,
    NetworkForecast,
    category_seasons,
    choice_pools,
    chosen_versus_candidates,
    forecast_network,
    nested_bounds,
    network_series,
    series_classes,
)
from models.forecasting.prophet_model import PROPHET_MODEL, backtest_prophet, forecast_prophet, prophet_series_ids
from models.forecasting.selection import DEVIATION_RATIO, ENSEMBLE, strong_deviations
from models.forecasting.series import HORIZON_DAYS, daily_demand_series

AS_OF = {1: date(2026, 10, 31), 2: date(2026, 9, 30)}
HISTORY_DAYS = 240
WEEKLY_PROFILE = np.array([2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 8.0])
BOUNDS_LOWER_TO_UPPER = ["yhat_lower_95", "yhat_lower_80", "yhat", "yhat_upper_80", "yhat_upper_95"]


def sales_rows(merchant_id: int, sku_code: str, quantities: np.ndarray) -> pd.DataFrame:
    """fct_daily_sales-like rows (days with sales only) of a history that ends at the merchant's as_of."""
    days = [AS_OF[merchant_id] - timedelta(days=offset) for offset in range(len(quantities) - 1, -1, -1)]
    frame = pd.DataFrame({"merchant_id": merchant_id, "sku_code": sku_code, "sales_date": days, "quantity": quantities})
    return frame[frame["quantity"] > 0].astype({"quantity": "int64"})


def weekly(seed: int, days: int = HISTORY_DAYS, scale: float = 3.0, noise: float = 1.5) -> np.ndarray:
    random = np.random.RandomState(seed)
    level = np.tile(WEEKLY_PROFILE, days // 7 + 1)[:days] * scale
    return np.maximum(0, np.round(level + random.normal(0.0, noise, days)))


def intermittent(seed: int, days: int = HISTORY_DAYS, rate: float = 0.25, max_size: int = 3) -> np.ndarray:
    random = np.random.RandomState(seed)
    return random.poisson(rate, days) * random.randint(1, max_size + 1, days)


def stopped_selling(days: int = HISTORY_DAYS) -> np.ndarray:
    quantities = weekly(7, days)
    quantities[-100:] = 0
    return quantities


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return pd.concat(
        [
            sales_rows(1, "WEEKLY", weekly(1)),
            sales_rows(1, "RARE", intermittent(2)),
            sales_rows(1, "NEW", weekly(3, days=60)),
            sales_rows(1, "STOPPED", stopped_selling()),
            sales_rows(2, "WEEKLY", weekly(4)),
            sales_rows(2, "RARE", intermittent(5)),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def network(sales: pd.DataFrame) -> NetworkForecast:
    return forecast_network(sales, AS_OF)


def series_models(forecasts: pd.DataFrame) -> dict[tuple[int, str], str]:
    first_days = forecasts.drop_duplicates(["merchant_id", "sku_code"])
    return {(row.merchant_id, row.sku_code): row.model for row in first_days.itertuples()}


def test_every_active_series_gets_90_days_from_the_day_after_its_as_of(network: NetworkForecast) -> None:
    forecasts = network.forecasts
    assert set(series_models(forecasts)) == {(1, "WEEKLY"), (1, "RARE"), (1, "NEW"), (2, "WEEKLY"), (2, "RARE")}
    for (merchant_id, _), days in forecasts.groupby(["merchant_id", "sku_code"])["date"]:
        first = AS_OF[merchant_id] + timedelta(days=1)
        assert list(days) == [first + timedelta(days=offset) for offset in range(HORIZON_DAYS)]
    assert (forecasts["as_of"] == forecasts["merchant_id"].map(AS_OF)).all()
    assert (forecasts["model_version"] == MODEL_VERSION).all()


def test_intervals_are_nested_and_non_negative(network: NetworkForecast) -> None:
    values = network.forecasts[BOUNDS_LOWER_TO_UPPER].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    widths = network.forecasts["yhat_upper_95"] - network.forecasts["yhat_lower_95"]
    assert (widths > 0).any(), "every interval collapsed to a point"


def test_weeks_and_months_add_up_each_series_days_with_nested_bounds(network: NetworkForecast) -> None:
    periods, days = network.periods, network.forecasts
    assert set(series_models(periods)) == set(series_models(days))
    assert (periods["as_of"] == periods["merchant_id"].map(AS_OF)).all()
    assert (periods["model_version"] == MODEL_VERSION).all()
    starts = pd.to_datetime(periods["period_start"])
    is_week = periods["period_grain"] == "week"
    assert (starts[is_week].dt.weekday == 0).all() and (starts[~is_week].dt.day == 1).all()
    for (merchant_id, sku_code, _), grain in periods.groupby(["merchant_id", "sku_code", "period_grain"]):
        series_days = days[(days["merchant_id"] == merchant_id) & (days["sku_code"] == sku_code)]
        assert grain["days_covered"].sum() == HORIZON_DAYS
        assert grain["yhat"].sum() == pytest.approx(series_days["yhat"].sum())
    values = periods[BOUNDS_LOWER_TO_UPPER].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values >= 0).all() and (np.diff(values, axis=1) >= 0).all()


def test_a_series_too_short_to_backtest_adds_up_its_days_spreads_for_its_weeks(network: NetworkForecast) -> None:
    days = network.forecasts[(network.forecasts["merchant_id"] == 1) & (network.forecasts["sku_code"] == "NEW")]
    weeks = network.periods[
        (network.periods["merchant_id"] == 1)
        & (network.periods["sku_code"] == "NEW")
        & (network.periods["period_grain"] == "week")
    ]
    week = weeks[weeks["days_covered"] == 7].iloc[0]
    in_week = days[(days["date"] >= week["period_start"]) & (days["date"] <= week["period_end"])]
    sigma = np.sqrt((((in_week["yhat_upper_95"] - in_week["yhat"]) / NormalDist().inv_cdf(0.975)) ** 2).sum())
    assert sigma > 0
    assert week["yhat_upper_80"] == pytest.approx(week["yhat"] + NormalDist().inv_cdf(0.9) * sigma)


def test_crossing_bounds_widen_around_a_forecast_that_stays() -> None:
    crossing = pd.DataFrame(
        {"yhat": [5.0], "yhat_lower_80": [6.0], "yhat_upper_80": [4.0], "yhat_lower_95": [5.5], "yhat_upper_95": [7.0]}
    )
    nested = nested_bounds(crossing).iloc[0]
    assert nested[BOUNDS_LOWER_TO_UPPER].tolist() == [5.0, 5.0, 5.0, 5.0, 7.0]


def test_a_series_too_short_to_backtest_falls_back_to_its_historic_average(network: NetworkForecast) -> None:
    assert series_models(network.forecasts)[(1, "NEW")] == FALLBACK_MODEL
    assert not ((network.backtests["merchant_id"] == 1) & (network.backtests["sku_code"] == "NEW")).any()


def test_each_backtested_series_has_three_origins_and_is_forecast_by_its_one_chosen_option(
    network: NetworkForecast,
) -> None:
    backtests = network.backtests
    models = series_models(network.forecasts)
    for (merchant_id, sku_code), rows in backtests.groupby(["merchant_id", "sku_code"]):
        assert rows["origin"].nunique() >= MIN_ORIGINS
        assert rows.loc[rows["chosen"], "model"].unique().tolist() == [models[(merchant_id, sku_code)]]
        assert set(rows["horizon_bucket"]) == {"1-7", "8-14", "15-28", "all"}
    assert {"ensemble", "seasonal_naive", "moving_average"} <= set(backtests["model"])
    assert backtests[["coverage_80", "coverage_95", "n_points"]].notna().all().all()
    assert (backtests["as_of"] == backtests["merchant_id"].map(AS_OF)).all()


def test_the_choice_ignores_what_the_last_origin_holds(sales: pd.DataFrame, network: NetworkForecast) -> None:
    last_window_start = sales["merchant_id"].map(AS_OF) - timedelta(days=BACKTEST_HORIZON_DAYS - 1)
    in_last_window = pd.to_datetime(sales["sales_date"]) >= pd.to_datetime(last_window_start)
    # Four times the sales on the same days: every series keeps its activity, but the last
    # window's errors of every model change.
    changed_sales = sales.assign(quantity=sales["quantity"].where(~in_last_window, sales["quantity"] * 4))
    changed = forecast_network(changed_sales, AS_OF)

    assert series_models(changed.forecasts) == series_models(network.forecasts)
    last_origin = network.backtests["origin"] == network.backtests.groupby(["merchant_id", "sku_code"])[
        "origin"
    ].transform("max")
    keys = ["merchant_id", "sku_code", "model", "origin", "horizon_bucket"]
    before = network.backtests[last_origin].set_index(keys)["mase"]
    after = changed.backtests.set_index(keys)["mase"].reindex(before.index)
    assert not np.allclose(before.to_numpy(), after.to_numpy(), equal_nan=True)


def test_the_same_input_gives_the_same_forecast(sales: pd.DataFrame, network: NetworkForecast) -> None:
    again = forecast_network(sales.sample(frac=1.0, random_state=0), AS_OF)
    pd.testing.assert_frame_equal(again.forecasts, network.forecasts)
    pd.testing.assert_frame_equal(again.backtests, network.backtests)


def test_timings_count_the_series_and_every_model_family(network: NetworkForecast) -> None:
    timings = network.timings
    assert timings["series"] == 5
    assert timings["backtested_series"] == 4
    assert timings["backtest_seconds"] > 0 and timings["final_forecast_seconds"] > 0
    assert set(timings["family_series_per_second"]) == {
        "baselines",
        "exponential_smoothing_theta",
        "intermittent",
        "global_gradient_boosting",
        "prophet",
    }
    # No series here has the year of history Prophet needs.
    assert timings["prophet_series"] == 0 and timings["family_series_per_second"]["prophet"] is None
    speeds = {family: speed for family, speed in timings["family_series_per_second"].items() if family != "prophet"}
    assert all(speed > 0 for speed in speeds.values())
    assert timings["global_model_windows_side_by_side"] == fit_workers()


def test_chosen_versus_candidates_pairs_each_option_with_the_choice_on_its_series(network: NetworkForecast) -> None:
    summary = chosen_versus_candidates(network.backtests).set_index("model")
    assert summary.loc["seasonal_naive", "series"] == 4
    assert np.isfinite(summary[["mase", "chosen_mase"]].to_numpy()).all()


def test_no_sales_gives_empty_frames() -> None:
    empty = pd.DataFrame({"merchant_id": [], "sku_code": [], "sales_date": [], "quantity": []})
    result = forecast_network(empty, AS_OF)
    assert result.forecasts.empty and result.periods.empty and result.backtests.empty
    assert result.timings["series"] == 0


MIXED_SERIES_PER_CLASS = 10


def mixed_sales() -> pd.DataFrame:
    """Ten smooth weekly and ten intermittent series of one merchant, at different levels and rates.

    Sizes of one or two units keep every rare series intermittent (CV² below the lumpy cut-off),
    so each half is one pool.
    """
    levels = np.random.RandomState(0)
    return pd.concat(
        [sales_rows(1, f"WEEKLY{i}", weekly(100 + i, scale=levels.uniform(1, 4), noise=3.0)) for i in range(10)]
        + [
            sales_rows(1, f"RARE{i}", intermittent(200 + i, rate=levels.uniform(0.1, 0.5), max_size=2))
            for i in range(10)
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def mixed_network() -> NetworkForecast:
    return forecast_network(mixed_sales(), {1: AS_OF[1]})


def last_origin_summary(network: NetworkForecast, sku_prefix: str) -> pd.DataFrame:
    backtests = network.backtests
    return chosen_versus_candidates(backtests[backtests["sku_code"].str.startswith(sku_prefix)]).set_index("model")


def test_on_a_mixed_set_the_pooled_choice_is_the_best_smooth_model_and_beats_the_baselines(
    mixed_network: NetworkForecast,
) -> None:
    models = series_models(mixed_network.forecasts)
    assert len({model for (_, sku), model in models.items() if sku.startswith("WEEKLY")}) == 1
    smooth = last_origin_summary(mixed_network, "WEEKLY").drop(index="ensemble")
    assert (smooth["chosen_mase"] <= smooth["mase"] + 1e-12).all(), smooth
    overall = chosen_versus_candidates(mixed_network.backtests).set_index("model")
    for baseline in ("seasonal_naive", "moving_average"):
        assert overall.loc[baseline, "series"] == 2 * MIXED_SERIES_PER_CLASS
        assert overall.loc[baseline, "chosen_mase"] < 0.9 * overall.loc[baseline, "mase"]


def test_intermittent_series_take_the_option_best_over_their_pools_earlier_origins_unless_clearly_beaten(
    mixed_network: NetworkForecast,
) -> None:
    backtests = mixed_network.backtests
    rare = backtests[backtests["sku_code"].str.startswith("RARE") & (backtests["horizon_bucket"] == "all")]
    earlier = rare[rare["origin"] < rare["origin"].max()]
    pooled = earlier.groupby("model")["rmsse"].mean()
    pool_choice = pooled.idxmin()
    by_origin = earlier.pivot_table(index=["sku_code", "origin"], columns="model", values="rmsse")
    for (_, sku_code), model in series_models(mixed_network.forecasts).items():
        if not sku_code.startswith("RARE") or model == pool_choice:
            continue
        series_rows = by_origin.loc[sku_code]
        assert (series_rows[model] <= DEVIATION_RATIO * series_rows[pool_choice]).all(), sku_code
    assert list(series_models(mixed_network.forecasts).values()).count(pool_choice) >= MIXED_SERIES_PER_CLASS // 2


def test_every_mixed_series_gets_90_days_with_nested_non_negative_bounds(mixed_network: NetworkForecast) -> None:
    forecasts = mixed_network.forecasts
    assert (forecasts.groupby(["merchant_id", "sku_code"]).size() == HORIZON_DAYS).all()
    assert forecasts["sku_code"].nunique() == 2 * MIXED_SERIES_PER_CLASS
    values = forecasts[BOUNDS_LOWER_TO_UPPER].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values >= 0).all() and (np.diff(values, axis=1) >= 0).all()


def test_a_series_leaves_its_pools_choice_only_if_another_option_won_every_earlier_origin_clearly() -> None:
    cutoffs = pd.to_datetime(["2026-08-01", "2026-08-29"])
    clearly = DEVIATION_RATIO * 0.99
    per_origin = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "model": ["adida", "adida", "tsb", "tsb"] * 2,
            "cutoff": list(cutoffs) * 4,
            # a: tsb clearly better at both origins; b: clearly better at one, worse at the other.
            "error": [1.0, 1.0, clearly, clearly, 1.0, 1.0, clearly, 1.2],
        }
    )
    defaults = pd.DataFrame({"unique_id": ["a", "b"], "model": ["adida", "adida"]})
    assert strong_deviations(per_origin, defaults).values.tolist() == [["a", "tsb"]]


def test_young_series_are_pooled_together_whatever_their_demand_class() -> None:
    # 208 days is the youngest a series can be and have conformal intervals on the 90-day forecast.
    series = pd.concat(
        [
            pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2026-01-01", periods=days), "y": 1.0})
            for uid, days in (("old", 208), ("young", 207), ("young_smooth", 150))
        ]
    )
    classes = pd.DataFrame(
        {"unique_id": ["old", "young", "young_smooth"], "demand_class": ["intermittent", "intermittent", "smooth"]}
    )
    pools = choice_pools(series, classes).set_index("unique_id")["pool"]
    assert pools.to_dict() == {"old": "intermittent", "young": YOUNG_POOL, "young_smooth": YOUNG_POOL}


def test_the_holiday_feature_marks_chinas_public_holidays() -> None:
    days = pd.DatetimeIndex(["2026-02-16", "2026-02-17", "2026-03-03", "2026-10-01", "2026-10-09"])
    # Chinese New Year's Eve and Spring Festival, an ordinary Tuesday, National Day, after Golden Week.
    assert chinese_holiday(days).tolist() == [1, 1, 0, 1, 0]


@pytest.fixture(scope="module")
def mixed_series() -> pd.DataFrame:
    return daily_demand_series(mixed_sales(), {1: AS_OF[1]})


@pytest.fixture(scope="module")
def global_rows(mixed_series: pd.DataFrame) -> pd.DataFrame:
    return backtest_global(mixed_series, classify_demand(mixed_series))


def test_the_global_model_backtests_every_series_at_each_origin_with_nested_conformal_intervals(
    global_rows: pd.DataFrame,
) -> None:
    rows = global_rows
    assert rows["unique_id"].nunique() == 2 * MIXED_SERIES_PER_CLASS
    assert (rows.groupby("unique_id")["cutoff"].nunique() == MIN_ORIGINS).all()
    assert (rows.groupby(["unique_id", "cutoff"]).size() == BACKTEST_HORIZON_DAYS).all()
    assert (rows["model"] == GLOBAL_MODEL).all()
    nested = nested_bounds(rows)
    assert np.allclose(nested[BOUNDS_LOWER_TO_UPPER], rows[BOUNDS_LOWER_TO_UPPER])
    assert (rows["yhat_upper_95"] > rows["yhat_lower_95"]).mean() > 0.9


def test_the_global_model_forecasts_90_days_with_nested_non_negative_bounds(
    mixed_series: pd.DataFrame, global_rows: pd.DataFrame
) -> None:
    forecasts = nested_bounds(forecast_global(mixed_series, global_rows))
    assert (forecasts.groupby("unique_id").size() == HORIZON_DAYS).all()
    assert forecasts["unique_id"].nunique() == 2 * MIXED_SERIES_PER_CLASS
    values = forecasts[BOUNDS_LOWER_TO_UPPER].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values >= 0).all() and (np.diff(values, axis=1) >= 0).all()
    weekly_means = forecasts[forecasts["unique_id"].str.contains("WEEKLY")].groupby("unique_id")["yhat"].mean()
    assert (weekly_means > 1.0).all(), "the global model lost the weekly series' level"


def year_long(unique_id: str, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": unique_id, "ds": pd.date_range(end="2026-10-31", periods=len(y)), "y": y})


def test_prophet_takes_only_smooth_series_with_a_year_of_history_the_best_selling_first() -> None:
    series = pd.concat(
        [
            year_long("small", weekly(1, days=365, scale=1.0)),
            year_long("big", weekly(2, days=365, scale=5.0)),
            year_long("young", weekly(3, days=200, scale=5.0)),
            year_long("rare", intermittent(4, days=365).astype(float)),
        ],
        ignore_index=True,
    )
    classes = classify_demand(series)
    assert prophet_series_ids(series, classes) == ["big", "small"]
    assert prophet_series_ids(series, classes, max_series=1) == ["big"]


def test_prophet_backtests_three_origins_and_forecasts_90_days_with_nested_bounds() -> None:
    series = year_long("weekly", weekly(5, days=365))
    rows = backtest_prophet(series, ["weekly"])
    assert rows["cutoff"].nunique() == MIN_ORIGINS
    assert (rows.groupby("cutoff").size() == BACKTEST_HORIZON_DAYS).all()
    assert (rows["model"] == PROPHET_MODEL).all()
    forecasts = forecast_prophet(series, ["weekly"])
    assert len(forecasts) == HORIZON_DAYS
    assert forecasts["ds"].min() == pd.Timestamp("2026-11-01")
    values = forecasts[BOUNDS_LOWER_TO_UPPER].to_numpy(dtype=float)
    assert (values >= 0).all() and (np.diff(values, axis=1) >= 0).all()
    # The weekly profile peaks on the sixth day of its cycle: Prophet's weekly season finds it.
    by_weekday = forecasts.groupby(forecasts["ds"].dt.dayofweek)["yhat"].mean()
    assert by_weekday.max() > 2 * by_weekday.min()


SEASONAL_HISTORY_DAYS = 800
PEAK_DAYS_AHEAD = (21, 60)


def planting_peak(seed: int, scale: float) -> np.ndarray:
    """Intermittent sales, six times as busy every 364 days from PEAK_DAYS_AHEAD[0] to [1] after
    merchant 1's as_of (the peak the forecast should see coming, from last year's)."""
    days_before_as_of = np.arange(SEASONAL_HISTORY_DAYS - 1, -1, -1)
    days_to_next_peak = (PEAK_DAYS_AHEAD[0] + days_before_as_of) % 364
    peak = days_to_next_peak >= 364 - (PEAK_DAYS_AHEAD[1] - PEAK_DAYS_AHEAD[0])
    random = np.random.RandomState(seed)
    return random.poisson(scale * np.where(peak, 6.0, 1.0))


@pytest.fixture(scope="module")
def seasonal_sales() -> tuple[pd.DataFrame, pd.DataFrame]:
    sales = pd.concat(
        [sales_rows(1, f"FERTILISER{i}", planting_peak(300 + i, scale=0.4 + 0.2 * i)) for i in range(4)]
        + [sales_rows(1, f"SALT{i}", intermittent(400 + i, rate=0.5)) for i in range(2)],
        ignore_index=True,
    )
    categories = pd.DataFrame(
        {
            "merchant_id": 1,
            "sku_code": [f"FERTILISER{i}" for i in range(4)] + ["SALT0", "SALT1"],
            "category": ["化肥"] * 4 + ["调味品"] * 2,
        }
    )
    return sales, categories


def days_ahead_totals(forecasts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per SKU, the forecast units of the first two weeks and of the peak window."""
    ahead = (pd.to_datetime(forecasts["date"]) - pd.Timestamp(as_of)).dt.days
    first, last = PEAK_DAYS_AHEAD
    return (
        pd.DataFrame(
            {
                "first_fortnight": forecasts["yhat"].where(ahead <= 14, 0.0),
                "peak": forecasts["yhat"].where((ahead > first) & (ahead <= last), 0.0),
                "sku_code": forecasts["sku_code"],
            }
        )
        .groupby("sku_code")[["first_fortnight", "peak"]]
        .sum()
    )


def test_categories_let_the_forecast_see_last_years_peak_coming(
    seasonal_sales: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    sales, categories = seasonal_sales
    plain = forecast_network(sales, {1: AS_OF[1]})
    shaped = forecast_network(sales, {1: AS_OF[1]}, categories=categories)
    plain_totals, shaped_totals = (days_ahead_totals(n.forecasts, AS_OF[1]) for n in (plain, shaped))

    fertiliser = shaped_totals.index.str.startswith("FERTILISER")
    peak_days, fortnight_days = PEAK_DAYS_AHEAD[1] - PEAK_DAYS_AHEAD[0], 14

    def rise(totals: pd.DataFrame) -> float:
        category = totals[fertiliser].sum()
        return (category["peak"] / peak_days) / (category["first_fortnight"] / fortnight_days)

    # The peak window is six times as busy a day as the fortnight before it: the shaped forecast
    # expects at least three times, the level forecasts of the same candidates far less.
    assert rise(shaped_totals) >= 3.0
    assert rise(plain_totals) < 1.5
    # A category whose year is flat is left as it was: its candidates score the same. (The
    # choice and combination weights may move, pooled as they are with the shaped series.)
    salt_scores = [
        network.backtests[
            network.backtests["sku_code"].str.startswith("SALT") & (network.backtests["model"] != ENSEMBLE)
        ].reset_index(drop=True)[["sku_code", "model", "origin", "horizon_bucket", "mase", "rmsse"]]
        for network in (plain, shaped)
    ]
    pd.testing.assert_frame_equal(*salt_scores)


def test_prophet_sees_the_coming_peak_through_the_farming_calendar_regressor() -> None:
    # Fertiliser sold every day, twice as much in the planting weeks (smooth demand, so Prophet
    # takes it), two years of it.
    days_before_as_of = np.arange(SEASONAL_HISTORY_DAYS - 1, -1, -1)
    peak = (PEAK_DAYS_AHEAD[0] + days_before_as_of) % 364 >= 364 - (PEAK_DAYS_AHEAD[1] - PEAK_DAYS_AHEAD[0])
    random = np.random.RandomState(7)
    sales = pd.concat(
        [sales_rows(1, f"FERTILISER{i}", random.poisson((8.0 + i) * np.where(peak, 2.0, 1.0))) for i in range(4)]
    )
    categories = pd.DataFrame({"merchant_id": 1, "sku_code": [f"FERTILISER{i}" for i in range(4)], "category": "化肥"})
    seasons = category_seasons(sales, {1: AS_OF[1]}, categories)
    series = network_series(sales, {1: AS_OF[1]})
    assert seasons is not None
    assert prophet_series_ids(series, series_classes(series), max_series=1) == ["1|FERTILISER3"]

    def rise(forecasts: pd.DataFrame) -> float:
        ahead = (forecasts["ds"] - pd.Timestamp(AS_OF[1])).dt.days
        first, last = PEAK_DAYS_AHEAD
        in_peak = forecasts.loc[(ahead > first) & (ahead <= last), "yhat"].mean()
        return in_peak / forecasts.loc[ahead <= 14, "yhat"].mean()

    # From a year of history Prophet's trend cannot know the peak; the category's year back can.
    assert rise(forecast_prophet(series, ["1|FERTILISER3"], season=seasons.farming_season)) >= 1.6
    assert rise(forecast_prophet(series, ["1|FERTILISER3"])) < 1.2
    rows = backtest_prophet(series, ["1|FERTILISER3"], season=seasons.farming_season)
    assert rows["cutoff"].nunique() == 3
