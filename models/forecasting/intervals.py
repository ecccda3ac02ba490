"""Prediction intervals calibrated on the backtest: quantiles of scaled errors, pooled.

The models' own intervals come from a series' own two conformal windows (or the model's
likelihood), and on the small network (`--seed 42`) the chosen forecasts' 80 % and 95 %
intervals held only 58 % and 61 % of the actual days at the last origin: two windows of a SKU
that sells on one day in five rarely show a selling day, so the interval stops below one unit.
Pooled over the series of a demand class, the errors do show them. An option's interval at a day
h days ahead is its forecast plus the quantiles of the option's errors in the pool, each error
divided by its series' MASE scale (the in-sample weekly-naive error), h in the same horizon
bucket; the lower bound never goes below zero. This is split conformal prediction on scaled
residuals, with the pool standing in for the series.

In the backtest each origin is calibrated on the errors at the series' other origins, so the
last origin, which scores the choice, is calibrated on the earlier ones only. The forecast is
calibrated on every origin, and its days beyond the backtest's horizon take the last bucket's
quantiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.forecasting.backtest import error_scales

# (lower, upper) quantile of the scaled error for each interval; column suffixes as in VALUE_COLUMNS.
INTERVAL_QUANTILES = {"80": (0.10, 0.90), "95": (0.025, 0.975)}
# Days ahead, inclusive; the last bucket is open (the forecast reaches 90 days, the backtest 28).
CALIBRATION_BUCKETS = (("1-7", 1, 7), ("8-14", 8, 14), ("15+", 15, np.inf))
# Fewer errors than this in a pool leave the option's errors over all pools to decide; an option
# with fewer than this anywhere keeps its own intervals.
MIN_CALIBRATION_ERRORS = 50
QUANTILE_NAMES = {
    quantile: f"q{side}_{level}"
    for level, pair in INTERVAL_QUANTILES.items()
    for side, quantile in zip(("lower", "upper"), pair, strict=True)
}
QUANTILE_COLUMNS = list(QUANTILE_NAMES.values())


def calibration_bucket(days_ahead: pd.Series) -> np.ndarray:
    conditions = [days_ahead.between(first, last) for _, first, last in CALIBRATION_BUCKETS]
    return np.select(conditions, [label for label, _, _ in CALIBRATION_BUCKETS], default=None)


def scaled_errors(rows: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows (unique_id, model, cutoff, ds, y, yhat; on their own index) with pool, bucket,
    origin and the error over the series' MASE scale at that origin (NaN where it has none)."""
    scales = error_scales(series, rows)[["unique_id", "cutoff", "scale"]]
    scored = rows[["unique_id", "model", "cutoff", "ds", "y", "yhat"]].merge(
        scales, on=["unique_id", "cutoff"], how="left"
    )
    scored = scored.set_axis(rows.index)
    scored["pool"] = scored["unique_id"].map(pools.set_index("unique_id")["pool"])
    scored["bucket"] = calibration_bucket((pd.to_datetime(scored["ds"]) - pd.to_datetime(scored["cutoff"])).dt.days)
    scored["origin"] = scored.groupby("unique_id")["cutoff"].rank(method="dense").astype(int)
    scored["scaled_error"] = (scored["y"] - scored["yhat"]) / scored["scale"]
    return scored


def error_quantiles(errors: pd.DataFrame) -> pd.DataFrame:
    """The scaled-error quantiles of each pool × option × bucket (QUANTILE_COLUMNS), from the
    option's errors over every pool where its own pool holds too few."""
    errors = errors.dropna(subset=["scaled_error"])

    def quantiles(keys: list[str]) -> pd.DataFrame:
        grouped = errors.groupby(keys)["scaled_error"]
        table = grouped.quantile(list(QUANTILE_NAMES)).unstack().rename(columns=QUANTILE_NAMES)
        return table.assign(errors=grouped.size()).reset_index()

    by_pool = quantiles(["pool", "model", "bucket"])
    overall = quantiles(["model", "bucket"])
    by_pool = by_pool[by_pool["errors"] >= MIN_CALIBRATION_ERRORS]
    overall = overall[overall["errors"] >= MIN_CALIBRATION_ERRORS]
    pooled_options = errors[["pool", "model", "bucket"]].drop_duplicates()
    fallback = pooled_options.merge(by_pool[["pool", "model", "bucket"]], how="left", indicator=True)
    fallback = fallback[fallback["_merge"] == "left_only"].drop(columns="_merge").merge(overall, on=["model", "bucket"])
    return pd.concat([by_pool, fallback], ignore_index=True)[["pool", "model", "bucket", *QUANTILE_COLUMNS]]


def with_calibrated_bounds(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (yhat, bounds, scale and QUANTILE_COLUMNS) with bounds from its quantiles where it
    has them and a scale; its own bounds elsewhere."""
    frame = frame.copy()
    usable = frame["qlower_80"].notna() & frame["scale"].notna()
    for level in INTERVAL_QUANTILES:
        for side in ("lower", "upper"):
            calibrated = frame["yhat"] + frame[f"q{side}_{level}"] * frame["scale"]
            if side == "lower":
                calibrated = calibrated.clip(lower=0.0)
            column = f"yhat_{side}_{level}"
            frame[column] = calibrated.where(usable, frame[column])
    return frame


def calibrate_backtest(rows: pd.DataFrame, errors: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows with each origin's bounds calibrated on the errors at the series' other
    origins; `errors` are the rows' `scaled_errors`, on the same index."""
    per_origin = []
    for origin in sorted(errors["origin"].unique()):
        quantiles = error_quantiles(errors[errors["origin"] != origin])
        at_origin = errors.loc[errors["origin"] == origin, ["pool", "model", "bucket", "scale"]]
        per_origin.append(
            at_origin.merge(quantiles, on=["pool", "model", "bucket"], how="left").set_axis(at_origin.index)
        )
    calibration = pd.concat(per_origin)[["scale", *QUANTILE_COLUMNS]]
    return with_calibrated_bounds(rows.join(calibration))[rows.columns]


def calibrate_forecasts(
    forecasts: pd.DataFrame, errors: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame
) -> pd.DataFrame:
    """Forecasts (unique_id, model, ds, yhat, bounds) from the day after each series' last day,
    with bounds calibrated on the backtest's `scaled_errors` at every origin."""
    quantiles = error_quantiles(errors)
    last_days = series.groupby("unique_id", as_index=False)["ds"].max().rename(columns={"ds": "cutoff"})
    scales = error_scales(series, last_days)[["unique_id", "cutoff", "scale"]]
    frame = forecasts.merge(scales, on="unique_id", how="left")
    frame = frame.merge(pools[["unique_id", "pool"]], on="unique_id", how="left")
    frame["bucket"] = calibration_bucket((pd.to_datetime(frame["ds"]) - pd.to_datetime(frame["cutoff"])).dt.days)
    frame = frame.merge(quantiles, on=["pool", "model", "bucket"], how="left")
    return with_calibrated_bounds(frame)[forecasts.columns]
