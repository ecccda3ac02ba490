"""The simulated merchant's own reorder rule, naive on purpose: what customers asked for lately,
the lead time, a few safety days and a cover by shelf life. The history simulator orders by it,
and `coopcast evaluate replenishment` replays it as the `minmax` baseline (what merchants do today).
"""

from __future__ import annotations

import numpy as np

from transactional.simulator.reference import FRESH_SHELF_LIFE_DAYS

MEMORY_DAYS = 28  # the merchant judges demand by what customers asked for over four weeks…
RECENT_DAYS = 7  # …or the last week if higher, to follow a ramp up quickly
MIN_SAFETY_DAYS = 2.0
# Goods keeping up to this long get two weeks of cover per order, longer-keeping goods a month.
TWO_WEEK_COVER_SHELF_LIFE_DAYS = 200


def cover_days(shelf_life_days: np.ndarray) -> np.ndarray:
    """Days of sales one reorder adds above the reorder point: little for produce that rots, more
    for goods that keep (NaN or a very long shelf life: goods that do not expire)."""
    return np.select(
        [shelf_life_days <= FRESH_SHELF_LIFE_DAYS, shelf_life_days <= TWO_WEEK_COVER_SHELF_LIFE_DAYS],
        [2.0, 14.0],
        default=30.0,
    )


def safety_days(lead_time_days: np.ndarray) -> np.ndarray:
    """Days of sales kept beyond the lead time: half of it, at least two."""
    return np.maximum(MIN_SAFETY_DAYS, lead_time_days / 2)
