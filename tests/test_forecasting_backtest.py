"""Demand classes, candidate forecasts, rolling-origin backtest metrics and model choice.

Synthetic daily series (numpy RandomState with fixed seeds, ~200 days) and hand-computed cases.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.forecasting.backtest import (
    backtest_forecasts,
    error_scales,
    forecast_metrics,
    score_backtest,
)
from models.forecasting.candidates import (
    BASELINE_MODELS,
    CONTINUOUS_MODELS,
    INTERMITTENT_MODELS,
    MOVING_AVERAGE_DAYS,
    YOUNG_SERIES_MODEL,
    candidate_names,
    forecast_candidates,
    is_young,
    since_first_demand,
)
from models.forecasting.demand_classes import ADI_CUTOFF, CV2_CUTOFF, classify_demand, demand_statistics
from models.forecasting.selection import COMBINATION_SIZE, ENSEMBLE, select_models

DAYS = 200
START = "2025-01-01"
WEEKLY_PROFILE = np.array([2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 8.0])


def frame(unique_id: str, y: np.ndarray, start: str = START) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": unique_id, "ds": pd.date_range(start, periods=len(y)), "y": y.astype(float)})


def weekly_series(seed: int) -> np.ndarray:
    random = np.random.RandomState(seed)
    level = np.tile(WEEKLY_PROFILE, DAYS // 7 + 1)[:DAYS] * 3
    return np.maximum(0.0, np.round(level + random.normal(0.0, 1.5, DAYS)))


def intermittent_series(seed: int) -> np.ndarray:
    random = np.random.RandomState(seed)
    return random.poisson(0.2, DAYS) * random.randint(1, 4, DAYS)


def series_with_demand_on(days: list[int], sizes: list[float], length: int) -> np.ndarray:
    y = np.zeros(length)
    y[days] = sizes
    return y


@pytest.fixture(scope="module")
def mixed_series() -> pd.DataFrame:
    return pd.concat(
        [
            frame("smooth", weekly_series(1)),
            frame("intermittent", intermittent_series(2)),
            frame("empty", np.zeros(DAYS)),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def mixed_backtest(mixed_series: pd.DataFrame) -> pd.DataFrame:
    return backtest_forecasts(mixed_series)


# --- demand classes ---------------------------------------------------------------------------


def test_statistics_of_a_small_series_by_hand() -> None:
    # Demands on days 1, 4, 6: intervals 3 and 2, ADI 2.5. Sizes 2, 4, 6: mean 4, variance 8/3,
    # CV² = (8/3) / 16 = 1/6.
    adi, cv2 = demand_statistics(np.array([0, 2, 0, 0, 4, 0, 6], dtype=float))
    assert adi == pytest.approx(2.5)
    assert cv2 == pytest.approx(1 / 6)


def test_classes_at_and_beside_the_cutoffs() -> None:
    # 26 demands whose 25 intervals are 17 × 1 day and 8 × 2 days: ADI = 33 / 25 = 1.32 exactly.
    at_adi_cutoff = list(np.cumsum([0] + [1] * 17 + [2] * 8))
    # 18 × 1 and 7 × 2 days: ADI = 32 / 25 = 1.28, just regular enough.
    below_adi_cutoff = list(np.cumsum([0] + [1] * 18 + [2] * 7))
    # Sizes alternating 3 and 17: mean 10, population variance 49, CV² = 49 / 100 = 0.49 exactly.
    sizes_at_cv2_cutoff = [3.0, 17.0] * 13
    # Sizes alternating 4 and 16: mean 10, variance 36, CV² = 0.36.
    sizes_below_cv2_cutoff = [4.0, 16.0] * 13
    series = pd.concat(
        [
            frame("a_smooth", series_with_demand_on(below_adi_cutoff, sizes_below_cv2_cutoff, 40)),
            frame("b_erratic", series_with_demand_on(below_adi_cutoff, sizes_at_cv2_cutoff, 40)),
            frame("c_intermittent", series_with_demand_on(at_adi_cutoff, sizes_below_cv2_cutoff, 40)),
            frame("d_lumpy", series_with_demand_on(at_adi_cutoff, sizes_at_cv2_cutoff, 40)),
            frame("e_single_sale", series_with_demand_on([5], [3.0], 40)),
            frame("f_never_sold", np.zeros(40)),
        ],
        ignore_index=True,
    )
    classes = classify_demand(series).set_index("unique_id")
    assert classes.loc["c_intermittent", "adi"] == ADI_CUTOFF
    assert classes.loc["b_erratic", "cv2"] == CV2_CUTOFF
    assert classes.loc["a_smooth", "adi"] == pytest.approx(1.28)
    assert classes.loc["a_smooth", "cv2"] == pytest.approx(0.36)
    assert classes["demand_class"].to_dict() == {
        "a_smooth": "smooth",
        "b_erratic": "erratic",
        "c_intermittent": "intermittent",
        "d_lumpy": "lumpy",
        "e_single_sale": "lumpy",
        "f_never_sold": "no_demand",
    }
    assert classes.loc[["e_single_sale", "f_never_sold"], ["adi", "cv2"]].isna().all().all()


# --- candidates and intervals -----------------------------------------------------------------


def test_candidates_follow_the_demand_class(mixed_series: pd.DataFrame, mixed_backtest: pd.DataFrame) -> None:
    classes = classify_demand(mixed_series).set_index("unique_id")["demand_class"]
    assert classes.to_dict() == {"smooth": "smooth", "intermittent": "intermittent", "empty": "no_demand"}
    # DAYS is too short for conformal intervals on a 90-day forecast: every series is young.
    assert is_young(DAYS)
    expected = {
        "smooth": {*BASELINE_MODELS, *CONTINUOUS_MODELS, YOUNG_SERIES_MODEL},
        "intermittent": {*BASELINE_MODELS, *INTERMITTENT_MODELS, YOUNG_SERIES_MODEL},
        "empty": {*BASELINE_MODELS, YOUNG_SERIES_MODEL},
    }
    forecasts = forecast_candidates(mixed_series, horizon=28)
    for rows in (forecasts, mixed_backtest):
        assert {uid: set(group["model"]) for uid, group in rows.groupby("unique_id")} == expected
    assert len(forecasts) == 28 * sum(len(models) for models in expected.values())
    assert forecasts["ds"].min() == pd.Timestamp(START) + pd.Timedelta(days=DAYS)


def test_short_history_keeps_only_models_with_their_own_intervals() -> None:
    # Conformal intervals need two 28-day windows after a 28-day fit (the moving average's window).
    assert candidate_names("intermittent", history_days=83, horizon=28) == ("seasonal_naive",)
    assert candidate_names("smooth", history_days=83, horizon=28) == ("seasonal_naive", "auto_ets", "auto_theta")
    assert set(candidate_names("lumpy", history_days=84, horizon=28)) == set(BASELINE_MODELS + INTERMITTENT_MODELS)


def test_a_young_series_is_averaged_from_its_first_sale_not_from_the_days_padded_before_it() -> None:
    # Ten days old, padded to four weeks with empty days before its first sale (daily_demand_series).
    young = frame("young", np.concatenate([np.zeros(18), [4.0, 0.0, 6.0, 2.0, 0.0, 4.0, 2.0, 6.0, 0.0, 6.0]]))
    assert len(since_first_demand(young)) == 10
    forecasts = forecast_candidates(young, horizon=7, only={YOUNG_SERIES_MODEL})
    # 30 units over its 10 days, not over 28.
    assert forecasts["yhat"].tolist() == pytest.approx([3.0] * 7)
    assert (forecasts["yhat_upper_95"] > forecasts["yhat_upper_80"]).all()
    # A series that never sold keeps its last week, so the average still has days to read.
    assert len(since_first_demand(frame("never", np.zeros(28)))) == 7


def test_intervals_are_nested_and_never_negative(mixed_series: pd.DataFrame, mixed_backtest: pd.DataFrame) -> None:
    # 86 days is the longest horizon whose two conformal windows still leave the moving average its
    # 28-day fit in 200 days; one day more and only models with their own intervals remain.
    longest = (DAYS - MOVING_AVERAGE_DAYS) // 2
    forecasts = forecast_candidates(mixed_series, horizon=longest)
    too_long = forecast_candidates(mixed_series, horizon=longest + 1)
    assert set(forecasts.loc[forecasts["unique_id"] == "intermittent", "model"]) == {
        *BASELINE_MODELS,
        *INTERMITTENT_MODELS,
        YOUNG_SERIES_MODEL,
    }
    assert set(too_long.loc[too_long["unique_id"] == "intermittent", "model"]) == {"seasonal_naive", YOUNG_SERIES_MODEL}
    for rows in (forecasts, too_long, mixed_backtest):
        assert rows[["yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]].notna().all().all()
        assert (rows["yhat_lower_95"] >= 0).all()
        assert (rows["yhat_lower_95"] <= rows["yhat_lower_80"]).all()
        assert (rows["yhat_lower_80"] <= rows["yhat"]).all()
        assert (rows["yhat"] <= rows["yhat_upper_80"]).all()
        assert (rows["yhat_upper_80"] <= rows["yhat_upper_95"]).all()
    # Rare sales give wide intervals around small means: their lower bounds hit the clip at zero.
    intermittent = forecasts[forecasts["unique_id"] == "intermittent"]
    assert (intermittent["yhat_lower_95"] == 0).any()
    assert (intermittent["yhat_upper_95"] > intermittent["yhat"]).all()


# --- metrics ----------------------------------------------------------------------------------


def test_metrics_by_hand() -> None:
    # Errors ŷ − y: −1, 1, −1, 2. Mean |e| 1.25 / scale 2.5 = 0.5; mean e² 7 / 4 over squared
    # scale 7, rooted: 0.5; RMSE √(7 / 4); WAPE 5 / 8; bias 1 / 8; 8 units sold, 9 forecast.
    # 80%: 2 ∈ [1, 3], 0 ∈ [0, 1] (bound included), 4 ∉ [3, 3.5], 2 ∈ [1, 3] → 3 of 4.
    metrics = forecast_metrics(
        actual=[2, 0, 4, 2],
        forecast=[1, 1, 3, 4],
        lower_80=[1, 0, 3, 1],
        upper_80=[3, 1, 3.5, 3],
        lower_95=[0, 0, 2, 0],
        upper_95=[4, 2, 5, 5],
        scale=2.5,
        squared_scale=7.0,
    )
    assert metrics == pytest.approx(
        {
            "mase": 0.5,
            "rmsse": 0.5,
            "wape": 0.625,
            "bias": 0.125,
            "coverage_80": 0.75,
            "coverage_95": 1.0,
            "n_points": 4,
            "rmse": math.sqrt(7 / 4),
            "actual_units": 8,
            "forecast_units": 9,
        }
    )


def test_wape_and_bias_are_undefined_without_sales() -> None:
    metrics = forecast_metrics([0, 0], [1, 0], [0, 0], [2, 1], [0, 0], [3, 1], scale=1.0, squared_scale=1.0)
    assert metrics["mase"] == pytest.approx(0.5)
    assert metrics["rmsse"] == pytest.approx(math.sqrt(0.5))
    assert math.isnan(metrics["wape"]) and math.isnan(metrics["bias"])


def test_error_scales_by_hand() -> None:
    series = pd.concat(
        [
            frame("trend", np.array([1, 2, 3, 4, 5, 6, 7, 8, 10, 50], dtype=float)),
            frame("same_week", np.tile(np.arange(1.0, 8.0), 2)),
            frame("constant", np.full(10, 3.0)),
        ],
        ignore_index=True,
    )
    day = pd.Timestamp(START) + pd.Timedelta(days=8)
    origins = pd.DataFrame(
        {
            "unique_id": ["trend", "same_week", "same_week", "constant"],
            "cutoff": [day, day, day + pd.Timedelta(days=5), day],
        }
    )
    all_scales = error_scales(series, origins).set_index(["unique_id", "cutoff"])
    scales, squared = all_scales["scale"], all_scales["squared_scale"]
    # Up to day 9 only (the 50 after it is unseen): seasonal differences 8 − 1 and 10 − 2, mean 7.5,
    # mean square (49 + 64) / 2.
    assert scales[("trend", day)] == pytest.approx(7.5)
    assert squared[("trend", day)] == pytest.approx(56.5)
    # A week repeated exactly has no seasonal error: the 1-day differences scale instead,
    # 7 × 1 and one −6 over the first 9 days, then 12 × 1 and one −6 over all 14.
    assert scales[("same_week", day)] == pytest.approx(13 / 8)
    assert squared[("same_week", day)] == pytest.approx(43 / 8)
    assert scales[("same_week", day + pd.Timedelta(days=5))] == pytest.approx(18 / 13)
    assert squared[("same_week", day + pd.Timedelta(days=5))] == pytest.approx(48 / 13)
    assert math.isnan(scales[("constant", day)]) and math.isnan(squared[("constant", day)])


def test_backtest_scores_scale_with_the_training_data_only() -> None:
    # Training up to day 10 is 1..10: seasonal differences all 7. The test days jump to 100; had
    # they entered the scale it would not be 7.
    series = frame("s", np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 100], dtype=float))
    rows = pd.DataFrame(
        {
            "unique_id": "s",
            "ds": pd.to_datetime(["2025-01-11", "2025-01-12"]),
            "cutoff": pd.Timestamp("2025-01-10"),
            "model": "m",
            "y": [100.0, 100.0],
            "yhat": [93.0, 107.0],
            "yhat_lower_80": [92.0, 106.0],
            "yhat_upper_80": [94.0, 108.0],
            "yhat_lower_95": [90.0, 100.0],
            "yhat_upper_95": [100.0, 110.0],
        }
    )
    metrics = score_backtest(rows, series).set_index("horizon_bucket")
    assert list(metrics.index) == ["1-7", "all"]
    assert metrics.loc["all", ["mase", "wape", "bias", "coverage_80", "coverage_95", "n_points"]].to_dict() == (
        pytest.approx({"mase": 1.0, "wape": 0.07, "bias": 0.0, "coverage_80": 0.0, "coverage_95": 1.0, "n_points": 2})
    )


def test_backtest_buckets_and_origins(mixed_series: pd.DataFrame, mixed_backtest: pd.DataFrame) -> None:
    metrics = score_backtest(mixed_backtest, mixed_series)
    smooth_naive = metrics[(metrics["unique_id"] == "smooth") & (metrics["model"] == "seasonal_naive")]
    assert smooth_naive["cutoff"].nunique() == 3
    points = smooth_naive.groupby("horizon_bucket")["n_points"].unique().to_dict()
    assert {bucket: list(n) for bucket, n in points.items()} == {"1-7": [7], "8-14": [7], "15-28": [14], "all": [28]}
    # The last cutoff leaves exactly one 28-day window at the end of the history.
    assert smooth_naive["cutoff"].max() == pd.Timestamp(START) + pd.Timedelta(days=DAYS - 28 - 1)


def test_backtest_needs_three_origins(mixed_series: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 3 origins"):
        backtest_forecasts(mixed_series, n_windows=2)


# --- model choice -----------------------------------------------------------------------------


def test_choice_on_a_weekly_series_beats_or_equals_seasonal_naive(
    mixed_series: pd.DataFrame, mixed_backtest: pd.DataFrame
) -> None:
    choices, _, scores = select_models(mixed_backtest, mixed_series)
    smooth = scores[scores["unique_id"] == "smooth"].set_index("model")
    assert smooth["chosen"].sum() == 1
    chosen_mase = smooth.loc[smooth["chosen"], "mase"].iloc[0]
    assert chosen_mase <= smooth.loc["seasonal_naive", "mase"]
    assert set(smooth.index) == {*BASELINE_MODELS, *CONTINUOUS_MODELS, YOUNG_SERIES_MODEL, ENSEMBLE}
    # A series never sold has no MASE anywhere: the simplest candidate is kept.
    assert choices.set_index("unique_id").loc["empty", "model"] == "seasonal_naive"


def test_combination_weights_are_inverse_pooled_rmsse_of_the_pools_best(
    mixed_series: pd.DataFrame, mixed_backtest: pd.DataFrame
) -> None:
    # Each mixed series is alone in its demand class, so its pool's RMSSE is its own.
    _, weights, _ = select_models(mixed_backtest, mixed_series)
    earlier = score_backtest(mixed_backtest, mixed_series)
    earlier = earlier[
        (earlier["unique_id"] == "smooth")
        & (earlier["horizon_bucket"] == "all")
        & (earlier["cutoff"] < earlier["cutoff"].max())
    ]
    best = earlier.groupby("model")["rmsse"].mean().sort_values().head(COMBINATION_SIZE)
    smooth = weights[weights["unique_id"] == "smooth"].set_index("model")["weight"]
    assert set(smooth.index) == set(best.index)
    expected = (1 / best) / (1 / best).sum()
    pd.testing.assert_series_equal(smooth.sort_index(), expected.sort_index(), check_names=False)
    # The never-sold series has no finite MASE, so no member to combine.
    assert "empty" not in set(weights["unique_id"])


def test_a_rare_seller_is_forecast_at_its_mean_rather_than_at_zero() -> None:
    # Three units every third day. Forecasting nothing misses by 3 on one day in three (mean
    # |e| 1, mean e² 3); forecasting the mean, 1 a day, misses by 1, 1 and 2 (mean |e| 4/3, mean
    # e² 2). MASE prefers nothing, which would never restock the SKU; RMSSE prefers the mean.
    y = np.tile([0.0, 0.0, 3.0], DAYS // 3 + 1)[:DAYS]
    series = frame("rare", y)
    cutoffs = series["ds"].iloc[[-85, -57, -29]]
    frames = []
    for cutoff in cutoffs:
        window = series[(series["ds"] > cutoff) & (series["ds"] <= cutoff + pd.Timedelta(days=28))]
        for model, level in (("seasonal_naive", 0.0), ("moving_average", 1.0)):
            bounds = dict.fromkeys(["yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"], level)
            frames.append(window.assign(cutoff=cutoff, model=model, yhat=level, **bounds))
    rows = pd.concat(frames, ignore_index=True)
    choices, _, scores = select_models(rows, series)
    assert choices.set_index("unique_id").loc["rare", "model"] == "moving_average"
    last = scores.set_index("model")
    assert last.loc["seasonal_naive", "mase"] < last.loc["moving_average", "mase"]
    assert last.loc["moving_average", "rmsse"] < last.loc["seasonal_naive", "rmsse"]


@pytest.mark.parametrize("step_size", [28, 14])
def test_last_window_never_changes_the_choice(step_size: int) -> None:
    series = pd.concat(
        [frame("smooth", weekly_series(3)), frame("intermittent", intermittent_series(4))], ignore_index=True
    )
    rows = backtest_forecasts(series, step_size=step_size)
    choices, _, scores = select_models(rows, series)
    last_cutoff = rows["cutoff"].max()

    # Make the last window's actuals exactly the forecast of the best option not chosen, so that
    # option is perfect on the last origin and would win if the last origin leaked into the choice.
    chosen = choices.set_index("unique_id")["model"]
    runner_up = (
        scores[~scores["chosen"] & (scores["model"] != ENSEMBLE)].sort_values("mase").groupby("unique_id").head(1)
    )
    runner_up = runner_up.set_index("unique_id")["model"]
    changed = series.copy()
    for uid, model in runner_up.items():
        target = rows[(rows["unique_id"] == uid) & (rows["model"] == model) & (rows["cutoff"] == last_cutoff)]
        last_days = (changed["unique_id"] == uid) & (changed["ds"] > last_cutoff)
        changed.loc[last_days, "y"] = target.set_index("ds")["yhat"].reindex(changed.loc[last_days, "ds"]).to_numpy()

    changed_choices, _, changed_scores = select_models(backtest_forecasts(changed, step_size=step_size), changed)
    pd.testing.assert_frame_equal(changed_choices, choices)
    changed_scores = changed_scores.set_index(["unique_id", "model"])
    for uid, model in runner_up.items():
        assert model != chosen[uid]
        assert changed_scores.loc[(uid, model), "mase"] == pytest.approx(0.0, abs=1e-12)


def test_never_sold_series_alone_gets_the_simplest_model_and_short_series_are_not_backtested() -> None:
    series = pd.concat([frame("empty", np.zeros(DAYS)), frame("short", intermittent_series(5)[:60])], ignore_index=True)
    rows = backtest_forecasts(series)
    assert set(rows["unique_id"]) == {"empty"}
    choices, weights, scores = select_models(rows, series)
    assert choices[["unique_id", "model"]].values.tolist() == [["empty", "seasonal_naive"]]
    assert weights.empty
    assert set(scores["model"]) == {*BASELINE_MODELS, YOUNG_SERIES_MODEL}
    assert scores["mase"].isna().all()
