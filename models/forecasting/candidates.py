"""Candidate statsforecast models per demand class, and forecasts of every candidate per series.

Baselines run for every series, so each choice can be compared with what merchants could do by
hand. Exponential smoothing and theta only fit demand that occurs most days (smooth, erratic);
Croston-type models are built for the long tail of rare sales (intermittent, lumpy).

Every model gives 80% and 95% intervals: SeasonalNaive, HistoricAverage, AutoETS and AutoTheta
have their own; the others get conformal intervals from their errors on the last windows of their
training data (statsforecast 2.1.1 takes them as `prediction_intervals=` on the model). Those
windows must be as long as the horizon, so series too short for two such windows after a fit keep
only the models with their own intervals.

A young series (too short for conformal intervals on the 90-day forecast) would then have only
seasonal naive, which repeats last week: one lumpy week of a new SKU becomes its forecast, and a
week it happened to sell little starves its replenishment. So young series also get the historic
average of their days since their first sale, a steady level with its own intervals.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    HistoricAverage,
    SeasonalNaive,
    WindowAverage,
)
from statsforecast.utils import ConformalIntervals

from models.forecasting import distributed
from models.forecasting.demand_classes import ERRATIC, INTERMITTENT, LUMPY, SMOOTH, classify_demand
from models.forecasting.series import HORIZON_DAYS, SEASON_LENGTH

MOVING_AVERAGE_DAYS = 28
# Error A or M, no trend, additive weekly season: a searched trend extrapolated 90 days ahead
# runs daily demand away, and leaving trends out makes each fit about 8x faster than the full
# search (0.03 s instead of 0.22 s on a year of daily data).
AUTO_ETS_SPEC = "ZNA"
TSB_ALPHA_DEMAND = 0.2
TSB_ALPHA_PROBABILITY = 0.2
# statsforecast would use fewer windows than asked on short histories, which moves the first
# window's fit earlier and can leave it shorter than the moving average: two windows keep the
# history a model needs a simple bound (min_conformal_history).
CONFORMAL_WINDOWS = 2

BASELINE_MODELS = ("seasonal_naive", "moving_average")
CONTINUOUS_MODELS = ("auto_ets", "auto_theta")
INTERMITTENT_MODELS = ("croston_optimized", "adida", "imapa", "tsb")
YOUNG_SERIES_MODEL = "historic_average"
NATIVE_INTERVAL_MODELS = frozenset({"seasonal_naive", YOUNG_SERIES_MODEL, "auto_ets", "auto_theta"})

# Simplest first: the model choice breaks ties in this order. Fixed-parameter models precede
# fitted ones, single smoothing precedes temporal aggregation, then automatic model search, and
# the global gradient-boosting model (global_model.py) last.
MODEL_ORDER = (
    "seasonal_naive",
    YOUNG_SERIES_MODEL,
    "moving_average",
    "tsb",
    "croston_optimized",
    "adida",
    "imapa",
    "auto_theta",
    "auto_ets",
    "lightgbm_global",
)

BOUND_COLUMNS = ["yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]
VALUE_COLUMNS = ["yhat", *BOUND_COLUMNS]
FORECAST_COLUMNS = ["unique_id", "ds", "model", *VALUE_COLUMNS]

_CLASS_MODELS = {
    SMOOTH: CONTINUOUS_MODELS,
    ERRATIC: CONTINUOUS_MODELS,
    INTERMITTENT: INTERMITTENT_MODELS,
    LUMPY: INTERMITTENT_MODELS,
}


def min_conformal_history(horizon: int) -> int:
    """Observations conformal intervals need: the horizon-long windows, and before them enough to fit.

    The moving average needs the most to fit (its window); with less it forecasts NaN.
    """
    return CONFORMAL_WINDOWS * horizon + MOVING_AVERAGE_DAYS


def candidate_names(demand_class: str, history_days: int, horizon: int) -> tuple[str, ...]:
    """Model names to try on a series of this class with `history_days` of training data."""
    names = BASELINE_MODELS + _CLASS_MODELS.get(demand_class, ())
    if history_days < min_conformal_history(horizon):
        names = tuple(name for name in names if name in NATIVE_INTERVAL_MODELS)
    return names


def is_young(length: int) -> bool:
    """Whether a series of `length` days is too short for conformal intervals on the 90-day forecast."""
    return length < min_conformal_history(HORIZON_DAYS)


def since_first_demand(series: pd.DataFrame) -> pd.DataFrame:
    """Each series from its first day with demand on, keeping at least its last SEASON_LENGTH days.

    A series younger than four weeks is padded with empty days before its first sale
    (series.daily_demand_series), which a historic average would count as demand of zero.
    """
    ordered = series.sort_values(["unique_id", "ds"], ignore_index=True)
    by_series = ordered.groupby("unique_id", sort=False)
    seen_demand = by_series["y"].cumsum() > 0
    last_week = by_series.cumcount(ascending=False) < SEASON_LENGTH
    return ordered[seen_demand | last_week].reset_index(drop=True)


def build_model(name: str, horizon: int) -> Any:
    """A statsforecast model whose output columns carry our snake_case `name`."""
    conformal = ConformalIntervals(n_windows=CONFORMAL_WINDOWS, h=horizon)
    builders = {
        "seasonal_naive": lambda: SeasonalNaive(season_length=SEASON_LENGTH, alias=name),
        YOUNG_SERIES_MODEL: lambda: HistoricAverage(alias=name),
        "moving_average": lambda: WindowAverage(
            window_size=MOVING_AVERAGE_DAYS, alias=name, prediction_intervals=conformal
        ),
        "auto_ets": lambda: AutoETS(season_length=SEASON_LENGTH, model=AUTO_ETS_SPEC, alias=name),
        "auto_theta": lambda: AutoTheta(season_length=SEASON_LENGTH, alias=name),
        "croston_optimized": lambda: CrostonOptimized(alias=name, prediction_intervals=conformal),
        "adida": lambda: ADIDA(alias=name, prediction_intervals=conformal),
        "imapa": lambda: IMAPA(alias=name, prediction_intervals=conformal),
        "tsb": lambda: TSB(
            alpha_d=TSB_ALPHA_DEMAND, alpha_p=TSB_ALPHA_PROBABILITY, alias=name, prediction_intervals=conformal
        ),
    }
    return builders[name]()


def engine_for(names: tuple[str, ...], horizon: int) -> StatsForecast:
    """A daily StatsForecast over the named candidates, in this process."""
    return StatsForecast(models=[build_model(name, horizon) for name in names], freq="D", n_jobs=1)


def series_by_candidates(
    series: pd.DataFrame,
    classes: pd.DataFrame,
    horizon: int,
    held_out_days: int = 0,
    only: Collection[str] | None = None,
) -> Iterator[tuple[tuple[str, ...], pd.DataFrame]]:
    """The series split into groups that share one candidate set; series without a class are left out.

    `held_out_days` is the part of each series a backtest withholds from its first fit, so the
    conformal check counts only the training data that fit will see. `only` keeps just those
    candidates (a model family, to time it alone); groups left with none are skipped. Young series
    (by their whole length) come once more as a group of their own for YOUNG_SERIES_MODEL.
    """
    lengths = series.groupby("unique_id").size().rename("length")
    frame = classes.set_index("unique_id")[["demand_class"]].join(lengths, how="inner")
    frame["names"] = [
        tuple(
            name
            for name in candidate_names(row.demand_class, int(row.length) - held_out_days, horizon)
            if only is None or name in only
        )
        for row in frame.itertuples()
    ]
    for names, members in frame[frame["names"].map(len) > 0].groupby("names", sort=True):
        yield names, series[series["unique_id"].isin(members.index)]
    young = frame.index[frame["length"].map(is_young)]
    if len(young) and (only is None or YOUNG_SERIES_MODEL in only):
        yield (YOUNG_SERIES_MODEL,), series[series["unique_id"].isin(young)]


def long_forecasts(wide: pd.DataFrame, names: tuple[str, ...], keys: list[str]) -> pd.DataFrame:
    """statsforecast's one-column-per-model output as one row per model, bounds clipped at zero.

    Demand cannot be negative, so a negative bound only widens an interval past what can happen.
    """
    frames = []
    for name in names:
        columns = {
            name: "yhat",
            f"{name}-lo-80": "yhat_lower_80",
            f"{name}-hi-80": "yhat_upper_80",
            f"{name}-lo-95": "yhat_lower_95",
            f"{name}-hi-95": "yhat_upper_95",
        }
        frame = wide[keys + list(columns)].rename(columns=columns)
        frame.insert(len(keys), "model", name)
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True)
    result[VALUE_COLUMNS] = result[VALUE_COLUMNS].astype(float).clip(lower=0.0)
    return result


def forecast_candidates(
    series: pd.DataFrame,
    horizon: int = HORIZON_DAYS,
    classes: pd.DataFrame | None = None,
    only: Collection[str] | None = None,
) -> pd.DataFrame:
    """Forecasts `horizon` days past each series' end by every candidate of its demand class.

    `series` is the long zero-filled daily frame (unique_id, ds, y); `classes` defaults to
    `classify_demand(series)`; `only` restricts the candidates to those names. One row per
    series × day × model.
    """
    if classes is None:
        classes = classify_demand(series)
    frames = []
    for names, members in series_by_candidates(series, classes, horizon, only=only):
        if names == (YOUNG_SERIES_MODEL,):
            # A backtested series is four months old or more, so only here can padding precede the first sale.
            members = since_first_demand(members)
        wide = distributed.forecast(engine_for(names, horizon), members, horizon)
        frames.append(long_forecasts(wide, names, ["unique_id", "ds"]))
    if not frames:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values(["unique_id", "model", "ds"], ignore_index=True)
