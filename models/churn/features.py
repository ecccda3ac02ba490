"""Per-customer features of one merchant as of a cutoff day, computed from data on or before it only.

Dates are handled as whole days (int64 days since 1970-01-01) so every window is a vectorised
comparison. A window "last 90 days" at cutoff c is (c − 90, c]; "previous 90" is (c − 180, c − 90].
Trends are ratios (last + 1) / (previous + 1), so a customer with no history in either window gets 1
(no change) instead of a division by zero.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPOCH = pd.Timestamp("1970-01-01")


def to_day(values: pd.Series | pd.Timestamp) -> pd.Series | int:
    """Whole days since 1970-01-01 (day precision is all the model uses)."""
    if isinstance(values, pd.Timestamp):
        return int((values.normalize() - EPOCH).days)
    return (pd.to_datetime(values).dt.normalize() - EPOCH).dt.days.astype("int64")


@dataclass(frozen=True)
class MerchantHistory:
    """One merchant's history, prepared once and reused for every cutoff."""

    orders: pd.DataFrame  # customer_code, order_id, day, amount, discounted
    days: pd.DataFrame  # customer_code, day, gap (days since the customer's previous purchase day; NaN first)
    categories: pd.DataFrame  # customer_code, day, category_code
    returns: pd.DataFrame  # customer_code, day, amount
    joined: pd.Series  # joined day by customer_code


def prepare_history(
    purchases: pd.DataFrame, purchase_categories: pd.DataFrame, returns: pd.DataFrame, customers: pd.DataFrame
) -> MerchantHistory:
    """Reduce one merchant's raw frames to the columns the features need, dates as days."""
    orders = pd.DataFrame(
        {
            "customer_code": purchases["customer_code"].astype(str).to_numpy(),
            "order_id": purchases["order_id"].to_numpy(),
            "day": to_day(purchases["ordered_date"]).to_numpy(),
            "amount": purchases["amount"].astype(float).to_numpy(),
            "discounted": purchases["discounted"].fillna(False).astype(bool).to_numpy()
            if "discounted" in purchases
            else np.zeros(len(purchases), dtype=bool),
        }
    )
    # Several orders on one day count as one purchase occasion (as lifetimes does) for gaps and BG/NBD.
    days = orders[["customer_code", "day"]].drop_duplicates().sort_values(["customer_code", "day"], kind="mergesort")
    days["gap"] = days.groupby("customer_code", sort=False)["day"].diff()
    days = days.reset_index(drop=True)
    cats = purchase_categories[["order_id", "category_code"]].merge(
        orders[["order_id", "customer_code", "day"]], on="order_id", how="inner"
    )[["customer_code", "day", "category_code"]]
    rets = pd.DataFrame(
        {
            "customer_code": returns["customer_code"].astype(str).to_numpy(),
            "day": to_day(returns["returned_date"]).to_numpy() if len(returns) else np.array([], dtype="int64"),
            "amount": returns["amount"].astype(float).to_numpy(),
        }
    )
    joined = pd.Series(
        to_day(customers["joined_date"]).to_numpy() if len(customers) else np.array([], dtype="int64"),
        index=customers["customer_code"].astype(str).to_numpy(),
        dtype="float64",
    )
    joined = joined[~joined.index.duplicated()]
    return MerchantHistory(orders=orders, days=days, categories=cats, returns=rets, joined=joined)


def _window_sums(orders: pd.DataFrame, cutoff: int, start: int, end: int, suffix: str) -> pd.DataFrame:
    """Order count and amount per customer with day in (cutoff − start, cutoff − end]."""
    in_window = orders[(orders["day"] > cutoff - start) & (orders["day"] <= cutoff - end)]
    grouped = in_window.groupby("customer_code", sort=False)["amount"]
    return pd.DataFrame({f"orders_{suffix}": grouped.size(), f"amount_{suffix}": grouped.sum()})


def _distinct_categories(cats: pd.DataFrame, cutoff: int, start: int, end: int) -> pd.Series:
    in_window = cats[(cats["day"] > cutoff - start) & (cats["day"] <= cutoff - end)]
    return in_window.groupby("customer_code", sort=False)["category_code"].nunique()


def features_at(history: MerchantHistory, cutoff: int) -> pd.DataFrame:
    """Features per customer with at least one purchase on or before `cutoff`, indexed by customer_code.

    Columns: recency_days, first_days (days since first purchase), tenure_days (since joining or first
    purchase, whichever is earlier), occasions (distinct purchase days), orders/amount in the trailing
    90/180/365 days and the previous 90 (`*_prev90`), freq_trend and amount_trend (last 90 vs previous 90),
    gap_mean/gap_std (days between purchase days; NaN with one purchase day), silence_ratio
    (recency ÷ gap_mean), categories_180/categories_prev180/category_trend, returns_365/return_amount_365,
    discount_share (share of discounted orders, all history).
    """
    orders = history.orders[history.orders["day"] <= cutoff]
    days = history.days[history.days["day"] <= cutoff]
    by_day = days.groupby("customer_code", sort=True)
    feats = pd.DataFrame(
        {"last_day": by_day["day"].max(), "first_day": by_day["day"].min(), "occasions": by_day.size()}
    )
    feats["gap_mean"] = by_day["gap"].mean()
    feats["gap_std"] = by_day["gap"].std(ddof=0)
    feats["recency_days"] = cutoff - feats["last_day"]
    feats["first_days"] = cutoff - feats["first_day"]
    joined = history.joined.reindex(feats.index)
    feats["tenure_days"] = cutoff - np.fmin(joined.to_numpy(), feats["first_day"].to_numpy())
    for start, end, suffix in ((90, 0, "90"), (180, 0, "180"), (365, 0, "365"), (180, 90, "prev90")):
        feats = feats.join(_window_sums(orders, cutoff, start, end, suffix))
    count_cols = [c for c in feats.columns if c.startswith(("orders_", "amount_"))]
    feats[count_cols] = feats[count_cols].fillna(0.0)
    feats["freq_trend"] = (feats["orders_90"] + 1) / (feats["orders_prev90"] + 1)
    feats["amount_trend"] = (feats["amount_90"] + 1) / (feats["amount_prev90"] + 1)
    feats["silence_ratio"] = feats["recency_days"] / feats["gap_mean"]
    cats = history.categories[history.categories["day"] <= cutoff]
    feats["categories_180"] = _distinct_categories(cats, cutoff, 180, 0)
    feats["categories_prev180"] = _distinct_categories(cats, cutoff, 360, 180)
    feats[["categories_180", "categories_prev180"]] = feats[["categories_180", "categories_prev180"]].fillna(0.0)
    feats["category_trend"] = (feats["categories_180"] + 1) / (feats["categories_prev180"] + 1)
    rets = history.returns[(history.returns["day"] <= cutoff) & (history.returns["day"] > cutoff - 365)]
    by_ret = rets.groupby("customer_code", sort=False)["amount"]
    feats["returns_365"] = by_ret.size().reindex(feats.index).fillna(0.0)
    feats["return_amount_365"] = by_ret.sum().reindex(feats.index).fillna(0.0)
    feats["discount_share"] = orders.groupby("customer_code", sort=False)["discounted"].mean().reindex(feats.index)
    return feats.drop(columns=["last_day", "first_day"])


def labels_at(history: MerchantHistory, cutoff: int, horizon_days: int) -> pd.Series:
    """1 when the customer made no purchase in (cutoff, cutoff + horizon], else 0, for every customer code seen."""
    after = history.days[(history.days["day"] > cutoff) & (history.days["day"] <= cutoff + horizon_days)]
    bought = pd.Index(after["customer_code"].unique())
    customers = pd.Index(history.days["customer_code"].unique())
    return pd.Series((~customers.isin(bought)).astype(int), index=customers, name="label")
