"""Warehouse frames → the inputs of `evaluate_replenishment` (evaluation.py) for a held-out period.

The period is the last `days` days up to the network's as_of. A seeded sample of at most
`max_skus` merchant × SKU pairs with simulator truth is replayed (all of them when fewer).

- True demand is the simulator's ground truth (sim.daily_demand.demand): what customers wanted,
  not what stock allowed them to buy. Both policies face it and decide from what was sold:
  `sold` (what the simulated ledger sold) before the replay, their own sales in it.
- SKU parameters come from the marts: ABC class (unclassified = C, as in the policy), unit cost,
  shelf life, MOQ and pack multiple from dim_products; the nominal lead time is the product's,
  its spread the standard deviation of the supplier's delivered lead times
  (fct_supplier_lead_times, 0 without deliveries); the review period is dbt's var
  review_period_days, shortened for perishables as the policy does (policy.review_period_days).
- Starting stock is what the ledger held the morning of the first replay day: the on-hand units
  of every batch (all warehouses) with that batch's expiry date, identical for both policies.
- The coopcast forecaster is `forecast_network` fitted on the sales before each refit day, every
  REFIT_EVERY_DAYS of the period (or as asked: the weekly plan refits every 7); each fit serves
  the decision days up to the next refit, so no forecast sees a day after its decision day. The
  days it had nothing to sell (in the history, marts.fct_stock_out_days) are filled as the
  weekly forecast fills them (models/forecasting/stock_outs.py). Its
  daily error standard deviation comes from the chosen option's backtest, as the weekly plan takes
  it (`plan.daily_forecast_error_sd`). Its promotions and shelf prices are those the weekly
  forecast reads, each fit seeing what was known on its last day (models/forecasting/drivers.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from models.forecasting.drivers import DemandDrivers
from models.forecasting.pipeline import forecast_network
from models.forecasting.stock_outs import fill_stock_out_days
from models.replenishment import plan, policy
from models.replenishment.replay_defaults import DEFAULT_DAYS, DEFAULT_MAX_SKUS, REFIT_EVERY_DAYS

KEY_SEPARATOR = "/"


@dataclass(frozen=True)
class ReplayData:
    """`skus` and `demand` as `evaluate_replenishment` takes them, plus the starting batches.

    `skus` also carries merchant_id, merchant_code and sku_code beside the replay key `sku`.
    """

    skus: pd.DataFrame
    demand: pd.DataFrame
    initial_batches: pd.DataFrame
    start: pd.Timestamp
    days: int
    # sku, date: days before start the ledger had none of the SKU to sell
    stock_outs: pd.DataFrame
    # sku, date, quantity: opening stock of the SKUs launched from start on
    launch_stock: pd.DataFrame


def replay_start(as_of: date, days: int = DEFAULT_DAYS) -> pd.Timestamp:
    """The first replay day: the period is the `days` days ending on as_of."""
    if days < 1:
        raise ValueError("the replay needs at least one day")
    return pd.Timestamp(as_of) - pd.Timedelta(days=days - 1)


def sku_key(merchant_code: pd.Series, sku_code: pd.Series) -> pd.Series:
    return merchant_code.astype(str) + KEY_SEPARATOR + sku_code.astype(str)


def build_replay_data(
    demand: pd.DataFrame,
    products: pd.DataFrame,
    abc_classes: pd.DataFrame,
    supplier_lead_times: pd.DataFrame,
    batches_at_start: pd.DataFrame,
    as_of: date,
    days: int = DEFAULT_DAYS,
    max_skus: int = DEFAULT_MAX_SKUS,
    seed: int = 0,
    review_period_days: int = 7,
    stock_outs: pd.DataFrame | None = None,
    launch_stock: pd.DataFrame | None = None,
) -> ReplayData:
    """The replay's SKUs, demand up to as_of and starting batches.

    demand: merchant_code, sku_code, date, demand and optionally sold (sim.daily_demand).
    products: merchant_id, merchant_code, sku_code, supplier_code, unit_cost, shelf_life_days, lead_time_days,
    min_order_qty, order_multiple. abc_classes: merchant_id, sku_code, abc_class.
    supplier_lead_times: merchant_id, supplier_code, lead_time_days, deliveries (one row per
    lead time seen). batches_at_start: merchant_id, sku_code, quantity, expiry_date (units each
    batch held the morning of `replay_start(as_of, days)`). stock_outs: merchant_id, sku_code,
    stock_out_date (marts.fct_stock_out_days), of which the days before the replay are kept.
    launch_stock: merchant_id, sku_code, date, quantity: the ledger's receipts without a purchase
    order (a launched SKU's opening stock), of which those in the replayed period are kept.
    """
    start = replay_start(as_of, days)
    demand = demand.assign(date=pd.to_datetime(demand["date"]))
    demand = demand[demand["date"] <= pd.Timestamp(as_of)]
    pairs = demand.loc[demand["date"] >= start, ["merchant_code", "sku_code"]].drop_duplicates()
    candidates = products.merge(pairs, on=["merchant_code", "sku_code"]).sort_values(["merchant_code", "sku_code"])
    if candidates.empty:
        last_day = demand["date"].max()
        known = f"it ends on {last_day:%Y-%m-%d}" if pd.notna(last_day) else "there is none"
        raise ValueError(
            f"no simulated demand for any product in the replay period {start:%Y-%m-%d} to {as_of}: "
            f"{known} (live trading moves as_of past the simulated history)"
        )
    sample = candidates.sample(n=min(max_skus, len(candidates)), random_state=seed).sort_values(
        ["merchant_code", "sku_code"], ignore_index=True
    )
    sample["sku"] = sku_key(sample["merchant_code"], sample["sku_code"])

    spreads = plan.lead_time_spread(supplier_lead_times)
    skus = sample.merge(
        abc_classes[["merchant_id", "sku_code", "abc_class"]], on=["merchant_id", "sku_code"], how="left"
    )
    skus = skus.merge(spreads, on=["merchant_id", "supplier_code"], how="left")
    stock = batches_at_start.merge(sample[["merchant_id", "sku_code", "sku"]], on=["merchant_id", "sku_code"])
    skus = skus.assign(
        abc_class=skus["abc_class"].fillna("C"),
        unit_cost=skus["unit_cost"].astype(float),
        lead_time_days=skus["lead_time_days"].clip(lower=1).astype(int),
        lead_time_sd_days=skus["lead_time_sd_days"].fillna(0.0),
        min_order_qty=skus["min_order_qty"].clip(lower=1).astype(int),
        order_multiple=skus["order_multiple"].clip(lower=1).astype(int),
        shelf_life_days=skus["shelf_life_days"].astype(float),
        review_period_days=policy.review_period_days(skus["shelf_life_days"], review_period_days),
        # Every SKU's stock is in initial_batches, which replaces this figure.
        initial_on_hand=0.0,
    )
    replay_demand = demand.merge(sample[["merchant_code", "sku_code", "sku"]], on=["merchant_code", "sku_code"])
    demand_columns = ["sku", "date", "demand", *(["sold"] if "sold" in demand else [])]
    initial_batches = pd.DataFrame(
        {
            "sku": stock["sku"],
            "quantity": stock["quantity"].astype(float),
            "expiry_date": pd.to_datetime(stock["expiry_date"]),
        }
    )
    return ReplayData(
        skus=skus,
        demand=replay_demand[demand_columns].reset_index(drop=True),
        initial_batches=initial_batches,
        start=start,
        days=days,
        stock_outs=_history_stock_outs(stock_outs, sample, start),
        launch_stock=_replayed_launch_stock(launch_stock, sample, start),
    )


def _replayed_launch_stock(
    launch_stock: pd.DataFrame | None, sample: pd.DataFrame, start: pd.Timestamp
) -> pd.DataFrame:
    if launch_stock is None:
        return pd.DataFrame(
            {
                "sku": pd.Series(dtype=object),
                "date": pd.Series(dtype="datetime64[ns]"),
                "quantity": pd.Series(dtype=float),
            }
        )
    receipts = launch_stock.merge(sample[["merchant_id", "sku_code", "sku"]], on=["merchant_id", "sku_code"])
    receipts = receipts.assign(date=pd.to_datetime(receipts["date"]), quantity=receipts["quantity"].astype(float))
    return receipts.loc[receipts["date"] >= start, ["sku", "date", "quantity"]].reset_index(drop=True)


def _history_stock_outs(stock_outs: pd.DataFrame | None, sample: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    if stock_outs is None:
        return pd.DataFrame({"sku": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]")})
    days = stock_outs.merge(sample[["merchant_id", "sku_code", "sku"]], on=["merchant_id", "sku_code"])
    days = days.assign(date=pd.to_datetime(days["stock_out_date"]))
    return days.loc[days["date"] < start, ["sku", "date"]].reset_index(drop=True)


class CoopcastForecaster:
    """The coopcast policy's forecaster in the replay (an `evaluation.Forecaster`).

    `forecast_network` is refitted every `refit_every_days` on what the policy has seen: a fit
    through the day before refit day r serves the decision days r … r + refit_every_days − 1, so
    no forecast sees a day after its decision day. `seconds` and `fits` add up the forecasting.
    """

    def __init__(
        self, data: ReplayData, refit_every_days: int = REFIT_EVERY_DAYS, drivers: DemandDrivers | None = None
    ) -> None:
        if refit_every_days < 1:
            raise ValueError("refits must be at least a day apart")
        self.data = data
        self.refit_every_days = refit_every_days
        self.drivers = drivers
        self.seconds = 0.0
        self.fits = 0
        self._refit_day: int | None = None
        # yhat of the days from the refit day on (SKU × day), σe per SKU
        self._yhat = np.zeros((len(data.skus), 0))
        self._error_sd = np.zeros(len(data.skus))

    def __call__(self, day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        refit_day = day - day % self.refit_every_days
        if refit_day != self._refit_day:
            n_history = seen.shape[1] - day - 1
            self._fit(refit_day, seen[:, : n_history + refit_day], n_history)
        yhat = np.zeros((len(self.data.skus), horizon))
        # Column i of the fit is the day refit_day + i: the next `horizon` days after `day`.
        ahead = self._yhat[:, day - refit_day + 1 : day - refit_day + 1 + horizon]
        yhat[:, : ahead.shape[1]] = ahead
        return yhat, self._error_sd

    def _fit(self, refit_day: int, seen: np.ndarray, n_history: int) -> None:
        started = time.perf_counter()
        data = self.data
        skus = data.skus
        fitted_through = data.start + pd.Timedelta(days=refit_day - 1)
        dates = pd.date_range(data.start - pd.Timedelta(days=n_history), periods=seen.shape[1], freq="D")
        merchant_ids, sku_codes = skus["merchant_id"].to_numpy(), skus["sku_code"].to_numpy()
        rows, columns = np.nonzero(np.nan_to_num(seen) > 0)
        sales = pd.DataFrame(
            {
                "merchant_id": merchant_ids[rows],
                "sku_code": sku_codes[rows],
                "sales_date": dates[columns],
                "quantity": seen[rows, columns],
            }
        )
        out_rows, out_columns = np.nonzero(np.isnan(seen))
        stock_outs = pd.DataFrame(
            {"merchant_id": merchant_ids[out_rows], "sku_code": sku_codes[out_rows], "date": dates[out_columns]}
        )
        as_of_by_merchant = {int(merchant_id): fitted_through.date() for merchant_id in skus["merchant_id"].unique()}
        sales = fill_stock_out_days(sales, stock_outs, as_of_by_merchant)
        network = forecast_network(
            sales, as_of_by_merchant, categories=skus[["merchant_id", "sku_code", "category"]], drivers=self.drivers
        )
        forecasts = network.forecasts.merge(
            skus[["merchant_id", "sku_code"]].assign(row=np.arange(len(skus))), on=["merchant_id", "sku_code"]
        )
        offset = (pd.to_datetime(forecasts["date"]) - (fitted_through + pd.Timedelta(days=1))).dt.days.to_numpy()
        self._yhat = np.zeros((len(skus), int(offset.max()) + 1 if len(offset) else 0))
        self._yhat[forecasts["row"].to_numpy(), offset] = forecasts["yhat"].to_numpy(dtype=float)
        # A SKU without a forecast orders nothing, whatever its error.
        forecast_rows = np.unique(forecasts["row"].to_numpy())
        error_sd = _error_sd(network.backtests, sales, skus, fitted_through)["error_sd"].to_numpy(dtype=float)
        self._error_sd = np.zeros(len(skus))
        self._error_sd[forecast_rows] = error_sd[forecast_rows]
        self._refit_day = refit_day
        self.fits += 1
        self.seconds += time.perf_counter() - started


def _error_sd(
    backtests: pd.DataFrame, sales: pd.DataFrame, skus: pd.DataFrame, fitted_through: pd.Timestamp
) -> pd.DataFrame:
    """Daily forecast error σ per SKU of the replay, as the weekly plan derives it (plan.py).

    sales: what the forecast was fitted on (merchant_id, sku_code, sales_date, quantity).
    """
    demand = sales.rename(columns={"sales_date": "date"})
    error_sd = plan.daily_forecast_error_sd(backtests, demand, skus, pd.Series(fitted_through, index=skus.index))
    return pd.DataFrame({"sku": skus["sku"].to_numpy(), "error_sd": error_sd.to_numpy(dtype=float)})
