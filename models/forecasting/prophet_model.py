"""Prophet with China's public holidays and the farming calendar, for smooth series with a full
year of history.

Prophet fits trend, weekly season and holiday effects per series (about 1 s a fit, four fits
per series: three backtest origins and the final forecast), so it runs only where it may pay:
smooth demand (sold most days, steady sizes) whose history fills the whole window, at most
MAX_SERIES of them per run, those that sold the most first. The yearly season stays off: a year
of history cannot tell it from trend. The farming calendar comes in as a regressor instead
(`seasonality.farming_season`): the SKU's category's demand a year before each day, relative to
its mean, pooled over the network, with a multiplicative effect Prophet fits per series. A series
gets it where the profile reaches back over MIN_SEASON_COVERAGE of its training days (two years
of history; the days it misses count as an ordinary day, 0).

Intervals: the forecast ± the normal quantile times the standard deviation of the in-sample
residuals. That is deterministic (Prophet's own intervals come from random simulation) and
about twice as fast, but ignores trend uncertainty, so far horizons get intervals that are too
narrow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from prophet import Prophet
from scipy.stats import norm

from models.forecasting.backtest import (
    BACKTEST_HORIZON_DAYS,
    BACKTEST_ROW_COLUMNS,
    BACKTEST_STEP_DAYS,
    MIN_ORIGINS,
)
from models.forecasting.candidates import FORECAST_COLUMNS, VALUE_COLUMNS
from models.forecasting.demand_classes import SMOOTH
from models.forecasting.series import HISTORY_DAYS, HORIZON_DAYS, INTERVAL_LEVELS

PROPHET_MODEL = "prophet"
MAX_SERIES = 20
MIN_HISTORY_DAYS = HISTORY_DAYS
HOLIDAY_COUNTRY = "CN"
FARMING_SEASON = "farming_season"
MIN_SEASON_COVERAGE = 0.9
# A series' farming-calendar regressor forecast on a day, over given days (seasonality.farming_season).
FarmingSeason = Callable[[str, pd.Timestamp, pd.DatetimeIndex], pd.Series]


def prophet_series_ids(series: pd.DataFrame, classes: pd.DataFrame, max_series: int = MAX_SERIES) -> list[str]:
    """The smooth series with MIN_HISTORY_DAYS of history, the best-selling `max_series` of them."""
    smooth = classes.loc[classes["demand_class"] == SMOOTH, "unique_id"]
    totals = series[series["unique_id"].isin(smooth)].groupby("unique_id")["y"].agg(["size", "sum"])
    eligible = totals[totals["size"] >= MIN_HISTORY_DAYS].sort_values(["sum"], ascending=False, kind="stable")
    return sorted(eligible.head(max_series).index)


def fit_and_forecast(
    history: pd.DataFrame, horizon: int, season: Callable[[pd.DatetimeIndex], pd.Series] | None = None
) -> pd.DataFrame:
    """One series' Prophet forecast `horizon` days past its end: ds and VALUE_COLUMNS; with the
    farming calendar `season` gives for its days, where it covers MIN_SEASON_COVERAGE of them."""
    # cmdstanpy logs two INFO lines per fit; a run fits hundreds of times.
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    model = Prophet(weekly_seasonality=True, yearly_seasonality=False, daily_seasonality=False, uncertainty_samples=0)
    model.add_country_holidays(country_name=HOLIDAY_COUNTRY)
    training = history[["ds", "y"]].assign(ds=pd.to_datetime(history["ds"]))
    future = pd.DataFrame({"ds": pd.date_range(training["ds"].max() + pd.Timedelta(days=1), periods=horizon, freq="D")})
    if season is not None:
        regressor = season(pd.DatetimeIndex(pd.concat([training["ds"], future["ds"]])))
        if regressor.loc[training["ds"]].notna().mean() >= MIN_SEASON_COVERAGE:
            model.add_regressor(FARMING_SEASON, mode="multiplicative")
            training[FARMING_SEASON] = regressor.loc[training["ds"]].fillna(0.0).to_numpy()
            future[FARMING_SEASON] = regressor.loc[future["ds"]].fillna(0.0).to_numpy()
    model.fit(training)
    residual_std = float(np.std(training["y"].to_numpy() - model.predict(training)["yhat"].to_numpy()))
    yhat = model.predict(future)["yhat"].to_numpy()
    forecast = pd.DataFrame({"ds": future["ds"], "yhat": yhat})
    for level in INTERVAL_LEVELS:
        width = norm.ppf(0.5 + level / 200) * residual_std
        forecast[f"yhat_lower_{level}"] = yhat - width
        forecast[f"yhat_upper_{level}"] = yhat + width
    forecast[VALUE_COLUMNS] = forecast[VALUE_COLUMNS].clip(lower=0.0)
    return forecast


def backtest_prophet(
    series: pd.DataFrame,
    series_ids: list[str],
    h: int = BACKTEST_HORIZON_DAYS,
    step_size: int = BACKTEST_STEP_DAYS,
    n_windows: int = MIN_ORIGINS,
    season: FarmingSeason | None = None,
) -> pd.DataFrame:
    """Prophet's rolling-origin forecasts of the given series (`backtest.BACKTEST_ROW_COLUMNS`),
    with the farming calendar `season` gives as known at each origin."""
    frames = []
    for unique_id in series_ids:
        history = series[series["unique_id"] == unique_id].sort_values("ds")
        end = history["ds"].max()
        for window in range(n_windows):
            cutoff = end - pd.Timedelta(days=h + step_size * (n_windows - 1 - window))
            forecast = fit_and_forecast(history[history["ds"] <= cutoff], h, _season_of(season, unique_id, cutoff))
            actual = history[["ds", "y"]].assign(ds=pd.to_datetime(history["ds"]))
            rows = forecast.merge(actual, on="ds").assign(unique_id=unique_id, cutoff=cutoff, model=PROPHET_MODEL)
            frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=BACKTEST_ROW_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.astype({"ds": series["ds"].dtype, "cutoff": series["ds"].dtype})
    return rows[BACKTEST_ROW_COLUMNS].sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)


def forecast_prophet(
    series: pd.DataFrame, series_ids: list[str], horizon: int = HORIZON_DAYS, season: FarmingSeason | None = None
) -> pd.DataFrame:
    """Prophet's forecasts `horizon` days past the end of the given series (candidates.FORECAST_COLUMNS),
    with the farming calendar `season` gives as known on each series' last day."""
    frames = []
    for unique_id in series_ids:
        history = series[series["unique_id"] == unique_id]
        last_day = pd.Timestamp(history["ds"].max())
        forecast = fit_and_forecast(history, horizon, _season_of(season, unique_id, last_day))
        frames.append(forecast.assign(unique_id=unique_id, model=PROPHET_MODEL))
    if not frames:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    forecasts = pd.concat(frames, ignore_index=True)
    forecasts["ds"] = forecasts["ds"].astype(series["ds"].dtype)
    return forecasts[FORECAST_COLUMNS]


def _season_of(
    season: FarmingSeason | None, unique_id: str, last_day: pd.Timestamp
) -> Callable[[pd.DatetimeIndex], pd.Series] | None:
    """One series' farming calendar as known on `last_day`."""
    if season is None:
        return None
    return lambda days: season(unique_id, last_day, days)
