"""Proof by simulation (issue 7, point 8): replay a held-out period day by day under two policies.

Both policies face the same true demand, the same starting stock and the same supplier lead times
(common random numbers), and decide from the same record, the units sold: what the ledger sold
before the replay, then their own sales, which their own stock-outs censor. So the difference in
the results is the policy's alone:

- `minmax`, what merchants do today: the rule the simulated merchants follow
  (transactional/simulator/merchant_rule.py, docs/simulator.md "Replenishment"), so the baseline
  is the practice that produced the network's own ledger. The simulated merchants judged by what
  customers asked for, the demand turned away included; replayed, the rule reads the sales, as a
  merchant's books hold them.
  m = the mean daily sales of the last 28 days seen so far, or of the last 7 when higher (fresh
  produce, shelf life ≤ 30 days: the 28 days only); min = m · (L + S) with S = max(2, L / 2) safety days;
  max = min + m · C with a cover of C = 2 days for fresh produce, 14 for goods keeping ≤ 200
  days, 30 for the rest; at a review, when the position is below min, order up to max, rounded
  up to whole packs and the MOQ.
- `coopcast`: the reorder point / order-up-to level of models/replenishment/policy.py
  (`suggest_replenishment`: class service level, safety stock from the forecast error and the
  lead-time spread, packs, MOQ, shelf-life cap, seasonal pre-build) fed by a forecaster, as the
  weekly plan runs it, filling the days it had nothing to sell (models/forecasting/stock_outs.py).

Inputs

`skus`, one row per SKU:

    sku                 key (any hashable), unique
    abc_class           'A' | 'B' | 'C' (missing = C, as in the policy)
    unit_cost           ¥ per unit; values inventory, expired stock and COGS
    lead_time_days      nominal supplier lead time L, whole days ≥ 1
    lead_time_sd_days   spread σL of the lead time in days (0 = always L)
    min_order_qty       MOQ ≥ 1
    order_multiple      pack multiple ≥ 1
    shelf_life_days     nullable; missing = goods that do not expire
    review_period_days  R ≥ 1: the SKU is reviewed on replay days 0, R, 2R, …
    initial_on_hand     units on hand the morning of the first replay day (one batch)
    initial_age_days    optional; age of that batch (default 0): it expires shelf_life − age
                        days after the start

`initial_batches`, optional, replaces initial_on_hand / initial_age_days for the SKUs it lists:
one row per batch with columns sku, quantity, expiry_date (NaT = does not expire).

`demand`, long: sku, date, demand (units), optionally sold (units). Days from `start` on are
replayed; earlier days are history that only warms up the forecasts, seen as their `sold` units
(without the column, as their demand: a history no stock-out censored). Missing SKU-days are zero.

`stock_outs`, optional: sku, date: days of the history the ledger had none of the SKU to sell.

`launch_stock`, optional: sku, date, quantity: the opening stock the merchant bought for a SKU
launched inside the replayed period, arriving on that day under both policies (the decision to
carry a new SKU is the merchant's, not the replenishment policy's).

A forecaster is a plain function `(day, seen, horizon) -> (yhat, error_sd)`: on replay day `day`
(0-based), after that day's sales, with `seen` the SKU × day matrix of the units the policy sold on
every day up to and including it (history first: the history's `sold`), NaN on the days it had
nothing to sell (demand unseen; in the history, the `stock_outs`), it returns the daily
forecast of the next `horizon` days (SKU × horizon, rows in the order of `skus`) and the daily
forecast error's standard deviation per SKU. `frame_forecaster` turns a precomputed frame of
forecasts into one; `replay_inputs.CoopcastForecaster` refits coopcast's forecast on `seen`.

Mechanics per day: arrivals of the morning become new batches with full shelf life; batches whose
expiry date is today are written off (expired value at unit_cost); demand is served
first-expiry-first-out and what cannot be served is lost; after the sales each SKU due for review
may order, and the order arrives on the morning of the day + its lead time. Lead times are whole
days max(1, round(L + σL · ε)), ε standard normal drawn once per SKU × day from a seeded
generator, so an order placed by either policy for the same SKU on the same day waits equally long.

Warm-up: the first `warmup_days` of the replay run both policies but count nothing. Both start
from the same stock, often far from what either would hold; after the warm-up each has shaped
its own, so the measured days compare the policies rather than the starting stock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.replenishment.policy import (
    PREBUILD_WINDOW_DAYS,
    UNCLASSIFIED_ABC_CLASS,
    prebuild_quantity,
    round_up_to_packs,
    suggest_replenishment,
)
from transactional.simulator import merchant_rule
from transactional.simulator.reference import FRESH_SHELF_LIFE_DAYS

POLICIES = ("minmax", "coopcast")
ALL_CLASSES = "ALL"
SKU_COLUMNS = (
    "sku",
    "abc_class",
    "unit_cost",
    "lead_time_days",
    "lead_time_sd_days",
    "min_order_qty",
    "order_multiple",
    "shelf_life_days",
    "review_period_days",
    "initial_on_hand",
)
SUMMARY_COLUMNS = (
    "policy",
    "abc_class",
    "fill_rate",
    "avg_inventory_value",
    "expired_value",
    "stockout_days",
    "orders_placed",
    "turnover",
)
ORDER_COLUMNS = ("policy", "sku", "order_day", "arrival_day", "quantity")

Forecaster = Callable[[int, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ReplayInputs:
    """The inputs as arrays, SKUs in the order of `skus`, days in the order of `dates`.

    `initial_stock` holds units by expiry bucket: column j < n_days expires on the morning of
    replay day j; the last column expires after the period or never (its order among itself does
    not change any result, so it needs no finer split).
    """

    skus: pd.DataFrame
    dates: pd.DatetimeIndex
    history: np.ndarray
    demand: np.ndarray
    initial_stock: np.ndarray
    # What the policies see of the history: the units sold (= `history` without a sold column),
    # NaN on the days nothing could be sold.
    history_sold: np.ndarray
    # Units arriving each replay day outside either policy: launched SKUs' opening stock.
    launch_arrivals: np.ndarray

    @property
    def n_days(self) -> int:
        return self.demand.shape[1]


def prepare_replay(
    skus: pd.DataFrame,
    demand: pd.DataFrame,
    start: pd.Timestamp | str,
    initial_batches: pd.DataFrame | None = None,
    stock_outs: pd.DataFrame | None = None,
    launch_stock: pd.DataFrame | None = None,
) -> ReplayInputs:
    """Check the inputs and lay demand and starting stock out as SKU × day arrays."""
    _check_skus(skus)
    frame = skus.reset_index(drop=True)
    start = pd.Timestamp(start)
    unknown = set(demand["sku"]) - set(frame["sku"])
    if unknown:
        raise ValueError(f"demand for SKU(s) not in skus: {sorted(map(str, unknown))[:5]}")
    dates = pd.date_range(min(demand["date"].min(), start), demand["date"].max(), freq="D")

    def sku_days(column: str) -> np.ndarray:
        return (
            demand.pivot_table(index="sku", columns="date", values=column, aggfunc="sum")
            .reindex(index=frame["sku"], columns=dates)
            .fillna(0.0)
            .to_numpy(dtype=float)
        )

    matrix = sku_days("demand")
    n_history = int((dates < start).sum())
    replay_dates = dates[n_history:]
    if len(replay_dates) == 0:
        raise ValueError("no demand on or after start: nothing to replay")
    history_sold = sku_days("sold")[:, :n_history] if "sold" in demand else matrix[:, :n_history].copy()
    if stock_outs is not None and len(stock_outs):
        rows, columns, _ = _cells(frame["sku"], dates[:n_history], stock_outs)
        history_sold[rows, columns] = np.nan
    stock = _initial_stock(frame, initial_batches, start, len(replay_dates))
    launch_arrivals = np.zeros((len(frame), len(replay_dates)))
    if launch_stock is not None and len(launch_stock):
        rows, columns, known = _cells(frame["sku"], replay_dates, launch_stock)
        np.add.at(launch_arrivals, (rows, columns), launch_stock["quantity"].to_numpy(dtype=float)[known])
    return ReplayInputs(
        frame, replay_dates, matrix[:, :n_history], matrix[:, n_history:], stock, history_sold, launch_arrivals
    )


def _cells(skus: pd.Series, dates: pd.DatetimeIndex, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of each of `frame`'s sku × date in a matrix of `skus` × `dates`, for the
    rows that fall inside it (the mask of which is returned third)."""
    rows = frame["sku"].map(pd.Series(np.arange(len(skus)), index=skus.to_numpy())).to_numpy(dtype=float)
    columns = pd.Series(np.arange(len(dates)), index=dates).reindex(pd.to_datetime(frame["date"])).to_numpy(dtype=float)
    known = ~np.isnan(rows) & ~np.isnan(columns)
    return rows[known].astype(int), columns[known].astype(int), known


def draw_lead_times(skus: pd.DataFrame, n_days: int, seed: int) -> np.ndarray:
    """Lead time in whole days of an order placed by each SKU (rows) on each replay day (columns)."""
    generator = np.random.default_rng(seed)
    noise = generator.standard_normal((len(skus), n_days))
    nominal = skus["lead_time_days"].to_numpy(dtype=float)[:, None]
    spread = skus["lead_time_sd_days"].fillna(0).to_numpy(dtype=float)[:, None]
    # Ordered after the day's sales, goods arrive the next morning at the earliest.
    return np.maximum(np.rint(nominal + spread * noise), 1).astype(int)


def frame_forecaster(forecasts: pd.DataFrame, inputs: ReplayInputs) -> Forecaster:
    """A forecaster reading precomputed forecasts.

    `forecasts`: sku, decision_date (the replay day the forecast is used on, after its sales),
    ds (the day forecast), yhat, error_sd (one value per sku × decision_date). Days without a row
    are forecast as 0; a decision day without rows forecasts 0 with error sd 0.
    """
    sku_position = pd.Series(np.arange(len(inputs.skus)), index=inputs.skus["sku"])
    day_of = pd.Series(np.arange(len(inputs.dates)), index=inputs.dates)
    frame = forecasts.assign(
        row=forecasts["sku"].map(sku_position),
        day=pd.to_datetime(forecasts["decision_date"]).map(day_of),
        ahead=(pd.to_datetime(forecasts["ds"]) - pd.to_datetime(forecasts["decision_date"])).dt.days,
    ).dropna(subset=["row", "day"])
    by_day = {int(day): rows for day, rows in frame.groupby("day")}

    def forecast(day: int, seen: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        yhat = np.zeros((len(inputs.skus), horizon))
        error_sd = np.zeros(len(inputs.skus))
        rows = by_day.get(day)
        if rows is None:
            return yhat, error_sd
        in_horizon = rows[(rows["ahead"] >= 1) & (rows["ahead"] <= horizon)]
        yhat[in_horizon["row"].astype(int), in_horizon["ahead"].astype(int) - 1] = in_horizon["yhat"]
        sd = rows.groupby("row")["error_sd"].first()
        error_sd[sd.index.astype(int)] = sd.to_numpy(dtype=float)
        return yhat, error_sd

    return forecast


def replay_policy(
    policy: str,
    inputs: ReplayInputs,
    lead_times: np.ndarray,
    forecaster: Forecaster | None = None,
    service_levels: Mapping[str, float] | None = None,
    warmup_days: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replay one policy; returns per-SKU totals and the orders placed.

    Totals per SKU: demanded, served, lost, stockout_days, inventory_value_days (Σ over days of
    end-of-day on-hand × unit_cost), expired_value, orders_placed, cogs. `forecaster` is required
    for 'coopcast' and ignored by 'minmax'. The first `warmup_days` are replayed but not counted:
    the policy runs from the starting stock, and the totals measure the stock it has shaped.
    The order log holds every order, warm-up included.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")
    if policy == "coopcast" and forecaster is None:
        raise ValueError("the coopcast policy needs a forecaster")
    skus = inputs.skus
    n_skus, n_days = inputs.demand.shape
    if lead_times.shape != (n_skus, n_days):
        raise ValueError(f"lead_times must be SKU × day {(n_skus, n_days)}, got {lead_times.shape}")
    _check_warmup(warmup_days, n_days)
    unit_cost = skus["unit_cost"].to_numpy(dtype=float)
    review_period = skus["review_period_days"].to_numpy(dtype=int)
    shelf_life = skus["shelf_life_days"].to_numpy(dtype=float, na_value=np.nan)
    # The forecast reaches past the longest cover by the pre-build's window.
    horizon = int((skus["lead_time_days"] + skus["review_period_days"]).max()) + PREBUILD_WINDOW_DAYS
    n_history = inputs.history.shape[1]
    # Each day's column is filled with the day's sales once they are made.
    seen = np.concatenate([inputs.history_sold, np.zeros_like(inputs.demand)], axis=1)

    stock = inputs.initial_stock.copy()
    pipeline = np.zeros((n_skus, n_days + int(lead_times.max()) + 1))
    pipeline[:, :n_days] += inputs.launch_arrivals
    served = np.zeros(n_skus)
    stockout_days = np.zeros(n_skus, dtype=int)
    expired_units = np.zeros(n_skus)
    end_of_day_units = np.zeros(n_skus)
    orders: list[pd.DataFrame] = []
    rows = np.arange(n_skus)
    for day in range(n_days):
        measured = day >= warmup_days
        _receive(stock, pipeline[:, day], day, shelf_life, n_days)
        if measured:
            expired_units += stock[:, day]
        stock[:, day] = 0.0
        demand = inputs.demand[:, day]
        on_hand = stock.sum(axis=1)
        _serve_first_expiry_first_out(stock, demand)
        sold = np.minimum(demand, on_hand)
        seen[:, n_history + day] = np.where(on_hand > 0, sold, np.nan)
        if measured:
            served += sold
            stockout_days += (demand > 0) & ((on_hand <= 0) | (sold < demand))

        reviewing = rows[day % review_period == 0]
        if len(reviewing):
            position = stock[reviewing].sum(axis=1) + pipeline[reviewing, day + 1 :].sum(axis=1)
            history_seen = seen[reviewing, : n_history + day + 1]
            if policy == "minmax":
                # The merchant's average counts a day with nothing to sell as a day without sales.
                quantity = _minmax_order(skus.iloc[reviewing], np.nan_to_num(history_seen), position)
            else:
                yhat, error_sd = forecaster(day, seen[:, : n_history + day + 1], horizon)
                quantity = _coopcast_order(
                    skus.iloc[reviewing], yhat[reviewing], error_sd[reviewing], position, service_levels
                )
            ordering = reviewing[quantity > 0]
            arrival = day + lead_times[ordering, day]
            pipeline[ordering, arrival] += quantity[quantity > 0]
            orders.append(
                pd.DataFrame(
                    {
                        "sku": skus["sku"].to_numpy()[ordering],
                        "order_day": day,
                        "arrival_day": arrival,
                        "quantity": quantity[quantity > 0],
                    }
                )
            )
        if measured:
            end_of_day_units += stock.sum(axis=1)

    demanded = inputs.demand[:, warmup_days:].sum(axis=1)
    order_log = pd.concat(orders, ignore_index=True) if orders else _empty_orders()
    order_log.insert(0, "policy", policy)
    measured_orders = order_log.loc[order_log["order_day"] >= warmup_days, "sku"]
    totals = pd.DataFrame(
        {
            "policy": policy,
            "sku": skus["sku"].to_numpy(),
            "abc_class": skus["abc_class"].fillna(UNCLASSIFIED_ABC_CLASS).to_numpy(),
            "demanded": demanded,
            "served": served,
            "lost": demanded - served,
            "stockout_days": stockout_days,
            "inventory_value_days": end_of_day_units * unit_cost,
            "expired_value": expired_units * unit_cost,
            "orders_placed": measured_orders.value_counts().reindex(skus["sku"], fill_value=0).to_numpy(),
            "cogs": served * unit_cost,
        }
    )
    return totals, order_log


def summarise(totals: pd.DataFrame, n_days: int) -> pd.DataFrame:
    """Per policy × ABC class and per policy over all SKUs ('ALL'): the figures of issue 7, point 8.

    avg_inventory_value is the mean over the days of the summed end-of-day inventory value;
    turnover = COGS over the period ÷ that average (NaN without inventory).
    """
    both = pd.concat([totals, totals.assign(abc_class=ALL_CLASSES)], ignore_index=True)
    grouped = both.groupby(["policy", "abc_class"], sort=False).agg(
        demanded=("demanded", "sum"),
        served=("served", "sum"),
        inventory_value_days=("inventory_value_days", "sum"),
        expired_value=("expired_value", "sum"),
        stockout_days=("stockout_days", "sum"),
        orders_placed=("orders_placed", "sum"),
        cogs=("cogs", "sum"),
    )
    avg_inventory_value = grouped["inventory_value_days"] / n_days
    summary = pd.DataFrame(
        {
            # Nothing demanded means nothing was missed.
            "fill_rate": (grouped["served"] / grouped["demanded"].where(grouped["demanded"] > 0)).fillna(1.0),
            "avg_inventory_value": avg_inventory_value,
            "expired_value": grouped["expired_value"],
            "stockout_days": grouped["stockout_days"].astype(int),
            "orders_placed": grouped["orders_placed"].astype(int),
            "turnover": grouped["cogs"] / avg_inventory_value.where(avg_inventory_value > 0),
        }
    ).reset_index()
    # Policies in the order of POLICIES, classes alphabetically with 'ALL' last.
    rank = {**{policy: str(number) for number, policy in enumerate(POLICIES)}, ALL_CLASSES: "\uffff"}
    summary = summary.sort_values(["policy", "abc_class"], key=lambda column: column.map(lambda v: rank.get(v, v)))
    return summary[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def evaluate_replenishment(
    skus: pd.DataFrame,
    demand: pd.DataFrame,
    start: pd.Timestamp | str,
    coopcast_forecaster: Forecaster,
    seed: int = 0,
    initial_batches: pd.DataFrame | None = None,
    service_levels: Mapping[str, float] | None = None,
    warmup_days: int = 0,
    stock_outs: pd.DataFrame | None = None,
    launch_stock: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Replay both policies over the same demand, stock and lead-time draws; the summary of
    `summarise` over the days after the first `warmup_days`."""
    inputs = prepare_replay(skus, demand, start, initial_batches, stock_outs, launch_stock)
    lead_times = draw_lead_times(inputs.skus, inputs.n_days, seed)
    totals = [
        replay_policy("minmax", inputs, lead_times, warmup_days=warmup_days)[0],
        replay_policy("coopcast", inputs, lead_times, coopcast_forecaster, service_levels, warmup_days)[0],
    ]
    return summarise(pd.concat(totals, ignore_index=True), inputs.n_days - warmup_days)


def _check_warmup(warmup_days: int, n_days: int) -> None:
    if not 0 <= warmup_days < n_days:
        raise ValueError(
            f"warmup_days must be from 0 to {n_days - 1} (the replay has {n_days} days), got {warmup_days}"
        )


def _minmax_order(skus: pd.DataFrame, seen: np.ndarray, position: np.ndarray) -> np.ndarray:
    n_seen = seen.shape[1]
    usual = seen[:, -merchant_rule.MEMORY_DAYS :].mean(axis=1) if n_seen else np.zeros(len(skus))
    recent = seen[:, -merchant_rule.RECENT_DAYS :].mean(axis=1) if n_seen else np.zeros(len(skus))
    shelf_life = skus["shelf_life_days"].to_numpy(dtype=float, na_value=np.nan)
    # A merchant follows a ramp up within the week, but not for produce that would rot.
    rate = np.where(shelf_life <= FRESH_SHELF_LIFE_DAYS, usual, np.maximum(usual, recent))
    lead_time = skus["lead_time_days"].to_numpy(dtype=float)
    minimum = rate * (lead_time + merchant_rule.safety_days(lead_time))
    maximum = minimum + rate * merchant_rule.cover_days(shelf_life)
    need = np.where(position < minimum, np.maximum(maximum - position, 0.0), 0.0)
    return round_up_to_packs(
        need, skus["min_order_qty"].to_numpy(dtype=float), skus["order_multiple"].to_numpy(dtype=float)
    )


def _coopcast_order(
    skus: pd.DataFrame,
    yhat: np.ndarray,
    error_sd: np.ndarray,
    position: np.ndarray,
    service_levels: Mapping[str, float] | None,
) -> np.ndarray:
    lead_time = skus["lead_time_days"].to_numpy(dtype=int)
    protection = lead_time + skus["review_period_days"].to_numpy(dtype=int)
    cumulative = np.concatenate([np.zeros((len(skus), 1)), np.cumsum(yhat, axis=1)], axis=1)
    rows = np.arange(len(skus))
    window = yhat[rows[:, None], protection[:, None] + np.arange(PREBUILD_WINDOW_DAYS)]
    shelf_life = skus["shelf_life_days"].to_numpy(dtype=float, na_value=np.nan)
    positions = pd.DataFrame(
        {
            "abc_class": skus["abc_class"].to_numpy(),
            "lead_time_days": lead_time,
            "review_period_days": skus["review_period_days"].to_numpy(dtype=int),
            "forecast_lead_time_demand": cumulative[rows, lead_time],
            "forecast_protection_demand": cumulative[rows, protection],
            "daily_forecast_error_sd": error_sd,
            "lead_time_sd_days": skus["lead_time_sd_days"].fillna(0).to_numpy(dtype=float),
            "on_hand": position,
            "on_order": 0.0,
            "reserved": 0.0,
            "min_order_qty": skus["min_order_qty"].to_numpy(),
            "order_multiple": skus["order_multiple"].to_numpy(),
            "shelf_life_days": skus["shelf_life_days"].astype("Int64").to_numpy(),
            "prebuild_qty": prebuild_quantity(window, cumulative[rows, protection] / protection, shelf_life),
        }
    )
    suggestions = suggest_replenishment(positions, service_levels)
    return suggestions["suggested_qty"].to_numpy(dtype=float)


def _receive(stock: np.ndarray, arriving: np.ndarray, day: int, shelf_life: np.ndarray, n_days: int) -> None:
    receiving = np.flatnonzero(arriving > 0)
    if len(receiving) == 0:
        return
    expiry = day + shelf_life[receiving]
    bucket = np.where(np.isnan(expiry), n_days, np.minimum(expiry, n_days)).astype(int)
    np.add.at(stock, (receiving, bucket), arriving[receiving])


def _serve_first_expiry_first_out(stock: np.ndarray, demand: np.ndarray) -> None:
    # What is left of bucket j is the stock up to and including j beyond the demand, at most the bucket itself.
    cumulative = np.cumsum(stock, axis=1)
    np.clip(cumulative - demand[:, None], 0.0, stock, out=stock)


def _initial_stock(
    skus: pd.DataFrame, initial_batches: pd.DataFrame | None, start: pd.Timestamp, n_days: int
) -> np.ndarray:
    stock = np.zeros((len(skus), n_days + 1))
    age = skus["initial_age_days"].fillna(0) if "initial_age_days" in skus else pd.Series(0, index=skus.index)
    days_left = skus["shelf_life_days"].to_numpy(dtype=float, na_value=np.nan) - age.to_numpy(dtype=float)
    listed = set(initial_batches["sku"]) if initial_batches is not None else set()
    single = ~skus["sku"].isin(listed).to_numpy()
    rows = np.flatnonzero(single)
    np.add.at(
        stock, (rows, _expiry_bucket(days_left[rows], n_days)), skus["initial_on_hand"].to_numpy(dtype=float)[rows]
    )
    if initial_batches is not None and len(initial_batches):
        unknown = listed - set(skus["sku"])
        if unknown:
            raise ValueError(f"initial batches for SKU(s) not in skus: {sorted(map(str, unknown))[:5]}")
        batch_rows = initial_batches["sku"].map(pd.Series(np.arange(len(skus)), index=skus["sku"])).to_numpy(int)
        batch_days_left = (pd.to_datetime(initial_batches["expiry_date"]) - start).dt.days.to_numpy(
            dtype=float, na_value=np.nan
        )
        np.add.at(
            stock,
            (batch_rows, _expiry_bucket(batch_days_left, n_days)),
            initial_batches["quantity"].to_numpy(dtype=float),
        )
    return stock


def _expiry_bucket(days_left: np.ndarray, n_days: int) -> np.ndarray:
    # Already expired stock is written off on the first morning; stock outliving the period never is.
    return np.where(np.isnan(days_left), n_days, np.clip(days_left, 0, n_days)).astype(int)


def _check_skus(skus: pd.DataFrame) -> None:
    absent = [column for column in SKU_COLUMNS if column not in skus]
    if absent:
        raise KeyError(f"replay SKUs lack column(s) {absent}")
    if skus["sku"].duplicated().any():
        raise ValueError("sku must be unique in skus")
    if (skus["lead_time_days"] < 1).any() or (skus["review_period_days"] < 1).any():
        raise ValueError("lead_time_days and review_period_days must be at least 1")
    whole = skus[["lead_time_days", "review_period_days"]].to_numpy(dtype=float)
    if not np.array_equal(whole, np.round(whole)):
        raise ValueError("lead_time_days and review_period_days must be whole days")


def _empty_orders() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="int64") for column in ORDER_COLUMNS if column != "policy"})
