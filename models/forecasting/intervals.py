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

Weekly and monthly totals are calibrated the same way on the backtest's errors of sums: days 1-7,
8-14, 15-21 and 22-28 after an origin for a week, days 1-28 for a month, each error divided by the
series' spread of weeks. Adding up the days' intervals instead (√Σσ², as if the days erred
independently) made the county's weekly 80 % intervals hold 89-95 % of the weeks: a level set too
high errs every day the same way, and a lumpy SKU's daily bounds are skewed, so the sum of the
days' spreads is not the spread of the sum.
"""

from __future__ import annotations

from statistics import NormalDist

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
# Days in the backtest window whose sums calibrate each period grain. After each origin, days 1-7,
# 8-14, 15-21 and 22-28 make four weekly sums, days 1-28 (the backtest's horizon) a month's.
PERIOD_WINDOW_DAYS = {"week": 7, "month": 28}
# A period's errors are scaled by the series' own spread of weeks: the mean absolute difference
# between consecutive 7-day sums before the origin (the MASE scale of the series summed into
# weeks), which tells a SKU sold in lumps from a steady one better than the days' scale does. The
# 28-day sums take it too: a year holds only a dozen of them, too few to measure their own spread.
PERIOD_SCALE_DAYS = 7
# The period scale needs at least this many differences between weeks.
MIN_PERIOD_SCALE_DIFFERENCES = 2
# A period shorter than its grain's window (cut by as_of or the horizon; a calendar month of 29 to
# 31 days against 28) takes the window's quantiles times (days / window days) ** this: the growth
# of independent days' errors. A level error alone would grow linearly (1); at the last backtest
# origin of the small and county networks the first 2 and 4 days of each week, and the first 14
# and 21 of the 28, scored better by interval score with 0.5 than with 0.75 or 1.
PERIOD_ERROR_GROWTH = 0.5
PERIOD_COLUMNS = ["period_grain", "period_start", "period_end", "days_covered"]


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


def error_quantiles(errors: pd.DataFrame, horizon: str = "bucket") -> pd.DataFrame:
    """The scaled-error quantiles of each pool × option × `horizon` (QUANTILE_COLUMNS), from the
    option's errors over every pool where its own pool holds too few."""
    errors = errors.dropna(subset=["scaled_error"])

    def quantiles(keys: list[str]) -> pd.DataFrame:
        grouped = errors.groupby(keys)["scaled_error"]
        table = grouped.quantile(list(QUANTILE_NAMES)).unstack().rename(columns=QUANTILE_NAMES)
        return table.assign(errors=grouped.size()).reset_index()

    by_pool = quantiles(["pool", "model", horizon])
    overall = quantiles(["model", horizon])
    by_pool = by_pool[by_pool["errors"] >= MIN_CALIBRATION_ERRORS]
    overall = overall[overall["errors"] >= MIN_CALIBRATION_ERRORS]
    pooled_options = errors[["pool", "model", horizon]].drop_duplicates()
    fallback = pooled_options.merge(by_pool[["pool", "model", horizon]], how="left", indicator=True)
    fallback = fallback[fallback["_merge"] == "left_only"].drop(columns="_merge").merge(overall, on=["model", horizon])
    return pd.concat([by_pool, fallback], ignore_index=True)[["pool", "model", horizon, *QUANTILE_COLUMNS]]


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


def forecast_origins(series: pd.DataFrame) -> pd.DataFrame:
    """Each series' last day (unique_id, cutoff), the origin of its forecast."""
    return series.groupby("unique_id", as_index=False)["ds"].max().rename(columns={"ds": "cutoff"})


def calibrate_forecasts(
    forecasts: pd.DataFrame, errors: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame
) -> pd.DataFrame:
    """Forecasts (unique_id, model, ds, yhat, bounds) from the day after each series' last day,
    with bounds calibrated on the backtest's `scaled_errors` at every origin."""
    quantiles = error_quantiles(errors)
    scales = error_scales(series, forecast_origins(series))[["unique_id", "cutoff", "scale"]]
    frame = forecasts.merge(scales, on="unique_id", how="left")
    frame = frame.merge(pools[["unique_id", "pool"]], on="unique_id", how="left")
    frame["bucket"] = calibration_bucket((pd.to_datetime(frame["ds"]) - pd.to_datetime(frame["cutoff"])).dt.days)
    frame = frame.merge(quantiles, on=["pool", "model", "bucket"], how="left")
    return with_calibrated_bounds(frame)[forecasts.columns]


def period_scales(series: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """Each origin's period error scale (unique_id, cutoff, scale): the mean absolute difference
    between consecutive sums of PERIOD_SCALE_DAYS days of the series, counted back from the cutoff
    over its days up to it (NaN with fewer than MIN_PERIOD_SCALE_DIFFERENCES differences, or none
    non-zero).

    `series` holds every day of each series (unique_id, ds, y), `origins` (unique_id, cutoff) a
    day of it. The sums are differences of one running total.
    """
    ordered = series.sort_values(["unique_id", "ds"], ignore_index=True)
    running = np.concatenate([[0.0], ordered["y"].to_numpy(dtype=float).cumsum()])
    spans = ordered.reset_index().groupby("unique_id").agg(first_row=("index", "min"), first_day=("ds", "min"))
    keys = origins[["unique_id", "cutoff"]].drop_duplicates().merge(spans, left_on="unique_id", right_index=True)
    first_row = keys["first_row"].to_numpy()
    # The running total just after the cutoff's row: each window ends there or whole windows earlier.
    ends_after = first_row + (pd.to_datetime(keys["cutoff"]) - pd.to_datetime(keys["first_day"])).dt.days.to_numpy() + 1
    windows_back = np.arange(int(np.max(ends_after - first_row, initial=0)) // PERIOD_SCALE_DAYS + 1)
    ends = ends_after[:, None] - PERIOD_SCALE_DAYS * windows_back[None, :]
    starts = ends - PERIOD_SCALE_DAYS
    sums = np.where(starts >= first_row[:, None], running[ends.clip(min=0)] - running[starts.clip(min=0)], np.nan)
    differences = np.abs(np.diff(sums, axis=1))
    counted = np.isfinite(differences).sum(axis=1)
    total = np.nansum(differences, axis=1)
    usable = (counted >= MIN_PERIOD_SCALE_DIFFERENCES) & (total > 0)
    return keys[["unique_id", "cutoff"]].assign(scale=np.where(usable, total / np.maximum(counted, 1), np.nan))


def period_sum_errors(errors: pd.DataFrame, scales: pd.DataFrame) -> pd.DataFrame:
    """The backtest's errors of sums over each PERIOD_WINDOW_DAYS window after an origin: per
    series × option × origin × window, (Σy − Σyhat) over the series' `period_scales` at that
    origin, with pool, origin, period_grain and the window's first_day. `errors` are the rows'
    `scaled_errors`; a window the backtest does not fill is left out."""
    keys = ["unique_id", "model", "cutoff", "pool", "origin"]
    week_days, month_days = PERIOD_WINDOW_DAYS["week"], PERIOD_WINDOW_DAYS["month"]
    days_ahead = (pd.to_datetime(errors["ds"]) - pd.to_datetime(errors["cutoff"])).dt.days
    # Grouping by a computed key rather than filtering each window keeps the backtest's rows (6.4 M
    # at the county) from being copied once a window.
    first_day = ((days_ahead - 1) // week_days * week_days + 1).rename("first_day")
    weeks = errors.groupby([*keys, first_day], dropna=False).agg(
        y=("y", "sum"), yhat=("yhat", "sum"), days=("y", "size")
    )
    weeks = weeks[weeks["days"] == week_days].reset_index()
    in_month = weeks[weeks["first_day"] <= month_days - week_days + 1]
    months = in_month.groupby(keys, dropna=False).agg(y=("y", "sum"), yhat=("yhat", "sum"), days=("days", "sum"))
    months = months[months["days"] == month_days].reset_index().assign(first_day=1)
    sums = pd.concat([weeks.assign(period_grain="week"), months.assign(period_grain="month")], ignore_index=True)
    sums = sums.merge(scales, on=["unique_id", "cutoff"], how="left")
    return sums.assign(scaled_error=(sums["y"] - sums["yhat"]) / sums["scale"]).drop(columns="days")


def summed_with_independent_days(daily: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`daily` (yhat, bounds) summed per `keys`: days_covered, yhat, and bounds as if the days
    erred independently and normally, each day's σ read off its 95 % upper bound and the sum's σ
    √Σσ² (lower bounds at least 0). The bounds of sums whose series have no calibration."""
    z_95 = NormalDist().inv_cdf(INTERVAL_QUANTILES["95"][1])
    spread = daily[keys].assign(
        yhat=daily["yhat"], variance=((daily["yhat_upper_95"] - daily["yhat"]).clip(lower=0.0) / z_95) ** 2
    )
    sums = spread.groupby(keys, as_index=False, dropna=False).agg(
        days_covered=("yhat", "size"), yhat=("yhat", "sum"), variance=("variance", "sum")
    )
    sigma = np.sqrt(sums["variance"])
    for level, (_, upper_quantile) in INTERVAL_QUANTILES.items():
        half_width = NormalDist().inv_cdf(upper_quantile) * sigma
        sums[f"yhat_lower_{level}"] = (sums["yhat"] - half_width).clip(lower=0.0)
        sums[f"yhat_upper_{level}"] = sums["yhat"] + half_width
    return sums.drop(columns="variance")


def period_rollups(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Daily forecasts (unique_id, model, ds, yhat, bounds; one model per series) summed per ISO
    week (Monday first) and calendar month: PERIOD_COLUMNS, yhat and the independent days' bounds
    (`summed_with_independent_days`). A period cut by the forecast's horizon keeps the days it has."""
    days = pd.to_datetime(forecasts["ds"])
    grains = []
    for grain in PERIOD_WINDOW_DAYS:
        if grain == "week":
            start = days - pd.to_timedelta(days.dt.weekday, unit="D")
            end = start + pd.Timedelta(days=6)
        else:
            start = days.dt.to_period("M").dt.start_time
            end = days.dt.to_period("M").dt.end_time.dt.normalize()
        grains.append(forecasts.assign(period_grain=grain, period_start=start.dt.normalize(), period_end=end))
    periods = pd.concat(grains, ignore_index=True)
    return summed_with_independent_days(periods, ["unique_id", "model", "period_grain", "period_start", "period_end"])


def with_period_bounds(periods: pd.DataFrame, quantiles: pd.DataFrame) -> pd.DataFrame:
    """`periods` (pool, model, period_grain, days_covered, yhat, bounds, scale) with bounds from the
    period sums' `quantiles` where it has them and a scale; its own bounds elsewhere.

    A period whose days_covered differ from its grain's window (a week or month cut short by
    as_of or the horizon, a calendar month of 29 to 31 days against the 28-day window) takes the
    window's quantiles times (days_covered / window days) ** PERIOD_ERROR_GROWTH.
    """
    frame = periods.merge(quantiles, on=["pool", "model", "period_grain"], how="left").set_axis(periods.index)
    days_ratio = frame["days_covered"] / frame["period_grain"].map(PERIOD_WINDOW_DAYS)
    frame["scale"] = frame["scale"] * days_ratio**PERIOD_ERROR_GROWTH
    return with_calibrated_bounds(frame)[periods.columns]


def calibrate_periods(
    periods: pd.DataFrame, errors: pd.DataFrame, series: pd.DataFrame, pools: pd.DataFrame
) -> pd.DataFrame:
    """`period_rollups` of the forecast with bounds from the quantiles of the backtest's errors of
    period sums at every origin (`errors` are the rows' `scaled_errors`), pooled as the days' are;
    a series without a period scale, or whose option has too few errors anywhere, keeps its bounds."""
    backtest_scales = period_scales(series, errors[["unique_id", "cutoff"]].drop_duplicates())
    quantiles = error_quantiles(period_sum_errors(errors, backtest_scales), horizon="period_grain")
    scales = period_scales(series, forecast_origins(series))[["unique_id", "scale"]]
    frame = periods.merge(scales, on="unique_id", how="left")
    frame = frame.merge(pools[["unique_id", "pool"]], on="unique_id", how="left")
    return with_period_bounds(frame, quantiles)[periods.columns]
