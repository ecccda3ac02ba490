"""Days a SKU had nothing to sell: its sales say 0, its demand is unknown (issue 7, point 2).

Left at 0, such days teach every model that demand stopped: the level falls, the reorder point
with it, and a SKU that ran out is ordered late or never again. On the replay of goal 8, where
coopcast forecasts from the sales its own stock allowed, filling them is worth 4.5 points of the
A items' fill rate on the small network (docs/forecasting-experiments.md, "Deciding from what was sold").

So each stock-out day of an active series (sold in its last ACTIVE_DAYS) is given the series'
demand rate on the in-stock days before it: the mean of the in-stock days among the last
IN_STOCK_WINDOW_DAYS days, or, when the stock-out has lasted longer than that, the last such
mean. A SKU out of stock since before its first sale gets nothing. A day with some stock that
sold out keeps its sales, a lower bound of its demand: the warehouse cannot tell how much more
was asked for.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from models.forecasting.pipeline import ACTIVE_DAYS

IN_STOCK_WINDOW_DAYS = 28
KEYS = ["merchant_id", "sku_code"]


def fill_stock_out_days(
    sales: pd.DataFrame,
    stock_outs: pd.DataFrame,
    as_of_by_merchant: dict[int, date],
    active_days: int = ACTIVE_DAYS,
) -> pd.DataFrame:
    """`sales` (merchant_id, sku_code, sales_date, quantity; days with sales) with a row added for
    each stock-out day of an active series, its quantity the estimated demand.

    stock_outs: merchant_id, sku_code, date: days the merchant had none of the SKU to sell
    (marts.fct_stock_out_days). Days with sales among them keep their sales.
    """
    if stock_outs.empty or sales.empty:
        return sales
    sales_dates = pd.to_datetime(sales["sales_date"])
    as_of = pd.to_datetime(sales["merchant_id"].map(as_of_by_merchant))
    recent = (sales["quantity"] > 0) & (sales_dates > as_of - pd.Timedelta(days=active_days)) & (sales_dates <= as_of)
    active = sales.loc[recent, KEYS].drop_duplicates()
    flagged = stock_outs[KEYS].assign(date=pd.to_datetime(stock_outs["date"])).merge(active, on=KEYS)
    if flagged.empty:
        return sales
    sold = (
        sales[KEYS]
        .assign(date=sales_dates, quantity=sales["quantity"].astype(float))
        .merge(active, on=KEYS)
        .groupby([*KEYS, "date"], as_index=False)["quantity"]
        .sum()
    )
    sold = sold.merge(flagged[KEYS].drop_duplicates(), on=KEYS)
    # One row per day of each flagged series, from its first sale (where its series starts) to its
    # last stock-out.
    first = sold.groupby(KEYS)["date"].min().rename("first")
    last = flagged.groupby(KEYS)["date"].max().rename("last")
    spans = pd.concat([first, last], axis=1, join="inner").reset_index()
    spans = spans[spans["first"] <= spans["last"]]
    grid = spans.assign(
        date=[pd.date_range(start, end, freq="D") for start, end in zip(spans["first"], spans["last"], strict=True)]
    ).explode("date")[[*KEYS, "date"]]
    grid["date"] = pd.to_datetime(grid["date"])
    grid = grid.merge(sold, on=[*KEYS, "date"], how="left").merge(
        flagged.assign(stocked_out=True), on=[*KEYS, "date"], how="left"
    )
    grid = grid.sort_values([*KEYS, "date"], ignore_index=True)
    stocked_out = grid["stocked_out"].notna() & grid["quantity"].isna()
    grid["in_stock"] = grid["quantity"].fillna(0.0).where(~stocked_out)
    grid["before"] = grid.groupby(KEYS, sort=False)["in_stock"].shift(1)
    rate = (
        grid.groupby(KEYS, sort=False)["before"]
        .rolling(IN_STOCK_WINDOW_DAYS, min_periods=1)
        .mean()
        .reset_index(level=KEYS, drop=True)
        .sort_index()
    )
    grid["rate"] = rate.groupby([grid["merchant_id"], grid["sku_code"]], sort=False).ffill()
    filled = grid[stocked_out & (grid["rate"] > 0)]
    if filled.empty:
        return sales
    dates = filled["date"] if pd.api.types.is_datetime64_any_dtype(sales["sales_date"]) else filled["date"].dt.date
    return pd.concat(
        [sales, pd.DataFrame({**{key: filled[key] for key in KEYS}, "sales_date": dates, "quantity": filled["rate"]})],
        ignore_index=True,
    )
