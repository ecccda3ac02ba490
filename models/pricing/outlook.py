"""Monthly price outlook 1..H months ahead, chosen per pool from rolling-origin backtests.

All candidates work on the log price of a series × month matrix, vectorised over every series (statsforecast fits
one model per series: at ~40 000 SKU series the fitting alone would take minutes, and monthly series of 9 to 24
points leave little for AutoETS or AutoARIMA to estimate). Candidates:
- naive: the last month's level (the no-change forecast every other model must beat);
- mean_revert: AR(1) towards the last 12 months' mean — market prices wander around a level (the simulator's index
  is a mean-reverting process plus a slow cycle);
- trend_revert: AR(1) towards the last 12 months' linear trend (mean reversion around inflation);
- damped_drift: the last quarter's slope, damped (a move under way continues, less and less);
- seasonal: the last level plus last year's change over the same months (only with a year of history behind the
  origin; produce and fertiliser have strong seasons);
- blend: the mean of naive and mean_revert, a hedge when neither wins clearly.
The model of a pool (category × kind for SKUs, kind for category indexes) is the one with the lowest mean absolute
log error over the backtest origins; the backtest also scores, at each origin, the model that would have been chosen
from the errors known then (nested), which is the honest measure of the outlook against no-change.
Intervals are empirical quantiles of the chosen model's absolute log errors per pool and horizon (pooled over all
pools when a pool has fewer than MIN_ERRORS), applied in log space, so bounds are never negative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

WINDOW = 24
MIN_ERRORS = 8
DAMPING = 0.7
MARGIN = 0.03

Candidate = Callable[[np.ndarray, int, int], np.ndarray]


def _last(y: np.ndarray, o: int) -> np.ndarray:
    return y[:, o]


def _ar_phi(dev: np.ndarray) -> np.ndarray:
    """Lag-1 autoregression coefficient of deviations, per row, clipped to [0, 0.98] (no oscillation, no unit
    root: a unit root is the naive candidate's job)."""
    num = np.nansum(dev[:, 1:] * dev[:, :-1], axis=1)
    den = np.nansum(dev[:, :-1] ** 2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.where(den > 0, num / den, 0.0), 0.0, 0.98)


def naive(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    return np.repeat(_last(y, o)[:, None], horizon, axis=1)


def mean_revert(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    window = y[:, max(0, o - WINDOW + 1) : o + 1]
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(window, axis=1)
    phi = _ar_phi(window - mu[:, None])
    steps = np.arange(1, horizon + 1)
    return mu[:, None] + phi[:, None] ** steps * (_last(y, o) - mu)[:, None]


def trend_revert(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    lo = max(0, o - WINDOW + 1)
    window = y[:, lo : o + 1]
    t = np.arange(window.shape[1], dtype=float)
    mask = ~np.isnan(window)
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (mask * t).sum(axis=1) / n
        y_mean = np.nanmean(window, axis=1)
        dt = np.where(mask, t - t_mean[:, None], 0.0)
        slope = np.nansum(dt * (window - y_mean[:, None]), axis=1) / (dt**2).sum(axis=1)
    slope = np.nan_to_num(slope)
    fitted = y_mean[:, None] + slope[:, None] * (t - t_mean[:, None])
    phi = _ar_phi(window - fitted)
    last_t = t[-1]
    steps = np.arange(1, horizon + 1)
    line = y_mean[:, None] + slope[:, None] * (last_t + steps - t_mean[:, None])
    return line + phi[:, None] ** steps * (_last(y, o) - fitted[:, -1])[:, None]


def damped_drift(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    slope = (_last(y, o) - y[:, o - 3]) / 3 if o >= 3 else np.zeros(len(y))
    slope = np.nan_to_num(slope)
    damped = np.cumsum(DAMPING ** np.arange(1, horizon + 1))
    return _last(y, o)[:, None] + slope[:, None] * damped


def seasonal(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    base = naive(y, o, horizon)
    if o < 12:
        return base
    change = np.stack([y[:, o + h - 12] - y[:, o - 12] for h in range(1, horizon + 1)], axis=1)
    return base + np.nan_to_num(change)


def blend(y: np.ndarray, o: int, horizon: int) -> np.ndarray:
    return (naive(y, o, horizon) + mean_revert(y, o, horizon)) / 2


CANDIDATES: dict[str, Candidate] = {
    "naive": naive,
    "mean_revert": mean_revert,
    "trend_revert": trend_revert,
    "damped_drift": damped_drift,
    "seasonal": seasonal,
    "blend": blend,
}


class Outlook(NamedTuple):
    forecasts: pd.DataFrame  # key, horizon, month, outlook, lower_80, upper_80, lower_95, upper_95, outlook_model
    backtest: pd.DataFrame  # key, pool, origin, horizon, model, chosen, error (log, actual − forecast), naive_error


def _matrix(monthly: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    months = pd.date_range(monthly["month"].min(), monthly["month"].max(), freq="MS")
    keys = np.sort(monthly[key].unique())
    y = np.full((len(keys), len(months)), np.nan)
    rows = np.searchsorted(keys, monthly[key].to_numpy())
    cols = months.get_indexer(pd.to_datetime(monthly["month"]))
    y[rows, cols] = np.log(monthly["price"].to_numpy())
    return y, keys, months


def _backtest_errors(y: np.ndarray, horizon: int, origins: int) -> pd.DataFrame:
    """Log errors of every candidate at each rolling origin: (row, origin, horizon, model, error)."""
    last = y.shape[1] - 1
    frames = []
    for o in range(max(1, last - origins - horizon + 1), last):
        has_origin = ~np.isnan(y[:, o])
        for name, model in CANDIDATES.items():
            forecast = model(y, o, horizon)
            for h in range(1, min(horizon, last - o) + 1):
                error = y[:, o + h] - forecast[:, h - 1]
                rows = np.flatnonzero(has_origin & ~np.isnan(error))
                frames.append(
                    pd.DataFrame({"row": rows, "origin": o, "horizon": h, "model": name, "error": error[rows]})
                )
    return pd.concat(frames, ignore_index=True)


def _choose(errors: pd.DataFrame) -> pd.Series:
    """Model with the lowest mean absolute log error per pool, kept only when it beats naive by MARGIN: with a few
    origins a small lead is mostly luck, and a wrong model costs more than no-change."""
    score = errors.assign(abs_error=errors["error"].abs()).groupby(["pool", "model"])["abs_error"].mean()
    score = score.unstack().reindex(columns=list(CANDIDATES))
    best = score.idxmin(axis=1)
    clear = score.min(axis=1) <= (1 - MARGIN) * score["naive"]
    return best.where(clear, "naive")


def _nested(errors: pd.DataFrame) -> pd.DataFrame:
    """At each origin, the model chosen from errors whose target month was known then (naive when none were), with
    its error and the naive error on the same rows."""
    known_at = errors["origin"] + errors["horizon"]
    scored = []
    for o in np.sort(errors["origin"].unique()):
        chosen = _choose(errors[known_at <= o]) if (known_at <= o).any() else pd.Series(dtype=object)
        at_origin = errors[errors["origin"] == o]
        pick = at_origin["pool"].map(chosen).fillna("naive")
        mine = at_origin[at_origin["model"] == pick]
        naive_error = at_origin[at_origin["model"] == "naive"].set_index(["row", "horizon"])["error"]
        mine = mine.assign(naive_error=naive_error.reindex(pd.MultiIndex.from_frame(mine[["row", "horizon"]])).values)
        scored.append(mine)
    return pd.concat(scored, ignore_index=True)


def _interval_widths(errors: pd.DataFrame, chosen: pd.Series, horizon: int) -> pd.DataFrame:
    """Per pool × horizon, the 80% and 95% quantiles of the chosen model's absolute log errors; widths never
    shrink with the horizon."""
    mine = errors[errors["model"] == errors["pool"].map(chosen)].assign(abs_error=lambda f: f["error"].abs())
    pooled = mine.groupby("horizon")["abs_error"].quantile([0.8, 0.95]).unstack()
    per_pool = mine.groupby(["pool", "horizon"])["abs_error"].agg(
        q80=lambda s: s.quantile(0.8), q95=lambda s: s.quantile(0.95), n="size"
    )
    index = pd.MultiIndex.from_product([chosen.index, range(1, horizon + 1)], names=["pool", "horizon"])
    widths = per_pool.reindex(index)
    fallback = pooled.reindex(widths.index.get_level_values("horizon"))
    few = widths["n"].fillna(0).to_numpy() < MIN_ERRORS
    widths.loc[few, "q80"] = fallback[0.8].to_numpy()[few]
    widths.loc[few, "q95"] = fallback[0.95].to_numpy()[few]
    widths[["q80", "q95"]] = widths[["q80", "q95"]].fillna(0.0).groupby(level="pool").cummax()
    return widths[["q80", "q95"]]


def outlook(monthly: pd.DataFrame, pools: pd.Series, key: str, horizon: int, origins: int, min_months: int) -> Outlook:
    """Forecasts and backtest of every series of a long monthly frame (key, month, price).

    pools maps key → pool. Series whose price never changed, or with fewer than min_months months, get the
    no-change outlook ('flat' | 'short') with their pool's interval widths and are left out of the backtest, where
    their zero errors would only flatter the models and shrink the intervals.
    """
    y, keys, months = _matrix(monthly, key)
    observed = (~np.isnan(y)).sum(axis=1)
    spread = np.nanmax(y, axis=1) - np.nanmin(y, axis=1)
    fitted = (spread > 0) & (observed >= min_months) & ~np.isnan(y[:, -1])
    pool_of = pools.reindex(keys).to_numpy()

    errors = _backtest_errors(y[fitted], horizon, origins)
    errors["pool"] = pool_of[fitted][errors["row"].to_numpy()]
    chosen = _choose(errors) if len(errors) else pd.Series(dtype=object)
    all_pools = pd.Index(pd.unique(pool_of))
    chosen = chosen.reindex(all_pools).fillna("naive")
    widths = _interval_widths(errors, chosen, horizon) if len(errors) else None

    last_col = y.shape[1] - 1
    forecast = naive(y, last_col, horizon)
    model = np.where(fitted, chosen.reindex(pool_of).to_numpy(), np.where(spread > 0, "short", "flat"))
    for name, candidate in CANDIDATES.items():
        rows = fitted & (model == name)
        if rows.any():
            forecast[rows] = candidate(y[rows], last_col, horizon)
    # A series whose last month is missing (delisted, or a partial month dropped) forecasts from its last price.
    last_seen = pd.DataFrame(y).ffill(axis=1).to_numpy()[:, -1]
    stale = np.isnan(y[:, -1])
    forecast[stale] = last_seen[stale][:, None]

    steps = np.arange(1, horizon + 1)
    frame = pd.DataFrame(
        {
            key: np.repeat(keys, horizon),
            "horizon": np.tile(steps, len(keys)),
            "month": np.tile([(months[-1] + pd.DateOffset(months=int(h))).date() for h in steps], len(keys)),
            "log_outlook": forecast.ravel(),
            "outlook_model": np.repeat(model, horizon),
            "pool": np.repeat(pool_of, horizon),
        }
    )
    if widths is None:
        frame["q80"] = frame["q95"] = 0.0
    else:
        frame = frame.join(widths, on=["pool", "horizon"])
        frame[["q80", "q95"]] = frame[["q80", "q95"]].fillna(0.0)
    frame = frame.assign(
        outlook=np.exp(frame["log_outlook"]),
        lower_80=np.exp(frame["log_outlook"] - frame["q80"]),
        upper_80=np.exp(frame["log_outlook"] + frame["q80"]),
        lower_95=np.exp(frame["log_outlook"] - frame["q95"]),
        upper_95=np.exp(frame["log_outlook"] + frame["q95"]),
    ).drop(columns=["log_outlook", "q80", "q95", "pool"])

    backtest = _nested(errors) if len(errors) else errors.assign(naive_error=[])
    backtest = backtest.assign(
        **{key: keys[np.flatnonzero(fitted)][backtest["row"].to_numpy()]},
        origin=months[backtest["origin"].to_numpy()].date,
    ).drop(columns="row")
    return Outlook(frame, backtest)
