"""Forecasting speed on a fixed sample of series: the whole forecast + backtest, and each model
family's series per second, against statsforecast's AutoETS alone and Prophet alone.

    python -m tests.bench.forecasting --home HOME [--repeats 3] [--output bench/forecasting.json]

The sample is SAMPLE_SERIES active merchant × SKU series (sold in the last 90 days before their
merchant's as_of) drawn with SAMPLE_SEED from the home's serving copy (marts.fct_daily_sales),
PROPHET_SAMPLE of them among the series the pipeline gives Prophet, so every run and every baseline
forecasts the same series and every model family has a rate. `forecast_network` backtests, chooses and
forecasts them exactly as `coopcast forecast` does; the baselines, in the same run on the same
series, each fit one model per series and forecast the same 90 days: AutoETS alone (statsforecast,
the model the pipeline's smooth series mostly use) and Prophet alone. The ratios pipeline series/s
÷ baseline series/s are what to compare across machines; the baselines do no backtest, so the
ratio says what choosing among backtested candidates costs against fitting one model once.

The global LightGBM model's backtest windows and final fit run side by side, one per usable core
(`global_model.fit_workers`); on the same series, alternated in the same run, they are also fitted
one at a time, and the ratio of the two says what fitting them side by side gains on this machine.
The benchmark stops with an error when the two ways give other rows or forecasts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from models.forecasting.candidates import engine_for
from models.forecasting.global_model import backtest_and_forecast_global, fit_workers
from models.forecasting.pipeline import (
    MODEL_FAMILIES,
    active_series,
    forecast_network,
    series_and_history,
    series_classes,
)
from models.forecasting.prophet_model import fit_and_forecast, prophet_series_ids
from models.forecasting.series import HORIZON_DAYS, daily_demand_series
from pipelines import warehouse as duck
from pipelines.assets.forecast_inputs import FORECAST_CATEGORIES_SQL
from tests.bench.figures import rates, spread, timed, write_result

SAMPLE_SERIES = 100
SAMPLE_SEED = 0
# Of the sample, drawn from the series Prophet runs on (at most the pipeline's own cap of 20).
PROPHET_SAMPLE = 10
REPEATS = 3


def load_inputs(warehouse_path: Path) -> tuple[pd.DataFrame, dict[int, date], pd.DataFrame]:
    """What the forecast asset reads: daily sales, each merchant's as_of, the SKUs' categories."""
    conn = duck.connect(warehouse_path, read_only=True)
    try:
        merchants = conn.execute("SELECT merchant_id, as_of FROM marts.dim_merchants").df()
        sales = conn.execute("SELECT merchant_id, sku_code, sales_date, quantity FROM marts.fct_daily_sales").df()
        categories = conn.execute(FORECAST_CATEGORIES_SQL).df()
    finally:
        conn.close()
    as_of_by_merchant = {
        int(row.merchant_id): pd.Timestamp(row.as_of).date() for row in merchants.itertuples() if pd.notna(row.as_of)
    }
    return sales, as_of_by_merchant, categories


def series_key(frame: pd.DataFrame) -> pd.Series:
    return frame["merchant_id"].astype("int64").astype(str) + "|" + frame["sku_code"]


def sample_inputs(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], categories: pd.DataFrame, size: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sales and categories of `size` active series drawn with `seed` (all of them when fewer).

    PROPHET_SAMPLE of them are drawn from the series the pipeline gives Prophet (smooth, with a
    full year of history), where there are any, so the Prophet family has a rate of its own:
    a plain draw of 100 from thousands of series rarely holds one.
    """
    series = active_series(daily_demand_series(sales, as_of_by_merchant))
    rng = np.random.default_rng(seed)
    prophet_ids = prophet_series_ids(series, series_classes(series), max_series=series["unique_id"].nunique())
    from_prophet = rng.choice(prophet_ids, size=min(PROPHET_SAMPLE, len(prophet_ids), size), replace=False)
    others = sorted(set(series["unique_id"]) - set(from_prophet))
    rest = rng.choice(others, size=min(size - len(from_prophet), len(others)), replace=False)
    chosen = set(from_prophet) | set(rest)
    return sales[series_key(sales).isin(chosen)], categories[series_key(categories).isin(chosen)]


def auto_ets_alone(series: pd.DataFrame) -> None:
    engine_for(("auto_ets",), HORIZON_DAYS).forecast(df=series, h=HORIZON_DAYS)


def prophet_alone(series: pd.DataFrame) -> None:
    for _, history in series.groupby("unique_id", sort=False):
        fit_and_forecast(history, HORIZON_DAYS)


def global_model_fits(series: pd.DataFrame, history: pd.DataFrame, repeats: int) -> dict:
    """Seconds of the global model's backtest and final fit, side by side as the pipeline fits
    them and one at a time, alternated so both ways see the machine as it is."""
    classes = series_classes(series)
    side_by_side = fit_workers()
    seconds: dict[int, list[float]] = {workers: [] for workers in (1, side_by_side)}
    outcomes: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for _ in range(repeats):
        for workers in seconds:
            started = time.perf_counter()
            outcomes[workers] = backtest_and_forecast_global(series, classes, history=history, workers=workers)
            seconds[workers].append(time.perf_counter() - started)
    (one_rows, one_forecasts), (side_rows, side_forecasts) = outcomes[1], outcomes[side_by_side]
    if not (one_rows.equals(side_rows) and one_forecasts.equals(side_forecasts)):
        raise AssertionError("the global model's fits side by side gave other rows than one at a time")
    return {
        "fits_side_by_side": side_by_side,
        "one_at_a_time_seconds": spread(seconds[1], 2),
        "side_by_side_seconds": spread(seconds[side_by_side], 2),
        "ratio_one_at_a_time_to_side_by_side": round(
            statistics.median(seconds[1]) / statistics.median(seconds[side_by_side]), 3
        ),
    }


def measure(warehouse_path: Path, repeats: int = REPEATS) -> dict:
    sales, as_of_by_merchant, categories = load_inputs(warehouse_path)
    sample_sales, sample_categories = sample_inputs(sales, as_of_by_merchant, categories, SAMPLE_SERIES, SAMPLE_SEED)
    series = active_series(daily_demand_series(sample_sales, as_of_by_merchant))
    series_count = int(series["unique_id"].nunique())
    family_rates: dict[str, list[float]] = {family: [] for family in MODEL_FAMILIES}

    def whole_forecast() -> None:
        network = forecast_network(sample_sales, as_of_by_merchant, categories=sample_categories)
        for family, rate in network.timings["family_series_per_second"].items():
            if rate is not None:
                family_rates[family].append(rate)

    whole = rates(series_count, timed(whole_forecast, repeats))
    history = series[["unique_id", "ds", "y"]]
    auto_ets = rates(series_count, timed(lambda: auto_ets_alone(history), repeats))
    prophet = rates(series_count, timed(lambda: prophet_alone(history), repeats))
    global_series, global_history = series_and_history(sample_sales, as_of_by_merchant)
    return {
        "series": series_count,
        "sample": f"{SAMPLE_SERIES} active series drawn with seed {SAMPLE_SEED},"
        f" up to {PROPHET_SAMPLE} of them from Prophet's",
        "horizon_days": HORIZON_DAYS,
        "forecast_network_series_per_s": spread(whole, 2),
        "family_series_per_s": {family: spread(found, 2) for family, found in family_rates.items() if found},
        "auto_ets_alone_series_per_s": spread(auto_ets, 2),
        "prophet_alone_series_per_s": spread(prophet, 2),
        "ratio_to_auto_ets": round(statistics.median(whole) / statistics.median(auto_ets), 3),
        "ratio_to_prophet": round(statistics.median(whole) / statistics.median(prophet), 3),
        "global_model_fits": global_model_fits(global_series, global_history, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a COOPCAST_HOME with a published serving copy")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--output", type=Path, default=Path("bench/forecasting.json"))
    arguments = parser.parse_args()
    serving_copy = arguments.home / "serving" / "warehouse.duckdb"
    write_result(arguments.output, "forecasting", measure(serving_copy, arguments.repeats))


if __name__ == "__main__":
    main()
