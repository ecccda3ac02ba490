"""The network's demand forecast: per merchant × SKU, the model its own backtest chose.

For every active series (sold in the last ACTIVE_DAYS before its merchant's as_of):
1. the demand class decides the per-series candidates (candidates.py); one LightGBM model across
   all series (global_model.py) is a candidate for every series with demand, and Prophet
   (prophet_model.py) for up to its MAX_SERIES smooth series with a full year of history;
2. a rolling-origin backtest scores them (backtest.py), and the earlier origins' RMSSE, pooled
   over the series of a demand class (young series in a pool of their own), chooses a model or an
   inverse-RMSSE weighted combination of the pool's best few (a series deviates only on strong
   evidence); the last origin scores the choice (selection.py);
3. the choice forecasts HORIZON_DAYS from the day after as_of, refitted on the whole history;
4. its days are summed per ISO week and calendar month, with intervals from the backtest's errors
   of 7-day and 28-day sums (intervals.py).

The class is taken from the history before the last backtest origin, so nothing the last
origin holds decides the candidates either. Only candidates the final fit can produce compete
(conformal intervals over 90 days need a longer history than over the backtest's 28). Series too
short for a backtest are forecast by FALLBACK_MODEL, named in their `model`.

Each model family is fitted on its own, so its speed can be recorded. The per-series families
(`fit_per_series`) depend on nothing but their own series, so they may be fitted elsewhere (a
partition per merchant, pipelines/assets/merchant_fan_out.py) and handed in; LightGBM, Prophet's
draw and the pooled choice need every series at once and always run here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from models.forecasting import distributed
from models.forecasting.backtest import (
    ALL_HORIZONS,
    BACKTEST_HORIZON_DAYS,
    BACKTEST_ROW_COLUMNS,
    METRIC_NAMES,
    backtest_forecasts,
    score_backtest,
)
from models.forecasting.candidates import (
    BASELINE_MODELS,
    CONTINUOUS_MODELS,
    INTERMITTENT_MODELS,
    VALUE_COLUMNS,
    YOUNG_SERIES_MODEL,
    forecast_candidates,
    is_young,
)
from models.forecasting.demand_classes import classify_demand
from models.forecasting.drivers import DemandDrivers
from models.forecasting.global_model import GLOBAL_MODEL, backtest_and_forecast_global, fit_workers
from models.forecasting.intervals import (
    PERIOD_COLUMNS,
    calibrate_backtest,
    calibrate_forecasts,
    calibrate_periods,
    period_rollups,
    scaled_errors,
)
from models.forecasting.prophet_model import MAX_SERIES as PROPHET_MAX_SERIES
from models.forecasting.prophet_model import (
    PROPHET_MODEL,
    backtest_prophet,
    forecast_prophet,
    prophet_series_ids,
)
from models.forecasting.seasonality import category_profiles, farming_season, shape_by_year_back
from models.forecasting.selection import CHOICE_COLUMNS, ENSEMBLE, WEIGHT_COLUMNS, ensemble_rows, select_models
from models.forecasting.series import GLOBAL_HISTORY_DAYS, HISTORY_DAYS, HORIZON_DAYS, daily_demand_series

MODEL_VERSION = (
    "class-pooled-rmsse-choice-combination-year-shape-global-year-back-drivers-prophet-farming-calendar"
    "-calibrated-intervals-10"
)
ACTIVE_DAYS = 90
FALLBACK_MODEL = YOUNG_SERIES_MODEL
YOUNG_POOL = "young"
IN_PROCESS = "this process"
PER_SERIES_FAMILIES = {
    "baselines": (*BASELINE_MODELS, YOUNG_SERIES_MODEL),
    "exponential_smoothing_theta": CONTINUOUS_MODELS,
    "intermittent": INTERMITTENT_MODELS,
}
GLOBAL_FAMILY = "global_gradient_boosting"
PROPHET_FAMILY = "prophet"
MODEL_FAMILIES = {**PER_SERIES_FAMILIES, GLOBAL_FAMILY: (GLOBAL_MODEL,), PROPHET_FAMILY: (PROPHET_MODEL,)}

FORECAST_COLUMNS = ["merchant_id", "sku_code", "date", *VALUE_COLUMNS, "model", "model_version", "as_of"]
FORECAST_PERIOD_COLUMNS = [
    "merchant_id",
    "sku_code",
    "as_of",
    *PERIOD_COLUMNS,
    *VALUE_COLUMNS,
    "model",
    "model_version",
]
BACKTEST_COLUMNS = [
    "merchant_id",
    "sku_code",
    "model",
    "origin",
    "horizon_bucket",
    *METRIC_NAMES,
    "chosen",
    "model_version",
    "as_of",
]


@dataclass(frozen=True)
class NetworkForecast:
    """The forecasts (FORECAST_COLUMNS), their weekly and monthly sums (FORECAST_PERIOD_COLUMNS),
    the backtest metrics (BACKTEST_COLUMNS) and the timings."""

    forecasts: pd.DataFrame
    periods: pd.DataFrame
    backtests: pd.DataFrame
    timings: dict[str, float | int | str | dict[str, float | int | None]]


@dataclass(frozen=True)
class PerSeriesFits:
    """The per-series families' backtest rows (BACKTEST_ROW_COLUMNS) and forecasts
    (candidates.FORECAST_COLUMNS), each row with its `family`, before the year-back shape; and the
    seconds each family took on them."""

    backtests: pd.DataFrame
    forecasts: pd.DataFrame
    backtest_seconds: dict[str, float] = field(default_factory=dict)
    forecast_seconds: dict[str, float] = field(default_factory=dict)


# What a per-series fit is: (series, their classes, horizon) → PerSeriesFits.
SeriesFitter = Callable[[pd.DataFrame, pd.DataFrame, int], PerSeriesFits]
FAMILY_BACKTEST_ORDER = ["unique_id", "model", "cutoff", "ds"]
FAMILY_FORECAST_ORDER = ["unique_id", "model", "ds"]


def fit_per_series(series: pd.DataFrame, classes: pd.DataFrame, horizon: int = HORIZON_DAYS) -> PerSeriesFits:
    """Backtest and forecast every per-series family (PER_SERIES_FAMILIES) on `series`."""
    backtests, forecasts, backtest_seconds, forecast_seconds = [], [], {}, {}
    for family, names in PER_SERIES_FAMILIES.items():
        started = time.perf_counter()
        backtests.append(backtest_forecasts(series, classes, only=names).assign(family=family))
        backtest_seconds[family] = time.perf_counter() - started
    for family, names in PER_SERIES_FAMILIES.items():
        started = time.perf_counter()
        forecasts.append(forecast_candidates(series, horizon, classes, only=names).assign(family=family))
        forecast_seconds[family] = time.perf_counter() - started
    return PerSeriesFits(concat_rows(backtests), concat_rows(forecasts), backtest_seconds, forecast_seconds)


def merge_per_series_fits(parts: list[PerSeriesFits]) -> PerSeriesFits:
    """The fits of disjoint sets of series as one, rows in the order one fit of them all gives."""

    family_rank = {family: rank for rank, family in enumerate(PER_SERIES_FAMILIES)}

    def merged(frames: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
        rows = concat_rows(frames)
        ranked = rows.assign(family_rank=rows["family"].map(family_rank))
        return ranked.sort_values(["family_rank", *order]).drop(columns="family_rank").reset_index(drop=True)

    def summed(seconds: list[dict[str, float]]) -> dict[str, float]:
        return {family: sum(part.get(family, 0.0) for part in seconds) for family in PER_SERIES_FAMILIES}

    return PerSeriesFits(
        backtests=merged([part.backtests for part in parts], FAMILY_BACKTEST_ORDER),
        forecasts=merged([part.forecasts for part in parts], FAMILY_FORECAST_ORDER),
        backtest_seconds=summed([part.backtest_seconds for part in parts]),
        forecast_seconds=summed([part.forecast_seconds for part in parts]),
    )


def series_digest(series: pd.DataFrame, horizon: int = HORIZON_DAYS) -> str:
    """A fingerprint of the series (unique_id, ds, y), the horizon and MODEL_VERSION: per-series fits
    made elsewhere are used only for the very series, horizon and models they were made with."""
    ordered = series.sort_values(["unique_id", "ds"])
    canonical = pd.DataFrame(
        {
            "unique_id": ordered["unique_id"].astype(str).to_numpy(),
            "ds": pd.to_datetime(ordered["ds"]).astype("datetime64[ns]").to_numpy(),
            "y": ordered["y"].astype(float).to_numpy(),
        }
    )
    digest = hashlib.sha256(f"{MODEL_VERSION}|{horizon}|".encode())
    digest.update(pd.util.hash_pandas_object(canonical, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def series_and_history(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], active_days: int = ACTIVE_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The active daily series (unique_id, ds, y) `forecast_network` forecasts, over HISTORY_DAYS;
    and the same series over GLOBAL_HISTORY_DAYS, which the global model's year-back features
    read. Built once over the longer window: building the daily frame is the slow part."""
    longer = daily_demand_series(sales, as_of_by_merchant, history_days=GLOBAL_HISTORY_DAYS)
    ends = longer.groupby("unique_id")["ds"].transform("max")
    series = active_series(longer[longer["ds"] > ends - pd.Timedelta(days=HISTORY_DAYS)], active_days)
    history = longer[longer["unique_id"].isin(series["unique_id"].unique())].reset_index(drop=True)
    return series, history


def network_series(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], active_days: int = ACTIVE_DAYS
) -> pd.DataFrame:
    """The daily series (unique_id, ds, y) `forecast_network` forecasts: the active ones."""
    return series_and_history(sales, as_of_by_merchant, active_days)[0]


def merchant_of(series: pd.DataFrame) -> pd.Series:
    """Each row's merchant_id, from its unique_id ("<merchant_id>|<sku_code>")."""
    return series["unique_id"].str.split("|", n=1).str[0].astype("int64")


def active_series(series: pd.DataFrame, active_days: int = ACTIVE_DAYS) -> pd.DataFrame:
    """The series with a sale in their last `active_days` (each series ends at its merchant's as_of)."""
    ends = series.groupby("unique_id")["ds"].transform("max")
    recent_sale = (series["y"] > 0) & (series["ds"] > ends - pd.Timedelta(days=active_days))
    active_ids = series.loc[recent_sale, "unique_id"].unique()
    return series[series["unique_id"].isin(active_ids)].reset_index(drop=True)


def before_last_origin(series: pd.DataFrame, h: int = BACKTEST_HORIZON_DAYS) -> pd.DataFrame:
    """Each series without the last `h` days, the window the backtest's last origin scores."""
    ends = series.groupby("unique_id")["ds"].transform("max")
    return series[series["ds"] <= ends - pd.Timedelta(days=h)]


def choice_pools(series: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """The pool each series' choice is made in (unique_id, pool): its demand class, or YOUNG_POOL.

    Only young series have YOUNG_SERIES_MODEL. Ranked within a demand class by its errors on those
    few series alone, against the other options' errors on the whole class, it came first in the
    small network's intermittent and lumpy classes: it became their choice and a member of their
    combination, which every older series of the class then had a member short. Pooled with each
    other, young series compare their options on the same series.
    """
    lengths = series.groupby("unique_id").size()
    pools = classes.rename(columns={"demand_class": "pool"})[["unique_id", "pool"]]
    young = pools["unique_id"].map(lengths).map(is_young)
    return pools.assign(pool=pools["pool"].where(~young, YOUNG_POOL))


def series_classes(series: pd.DataFrame) -> pd.DataFrame:
    """Each series' demand class from its data before the last origin, so the window that scores
    the choice never shapes which candidates (or whether Prophet) compete for it."""
    return classify_demand(before_last_origin(series))


def chosen_forecasts(candidates: pd.DataFrame, choices: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The chosen option's forecast per series; a combination is the weighted mean of its members."""
    singles = candidates.merge(choices.loc[choices["model"] != ENSEMBLE, ["unique_id", "model"]])
    ensemble_ids = choices.loc[choices["model"] == ENSEMBLE, "unique_id"]
    members = candidates.merge(weights[weights["unique_id"].isin(ensemble_ids)], on=["unique_id", "model"])
    weighted = members[VALUE_COLUMNS].mul(members["weight"], axis=0)
    weighted[["unique_id", "ds"]] = members[["unique_id", "ds"]]
    ensembles = weighted.groupby(["unique_id", "ds"], as_index=False)[VALUE_COLUMNS].sum().assign(model=ENSEMBLE)
    return pd.concat([singles, ensembles], ignore_index=True)


def nested_bounds(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Bounds ordered lower_95 <= lower_80 <= yhat <= upper_80 <= upper_95.

    Readers take the 95% interval to contain the 80% one and both the forecast; an interval that
    is not symmetric around its forecast (or rounding in a weighted mean) could otherwise cross
    them. Bounds widen to fit; the forecast itself never moves.
    """
    lower_80 = np.minimum(forecasts["yhat_lower_80"], forecasts["yhat"])
    upper_80 = np.maximum(forecasts["yhat_upper_80"], forecasts["yhat"])
    return forecasts.assign(
        yhat_lower_80=lower_80,
        yhat_upper_80=upper_80,
        yhat_lower_95=np.minimum(forecasts["yhat_lower_95"], lower_80),
        yhat_upper_95=np.maximum(forecasts["yhat_upper_95"], upper_80),
    )


def split_unique_id(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with merchant_id and sku_code from its unique_id ("<merchant_id>|<sku_code>")."""
    parts = frame["unique_id"].str.split("|", n=1, expand=True)
    return frame.assign(merchant_id=parts[0].astype("int64"), sku_code=parts[1])


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames' rows one under another; empty frames (a family with no series) add no columns' dtypes."""
    non_empty = [frame for frame in frames if not frame.empty]
    return pd.concat(non_empty or frames[:1], ignore_index=True)


def family_series_per_second(seconds: dict[str, float], series_count: dict[str, int]) -> dict[str, float | int | None]:
    """Series per second of each model family over the backtest and the final fit together; None
    for a family that forecast no series."""
    return {
        family: (
            round(series_count[family] / seconds[family], 1) if series_count[family] and seconds[family] > 0 else None
        )
        for family in MODEL_FAMILIES
    }


def per_series_fits_on() -> str:
    """Where the per-series families' speeds in the timings were measured: a Dask scheduler or this process."""
    return distributed.scheduler_address() or IN_PROCESS


@dataclass(frozen=True)
class CategorySeasons:
    """Each category's year-back profile (seasonality.py) and the category of each series."""

    profiles: pd.DataFrame
    labels: pd.DataFrame  # unique_id, category

    def shape(self, rows: pd.DataFrame, last_days: pd.Series) -> pd.DataFrame:
        """Per-series rows forecast from `last_days` with the category's year-back shape laid over them."""
        return shape_by_year_back(rows, last_days, self.profiles, self.labels, VALUE_COLUMNS)

    def farming_season(self, unique_id: str, last_day: pd.Timestamp, days: pd.DatetimeIndex) -> pd.Series:
        """Prophet's farming-calendar regressor of one series, as known on `last_day`."""
        category = self.labels.loc[self.labels["unique_id"] == unique_id, "category"]
        return farming_season(self.profiles, category.iloc[0] if len(category) else "", last_day, days)


def category_seasons(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], categories: pd.DataFrame | None
) -> CategorySeasons | None:
    """The categories' year-back profiles, or None without categories.

    The profiles read every day of history, not only the models' HISTORY_DAYS window: last year's
    peak is older than that window reaches.
    """
    if categories is None or categories.empty:
        return None
    labels = pd.DataFrame(
        {
            "unique_id": categories["merchant_id"].astype("int64").astype(str) + "|" + categories["sku_code"],
            "category": categories["category"],
        }
    ).dropna()
    history = daily_demand_series(sales, as_of_by_merchant, history_days=None)
    return CategorySeasons(profiles=category_profiles(history, labels), labels=labels)


def forecast_network(
    sales: pd.DataFrame,
    as_of_by_merchant: dict[int, date],
    horizon: int = HORIZON_DAYS,
    active_days: int = ACTIVE_DAYS,
    categories: pd.DataFrame | None = None,
    fit_series: SeriesFitter = fit_per_series,
    drivers: DemandDrivers | None = None,
) -> NetworkForecast:
    """Backtest, choose and forecast every active merchant × SKU series.

    `sales` has merchant_id, sku_code, sales_date, quantity (all warehouses; days with sales
    only). Merchants missing from `as_of_by_merchant` are left out. `categories` (merchant_id,
    sku_code, category) lets the per-series candidates follow their category's year-back shape
    (seasonality.py) and gives Prophet the same profile as its farming-calendar regressor;
    LightGBM models the year itself. `fit_series` makes the
    per-series families' fits: by default here, or partly from fits made elsewhere. `drivers`
    (promotions and shelf prices) are LightGBM's features; without them it sees none.
    """
    series, history = series_and_history(sales, as_of_by_merchant, active_days)
    if series.empty:
        return NetworkForecast(
            forecasts=pd.DataFrame(columns=FORECAST_COLUMNS),
            periods=pd.DataFrame(columns=FORECAST_PERIOD_COLUMNS),
            backtests=pd.DataFrame(columns=BACKTEST_COLUMNS),
            timings={
                "series": 0,
                "backtested_series": 0,
                "backtest_seconds": 0.0,
                "final_forecast_seconds": 0.0,
                "series_per_second": None,
                "family_series_per_second": dict.fromkeys(MODEL_FAMILIES),
                "prophet_series": 0,
                "prophet_series_cap": PROPHET_MAX_SERIES,
                "per_series_fits_on": per_series_fits_on(),
                "global_model_windows_side_by_side": fit_workers(),
            },
        )
    classes = series_classes(series)
    seasons = category_seasons(sales, as_of_by_merchant, categories)

    def shape(rows: pd.DataFrame, last_days: pd.Series) -> pd.DataFrame:
        return rows if seasons is None else seasons.shape(rows, last_days)

    farming = None if seasons is None else seasons.farming_season
    fits = fit_series(series, classes, horizon)
    family_seconds = {
        family: fits.backtest_seconds.get(family, 0.0) + fits.forecast_seconds.get(family, 0.0)
        for family in PER_SERIES_FAMILIES
    }
    family_seconds.update({GLOBAL_FAMILY: 0.0, PROPHET_FAMILY: 0.0})
    family_series: dict[str, int] = {}

    started = time.perf_counter()
    # A family's rows keep their place (PER_SERIES_FAMILIES' order), as when fitted here.
    backtest_frames = [
        shape(rows, rows["cutoff"]).drop(columns="family") for _, rows in fits.backtests.groupby("family", sort=False)
    ] or [pd.DataFrame(columns=BACKTEST_ROW_COLUMNS)]
    family_started = time.perf_counter()
    # The global model's final fit runs beside its backtest windows, so its time counts here.
    global_rows, global_forecasts = backtest_and_forecast_global(
        series, classes, horizon, history=history, drivers=drivers
    )
    family_seconds[GLOBAL_FAMILY] += time.perf_counter() - family_started
    backtest_frames.append(global_rows)
    family_started = time.perf_counter()
    prophet_ids = prophet_series_ids(series, classes)
    backtest_frames.append(backtest_prophet(series, prophet_ids, season=farming))
    family_seconds[PROPHET_FAMILY] += time.perf_counter() - family_started
    backtest_seconds = time.perf_counter() - started + sum(fits.backtest_seconds.values())

    started = time.perf_counter()
    last_days = series.groupby("unique_id")["ds"].max()
    candidate_frames = []
    for family in PER_SERIES_FAMILIES:
        family_forecasts = fits.forecasts[fits.forecasts["family"] == family].drop(columns="family")
        candidate_frames.append(shape(family_forecasts, family_forecasts["unique_id"].map(last_days)))
    candidate_frames.append(global_forecasts)
    family_started = time.perf_counter()
    candidate_frames.append(forecast_prophet(series, prophet_ids, horizon, season=farming))
    family_seconds[PROPHET_FAMILY] += time.perf_counter() - family_started
    for family, frame in zip(MODEL_FAMILIES, candidate_frames, strict=True):
        family_series[family] = int(frame["unique_id"].nunique())
    candidates = concat_rows(candidate_frames)
    final_seconds = time.perf_counter() - started + sum(fits.forecast_seconds.values())

    producible = candidates[["unique_id", "model"]].drop_duplicates()
    rows = concat_rows(backtest_frames).merge(producible, on=["unique_id", "model"])
    pools = choice_pools(series, classes)
    if rows.empty:
        choices, weights = pd.DataFrame(columns=CHOICE_COLUMNS), pd.DataFrame(columns=WEIGHT_COLUMNS)
        chosen = chosen_forecasts(candidates, choices, weights)
        backtests = pd.DataFrame(columns=BACKTEST_COLUMNS)
        errors = None
    else:
        choices, weights, _ = select_models(rows, series, pools)
        rows = pd.concat([rows, ensemble_rows(rows, weights)], ignore_index=True)
        errors = scaled_errors(rows, series, pools)
        chosen = calibrate_forecasts(chosen_forecasts(candidates, choices, weights), errors, series, pools)
        backtests = backtest_metrics(rows, errors, series, choices, as_of_by_merchant)

    fallback_ids = pd.Index(series["unique_id"].unique()).difference(choices["unique_id"])
    fallbacks = candidates[candidates["unique_id"].isin(fallback_ids) & (candidates["model"] == FALLBACK_MODEL)]
    forecasts = nested_bounds(concat_rows([chosen, fallbacks]))
    periods = forecast_periods(forecasts, errors, series, pools, fallback_ids, as_of_by_merchant)
    forecasts = split_unique_id(forecasts).assign(date=lambda frame: pd.to_datetime(frame["ds"]).dt.date)
    forecasts["model_version"] = MODEL_VERSION
    forecasts["as_of"] = forecasts["merchant_id"].map(as_of_by_merchant)
    forecasts = forecasts[FORECAST_COLUMNS].sort_values(["merchant_id", "sku_code", "date"], ignore_index=True)

    series_count = int(series["unique_id"].nunique())
    return NetworkForecast(
        forecasts=forecasts,
        periods=periods,
        backtests=backtests,
        timings={
            "series": series_count,
            "backtested_series": int(choices["unique_id"].nunique()),
            "backtest_seconds": round(backtest_seconds, 3),
            "final_forecast_seconds": round(final_seconds, 3),
            "series_per_second": round(series_count / (backtest_seconds + final_seconds), 1)
            if backtest_seconds + final_seconds > 0
            else None,
            "family_series_per_second": family_series_per_second(family_seconds, family_series),
            "prophet_series": len(prophet_ids),
            "prophet_series_cap": PROPHET_MAX_SERIES,
            "per_series_fits_on": per_series_fits_on(),
            "global_model_windows_side_by_side": fit_workers(),
        },
    )


def forecast_periods(
    forecasts: pd.DataFrame,
    errors: pd.DataFrame | None,
    series: pd.DataFrame,
    pools: pd.DataFrame,
    fallback_ids: pd.Index,
    as_of_by_merchant: dict[int, date],
) -> pd.DataFrame:
    """The daily `forecasts` summed per ISO week and calendar month (FORECAST_PERIOD_COLUMNS).

    A backtested series' periods take their bounds from the backtest's errors of period sums
    (`errors`, the rows' `scaled_errors`); a series too short to backtest has no errors of its own
    to pool with, so, as its days keep its model's own bounds, its periods add up the days'
    (intervals.summed_with_independent_days), and so does a backtested series the calibration
    cannot serve. Every period has bounds either way.
    """
    periods = period_rollups(forecasts)
    if errors is not None:
        backtested = ~periods["unique_id"].isin(fallback_ids)
        periods = pd.concat(
            [calibrate_periods(periods[backtested], errors, series, pools), periods[~backtested]], ignore_index=True
        )
    periods = split_unique_id(nested_bounds(periods)).assign(
        period_start=lambda frame: frame["period_start"].dt.date,
        period_end=lambda frame: frame["period_end"].dt.date,
        model_version=MODEL_VERSION,
    )
    periods["as_of"] = periods["merchant_id"].map(as_of_by_merchant)
    return periods[FORECAST_PERIOD_COLUMNS].sort_values(
        ["merchant_id", "sku_code", "period_grain", "period_start"], ignore_index=True
    )


def backtest_metrics(
    rows: pd.DataFrame,
    errors: pd.DataFrame,
    series: pd.DataFrame,
    choices: pd.DataFrame,
    as_of_by_merchant: dict[int, date],
) -> pd.DataFrame:
    """Metrics of every option (candidates and the combination) per series × origin × horizon
    bucket, their intervals calibrated on the other origins from the rows' scaled `errors`
    (intervals.py).

    `chosen` marks the option the earlier origins chose; the combination's members are those
    the earlier origins ranked best in the series' pool.
    """
    metrics = score_backtest(calibrate_backtest(rows, errors), series)
    chosen = choices[["unique_id", "model"]].assign(chosen=True)
    metrics = metrics.merge(chosen, on=["unique_id", "model"], how="left")
    metrics["chosen"] = metrics["chosen"].eq(True)
    metrics = split_unique_id(metrics).assign(
        origin=lambda frame: pd.to_datetime(frame["cutoff"]).dt.date, model_version=MODEL_VERSION
    )
    metrics["as_of"] = metrics["merchant_id"].map(as_of_by_merchant)
    return metrics[BACKTEST_COLUMNS].sort_values(
        ["merchant_id", "sku_code", "model", "origin", "horizon_bucket"], ignore_index=True
    )


def chosen_versus_candidates(backtests: pd.DataFrame) -> pd.DataFrame:
    """Last-origin MASE over all horizons: each option's mean beside the chosen options' mean on
    the same series (those where that option was a candidate with a finite MASE)."""
    last = backtests[
        (backtests["horizon_bucket"] == ALL_HORIZONS)
        & (backtests["origin"] == backtests.groupby(["merchant_id", "sku_code"])["origin"].transform("max"))
        & np.isfinite(backtests["mase"].astype(float))
    ]
    chosen = last.loc[last["chosen"], ["merchant_id", "sku_code", "mase"]].rename(columns={"mase": "chosen_mase"})
    paired = last.merge(chosen, on=["merchant_id", "sku_code"])
    summary = paired.groupby("model").agg(
        series=("mase", "size"), mase=("mase", "mean"), chosen_mase=("chosen_mase", "mean")
    )
    return summary.reset_index().sort_values("model", ignore_index=True)
