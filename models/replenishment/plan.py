"""The weekly replenishment plan: the warehouse's positions, forecasts and backtests → `policy.py`.

One row per merchant × SKU × warehouse of the positions (int_replenishment_positions_joined),
with every input of `suggest_replenishment` derived here:

- the forecast sums over the lead time L and over L + R after as_of (the forecast made at the
  merchant's current as_of, all warehouses together), times the warehouse's share of recent sales;
- the review period R: the usual one, shortened for perishables (`policy.review_period_days`);
- the daily forecast error σe, the chosen option's backtest RMSE (`daily_forecast_error_sd`),
  also times the warehouse's share;
- the lead time's spread σL from the supplier's delivered lead times (`lead_time_spread`);
- ABC and XYZ class, shelf life;
- a seasonal pre-build (`prebuild_demand`) for goods that keep.

Sellable stock is the positions' `available` (unexpired, neither reserved nor frozen), so
`reserved` is 0 here: the reservations are already netted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.forecasting.backtest import ALL_HORIZONS
from models.replenishment import policy

# Series without a backtest take the spread of their last four weeks of demand.
RECENT_DEMAND_DAYS = 28
KEYS = ["merchant_id", "sku_code"]


def lead_time_spread(supplier_lead_times: pd.DataFrame) -> pd.DataFrame:
    """Standard deviation of each supplier's delivered lead times, weighted by deliveries.

    supplier_lead_times: merchant_id, supplier_code, lead_time_days, deliveries (one row per lead
    time seen). Returns merchant_id, supplier_code, lead_time_sd_days.
    """
    frame = supplier_lead_times.assign(
        weighted=supplier_lead_times["lead_time_days"] * supplier_lead_times["deliveries"],
        squared=supplier_lead_times["lead_time_days"] ** 2 * supplier_lead_times["deliveries"],
    )
    sums = frame.groupby(["merchant_id", "supplier_code"], as_index=False)[["deliveries", "weighted", "squared"]].sum()
    mean = sums["weighted"] / sums["deliveries"]
    variance = (sums["squared"] / sums["deliveries"] - mean**2).clip(lower=0.0)
    return sums[["merchant_id", "supplier_code"]].assign(lead_time_sd_days=np.sqrt(variance).fillna(0.0))


def daily_forecast_error_sd(
    backtests: pd.DataFrame, daily_demand: pd.DataFrame, series: pd.DataFrame, fitted_through: pd.Series
) -> pd.Series:
    """σe per series, aligned with `series` (merchant_id, sku_code).

    From the chosen option's backtest: the root mean squared daily error, pooled over the origins
    (√ of the mean of the origins' squared RMSE). A squared error weighs a lumpy seller's big days
    as a stock-out does; the mean absolute error would understate them. Series without a backtest
    (too short to backtest) take the standard deviation of their last RECENT_DEMAND_DAYS days of
    demand up to `fitted_through` (a date per series), days without demand counted as 0.

    backtests: ml.forecast_backtests rows (merchant_id, sku_code, horizon_bucket, rmse, chosen).
    daily_demand: merchant_id, sku_code, date, quantity (days with demand).
    """
    chosen = backtests[backtests["chosen"].astype(bool) & (backtests["horizon_bucket"] == ALL_HORIZONS)]
    squared = chosen.assign(squared=chosen["rmse"].astype(float) ** 2)
    backtested = np.sqrt(squared.groupby(KEYS)["squared"].mean())

    demand = daily_demand.assign(date=pd.to_datetime(daily_demand["date"]))
    # One end per series: `series` may hold a series once per warehouse.
    ends = series[KEYS].assign(fitted_through=pd.to_datetime(fitted_through.to_numpy())).drop_duplicates(KEYS)
    recent = demand.merge(ends, on=KEYS)
    recent = recent[
        (recent["date"] <= recent["fitted_through"])
        & (recent["date"] > recent["fitted_through"] - pd.Timedelta(days=RECENT_DEMAND_DAYS))
    ]
    sums = recent.assign(squared=recent["quantity"] ** 2).groupby(KEYS)[["quantity", "squared"]].sum()
    mean = sums["quantity"] / RECENT_DEMAND_DAYS
    recent_sd = np.sqrt((sums["squared"] / RECENT_DEMAND_DAYS - mean**2).clip(lower=0.0))

    index = pd.MultiIndex.from_frame(series[KEYS])
    # As floats: empty inputs give object columns, which fillna would have to downcast.
    error_sd = backtested.astype(float).reindex(index).fillna(recent_sd.astype(float).reindex(index)).fillna(0.0)
    return pd.Series(error_sd.to_numpy(dtype=float), index=series.index, name="daily_forecast_error_sd")


def forecast_sums(forecasts: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Per row of `series`: the forecast over L and over P = L + R after as_of, and the pre-build.

    forecasts: merchant_id, sku_code, date, yhat (one as_of's daily forecast). series: merchant_id,
    sku_code, as_of, lead_time_days, review_period_days, shelf_life_days (NA = keeps). Returns
    forecast_lead_time_demand, forecast_protection_demand (NaN without a forecast) and
    prebuild_qty, aligned with `series`.
    """
    rows = series[[*KEYS, "as_of", "lead_time_days", "review_period_days"]].assign(row=np.arange(len(series)))
    daily = forecasts[[*KEYS, "date", "yhat"]].merge(rows, on=KEYS)
    ahead = (pd.to_datetime(daily["date"]) - pd.to_datetime(daily["as_of"])).dt.days
    lead_time = daily["lead_time_days"].to_numpy()
    protection = lead_time + daily["review_period_days"].to_numpy()
    yhat = daily["yhat"].clip(lower=0.0)
    daily = daily.assign(
        over_lead_time=yhat.where((ahead >= 1) & (ahead <= lead_time), 0.0),
        over_protection=yhat.where((ahead >= 1) & (ahead <= protection), 0.0),
        window_day=ahead - protection,
        yhat=yhat,
    )
    sums = daily.groupby("row")[["over_lead_time", "over_protection"]].sum()
    out = pd.DataFrame(index=np.arange(len(series)))
    out["forecast_lead_time_demand"] = sums["over_lead_time"].reindex(out.index)
    out["forecast_protection_demand"] = sums["over_protection"].reindex(out.index)
    out["prebuild_qty"] = prebuild_demand(daily, series, out["forecast_protection_demand"])
    out.index = series.index
    return out


def prebuild_demand(daily: pd.DataFrame, series: pd.DataFrame, protection_demand: pd.Series) -> np.ndarray:
    """`policy.prebuild_quantity` per row of `series`, from the forecast days past each row's cover."""
    protection_days = (series["lead_time_days"] + series["review_period_days"]).to_numpy(dtype=float)
    window = daily[(daily["window_day"] >= 1) & (daily["window_day"] <= policy.PREBUILD_WINDOW_DAYS)]
    matrix = np.zeros((len(series), policy.PREBUILD_WINDOW_DAYS))
    matrix[window["row"].to_numpy(dtype=int), window["window_day"].to_numpy(dtype=int) - 1] = window["yhat"]
    shelf_life = pd.to_numeric(series["shelf_life_days"], errors="coerce").to_numpy(dtype=float)
    return policy.prebuild_quantity(matrix, protection_demand.to_numpy(dtype=float) / protection_days, shelf_life)


def plan_replenishment(
    positions: pd.DataFrame,
    products: pd.DataFrame,
    classes: pd.DataFrame,
    supplier_lead_times: pd.DataFrame,
    forecasts: pd.DataFrame,
    backtests: pd.DataFrame,
    daily_demand: pd.DataFrame,
) -> pd.DataFrame:
    """`suggest_replenishment` on every position, its inputs derived as the module docstring says.

    positions: int_replenishment_positions_joined (merchant_id, product_id, sku_code, warehouse_id,
    supplier_code, as_of, lead_time_days, review_period_days (the usual period), min_order_qty,
    order_multiple, demand_share, available, on_order, …). products: merchant_id, product_id,
    shelf_life_days. classes: merchant_id, sku_code, abc_class, xyz_class. supplier_lead_times: as
    `lead_time_spread` takes them. forecasts: merchant_id, sku_code, date, yhat, model, run_id
    at each merchant's current as_of, all warehouses (model and run_id come out as forecast_model
    and forecast_run_id). backtests: that as_of's ml.forecast_backtests rows.
    daily_demand: merchant_id, sku_code, date, quantity.
    """
    frame = positions.merge(products[["merchant_id", "product_id", "shelf_life_days"]], how="left")
    frame = frame.merge(classes[[*KEYS, "abc_class", "xyz_class"]], on=KEYS, how="left")
    frame = frame.merge(lead_time_spread(supplier_lead_times), on=["merchant_id", "supplier_code"], how="left")
    frame = frame.reset_index(drop=True)
    frame["review_period_days"] = policy.review_period_days(frame["shelf_life_days"], frame["review_period_days"])
    frame["lead_time_sd_days"] = frame["lead_time_sd_days"].astype(float).fillna(0.0)
    share = frame["demand_share"].to_numpy(dtype=float)
    sums = forecast_sums(forecasts, frame)
    error_sd = daily_forecast_error_sd(backtests, daily_demand, frame, frame["as_of"])
    models = forecasts.drop_duplicates(KEYS)[[*KEYS, "model", "run_id"]].rename(
        columns={"model": "forecast_model", "run_id": "forecast_run_id"}
    )
    frame = frame.merge(models, on=KEYS, how="left")
    planned = frame.assign(
        forecast_lead_time_demand=sums["forecast_lead_time_demand"].to_numpy() * share,
        forecast_protection_demand=sums["forecast_protection_demand"].to_numpy() * share,
        prebuild_qty=np.round(sums["prebuild_qty"].to_numpy() * share, policy.QUANTITY_DECIMALS),
        daily_forecast_error_sd=error_sd.to_numpy() * share,
        on_hand=frame["available"],
        reserved=0,
    )
    return policy.suggest_replenishment(planned)
