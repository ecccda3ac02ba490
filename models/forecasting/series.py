"""Daily demand series per merchant × SKU, and the horizon, season and intervals every model shares."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

HORIZON_DAYS = 90
SEASON_LENGTH = 7
HISTORY_DAYS = 365
# What the global model's year-back features (lag 364, the fortnight a year back) are read from:
# two years, so that they exist on each of its HISTORY_DAYS training days (global_model.py).
GLOBAL_HISTORY_DAYS = 2 * HISTORY_DAYS
INTERVAL_LEVELS = (80, 95)


def daily_demand_series(
    sales: pd.DataFrame, as_of_by_merchant: dict[int, date], history_days: int | None = HISTORY_DAYS
) -> pd.DataFrame:
    """One zero-filled daily row per merchant × SKU from its window start to the merchant's as_of.

    `sales` has merchant_id, sku_code, sales_date, quantity (days with sales only). The window is
    the last `history_days` (None: from the first sale), and never shorter than four seasons, so a
    seasonal difference exists.
    """
    frames = []
    for (merchant_id, sku_code), rows in sales.groupby(["merchant_id", "sku_code"], sort=True):
        as_of = as_of_by_merchant.get(int(merchant_id))
        if as_of is None:
            continue
        rows = rows[pd.to_datetime(rows["sales_date"]).dt.date <= as_of]
        if rows.empty:
            continue
        start = pd.to_datetime(rows["sales_date"]).min().date()
        if history_days is not None:
            start = max(start, as_of - timedelta(days=history_days - 1))
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
