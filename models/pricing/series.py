"""Monthly and weekly price series from step price rows, and the chained category index.

Prices are step functions: a row holds from valid_from until the next row of the same merchant × SKU × kind (the
last one until as_of). Expanding them to days would mean ~30 million rows at county scale, so period means come from
the integral of the step function instead: F(t) = Σ price × days held before day t, and a period's mean is
(F(end) − F(start)) / observed days. Everything is vectorised over all series at once with searchsorted.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

SKU_KEYS = ["merchant_id", "merchant_code", "sku_code", "category_code", "price_kind"]
CATEGORY_KEYS = ["category_code", "price_kind"]
EPOCH = np.datetime64("1970-01-01", "D")


def _days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Days since the epoch as int64, from datetime64 values of any unit."""
    return (np.asarray(values, dtype="datetime64[D]") - EPOCH).astype(np.int64)


def sku_series(price_changes: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The series keys (one row per merchant × SKU × kind, with `series_id`) and their step segments up to as_of:
    series_id, start, end (exclusive day numbers), price. Rows after as_of are ignored; of several rows on the same
    day the last one wins, as it would in the shop."""
    rows = price_changes.loc[pd.to_datetime(price_changes["valid_from"]).dt.date <= as_of]
    rows = rows.dropna(subset=["unit_price"])
    keys = rows[SKU_KEYS].drop_duplicates().sort_values(SKU_KEYS).reset_index(drop=True)
    keys["series_id"] = np.arange(len(keys), dtype=np.int64)
    rows = rows.merge(keys, on=SKU_KEYS)[["series_id", "valid_from", "unit_price"]]
    rows = rows.assign(start=_days(rows["valid_from"])).sort_values(["series_id", "start"], kind="stable")
    rows = rows.drop_duplicates(["series_id", "start"], keep="last")
    series = rows["series_id"].to_numpy()
    start = rows["start"].to_numpy()
    end = np.empty_like(start)
    end[:-1] = start[1:]
    last_of_series = np.r_[series[1:] != series[:-1], True]
    end[last_of_series] = _days(np.array([as_of], dtype="datetime64[D]"))[0] + 1
    segments = pd.DataFrame({"series_id": series, "start": start, "end": end, "price": rows["unit_price"].to_numpy()})
    return keys, segments


def _period_means(segments: pd.DataFrame, bounds: pd.DataFrame) -> np.ndarray:
    """Mean price and observed days of each (series_id, lo, hi) period, from the step function's integral."""
    series = segments["series_id"].to_numpy()
    start, end, price = (segments[c].to_numpy() for c in ("start", "end", "price"))
    held = price * (end - start)
    # Cumulative integral before each segment, restarted per series.
    cum = np.cumsum(held) - held
    first_index = np.r_[0, np.flatnonzero(series[1:] != series[:-1]) + 1]
    cum -= np.repeat(cum[first_index], np.diff(np.r_[first_index, len(series)]))
    # A global sort key per (series, day) lets one searchsorted serve every series.
    span = int(max(end.max(), bounds["hi"].max()) + 1)
    seg_key = series * span + start

    def integral(sid: np.ndarray, day: np.ndarray) -> np.ndarray:
        j = np.searchsorted(seg_key, sid * span + day, side="right") - 1
        valid = (j >= 0) & (series[np.clip(j, 0, None)] == sid)
        j = np.clip(j, 0, None)
        value = cum[j] + price[j] * (np.minimum(day, end[j]) - start[j])
        return np.where(valid, value, 0.0)

    sid, lo, hi = (bounds[c].to_numpy() for c in ("series_id", "lo", "hi"))
    first_start = pd.Series(start).groupby(series).min().reindex(sid).to_numpy()
    last_end = pd.Series(end).groupby(series).max().reindex(sid).to_numpy()
    observed = np.clip(np.minimum(hi, last_end) - np.maximum(lo, first_start), 0, None)
    total = integral(sid, hi) - integral(sid, lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observed > 0, total / observed, np.nan), observed


def monthly_prices(segments: pd.DataFrame, min_coverage: float) -> pd.DataFrame:
    """series_id, month (first day, date), price: the mean of the daily (forward-filled) price over the month's
    observed days. Months where less than `min_coverage` of the days carry a price are dropped: a partial first
    month or a few days of the as_of month would otherwise read as a jump."""
    first = segments.groupby("series_id")["start"].min()
    last = segments.groupby("series_id")["end"].max() - 1
    first_month = (EPOCH + first.to_numpy()).astype("datetime64[M]")
    last_month = (EPOCH + last.to_numpy()).astype("datetime64[M]")
    counts = (last_month - first_month).astype(np.int64) + 1
    sid = np.repeat(first.index.to_numpy(), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    month = np.repeat(first_month, counts) + offset
    lo = _days(month.astype("datetime64[D]"))
    hi = _days((month + 1).astype("datetime64[D]"))
    mean, observed = _period_means(segments, pd.DataFrame({"series_id": sid, "lo": lo, "hi": hi}))
    keep = observed >= min_coverage * (hi - lo)
    # The month's last week (up to as_of): for a persistent price it says more about next month than the mean does.
    end_hi = np.minimum(hi, segments.groupby("series_id")["end"].max().reindex(sid).to_numpy())
    end_mean, _ = _period_means(segments, pd.DataFrame({"series_id": sid, "lo": end_hi - 7, "hi": end_hi}))
    return pd.DataFrame(
        {
            "series_id": sid[keep],
            "month": month[keep].astype("datetime64[D]"),
            "price": mean[keep],
            "end_price": end_mean[keep],
        }
    ).reset_index(drop=True)


def category_end_levels(monthly: pd.DataFrame, keys: pd.DataFrame, index: pd.DataFrame) -> pd.Series:
    """The category index at each month's end: the month's index times the mean log ratio of its SKUs' month-end
    price to their month mean (aligned with `index`)."""
    frame = monthly.merge(keys[["series_id", *CATEGORY_KEYS]], on="series_id")
    ratio = np.log(frame["end_price"] / frame["price"]).groupby([frame[c] for c in [*CATEGORY_KEYS, "month"]]).mean()
    lookup = pd.MultiIndex.from_frame(index[[*CATEGORY_KEYS, "month"]])
    return pd.Series(
        index["index"].to_numpy() * np.exp(ratio.reindex(lookup).fillna(0.0).to_numpy()), index=index.index
    )


def weekly_prices(segments: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """series_id, week (first day, date), price: weekly means over 7-day bins ending on as_of, so the last week is
    complete. Weeks with fewer than 4 priced days are dropped."""
    end_day = _days(np.array([as_of], dtype="datetime64[D]"))[0] + 1
    first = segments.groupby("series_id")["start"].min()
    counts = np.ceil((end_day - first.to_numpy()) / 7).astype(np.int64)
    sid = np.repeat(first.index.to_numpy(), counts)
    back = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    hi = end_day - 7 * (np.repeat(counts, counts) - 1 - back)
    lo = hi - 7
    mean, observed = _period_means(segments, pd.DataFrame({"series_id": sid, "lo": lo, "hi": hi}))
    keep = observed >= 4
    return pd.DataFrame(
        {"series_id": sid[keep], "week": (EPOCH + lo[keep]).astype("datetime64[D]"), "price": mean[keep]}
    ).reset_index(drop=True)


def chained_index(prices: pd.DataFrame, keys: pd.DataFrame, period: str) -> pd.DataFrame:
    """category_code, price_kind, <period>, index: a chained index per leaf category and kind across every
    merchant's SKUs, starting at 1.0. Each period's link is the mean log price relative of the SKUs priced in both
    that period and the one before, so SKUs entering or leaving the range do not move the index (a plain mean price
    would jump when a dear SKU is listed). Periods with no link carry the level forward."""
    frame = prices.merge(keys[["series_id", *CATEGORY_KEYS]], on="series_id").sort_values(["series_id", period])
    step = pd.Timedelta(days=7) if period == "week" else None
    previous = frame.groupby("series_id")[period].shift()
    log_price = np.log(frame["price"])
    link = log_price - log_price.groupby(frame["series_id"]).shift()
    if step is None:
        consecutive = previous.dt.to_period("M") + 1 == frame[period].dt.to_period("M")
    else:
        consecutive = frame[period] - previous == step
    frame = frame.assign(link=link.where(consecutive))
    periods = frame.groupby(CATEGORY_KEYS)[period].agg(["min", "max"]).reset_index()
    freq = "7D" if step is not None else "MS"
    grid = pd.concat(
        [
            pd.DataFrame(
                {
                    "category_code": r.category_code,
                    "price_kind": r.price_kind,
                    period: pd.date_range(r.min, r.max, freq=freq),
                }
            )
            for r in periods.itertuples()
        ],
        ignore_index=True,
    )
    links = frame.groupby([*CATEGORY_KEYS, period])["link"].mean().reset_index()
    grid = grid.merge(links, on=[*CATEGORY_KEYS, period], how="left").sort_values([*CATEGORY_KEYS, period])
    grid["link"] = grid["link"].fillna(0.0)
    first = grid.groupby(CATEGORY_KEYS).cumcount() == 0
    grid.loc[first, "link"] = 0.0
    grid["index"] = np.exp(grid.groupby(CATEGORY_KEYS)["link"].cumsum())
    return grid.drop(columns="link").reset_index(drop=True)
