"""Seasonal-naive daily demand forecast per merchant × SKU, with 80% and 95% intervals.

The baseline every later model must beat: next week repeats last week. Intervals come from
statsforecast's SeasonalNaive (residual spread of the seasonal difference).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import SeasonalNaive

MODEL_NAME = "seasonal_naive"
MODEL_VERSION = "seasonal_naive-7d-1"
HORIZON_DAYS = 90
SEASON_LENGTH = 7
HISTORY_DAYS = 365
INTERVAL_LEVELS = (80, 95)

FORECAST_COLUMNS = [
    "merchant_id",
    "sku_code",
    "date",
    "yhat",
    "yhat_lower_80",
    "yhat_upper_80",
    "yhat_lower_95",
    "yhat_upper_95",
    "model",
    "model_version",
    "as_of",
]


def daily_demand_series(sales: pd.DataFrame, as_of_by_merchant: dict[int, date]) -> pd.DataFrame:
    """One zero-filled daily row per merchant × SKU from its window start to the merchant's as_of.

    `sales` has merchant_id, sku_code, sales_date, quantity (days with sales only). The window is
    the last HISTORY_DAYS, and never shorter than four seasons, so a seasonal difference exists.
    """
    frames = []
    for (merchant_id, sku_code), rows in sales.groupby(["merchant_id", "sku_code"], sort=True):
        as_of = as_of_by_merchant.get(int(merchant_id))
        if as_of is None:
            continue
        rows = rows[pd.to_datetime(rows["sales_date"]).dt.date <= as_of]
        if rows.empty:
            continue
        start = max(pd.to_datetime(rows["sales_date"]).min().date(), as_of - timedelta(days=HISTORY_DAYS - 1))
        start = min(start, as_of - timedelta(days=4 * SEASON_LENGTH - 1))
        days = pd.date_range(start, as_of, freq="D")
        quantity = rows.groupby(pd.to_datetime(rows["sales_date"]))["quantity"].sum()
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"{int(merchant_id)}|{sku_code}",
                    "ds": days,
                    "y": quantity.reindex(days, fill_value=0).astype(float).to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})
    return pd.concat(frames, ignore_index=True)


def forecast_seasonal_naive(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], horizon: int = HORIZON_DAYS
) -> pd.DataFrame:
    """Daily forecasts from the day after each merchant's as_of, `horizon` days ahead.

    Demand cannot be negative, so every bound is clipped at zero.
    """
    series = daily_demand_series(sales, as_of_by_merchant)
    if series.empty:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    engine = StatsForecast(models=[SeasonalNaive(season_length=SEASON_LENGTH)], freq="D", n_jobs=1)
    raw = engine.forecast(h=horizon, df=series, level=list(INTERVAL_LEVELS))
    ids = raw["unique_id"].str.split("|", n=1, expand=True)
    merchant_ids = ids[0].astype("int64")
    result = pd.DataFrame(
        {
            "merchant_id": merchant_ids,
            "sku_code": ids[1],
            "date": pd.to_datetime(raw["ds"]).dt.date,
            "yhat": raw["SeasonalNaive"],
            "yhat_lower_80": raw["SeasonalNaive-lo-80"],
            "yhat_upper_80": raw["SeasonalNaive-hi-80"],
            "yhat_lower_95": raw["SeasonalNaive-lo-95"],
            "yhat_upper_95": raw["SeasonalNaive-hi-95"],
        }
    )
    bounds = ["yhat", "yhat_lower_80", "yhat_upper_80", "yhat_lower_95", "yhat_upper_95"]
    result[bounds] = result[bounds].astype(float).clip(lower=0.0)
    result["model"] = MODEL_NAME
    result["model_version"] = MODEL_VERSION
    result["as_of"] = merchant_ids.map(as_of_by_merchant)
    return result[FORECAST_COLUMNS].reset_index(drop=True)
