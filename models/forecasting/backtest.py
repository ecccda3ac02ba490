"""Rolling-origin backtests of the candidate models, and their error metrics.

Each origin (cutoff) refits every candidate on the data up to that day and forecasts the next
`h` days, which are then compared with what was sold. Metrics per model × series × origin ×
horizon bucket:

- MASE: mean absolute error over the in-sample mean absolute seasonal (7-day) difference of the
  training data before that cutoff, so 1 means "as good as repeating last week in the past".
  Where that difference is always 0 (e.g. a constant series) the 1-day difference scales
  instead; where that is 0 too there is no scale and MASE is NaN.
- RMSSE (as in the M5 competition): root mean squared error over the root mean squared
  in-sample seasonal difference, with the same fallback. MASE is least for the median forecast,
  which is zero for a SKU sold on fewer than half of the days; RMSSE is least for the mean, so
  it does not reward forecasting nothing. The model choice (selection.py) uses it.
- WAPE = Σ|ŷ − y| / Σy and bias = Σ(ŷ − y) / Σy: NaN when nothing was sold in the window.
- RMSE in units per day: the σ of the daily forecast error that replenishment's safety stock
  takes (a lumpy seller's big days weigh in it as they do in a stock-out).
- actual_units = Σy and forecast_units = Σŷ over the window: the monthly SKU-level error behind
  the dashboard's forecast accuracy (1 − Σ|forecast − actual| / Σ actual over a merchant's SKUs).
- coverage_80 / coverage_95: share of actuals inside the interval (bounds included).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from models.forecasting import distributed
from models.forecasting.candidates import VALUE_COLUMNS, engine_for, long_forecasts, series_by_candidates
from models.forecasting.demand_classes import classify_demand
from models.forecasting.series import SEASON_LENGTH

BACKTEST_HORIZON_DAYS = 28
BACKTEST_STEP_DAYS = 28
MIN_ORIGINS = 3
# Shorter training at the first origin leaves too little for a seasonal model or a MASE scale.
MIN_TRAINING_DAYS = 4 * SEASON_LENGTH
HORIZON_BUCKETS = (("1-7", 1, 7), ("8-14", 8, 14), ("15-28", 15, 28))
ALL_HORIZONS = "all"

BACKTEST_ROW_COLUMNS = ["unique_id", "ds", "cutoff", "model", "y", *VALUE_COLUMNS]
METRIC_NAMES = [
    "mase",
    "rmsse",
    "wape",
    "bias",
    "coverage_80",
    "coverage_95",
    "n_points",
    "rmse",
    "actual_units",
    "forecast_units",
]
METRIC_COLUMNS = ["unique_id", "model", "cutoff", "horizon_bucket", *METRIC_NAMES]


def backtest_forecasts(
    series: pd.DataFrame,
    classes: pd.DataFrame | None = None,
    h: int = BACKTEST_HORIZON_DAYS,
    step_size: int = BACKTEST_STEP_DAYS,
    n_windows: int = MIN_ORIGINS,
    only: Collection[str] | None = None,
) -> pd.DataFrame:
    """Every class-appropriate candidate's forecasts at each origin, beside the actuals.

    One row per series × cutoff × day × model; `only` restricts the candidates to those names.
    Series whose first origin would leave fewer than MIN_TRAINING_DAYS of training data are not
    backtested.
    """
    if n_windows < MIN_ORIGINS:
        raise ValueError(f"a rolling-origin backtest needs at least {MIN_ORIGINS} origins, got {n_windows}")
    if classes is None:
        classes = classify_demand(series)
    held_out_days = h + step_size * (n_windows - 1)
    lengths = series.groupby("unique_id")["ds"].transform("size")
    long_enough = series[lengths >= held_out_days + MIN_TRAINING_DAYS]
    frames = []
    for names, members in series_by_candidates(long_enough, classes, h, held_out_days, only=only):
        wide = distributed.cross_validation(engine_for(names, h), members, h, n_windows, step_size)
        frames.append(long_forecasts(wide, names, ["unique_id", "ds", "cutoff", "y"]))
    if not frames:
        return pd.DataFrame(columns=BACKTEST_ROW_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)[BACKTEST_ROW_COLUMNS]
    return rows.sort_values(["unique_id", "model", "cutoff", "ds"], ignore_index=True)


def error_scales(series: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """The MASE and RMSSE scales of each (unique_id, cutoff) in `origins`, from the series up to that cutoff.

    `scale` is the mean absolute seasonal difference, `squared_scale` the mean squared one (the
    1-day differences where the seasonal ones are all 0, NaN where those are too).

    Running sums of the absolute and squared differences, read at each cutoff, give every origin's in-sample
    mean without refiltering the history once per origin.
    """
    ordered = series.sort_values(["unique_id", "ds"], ignore_index=True)
    previous = ordered.groupby("unique_id", sort=False)["y"]
    # merge_asof needs one datetime resolution on both sides; sources differ (ns, us, s).
    running = pd.DataFrame({"unique_id": ordered["unique_id"], "at": ordered["ds"].astype("datetime64[ns]")})
    for lag in (SEASON_LENGTH, 1):
        difference = (ordered["y"] - previous.shift(lag)).abs()
        running[f"sum_{lag}"] = difference.fillna(0.0).groupby(ordered["unique_id"]).cumsum()
        running[f"squares_{lag}"] = (difference**2).fillna(0.0).groupby(ordered["unique_id"]).cumsum()
        running[f"count_{lag}"] = difference.notna().groupby(ordered["unique_id"]).cumsum()
    keys = origins[["unique_id", "cutoff"]].drop_duplicates()
    keys = keys.assign(at=keys["cutoff"].astype("datetime64[ns]")).sort_values("at")
    at_cutoff = pd.merge_asof(keys, running.sort_values("at"), on="at", by="unique_id", direction="backward")
    for column, total in (("scale", "sum"), ("squared_scale", "squares")):
        seasonal = at_cutoff[f"{total}_{SEASON_LENGTH}"] / at_cutoff[f"count_{SEASON_LENGTH}"].replace(0, np.nan)
        daily = at_cutoff[f"{total}_1"] / at_cutoff["count_1"].replace(0, np.nan)
        at_cutoff[column] = seasonal.where(seasonal > 0, daily.where(daily > 0)).astype(float)
    return at_cutoff[["unique_id", "cutoff", "scale", "squared_scale"]].reset_index(drop=True)


def summarise_errors(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Metrics per group of `rows` (y, yhat, bounds, and `scale` and `squared_scale` constant within each group)."""
    error = rows["yhat"] - rows["y"]
    parts = pd.DataFrame(
        {
            "abs_error": error.abs(),
            "error": error,
            "squared_error": error**2,
            "actual": rows["y"],
            "forecast": rows["yhat"],
            "inside_80": rows["y"].between(rows["yhat_lower_80"], rows["yhat_upper_80"]).astype(float),
            "inside_95": rows["y"].between(rows["yhat_lower_95"], rows["yhat_upper_95"]).astype(float),
            "scale": rows["scale"],
            "squared_scale": rows["squared_scale"],
        }
    )
    parts[keys] = rows[keys]
    grouped = parts.groupby(keys, sort=True, dropna=False)
    sums = grouped[["abs_error", "error", "actual", "forecast"]].sum()
    actual_total = sums["actual"].where(sums["actual"] > 0)
    metrics = pd.DataFrame(
        {
            "mase": grouped["abs_error"].mean() / grouped["scale"].first(),
            "rmsse": np.sqrt(grouped["squared_error"].mean() / grouped["squared_scale"].first()),
            "wape": sums["abs_error"] / actual_total,
            "bias": sums["error"] / actual_total,
            "coverage_80": grouped["inside_80"].mean(),
            "coverage_95": grouped["inside_95"].mean(),
            "n_points": grouped.size(),
            "rmse": np.sqrt(grouped["squared_error"].mean()),
            "actual_units": sums["actual"],
            "forecast_units": sums["forecast"],
        }
    )
    return metrics.reset_index()


def forecast_metrics(
    actual: list[float] | np.ndarray,
    forecast: list[float] | np.ndarray,
    lower_80: list[float] | np.ndarray,
    upper_80: list[float] | np.ndarray,
    lower_95: list[float] | np.ndarray,
    upper_95: list[float] | np.ndarray,
    scale: float,
    squared_scale: float,
) -> dict[str, float]:
    """The backtest metrics of one forecast against its actuals, given the MASE and RMSSE scales."""
    rows = pd.DataFrame(
        {
            "y": np.asarray(actual, dtype=float),
            "yhat": np.asarray(forecast, dtype=float),
            "yhat_lower_80": np.asarray(lower_80, dtype=float),
            "yhat_upper_80": np.asarray(upper_80, dtype=float),
            "yhat_lower_95": np.asarray(lower_95, dtype=float),
            "yhat_upper_95": np.asarray(upper_95, dtype=float),
            "scale": float(scale),
            "squared_scale": float(squared_scale),
            "group": 0,
        }
    )
    return summarise_errors(rows, ["group"]).iloc[0][METRIC_NAMES].to_dict()


def horizon_buckets(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` once per horizon bucket its day falls in (days after the cutoff), and once as 'all'."""
    days_ahead = (pd.to_datetime(rows["ds"]) - pd.to_datetime(rows["cutoff"])).dt.days
    frames = [rows.assign(horizon_bucket=ALL_HORIZONS)]
    for label, first, last in HORIZON_BUCKETS:
        frames.append(rows[days_ahead.between(first, last)].assign(horizon_bucket=label))
    return pd.concat(frames, ignore_index=True)


def with_scales(rows: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows with the MASE and RMSSE scales of their series and origin."""
    return rows.merge(error_scales(series, rows), on=["unique_id", "cutoff"], how="left")


def score_backtest(rows: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model × series × origin × horizon bucket of `backtest_forecasts` rows."""
    if rows.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    bucketed = horizon_buckets(with_scales(rows, series))
    metrics = summarise_errors(bucketed, ["unique_id", "model", "cutoff", "horizon_bucket"])
    return metrics[METRIC_COLUMNS]


def backtest(
    series: pd.DataFrame,
    classes: pd.DataFrame | None = None,
    h: int = BACKTEST_HORIZON_DAYS,
    step_size: int = BACKTEST_STEP_DAYS,
    n_windows: int = MIN_ORIGINS,
) -> pd.DataFrame:
    """Rolling-origin backtest metrics of the class-appropriate candidates of every series."""
    rows = backtest_forecasts(series, classes, h=h, step_size=step_size, n_windows=n_windows)
    return score_backtest(rows, series)
