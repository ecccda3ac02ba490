"""Settings of the price trends: every threshold a merchant or analyst might question lives here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PriceSettings:
    """Thresholds of the price trends.

    holding_cost_per_year: capital, space and shrinkage as a share of stock value per year; buying ahead only pays
        when the expected rise beats it over the same period.
    storable_min_shelf_life_days: goods keeping at least this long (or with no shelf life) can be bought ahead.
    outlook_months: months forecast after the as_of month.
    min_month_coverage: share of a month's days that must carry a price for the month to count; the first month of
        a SKU and the as_of month are often partial, and a mean over a few days would read as a jump.
    cover_days: days of demand a bulk purchase covers; the horizon of a hint is lead time + cover (clipped to the
        outlook), since the alternative to buying ahead is buying after the lead time for that period.
    default_lead_time_days: used when a product has no supplier lead time.
    change_penalty: penalty of the change point search, in units of noise variance × log(n).
    min_noise: floor of the noise estimate (log scale); step prices have mostly zero differences, so a MAD of 0
        would make every tiny step a change point.
    min_segment_weeks: shortest segment between change points.
    min_step: smallest relative level change reported as a change point; the simulator's market reviews move prices
        by more than 3% at a time, so smaller steps are routine repricing, not shocks.
    min_sharpness: share of the step that must happen within two weeks either side of the break: shocks are
        sudden, the market's wander and seasons are gradual.
    min_history_months: fewer observed months than this give a flat (no-change) outlook.
    backtest_origins: rolling origins (months) used to choose the outlook model and to size its intervals.
    wait_min_fall: smallest expected fall that makes 'wait' worth saying.
    """

    holding_cost_per_year: float = 0.20
    storable_min_shelf_life_days: int = 180
    outlook_months: int = 3
    min_month_coverage: float = 0.5
    cover_days: int = 30
    default_lead_time_days: float = 7.0
    change_penalty: float = 4.0
    min_noise: float = 0.02
    min_segment_weeks: int = 4
    min_step: float = 0.06
    min_sharpness: float = 0.6
    min_history_months: int = 6
    backtest_origins: int = 6
    wait_min_fall: float = 0.03
