"""Replenishment policy (补货策略): reorder point, order-up-to level and the suggested order.

A periodic-review policy per merchant × SKU × warehouse. At each review the position is compared
with the reorder point s; at or below it, the order brings the position up to S. Both cover the
forecast over the lead time plus the review period, and a safety stock sized for the SKU's
service level: an order placed at this review is the last one to arrive before the next review's
order does, L + R days from now, so a reorder point covering the lead time alone would run short
in the review period after it (measured: A items' fill rate 0.91 with weekly reviews). s and S
differ by the pre-build only.

Input: one row per merchant × SKU × warehouse, quantities in the SKU's base unit, every forecast
figure already this warehouse's share of the SKU's forecast. Other columns (ids, codes) pass
through untouched.

    abc_class                   'A' | 'B' | 'C'; missing = not yet classified, treated as C
    xyz_class                   optional; 'X' | 'Y' | 'Z' or missing; used when the service-level
                                mapping holds the combined class (e.g. 'AX')
    lead_time_days              supplier lead time L
    review_period_days          days until the next order to the supplier R; P = L + R
    forecast_lead_time_demand   sum of the daily forecast (yhat) over the L days after as_of
                                (shown beside the suggestion; missing = no forecast)
    forecast_protection_demand  sum of yhat over the P days after as_of; missing = no forecast
    daily_forecast_error_sd     σe, standard deviation of the daily forecast error (backtest
                                residuals), units per day
    lead_time_sd_days           optional; σL, standard deviation of the supplier's lead time in
                                days; missing = 0 (lead time taken as certain)
    on_hand                     sellable units on hand: expired batches are excluded beforehand
                                (they can never be sold), frozen units too
    on_order                    units on open purchase orders to this warehouse
    reserved                    units on hand already promised to open sales orders
    min_order_qty               supplier's minimum order quantity (MOQ), ≥ 1
    order_multiple              supplier's pack multiple, ≥ 1
    shelf_life_days             optional; missing = goods that do not expire (not capped)
    prebuild_qty                optional; extra units ahead of a farming-calendar peak (computed
                                elsewhere); missing = 0

Arithmetic, with d = forecast_protection_demand / P the mean daily demand:

    z              = Φ⁻¹(service level)
    safety_stock   = z · √(P · σe² · (1 + ρ · (P − 1)) + d² · σL²), ρ = FORECAST_ERROR_DAY_CORRELATION
    reorder_point  = forecast_protection_demand + safety_stock
    order_up_to    = forecast_protection_demand + safety_stock + prebuild_qty
    position       = on_hand + on_order − reserved
    raw_need       = max(0, order_up_to − position) if position ≤ reorder_point else 0
    rounded_qty    = raw_need rounded up to order_multiple, and at least min_order_qty rounded up
                     to order_multiple (0 when raw_need is 0)
    margin         = min(30, shelf_life_days / 3)
    shelf_life_cap = d · max(0, shelf_life_days − margin) − position, floored at 0 and rounded down
                     to order_multiple; when that is below the MOQ but at least half of the MOQ
                     (rounded up to packs) would sell, the MOQ rounded up to packs
    suggested_qty  = min(rounded_qty, shelf_life_cap), or 0 when that cap is below the MOQ; but
                     the MOQ rounded up to packs when nothing is on hand or on order (position ≤ 0)
                     and at least half of it sells within the whole shelf life, d · shelf_life_days
    days_of_cover  = (position + suggested_qty) / d

The safety stock is the textbook one for random demand and random lead time, with the days'
forecast errors correlated: a forecast that is off on one day tends to be off the same way on
the next (its level is wrong for a while), so over P days the error's variance is
P · σe² · (1 + ρ · (P − 1)), ρ the correlation between any two days' errors, not P · σe² as for
independent days. A lead time that is σL days off shifts demand by d · σL. Independent, the two
variances add.

The shelf-life cap assumes goods arrive with their full shelf life and the stock already held
sells first (FEFO): whatever cannot be sold at the forecast rate before the last 30 days before
expiry (临期) would reach them unsold. The selling window ends shelf life − margin days after the
order, L days before the goods' usable life would (they arrive after L days and keep shelf life −
margin days): those days are a further margin against selling slower than forecast. Measured on
the small network's replay (`coopcast evaluate replenishment`): a window shorter by another L days
never reordered slow 7-day vegetables, whose cap then fell below the MOQ (fill rate of the
C items 0.78 against 0.86); running it to the end of the usable life wasted ¥2 100 more for a
further 0.007 of fill rate. Goods that keep less than 90 days keep the last third of their shelf
life as the margin instead of 30 days: fresh produce lasts 7 to 30 days, and a 30-day margin
would forbid ever reordering it (measured on the small network: coopcast then lost 94 % of the
perishables' demand).

An empty shelf is restocked with one MOQ where the cap alone would order nothing. Its forecast
rests on what sold before the stock ran out, which stock-outs had already cut short and which the
stock-out filling then carries on (models/forecasting/stock_outs.py): a perishable whose cap says
"less than half an MOQ sells in time" is never ordered, so it never sells, and no sale ever
corrects the rate. On the small network's replay three 7-day vegetables forecast at about 0.5 a
day were never reordered while their demand grew to 1.5 to 2 a day. The MOQ then stands against
the goods' whole shelf life rather than the window before the margin: with nothing else on the
shelf, at most half of it expires at the forecast rate, and what it sells shows the demand.

Review period: goods that keep less than 90 days are reviewed every shelf life ÷ 7 days (at least
daily, at most the usual period), as fresh produce is delivered daily in practice: a week of a
7-day lettuce's demand ordered at once would be in its last third before half of it sold, so a
weekly review must either overstock it or run out.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.stats import norm

SERVICE_LEVELS: Mapping[str, float] = MappingProxyType({"A": 0.99, "B": 0.95, "C": 0.90})
# ρ, the correlation between two days' forecast errors of one series. Measured on the small
# network: the chosen options' backtests (3 origins × ~300 series, 28 days each) give 0.058 from
# the spread of each origin's mean error against its daily RMSE, and the replay's warm-up (forecasts
# made before the measured days) 0.064 for the non-perishable A items. With independent days the
# safety stock covered half the spread of the errors over P (realised error ÷ σe·√P had a standard
# deviation of 1.8 to 2.4 for goods that keep, P ≈ 13 to 24 days). On the replay with warm-up it
# lifts A items' fill rate from 0.982 to 0.988 and all from 0.951 to 0.958 for 4.5 % more stock
# and ¥200 more expired (still below the merchants' rule). The warm-up's B and C items imply 0.19
# to 0.24, but from fewer, lumpier series; one ρ for all keeps to what the backtests support.
FORECAST_ERROR_DAY_CORRELATION = 0.06
# The ABC mart classes a SKU without revenue as C; one it has not seen yet is the same long tail.
UNCLASSIFIED_ABC_CLASS = "C"
EXPIRY_MARGIN_DAYS = 30
EXPIRY_MARGIN_SHARE_OF_SHELF_LIFE = 1 / 3
# An order of one MOQ that the shelf life would otherwise forbid is placed when at least this share
# of it sells in time: slow 7-day vegetables sold in packs of 5 (small network's replay: C items
# filled 0.888 instead of 0.860, for less expired value than the merchants' rule still).
MOQ_SELLABLE_SHARE = 0.5
# Goods that keep less than this are perishable: a shorter margin and a shorter review period.
PERISHABLE_SHELF_LIFE_DAYS = 90
# A perishable's cycle stock (one review period of demand) must sell within a seventh of its shelf
# life, which leaves room for the lead time and the safety stock before the last third begins.
REVIEWS_PER_SHELF_LIFE = 7
# Seasonal pre-build: the window past the order's cover that is looked at (one more review at the
# usual weekly pace), the rise over the current rate that makes a peak, and the shelf life a good
# needs to wait for it.
PREBUILD_WINDOW_DAYS = 14
PREBUILD_PEAK_RATIO = 1.5
PREBUILD_MIN_SHELF_LIFE_DAYS = 180
# Float sums such as 0.1 + 0.2 must not buy one more pack (ceil) or one fewer (floor).
QUANTITY_DECIMALS = 6

# Reason code → its Chinese label; `reason` holds the code, `reason_zh` the label.
REASONS: Mapping[str, str] = MappingProxyType(
    {
        "no_forecast": "无预测",
        "covered": "库存充足",
        "below_reorder_point": "低于再订货点",
        "capped_by_shelf_life": "受保质期限制",
        "cap_below_min_order": "保质期上限低于起订量",
        "restock_empty_shelf": "缺货补起订量",
    }
)

REQUIRED_COLUMNS = (
    "abc_class",
    "lead_time_days",
    "review_period_days",
    "forecast_lead_time_demand",
    "forecast_protection_demand",
    "daily_forecast_error_sd",
    "on_hand",
    "on_order",
    "reserved",
    "min_order_qty",
    "order_multiple",
)
NEVER_NULL_COLUMNS = (
    "lead_time_days",
    "review_period_days",
    "on_hand",
    "on_order",
    "reserved",
    "min_order_qty",
    "order_multiple",
)
# Optional inputs → (the value a missing column means, its dtype); the output always carries them.
OPTIONAL_COLUMNS: Mapping[str, tuple[object, str]] = MappingProxyType(
    {
        "xyz_class": (None, "object"),
        "lead_time_sd_days": (0.0, "float64"),
        "shelf_life_days": (pd.NA, "Int64"),
        "prebuild_qty": (0, "int64"),
    }
)
OUTPUT_COLUMNS = (
    "service_level",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "position",
    "raw_need",
    "rounded_qty",
    "shelf_life_cap",
    "cap_applied",
    "suggested_qty",
    "days_of_cover",
    "reason",
    "reason_zh",
)


def service_levels_by_class(
    abc_class: pd.Series,
    xyz_class: pd.Series | None = None,
    service_levels: Mapping[str, float] | None = None,
) -> pd.Series:
    """Target service level per row: the ABC × XYZ class's level if the mapping has one, else the ABC class's.

    `service_levels` overrides SERVICE_LEVELS key by key (e.g. {"A": 0.995, "CZ": 0.85}).
    """
    levels = {**SERVICE_LEVELS, **(service_levels or {})}
    out_of_range = {key: level for key, level in levels.items() if not 0 < level < 1}
    if out_of_range:
        raise ValueError(f"service levels must lie strictly between 0 and 1: {out_of_range}")
    abc = abc_class.astype(object).where(abc_class.notna(), UNCLASSIFIED_ABC_CLASS).astype(str)
    by_abc = abc.map(levels)
    if by_abc.isna().any():
        raise ValueError(f"no service level for ABC class(es) {sorted(set(abc[by_abc.isna()]))}")
    if xyz_class is None:
        return by_abc.astype(float)
    xyz = xyz_class.astype(object).where(xyz_class.notna(), "").astype(str)
    return (abc + xyz).map(levels).fillna(by_abc).astype(float)


def review_period_days(shelf_life_days: pd.Series, usual_review_period_days: int | pd.Series) -> pd.Series:
    """Days between reviews per SKU: the usual period, or shelf life ÷ 7 (at least 1) for perishables.

    Missing shelf life = goods that do not expire, reviewed at the usual period (one for all, or
    one per SKU aligned with `shelf_life_days`).
    """
    if (pd.Series(usual_review_period_days) < 1).any():
        raise ValueError("the review period must be at least 1 day")
    shelf_life = pd.to_numeric(shelf_life_days, errors="coerce").astype(float)
    perishable = shelf_life < PERISHABLE_SHELF_LIFE_DAYS
    shortened = (shelf_life // REVIEWS_PER_SHELF_LIFE).clip(lower=1, upper=usual_review_period_days)
    return shortened.where(perishable, usual_review_period_days).astype(int)


def prebuild_quantity(window_forecast: np.ndarray, current_rate: np.ndarray, shelf_life_days: np.ndarray) -> np.ndarray:
    """Units to build ahead of a seasonal peak (farming-calendar inputs before planting), per row.

    `window_forecast` holds the daily forecast of the PREBUILD_WINDOW_DAYS after the order's cover
    (rows × days), `current_rate` the mean daily forecast over the cover. When the window averages
    at least PREBUILD_PEAK_RATIO × the current rate, its rise over that rate is ordered now, while
    suppliers still deliver at their usual lead time. Only goods that keep at least
    PREBUILD_MIN_SHELF_LIFE_DAYS (NaN: do not expire); the shelf-life cap still applies.
    """
    window = np.clip(window_forecast, 0.0, None)
    rise = np.clip(window - current_rate[:, None], 0.0, None).sum(axis=1)
    peak = (window.mean(axis=1) >= PREBUILD_PEAK_RATIO * current_rate) & (current_rate > 0)
    keeps = np.isnan(shelf_life_days) | (shelf_life_days >= PREBUILD_MIN_SHELF_LIFE_DAYS)
    return np.where(keeps & peak, np.round(rise, QUANTITY_DECIMALS), 0.0)


def safety_stock(
    z: np.ndarray,
    protection_days: np.ndarray,
    daily_forecast_error_sd: np.ndarray,
    mean_daily_demand: np.ndarray,
    lead_time_sd_days: np.ndarray,
) -> np.ndarray:
    """z · √(P · σe² · (1 + ρ · (P − 1)) + d² · σL²): forecast error over the protection period, its days
    correlated by ρ = FORECAST_ERROR_DAY_CORRELATION, plus lead-time variability."""
    correlated_days = 1 + FORECAST_ERROR_DAY_CORRELATION * (protection_days - 1)
    forecast_variance = protection_days * daily_forecast_error_sd**2 * correlated_days
    return z * np.sqrt(forecast_variance + mean_daily_demand**2 * lead_time_sd_days**2)


def round_up_to_packs(need: np.ndarray, min_order_qty: np.ndarray, order_multiple: np.ndarray) -> np.ndarray:
    """Whole packs covering the need and the MOQ (itself rounded up to whole packs); 0 for no need."""
    need = np.round(need, QUANTITY_DECIMALS)
    packs = np.ceil(need / order_multiple)
    min_packs = np.ceil(min_order_qty / order_multiple)
    return np.where(need > 0, np.maximum(packs, min_packs) * order_multiple, 0.0)


def shelf_life_cap(
    mean_daily_demand: np.ndarray,
    shelf_life_days: np.ndarray,
    position: np.ndarray,
    order_multiple: np.ndarray,
    min_order_qty: np.ndarray,
    expiry_margin_days: int = EXPIRY_MARGIN_DAYS,
) -> np.ndarray:
    """Most units (whole packs) sellable before the last `expiry_margin_days` of shelf life, or its
    last third when that is shorter; NaN = no shelf life.

    Below one MOQ the choice is the MOQ or nothing: the cap is the MOQ (in whole packs) when at
    least MOQ_SELLABLE_SHARE of it is expected to sell in time, else what sells."""
    margin = np.minimum(expiry_margin_days, shelf_life_days * EXPIRY_MARGIN_SHARE_OF_SHELF_LIFE)
    sellable = np.maximum(mean_daily_demand * np.maximum(shelf_life_days - margin, 0.0) - position, 0.0)
    cap = np.floor(np.round(sellable, QUANTITY_DECIMALS) / order_multiple) * order_multiple
    moq = smallest_order(min_order_qty, order_multiple)
    worth_the_moq = (cap < min_order_qty) & (sellable >= MOQ_SELLABLE_SHARE * moq)
    return np.where(worth_the_moq, moq, cap)


def smallest_order(min_order_qty: np.ndarray, order_multiple: np.ndarray) -> np.ndarray:
    """The MOQ rounded up to whole packs: the least a supplier delivers."""
    return round_up_to_packs(np.ones_like(min_order_qty), min_order_qty, order_multiple)


def restocks_empty_shelf(
    mean_daily_demand: np.ndarray, shelf_life_days: np.ndarray, position: np.ndarray, moq: np.ndarray
) -> np.ndarray:
    """Whether one MOQ (`smallest_order`) is ordered where the shelf-life cap forbids it: nothing
    is on hand or on order, and at least MOQ_SELLABLE_SHARE of it sells within the whole shelf life
    at the forecast rate (see the module docstring). False for goods without a shelf life."""
    sellable = mean_daily_demand * np.nan_to_num(shelf_life_days, nan=0.0)
    return (position <= 0) & (sellable >= MOQ_SELLABLE_SHARE * moq)


def suggest_replenishment(
    positions: pd.DataFrame,
    service_levels: Mapping[str, float] | None = None,
    expiry_margin_days: int = EXPIRY_MARGIN_DAYS,
) -> pd.DataFrame:
    """The input rows with the policy's figures and the suggested order appended (see the module docstring).

    Rows without a forecast get suggested_qty 0, reason 'no_forecast' and missing figures.
    Missing values in the output are pandas NA (NULL in SQL): shelf_life_cap for goods that do
    not expire, days_of_cover when the forecast demand is 0.
    """
    frame = _with_optional_columns(positions)
    _check_inputs(frame)

    lead_time = _floats(frame["lead_time_days"])
    protection_days = lead_time + _floats(frame["review_period_days"])
    # Additive models can forecast below zero; there is no negative demand to plan for.
    lead_time_demand = np.maximum(_floats(frame["forecast_lead_time_demand"]), 0.0)
    protection_demand = np.maximum(_floats(frame["forecast_protection_demand"]), 0.0)
    has_forecast = ~np.isnan(protection_demand) & ~np.isnan(lead_time_demand)
    mean_daily_demand = protection_demand / protection_days
    order_multiple = _floats(frame["order_multiple"])
    min_order_qty = _floats(frame["min_order_qty"])

    level = service_levels_by_class(frame["abc_class"], frame["xyz_class"], service_levels)
    buffer = safety_stock(
        norm.ppf(level.to_numpy()),
        protection_days,
        _floats(frame["daily_forecast_error_sd"]),
        mean_daily_demand,
        np.nan_to_num(_floats(frame["lead_time_sd_days"])),
    )
    reorder_point = protection_demand + buffer
    order_up_to = protection_demand + buffer + _floats(frame["prebuild_qty"])
    position = _floats(frame["on_hand"]) + _floats(frame["on_order"]) - _floats(frame["reserved"])

    raw_need = np.where(position <= reorder_point, np.maximum(order_up_to - position, 0.0), 0.0)
    rounded_qty = round_up_to_packs(raw_need, min_order_qty, order_multiple)
    shelf_life = _floats(frame["shelf_life_days"])
    cap = shelf_life_cap(
        mean_daily_demand,
        shelf_life,
        position,
        order_multiple,
        min_order_qty,
        expiry_margin_days,
    )
    cap_applied = has_forecast & (cap < rounded_qty)
    # The cap is whole packs, so one below the MOQ is also below the MOQ rounded up to packs.
    cap_below_min_order = cap_applied & (cap < min_order_qty)
    moq = smallest_order(min_order_qty, order_multiple)
    restock = cap_below_min_order & restocks_empty_shelf(mean_daily_demand, shelf_life, position, moq)
    suggested = np.where(cap_applied, cap, rounded_qty)
    suggested = np.where(has_forecast & ~cap_below_min_order, suggested, 0.0)
    suggested = np.where(restock, moq, suggested)
    with np.errstate(divide="ignore", invalid="ignore"):
        days_of_cover = np.where(mean_daily_demand > 0, (position + suggested) / mean_daily_demand, np.nan)

    reason = np.select(
        [~has_forecast, restock, cap_below_min_order, cap_applied, suggested > 0],
        ["no_forecast", "restock_empty_shelf", "cap_below_min_order", "capped_by_shelf_life", "below_reorder_point"],
        default="covered",
    )
    nan_without_forecast = np.where(has_forecast, 0.0, np.nan)
    out = frame.copy()
    out["forecast_protection_demand"] = pd.array(protection_demand, dtype="Float64")
    out["service_level"] = level.to_numpy()
    out["safety_stock"] = pd.array(buffer + nan_without_forecast, dtype="Float64")
    out["reorder_point"] = pd.array(reorder_point + nan_without_forecast, dtype="Float64")
    out["order_up_to"] = pd.array(order_up_to + nan_without_forecast, dtype="Float64")
    out["position"] = position.astype("int64")
    out["raw_need"] = pd.array(raw_need + nan_without_forecast, dtype="Float64")
    out["rounded_qty"] = pd.array(rounded_qty + nan_without_forecast, dtype="Int64")
    out["shelf_life_cap"] = pd.array(cap + nan_without_forecast, dtype="Int64")
    out["cap_applied"] = cap_applied
    out["suggested_qty"] = suggested.astype("int64")
    out["days_of_cover"] = pd.array(days_of_cover, dtype="Float64")
    out["reason"] = reason
    out["reason_zh"] = pd.Series(reason, index=out.index).map(REASONS)
    return out


def _with_optional_columns(positions: pd.DataFrame) -> pd.DataFrame:
    missing = {
        column: pd.Series(default, index=positions.index, dtype=dtype)
        for column, (default, dtype) in OPTIONAL_COLUMNS.items()
        if column not in positions
    }
    return positions.assign(**missing) if missing else positions


def _check_inputs(frame: pd.DataFrame) -> None:
    absent = [column for column in REQUIRED_COLUMNS if column not in frame]
    if absent:
        raise KeyError(f"replenishment input lacks column(s) {absent}")
    nulls = [column for column in NEVER_NULL_COLUMNS if frame[column].isna().any()]
    if nulls:
        raise ValueError(f"replenishment input has missing values in {nulls}")
    if (frame["lead_time_days"] + frame["review_period_days"] <= 0).any():
        raise ValueError("lead_time_days + review_period_days must be at least 1 day: demand per day needs it")
    if (frame["order_multiple"] < 1).any() or (frame["min_order_qty"] < 1).any():
        raise ValueError("order_multiple and min_order_qty must be at least 1")
    forecast = frame["forecast_protection_demand"].notna()
    if (forecast & frame["daily_forecast_error_sd"].isna()).any():
        raise ValueError("daily_forecast_error_sd is missing where a forecast exists: the safety stock needs it")


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=float, na_value=np.nan)
