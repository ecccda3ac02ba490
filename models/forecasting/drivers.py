"""What moves a SKU's demand besides its own past: promotions and its shelf price, as features
of the global model (global_model.py).

- `promotion_percent_off`: how far under its price the SKU sells that day, in percent (the
  deepest of the promotions covering it; 0 on a day without one).
- `days_after_promotion`: days since the SKU's last promotion day, 1 to AFTER_PROMOTION_DAYS
  (missing otherwise): customers who stocked up during a promotion buy less for a while after it.
- `price_change_4w`: the SKU's shelf price that day over its price 28 days before. The demand
  lags and rolling means the model reads are one to five weeks old, so this says how far the
  price has moved since the demand they show. (One feature: a second, against the price 7 days
  before, was left out to keep the fast path's fits lean, without measuring what it would add.)

What is known: a forecast made on day t sees the promotions the merchant had created by t, and
the shelf price in force on t, held for every day after it. The backtest gives each origin what
was known at that origin (`known_on`), so the held-out weeks cannot show the model a promotion
the merchant had not planned yet or a price it had not set. Training days are past days: they
see every promotion recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AFTER_PROMOTION_DAYS = 28
PRICE_CHANGE_DAYS = {"price_change_4w": 28}
DRIVER_FEATURES = ["promotion_percent_off", "days_after_promotion", *PRICE_CHANGE_DAYS]
# Missing by design: no promotion ended lately; no price on record that far back.
MAY_BE_MISSING_DRIVER_FEATURES = ["days_after_promotion", *PRICE_CHANGE_DAYS]


@dataclass(frozen=True)
class DemandDrivers:
    """Per series (`unique_id`): `promotions` (starts_on, ends_on inclusive, known_on, percent_off)
    and `prices`, the shelf price changes (valid_from, price)."""

    promotions: pd.DataFrame
    prices: pd.DataFrame

    @classmethod
    def none(cls) -> DemandDrivers:
        """No promotion and no price on record: the features are 0 or missing on every day."""
        no_days = pd.Series([], dtype="datetime64[ns]")
        return cls(
            promotions=pd.DataFrame(
                {
                    "unique_id": pd.Series([], dtype=object),
                    "starts_on": no_days,
                    "ends_on": no_days,
                    "known_on": no_days,
                    "percent_off": pd.Series([], dtype=float),
                }
            ),
            prices=pd.DataFrame(
                {"unique_id": pd.Series([], dtype=object), "valid_from": no_days, "price": pd.Series([], dtype=float)}
            ),
        )

    @classmethod
    def from_warehouse(cls, promotions: pd.DataFrame, prices: pd.DataFrame) -> DemandDrivers:
        """From rows keyed by merchant_id and sku_code: `promotions` with starts_date, ends_date,
        known_date and percent_off; `prices` with valid_from and unit_price. A promotion that
        takes nothing off the SKU's price is left out, as no promotion with no dip after it: a
        full reduction (percent_off missing: no depth per SKU), a flash sale or promotion price
        at or above the price (percent_off 0 or below)."""

        def series_of(rows: pd.DataFrame) -> pd.Series:
            return rows["merchant_id"].astype(int).astype(str) + "|" + rows["sku_code"]

        deep = promotions[promotions["percent_off"].astype(float) > 0]
        return cls(
            promotions=pd.DataFrame(
                {
                    "unique_id": series_of(deep),
                    "starts_on": pd.to_datetime(deep["starts_date"]),
                    "ends_on": pd.to_datetime(deep["ends_date"]),
                    "known_on": pd.to_datetime(deep["known_date"]),
                    "percent_off": deep["percent_off"].astype(float),
                }
            ),
            prices=pd.DataFrame(
                {
                    "unique_id": series_of(prices),
                    "valid_from": pd.to_datetime(prices["valid_from"]),
                    "price": prices["unit_price"].astype(float),
                }
            ),
        )


def driver_features(days: pd.DataFrame, drivers: DemandDrivers) -> pd.DataFrame:
    """`days` (unique_id, ds, known_on: the day the forecast was made, or missing for a past day
    that sees everything on record) with DRIVER_FEATURES added, as known on `known_on`."""
    days = days.reset_index(drop=True)
    # Series as integer codes: the merges below run on millions of days at county scale.
    names = pd.Index(days["unique_id"].unique())
    keyed = pd.DataFrame(
        {
            "series": names.get_indexer(days["unique_id"]),
            "ds": _days(days["ds"]),
            "known_on": _days(days["known_on"]).fillna(pd.Timestamp.max),
        }
    )
    promotions = drivers.promotions.assign(
        series=names.get_indexer(drivers.promotions["unique_id"]),
        **{column: _days(drivers.promotions[column]) for column in ("starts_on", "ends_on", "known_on")},
    )
    promotions = promotions[promotions["series"] >= 0]
    prices = drivers.prices.assign(
        series=names.get_indexer(drivers.prices["unique_id"]), valid_from=_days(drivers.prices["valid_from"])
    )
    prices = prices[prices["series"] >= 0]

    features = days.copy()
    running = _covering(keyed, _promotion_days(promotions, "starts_on", "ends_on"))
    deepest = running.groupby("row")["percent_off"].max()
    features["promotion_percent_off"] = deepest.reindex(keyed.index, fill_value=0.0).to_numpy(dtype=float)
    after = promotions.assign(first_after=promotions["ends_on"] + pd.Timedelta(days=1))
    following = _covering(keyed, _promotion_days(after, "first_after", "first_after", AFTER_PROMOTION_DAYS - 1))
    # A day a promotion runs is not a day after one, though an earlier promotion ended days before.
    nearest = following[~following["row"].isin(running["row"])].groupby("row")["step"].min() + 1.0
    features["days_after_promotion"] = nearest.reindex(keyed.index).to_numpy(dtype=float)

    price = _price_on(keyed["series"], np.minimum(keyed["ds"], keyed["known_on"]), prices)
    for feature, back in PRICE_CHANGE_DAYS.items():
        earlier = np.minimum(keyed["ds"] - pd.Timedelta(days=back), keyed["known_on"])
        features[feature] = price / _price_on(keyed["series"], earlier, prices)
    return features


def _days(dates: pd.Series) -> pd.Series:
    """Dates at one resolution (the warehouse's come in microseconds, pandas' own in nanoseconds)."""
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    return dates.astype("datetime64[ns]")


def _promotion_days(promotions: pd.DataFrame, first: str, last: str, extra_days: int = 0) -> pd.DataFrame:
    """One row per promotion and day from its `first` to its `last` day and `extra_days` more,
    with the day's place in that run (`step`, from 0)."""
    lengths = ((promotions[last] - promotions[first]).dt.days + 1 + extra_days).clip(lower=0).to_numpy(dtype=int)
    expanded = promotions.loc[promotions.index.repeat(lengths)].reset_index(drop=True)
    step = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return expanded.assign(ds=expanded[first] + pd.to_timedelta(step, unit="D"), step=step)


def _covering(keyed: pd.DataFrame, promotion_days: pd.DataFrame) -> pd.DataFrame:
    """The promotion days falling on a row of `keyed` (series, ds, known_on) that were known by
    its `known_on`, with the row's position (`row`)."""
    rows = keyed.assign(row=keyed.index)
    matched = rows.merge(
        promotion_days[["series", "ds", "known_on", "percent_off", "step"]],
        on=["series", "ds"],
        suffixes=("", "_promotion"),
    )
    return matched[matched["known_on_promotion"] <= matched["known_on"]]


def _price_on(series: pd.Series, dates: pd.Series, prices: pd.DataFrame) -> np.ndarray:
    """The shelf price of each of `series` (codes) in force on each of `dates` (missing before
    its first change)."""
    wanted = pd.DataFrame({"series": series.to_numpy(), "on": _days(dates).to_numpy()})
    wanted["row"] = np.arange(len(wanted))
    if prices.empty:
        return np.full(len(wanted), np.nan)
    # Changes in the order they were made: the last one made for a day is the price in force on it.
    changes = prices[["series", "valid_from", "price"]].drop_duplicates(["series", "valid_from"], keep="last")
    found = pd.merge_asof(
        wanted.sort_values("on", kind="stable"),
        changes.sort_values("valid_from", kind="stable"),
        left_on="on",
        right_on="valid_from",
        by="series",
    )
    return found.sort_values("row")["price"].to_numpy(dtype=float)
