"""price_trends: step price rows in, monthly trends with an outlook, buying hints and change points out.

Subjects are SKU series (merchant × SKU × kind) and network-wide category indexes (leaf category × kind). Both go
through the same decomposition, change point search and outlook; a category row's 'price' is its chained index
(1.0 at the category's first month), so its outlook and intervals are in index points too, and its last_price is
the index at the end of the last month.

trends: history months carry price (monthly mean), trend (a price level) and seasonal (a share: +0.05 = 5% above
trend), plus `decomposition` ('stl' | 'smoother' | 'flat'); outlook months carry outlook and its 80%/95% bounds.
signals: outlook_change is the expected change from the last price over horizon_days (lead time + cover, see
signals.py); outlook_model names the model, or the models of horizons 1..3 joined by '/' when they differ ('flat'
and 'short' for series given the no-change outlook without a backtest).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd

from models.pricing.change_points import change_points
from models.pricing.decomposition import decompose
from models.pricing.outlook import outlook
from models.pricing.series import (
    CATEGORY_KEYS,
    category_end_levels,
    chained_index,
    monthly_prices,
    sku_series,
    weekly_prices,
)
from models.pricing.settings import PriceSettings
from models.pricing.signals import DAYS_PER_MONTH, change_at, hints, horizon_days

SUBJECT_COLUMNS = ["merchant_id", "merchant_code", "level", "sku_code", "category_code", "price_kind"]
TREND_COLUMNS = [
    *SUBJECT_COLUMNS,
    "month",
    "is_outlook",
    "price",
    "trend",
    "seasonal",
    "outlook",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "decomposition",
    "as_of",
]
SIGNAL_COLUMNS = [
    *SUBJECT_COLUMNS,
    "as_of",
    "last_price",
    "mom_change",
    "yoy_change",
    "outlook_change",
    "horizon_days",
    "storable",
    "hint",
    "reason",
    "reason_zh",
    "last_change_point",
    "change_points",
    "outlook_model",
]
CHANGE_COLUMNS = ["level", "merchant_code", "sku_code", "category_code", "price_kind", "changed_on", "step"]
BACKTEST_COLUMNS = [
    "subject_id",
    "level",
    "category_code",
    "price_kind",
    "pool",
    "origin",
    "horizon",
    "model",
    "error",
    "naive_error",
]


class PriceTrendResult(NamedTuple):
    trends: pd.DataFrame
    signals: pd.DataFrame
    change_points: pd.DataFrame
    backtest: pd.DataFrame  # level, pool, origin, horizon, model, error, naive_error (log) per subject


def _subjects(sku_keys: pd.DataFrame, category_keys: pd.DataFrame) -> pd.DataFrame:
    """One row per subject with a subject_id: SKU series first (their series_id), then categories."""
    skus = sku_keys.rename(columns={"series_id": "subject_id"}).assign(level="sku")
    categories = category_keys.assign(
        subject_id=np.arange(len(category_keys)) + len(sku_keys),
        level="category",
        merchant_id=None,
        merchant_code=None,
        sku_code=None,
    )
    return pd.concat([skus, categories], ignore_index=True).set_index("subject_id")


def _category_frames(sku_keys: pd.DataFrame, monthly: pd.DataFrame, weekly: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Category keys and their monthly and weekly index as (category_id, period, price) frames."""
    month_index = chained_index(monthly, sku_keys, "month")
    week_index = chained_index(weekly, sku_keys, "week")
    keys = month_index[CATEGORY_KEYS].drop_duplicates().reset_index(drop=True)
    keys["category_id"] = np.arange(len(keys))

    month_index["end_price"] = category_end_levels(monthly, sku_keys, month_index)

    def tidy(frame: pd.DataFrame, period: str) -> pd.DataFrame:
        merged = frame.merge(keys, on=CATEGORY_KEYS).rename(columns={"index": "price"})
        return merged.drop(columns=CATEGORY_KEYS)

    return keys, tidy(month_index, "month"), tidy(week_index, "week")


def _storage(subjects: pd.DataFrame, products: pd.DataFrame, settings: PriceSettings) -> pd.DataFrame:
    """storable and lead_time_days per subject; a category is storable when most of its SKUs are, with their median
    lead time."""
    product = products[["merchant_code", "sku_code", "shelf_life_days", "lead_time_days"]].drop_duplicates(
        ["merchant_code", "sku_code"]
    )
    shelf = pd.to_numeric(product["shelf_life_days"], errors="coerce")
    product = product.assign(storable=shelf.isna() | (shelf >= settings.storable_min_shelf_life_days))
    skus = (
        subjects[subjects["level"] == "sku"].reset_index().merge(product, on=["merchant_code", "sku_code"], how="left")
    )
    skus["storable"] = skus["storable"].fillna(True).astype(bool)
    skus["lead_time_days"] = pd.to_numeric(skus["lead_time_days"], errors="coerce")
    per_category = skus.groupby(CATEGORY_KEYS).agg(
        storable=("storable", "mean"), lead_time_days=("lead_time_days", "median")
    )
    categories = subjects[subjects["level"] == "category"].reset_index().join(per_category, on=CATEGORY_KEYS)
    categories["storable"] = categories["storable"].fillna(1.0) >= 0.5
    both = pd.concat([skus, categories], ignore_index=True).set_index("subject_id")
    return both[["storable", "lead_time_days"]]


def _month_changes(monthly: pd.DataFrame) -> pd.DataFrame:
    """mom_change and yoy_change of each subject's last observed month (None without the month compared to)."""
    frame = monthly.assign(period=pd.to_datetime(monthly["month"]).dt.to_period("M"))
    last = frame.loc[frame.groupby("subject_id")["period"].idxmax()].set_index("subject_id")
    lookup = frame.set_index(["subject_id", "period"])["price"]

    def ago(months: int) -> pd.Series:
        index = pd.MultiIndex.from_arrays([last.index, last["period"] - months])
        return pd.Series(lookup.reindex(index).to_numpy(), index=last.index)

    changes = pd.DataFrame({"mom_change": last["price"] / ago(1) - 1, "yoy_change": last["price"] / ago(12) - 1})
    return changes.astype(object).where(changes.notna(), None)


def _signals(
    subjects: pd.DataFrame,
    monthly: pd.DataFrame,
    forecasts: pd.DataFrame,
    last_price: pd.Series,
    found: pd.DataFrame,
    products: pd.DataFrame,
    as_of: dt.date,
    settings: PriceSettings,
) -> pd.DataFrame:
    frame = subjects.join(_storage(subjects, products, settings)).join(_month_changes(monthly))
    frame = frame.loc[frame.index.isin(forecasts["subject_id"])]
    frame["last_price"] = last_price.reindex(frame.index)
    frame["horizon_days"] = horizon_days(frame["lead_time_days"], settings)
    months = (frame["horizon_days"] / DAYS_PER_MONTH).to_numpy()
    wide = forecasts.pivot(index="subject_id", columns="horizon").reindex(frame.index)
    base = frame["last_price"].to_numpy(dtype=float)
    frame["outlook_change"] = change_at(base, wide["outlook"].to_numpy(), months)
    frame["low_80_change"] = change_at(base, wide["lower_80"].to_numpy(), months)
    frame["high_80_change"] = change_at(base, wide["upper_80"].to_numpy(), months)
    frame["outlook_model"] = wide["outlook_model"][1]
    frame = frame.join(hints(frame, settings))
    dates = found.sort_values("changed_on").groupby("subject_id")["changed_on"].agg(list)
    frame["change_points"] = dates.reindex(frame.index).apply(lambda d: d if isinstance(d, list) else [])
    frame["last_change_point"] = frame["change_points"].apply(lambda d: d[-1] if d else None)
    frame["as_of"] = as_of
    return frame.reset_index()[SIGNAL_COLUMNS]


def _trends(subjects: pd.DataFrame, decomposed: pd.DataFrame, forecasts: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    history = decomposed.assign(is_outlook=False)
    ahead = forecasts.drop(columns=["horizon", "outlook_model"]).assign(is_outlook=True)
    both = pd.concat([history, ahead], ignore_index=True)
    both = both.astype(
        {c: object for c in ["price", "trend", "seasonal", "outlook", "lower_80", "upper_80", "lower_95", "upper_95"]}
    )
    both = both.where(both.notna(), None)
    both["month"] = pd.to_datetime(both["month"]).dt.date
    both = both.join(subjects, on="subject_id").assign(as_of=as_of)
    return both.sort_values(["subject_id", "month"])[TREND_COLUMNS].reset_index(drop=True)


def price_trends(
    price_changes: pd.DataFrame, products: pd.DataFrame, as_of: dt.date, settings: PriceSettings | None = None
) -> PriceTrendResult:
    """Trends, signals, change points and the outlook backtest of every SKU series and category index."""
    settings = settings or PriceSettings()
    if price_changes.empty:
        # A network with only imported amount-only history has no prices to follow.
        return PriceTrendResult(
            pd.DataFrame(columns=TREND_COLUMNS),
            pd.DataFrame(columns=SIGNAL_COLUMNS),
            pd.DataFrame(columns=CHANGE_COLUMNS),
            pd.DataFrame(columns=BACKTEST_COLUMNS),
        )
    sku_keys, segments = sku_series(price_changes, as_of)
    sku_monthly = monthly_prices(segments, settings.min_month_coverage)
    sku_weekly = weekly_prices(segments, as_of)
    category_keys, category_monthly, category_weekly = _category_frames(sku_keys, sku_monthly, sku_weekly)
    offset = len(sku_keys)
    subjects = _subjects(sku_keys, category_keys.drop(columns="category_id"))
    monthly = pd.concat(
        [
            sku_monthly.rename(columns={"series_id": "subject_id"}),
            category_monthly.assign(subject_id=category_monthly.pop("category_id") + offset),
        ],
        ignore_index=True,
    )
    weekly = pd.concat(
        [
            sku_weekly.rename(columns={"series_id": "subject_id"}),
            category_weekly.assign(subject_id=category_weekly.pop("category_id") + offset),
        ],
        ignore_index=True,
    )

    decomposed = decompose(monthly, "subject_id")
    found = change_points(weekly, "subject_id", settings)
    # SKUs of a category follow the same market, so the category index and its SKUs share the model choice and
    # their errors: a category alone has too few backtest errors to choose from.
    pools = subjects["category_code"] + "|" + subjects["price_kind"]
    result = outlook(
        monthly, pools, "subject_id", settings.outlook_months, settings.backtest_origins, settings.min_history_months
    )

    current = segments.groupby("series_id")["price"].last()
    # A category's 'last price' is its index at the end of the last month, the base its outlook change is read from.
    last_month = monthly.sort_values("month").groupby("subject_id")["end_price"].last()
    last_price = pd.concat([current, last_month[last_month.index >= offset]])
    signals = _signals(subjects, monthly, result.forecasts, last_price, found, products, as_of, settings)
    trends = _trends(subjects, decomposed, result.forecasts, as_of)
    changes = found.join(subjects, on="subject_id")[CHANGE_COLUMNS].reset_index(drop=True)
    backtest = result.backtest.join(subjects[["level", "category_code", "price_kind"]], on="subject_id")
    return PriceTrendResult(trends, signals, changes, backtest)
