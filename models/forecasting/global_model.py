"""One LightGBM model across every series (mlforecast), the fast path for many series.

A global model learns the shape of demand (weekday, holidays, recent level) from all series at
once, so a series with little history borrows from the others, and one fit per backtest origin
serves every series. Features: demand lags of one to four weeks, weekly and four-weekly rolling
means of demand a week back, the demand of the same weekday a year back (lag 364) and the mean of
the same fortnight a year back, day of week, month, whether the day is a public holiday in
mainland China (`holidays` ships the calendar; nothing is downloaded). The year-back features let
the model see a farming-calendar peak coming (fertiliser before planting) that the recent weeks
do not show; where a series is younger than a year they are missing, which LightGBM handles, so
no training row is dropped for them.

The model trains on the same year of each series as the per-series models, but the year-back
features are read from a longer history (`history`, two years in forecast_network) and handed to
mlforecast as exogenous columns: as lags of the one-year series they were missing on every
training day, and training on two years instead doubled the model's time. A year back is always
before the origin (or as_of) for the 28- and 90-day horizons, so nothing is read ahead.

Promotions and shelf prices (drivers.py) are features too: how deep a promotion cuts the SKU's
price that day, the days since its last promotion, and how far its price moved over four weeks.
Each forecast sees the promotions and prices known on the day it is made.

The Tweedie loss suits daily counts with many zeros (as in the M5 competition's winning solutions).

Intervals: in the backtest, conformal intervals from the errors of the two 28-day windows before
each origin, built as mlforecast's "conformal_distribution" builds them; for the 90-day forecast,
the same idea on the backtest's own errors of the series: the 80% / 95% quantiles of the absolute
errors over all origins (horizons 1–28), applied to every day ahead. Days past 28 reuse the
28-day windows' errors, so their intervals may be too narrow.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

import holidays
import lightgbm as lgb
import numpy as np
import pandas as pd
from mlforecast import MLForecast
from mlforecast.lag_transforms import RollingMean

from models.forecasting.backtest import (
    BACKTEST_HORIZON_DAYS,
    BACKTEST_ROW_COLUMNS,
    BACKTEST_STEP_DAYS,
    MIN_ORIGINS,
    MIN_TRAINING_DAYS,
)
from models.forecasting.candidates import FORECAST_COLUMNS, VALUE_COLUMNS
from models.forecasting.demand_classes import NO_DEMAND
from models.forecasting.drivers import (
    DRIVER_FEATURES,
    MAY_BE_MISSING_DRIVER_FEATURES,
    DemandDrivers,
    driver_features,
)
from models.forecasting.series import HORIZON_DAYS, INTERVAL_LEVELS
from models.settings import whole_number_setting

GLOBAL_MODEL = "lightgbm_global"
THREADS_SETTING = "COOPCAST_LIGHTGBM_THREADS"
# One LightGBM thread per fit unless THREADS_SETTING says otherwise; the backtest's windows and the
# final fit run side by side instead, one per usable core (`fit_workers`). Two LightGBM threads in one fit
# wait for each other at every step of every tree: on two cores shared with other work (the test
# suite, a second pipeline) they fitted the tiny and small networks about 8x slower than one
# thread, and copies of the small network up to 4 944 series 2-5x slower. Fits side by side share
# nothing, and LightGBM lets go of Python's lock while it bins and grows trees, so they run at once
# on free cores and merely take turns on a busy one. Two fits of the small network copied to 2 472
# series (0.88 million rows each) took 6.4-7.7 s side by side, 8.0-8.5 s one after the other on two
# threads each, 11.1-11.8 s one after the other on one thread; with the other core busy,
# 10.9-11.0 s side by side against 11.4-13.1 s one after the other.
DEFAULT_THREADS = 1
YEAR_LAG = 364
LAGS = (7, 14, 21, 28)
# The 14 days centred on the same day a year back: lags 357 to 370.
YEAR_BACK_WINDOW = 14
YEAR_BACK_FEATURES = ["year_back_demand", "year_back_fortnight"]
CONFORMAL_WINDOWS = 2
# 100 trees at rate 0.1 and 63 histogram bins: on the small network copied to 1 236 series, the
# backtest and forecast took 98 s against 186 s with 200 trees at 0.05 and 255 bins, for the same
# last-origin error (MASE 1.344 against 1.352, RMSSE 0.748 against 0.747). Every tree sees every
# row: bagging half the rows made each fit slower, not faster, as LightGBM copies the bagged rows
# out for every tree (one fit of the small network copied to 4 944 series, 1.76 million rows:
# 17-18 s with it, 10.5-11 s without), and the small network's last-origin MASE of the model was
# 1.176 without it against 1.181 with. The global model is the fast path's slowest part.
LIGHTGBM_PARAMETERS = {
    "objective": "tweedie",
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_bin": 63,
    "num_leaves": 31,
    "min_child_samples": 20,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


@cache
def china_holidays(years: tuple[int, ...]) -> pd.DatetimeIndex:
    """Mainland China's public holidays in those years (building the calendar takes ~0.3 s)."""
    return pd.DatetimeIndex(sorted(holidays.China(years=years)))


def chinese_holiday(dates: pd.DatetimeIndex) -> np.ndarray:
    """1 on mainland China's public holidays, else 0."""
    calendar = china_holidays(tuple(sorted(set(dates.year))))
    return dates.normalize().isin(calendar).astype(np.int8)


def feature_settings() -> dict[str, Any]:
    """The daily features the model learns from, as mlforecast's (and its distributed twin's) arguments."""
    return {
        "freq": "D",
        "lags": list(LAGS),
        "lag_transforms": {7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        "date_features": ["dayofweek", "month", chinese_holiday],
        "num_threads": 1,
    }


def threads(environ: Mapping[str, str] = os.environ) -> int:
    """LightGBM's threads: THREADS_SETTING, or DEFAULT_THREADS when it is unset or empty."""
    return whole_number_setting(THREADS_SETTING, DEFAULT_THREADS, "threads", environ)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def fit_workers(fits: int = MIN_ORIGINS + CONFORMAL_WINDOWS + 1) -> int:
    """How many of the global model's `fits` (by default the backtest's windows and the final
    fit) run side by side: one per usable core."""
    return max(1, min(fits, usable_cores()))


def engine(seed: int = 0) -> MLForecast:
    """An unfitted daily mlforecast engine holding the one LightGBM model."""
    model = lgb.LGBMRegressor(**LIGHTGBM_PARAMETERS, n_jobs=threads(), random_state=seed)
    return MLForecast(models={GLOBAL_MODEL: model}, **feature_settings())


@contextmanager
def history_features_may_be_missing() -> Iterator[None]:
    """Silence mlforecast's warning about missing values when only the features that are missing
    by design have them (`dropna=False` keeps those days, and LightGBM handles them): lags and
    rolling means in a series' first weeks, the year-back features where it is younger than a
    year, the days after a promotion where none ended lately, and the price changes before a
    SKU's first price. A warning naming any other feature (a date feature, or the promotion's
    depth, which is 0 without one) still shows."""
    feature = "|".join(
        [r"lag\d+", r"rolling_mean_lag\d+_window_size\d+", *YEAR_BACK_FEATURES, *MAY_BE_MISSING_DRIVER_FEATURES]
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", rf"Found null values in ({feature})(, ({feature}))*\.$", UserWarning)
        yield


def year_back_features(history: pd.DataFrame, days_ahead: int = 0) -> pd.DataFrame:
    """unique_id, ds and YEAR_BACK_FEATURES on every day of each zero-filled daily series in
    `history` and the `days_ahead` days after its end (whose year back is history)."""
    if history.empty:
        return pd.DataFrame(columns=["unique_id", "ds", *YEAR_BACK_FEATURES])
    ends = history.groupby("unique_id", sort=False)["ds"].max()
    ahead = pd.DataFrame(
        {
            "unique_id": np.repeat(ends.index.to_numpy(), days_ahead),
            "ds": (
                np.repeat(pd.to_datetime(ends).to_numpy(), days_ahead)
                + np.tile(np.arange(1, days_ahead + 1), len(ends)).astype("timedelta64[D]")
            ),
        }
    )
    days = pd.concat([history[["unique_id", "ds", "y"]].assign(ds=lambda f: pd.to_datetime(f["ds"])), ahead])
    days = days.sort_values(["unique_id", "ds"], ignore_index=True)
    by_series = days.groupby("unique_id", sort=False)["y"]
    fortnight_start = by_series.shift(YEAR_LAG - YEAR_BACK_WINDOW // 2)
    return days.assign(
        year_back_demand=by_series.shift(YEAR_LAG),
        year_back_fortnight=fortnight_start.groupby(days["unique_id"], sort=False)
        .rolling(YEAR_BACK_WINDOW)
        .mean()
        .reset_index(level=0, drop=True),
    )[["unique_id", "ds", *YEAR_BACK_FEATURES]]


def with_year_back(frame: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """`frame` (unique_id, ds, …) with its days' YEAR_BACK_FEATURES (missing where none)."""
    return frame.merge(features, on=["unique_id", "ds"], how="left")


def modelled_series(series: pd.DataFrame, classes: pd.DataFrame, held_out_days: int) -> pd.DataFrame:
    """Series with demand before the held-out days and enough training before the first origin."""
    with_demand = classes.loc[classes["demand_class"] != NO_DEMAND, "unique_id"]
    lengths = series.groupby("unique_id")["ds"].transform("size")
    kept = series[series["unique_id"].isin(with_demand) & (lengths >= held_out_days + MIN_TRAINING_DAYS)]
    return kept.assign(ds=pd.to_datetime(kept["ds"]), y=kept["y"].astype(float))[["unique_id", "ds", "y"]]


def backtest_global(
    series: pd.DataFrame,
    classes: pd.DataFrame,
    h: int = BACKTEST_HORIZON_DAYS,
    step_size: int = BACKTEST_STEP_DAYS,
    n_windows: int = MIN_ORIGINS,
    history: pd.DataFrame | None = None,
    drivers: DemandDrivers | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """The global model's rolling-origin forecasts (`backtest.BACKTEST_ROW_COLUMNS`), refitted at each
    origin; the year-back features come from `history` (default: `series` itself), promotions and
    prices from `drivers`, as known at each origin. `workers` windows are fitted side by side
    (default: `fit_workers`); each window's fit is the same whichever the count.

    The CONFORMAL_WINDOWS windows before each origin calibrate its intervals. mlforecast's own
    conformal cross-validation fits one more model per origin for them, though with origins one
    horizon apart they are the previous origins' windows: here the calibration windows and the
    origins are fitted once each (five fits instead of six), and each origin takes its intervals
    from the errors of the windows before it. The windows are fitted as mlforecast's
    cross-validation fits them, except that each window's days ahead get the promotions and
    prices known at its origin, where cross-validation would hand them the days' recorded ones.
    """
    rows, _ = _global_fits(series, classes, h, step_size, n_windows, history, drivers, workers, final_horizon=None)
    return rows


def backtest_and_forecast_global(
    series: pd.DataFrame,
    classes: pd.DataFrame,
    horizon: int = HORIZON_DAYS,
    history: pd.DataFrame | None = None,
    drivers: DemandDrivers | None = None,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`backtest_global`'s rows and `forecast_global`'s forecasts made from them, with the final fit
    on the same pool as the backtest's windows: the same rows and forecasts as the two called one
    after the other, but the final fit no longer runs alone on one core after the windows."""
    rows, final = _global_fits(
        series,
        classes,
        BACKTEST_HORIZON_DAYS,
        BACKTEST_STEP_DAYS,
        MIN_ORIGINS,
        history,
        drivers,
        workers,
        final_horizon=horizon,
    )
    return rows, _with_backtest_intervals(final, rows, series)


def _global_fits(
    series: pd.DataFrame,
    classes: pd.DataFrame,
    h: int,
    step_size: int,
    n_windows: int,
    history: pd.DataFrame | None,
    drivers: DemandDrivers | None,
    workers: int | None,
    final_horizon: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The backtest's rows and, given `final_horizon`, the final fit's point forecasts
    (`_final_fit`) of the backtested series, every fit on one pool of `workers` threads."""
    if step_size != h:
        raise ValueError(f"the origins' windows calibrate the next ones only {h} days apart, not {step_size}")
    all_windows = n_windows + CONFORMAL_WINDOWS
    training = modelled_series(series, classes, h * all_windows)
    if training.empty:
        return pd.DataFrame(columns=BACKTEST_ROW_COLUMNS), None
    drivers = drivers or DemandDrivers.none()
    backtested = training["unique_id"].unique()
    training = with_drivers_known(
        with_year_back(training, year_back_features(series if history is None else history)), drivers, known_on=None
    )
    ends = training.groupby("unique_id", sort=False)["ds"].transform("max")

    def window(back: int) -> pd.DataFrame:
        """The forecasts of the window that ends `back` windows before each series' end."""
        cutoffs = ends - pd.Timedelta(days=back * h)
        seen = training["ds"] <= cutoffs
        ahead = training[~seen & (training["ds"] <= cutoffs + pd.Timedelta(days=h))]
        fitted = engine().fit(training[seen], dropna=False, static_features=[])
        known = with_drivers_known(ahead.drop(columns=DRIVER_FEATURES), drivers, known_on=cutoffs[ahead.index])
        predicted = fitted.predict(h, X_df=known.drop(columns="y"))
        return (
            ahead[["unique_id", "ds", "y"]]
            .assign(cutoff=cutoffs[ahead.index])
            .merge(predicted, on=["unique_id", "ds"], validate="one_to_one")
        )

    fits = all_windows + (final_horizon is not None)
    # The warning filter is process-wide, so it is set once around every fit.
    with history_features_may_be_missing(), ThreadPoolExecutor(workers or fit_workers(fits)) as pool:
        # The final fit, on the most days, is queued first so that it does not run last and alone.
        final = (
            None
            if final_horizon is None
            else pool.submit(_final_fit, series, backtested, final_horizon, history, drivers)
        )
        windows = list(pool.map(window, range(all_windows, 0, -1)))
        final_forecasts = None if final is None else final.result()
    wide = pd.concat(windows, ignore_index=True)
    rows = with_conformal_intervals(wide.rename(columns={GLOBAL_MODEL: "yhat"}), h).assign(model=GLOBAL_MODEL)
    rows[VALUE_COLUMNS] = rows[VALUE_COLUMNS].astype(float).clip(lower=0.0)
    rows = rows.astype({"ds": series["ds"].dtype, "cutoff": series["ds"].dtype})
    return rows[BACKTEST_ROW_COLUMNS].sort_values(["unique_id", "cutoff", "ds"], ignore_index=True), final_forecasts


def with_drivers_known(frame: pd.DataFrame, drivers: DemandDrivers, known_on: pd.Series | None) -> pd.DataFrame:
    """`frame` (unique_id, ds, …) with its days' drivers.DRIVER_FEATURES as known on `known_on`
    (aligned with `frame`'s rows; None for past days, which see everything on record)."""
    days = frame[["unique_id", "ds"]].assign(known_on=pd.NaT if known_on is None else known_on)
    features = driver_features(days, drivers)
    return pd.concat([frame.reset_index(drop=True), features[DRIVER_FEATURES]], axis=1)


def with_conformal_intervals(windows: pd.DataFrame, h: int) -> pd.DataFrame:
    """The windows of `windows` (unique_id, ds, cutoff, y, yhat; consecutive `h`-day windows of
    every series) after the first CONFORMAL_WINDOWS, with INTERVAL_LEVELS bounds: on each day ahead,
    the quantiles of yhat ± the absolute errors on the same day ahead of the CONFORMAL_WINDOWS
    windows before, as mlforecast's "conformal_distribution" builds them."""
    windows = windows.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
    n_series = windows["unique_id"].nunique()
    n_windows = len(windows) // (n_series * h)
    yhat = windows["yhat"].to_numpy(dtype=float).reshape(n_series, n_windows, h)
    errors = np.abs(windows["y"].to_numpy(dtype=float).reshape(n_series, n_windows, h) - yhat)
    scored = yhat[:, CONFORMAL_WINDOWS:, :]
    calibration = [errors[:, back : n_windows - CONFORMAL_WINDOWS + back, :] for back in range(CONFORMAL_WINDOWS)]
    paths = np.stack([scored - error for error in calibration] + [scored + error for error in calibration])
    kept = windows.groupby("unique_id", sort=False).cumcount() >= CONFORMAL_WINDOWS * h
    rows = windows[kept.to_numpy()].reset_index(drop=True)
    for level in INTERVAL_LEVELS:
        tail = (100 - level) / 200
        rows[f"yhat_lower_{level}"] = np.quantile(paths, tail, axis=0).ravel()
        rows[f"yhat_upper_{level}"] = np.quantile(paths, 1 - tail, axis=0).ravel()
    return rows


def residual_quantiles(backtest_rows: pd.DataFrame) -> pd.DataFrame:
    """Per series, the INTERVAL_LEVELS quantiles of the global model's absolute backtest errors."""
    errors = (backtest_rows["y"] - backtest_rows["yhat"]).abs().groupby(backtest_rows["unique_id"])
    return pd.DataFrame({f"width_{level}": errors.quantile(level / 100) for level in INTERVAL_LEVELS}).reset_index()


def forecast_global(
    series: pd.DataFrame,
    backtest_rows: pd.DataFrame,
    horizon: int = HORIZON_DAYS,
    history: pd.DataFrame | None = None,
    drivers: DemandDrivers | None = None,
) -> pd.DataFrame:
    """`horizon` days past each backtested series' end (candidates.FORECAST_COLUMNS), one fit on all
    of them; the year-back features come from `history` (default: `series` itself), promotions and
    prices from `drivers`, as known on each series' last day."""
    with history_features_may_be_missing():
        final = _final_fit(series, backtest_rows["unique_id"].unique(), horizon, history, drivers)
    return _with_backtest_intervals(final, backtest_rows, series)


def _final_fit(
    series: pd.DataFrame,
    backtested: np.ndarray,
    horizon: int,
    history: pd.DataFrame | None,
    drivers: DemandDrivers | None,
) -> pd.DataFrame | None:
    """The point forecasts (unique_id, ds, yhat) of one fit on every day of the `backtested`
    series; None when there are none. The caller sets the warning filter."""
    training = series[series["unique_id"].isin(backtested)]
    training = training.assign(ds=pd.to_datetime(training["ds"]), y=training["y"].astype(float))
    if training.empty:
        return None
    source = series if history is None else history
    features = year_back_features(source[source["unique_id"].isin(backtested)], days_ahead=horizon)
    drivers = drivers or DemandDrivers.none()
    past = with_drivers_known(with_year_back(training[["unique_id", "ds", "y"]], features), drivers, known_on=None)
    fitted = engine().fit(past, dropna=False, static_features=[])
    future = with_year_back(fitted.make_future_dataframe(horizon), features)
    as_of = future["unique_id"].map(training.groupby("unique_id")["ds"].max())
    wide = fitted.predict(horizon, X_df=with_drivers_known(future, drivers, known_on=as_of))
    return wide.rename(columns={GLOBAL_MODEL: "yhat"})


def _with_backtest_intervals(
    final: pd.DataFrame | None, backtest_rows: pd.DataFrame, series: pd.DataFrame
) -> pd.DataFrame:
    """The final fit's forecasts (candidates.FORECAST_COLUMNS), each series' intervals the
    quantiles of its absolute backtest errors around them."""
    if final is None:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    forecasts = final.merge(residual_quantiles(backtest_rows), on="unique_id")
    forecasts["yhat"] = forecasts["yhat"].clip(lower=0.0)
    for level in INTERVAL_LEVELS:
        forecasts[f"yhat_lower_{level}"] = (forecasts["yhat"] - forecasts[f"width_{level}"]).clip(lower=0.0)
        forecasts[f"yhat_upper_{level}"] = forecasts["yhat"] + forecasts[f"width_{level}"]
    forecasts = forecasts.assign(model=GLOBAL_MODEL, ds=forecasts["ds"].astype(series["ds"].dtype))
    return forecasts[FORECAST_COLUMNS].sort_values(["unique_id", "ds"], ignore_index=True)
