"""Buying hints from the outlook: buy ahead when the expected rise beats the cost of holding the stock, wait when a
fall beyond the noise is expected, otherwise neutral; perishable goods are always neutral.

The horizon of a hint is the supplier lead time plus `cover_days` (the period a bulk purchase covers), clipped to
one..outlook_months months: buying now instead of at the usual time saves the price change over that horizon and
costs holding the stock for as long. The expected change is read off the monthly outlook, interpolated in log space
between the current price (month 0) and the outlook months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.pricing.settings import PriceSettings

DAYS_PER_MONTH = 30.44
KIND_WORDS = {"cost": ("Cost", "进价"), "selling": ("Shelf price", "售价")}


def horizon_days(lead_time_days: pd.Series, settings: PriceSettings) -> pd.Series:
    """Lead time + cover, between one month and the outlook horizon, in whole days."""
    lead = lead_time_days.astype(float).fillna(settings.default_lead_time_days)
    days = (lead + settings.cover_days).clip(DAYS_PER_MONTH, settings.outlook_months * DAYS_PER_MONTH)
    return days.round().astype(int)


def change_at(base: np.ndarray, path: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Relative change from base (month 0) to the path (columns = months 1..H) at a fractional month per row."""
    log_path = np.column_stack([np.log(base), np.log(path)])
    lo = np.clip(np.floor(months).astype(int), 0, log_path.shape[1] - 1)
    hi = np.clip(lo + 1, 0, log_path.shape[1] - 1)
    weight = months - lo
    rows = np.arange(len(base))
    value = log_path[rows, lo] * (1 - weight) + log_path[rows, hi] * weight
    return np.expm1(value - log_path[:, 0])


def hint(
    change: float,
    low_80: float,
    high_80: float,
    holding: float,
    storable: bool,
    kind: str,
    days: int,
    settings: PriceSettings,
) -> tuple[str, str, str]:
    """(hint, reason, reason_zh) for one subject. Buy ahead needs the expected rise above the holding cost and the
    80% interval's low end above −holding cost (a likely fall would make the stock dearer than buying later); wait
    needs a fall of at least wait_min_fall with the 80% high end below the holding cost."""
    if not storable:
        return "neutral", "Perishable: buy as needed", "易腐商品：按需采购"
    word, word_zh = KIND_WORDS.get(kind, (kind, kind))
    # In days, as the page's outlook reads ("next 38 days"): rounded to months, one horizon read two ways.
    within = f"{days} days"
    if change > holding and low_80 > -holding:
        return (
            "buy_ahead",
            f"{word} expected to rise {change:.1%} within {within}, above the {holding:.1%} holding cost: buy ahead",
            f"预计{days}天内{word_zh}上涨{change:.1%}，高于{holding:.1%}的持有成本：建议提前采购",
        )
    if change < -settings.wait_min_fall and high_80 < holding:
        return (
            "wait",
            f"{word} expected to fall {-change:.1%} within {within}: wait before buying in bulk",
            f"预计{days}天内{word_zh}下降{-change:.1%}：建议暂缓大量采购",
        )
    # Rounded to the shown tenth of a percent first, so a change of −0.04 % reads +0.0 %, not −0.0 %.
    shown_change = round(change, 3) + 0.0
    return (
        "neutral",
        f"{word} expected to change {shown_change:+.1%} within {within}, not beyond the {holding:.1%} holding "
        "cost or the noise: buy as usual",
        f"预计{days}天内{word_zh}变动{shown_change:+.1%}，未超过{holding:.1%}的持有成本或正常波动：按常规采购",
    )


def hints(frame: pd.DataFrame, settings: PriceSettings) -> pd.DataFrame:
    """hint, reason, reason_zh for a frame with outlook_change, low_80_change, high_80_change, horizon_days,
    storable, price_kind."""
    holding = settings.holding_cost_per_year * frame["horizon_days"] / 365
    rows = [
        hint(c, lo, hi, h, s, k, d, settings)
        for c, lo, hi, h, s, k, d in zip(
            frame["outlook_change"],
            frame["low_80_change"],
            frame["high_80_change"],
            holding,
            frame["storable"],
            frame["price_kind"],
            frame["horizon_days"],
            strict=True,
        )
    ]
    return pd.DataFrame(rows, columns=["hint", "reason", "reason_zh"], index=frame.index)
