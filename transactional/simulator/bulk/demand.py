"""What a merchant's customers want over the whole history, drawn at once in arrays.

Each customer type places orders at a rate set by its customers' activity (zero before joining,
fading to zero over DECLINE_DAYS before churning), the weekday and festivals, and the total
weight of what it buys; every line picks a SKU in proportion to affinity x popularity x the SKU's
curve: season, trend, lifecycle, price elasticity and promotions (uplift while on, a dip after).
A SKU's expected demand therefore depends on its own curve only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transactional.simulator.plan import DECLINE_DAYS, MerchantPlan
from transactional.simulator.reference import AFFINITY, CUSTOMER_TYPES, LINES_PER_ORDER, QTY_MULTIPLIER
from transactional.simulator.seasons import PROFILES, Calendar, seasonal_curve

OPENING_SECONDS = 12 * 3600 + 30 * 60  # orders arrive over the 12.5 hours the shop is open (07:30-20:00)
# How much demand falls for a 10% dearer price, by level-1 division: farm inputs are bought
# because the season needs them, snacks and produce because they are cheap today.
ELASTICITY_BY_DIVISION = (0.4, 1.1, 0.8, 1.4)
PROMOTION_EVERY_DAYS = 21  # a merchant runs a promotion about every three weeks
PROMOTION_DIP_DAYS = 10  # after a promotion, customers who stocked up buy less for this long


@dataclass(frozen=True)
class Promotion:
    code: str
    sku: int
    first_day: int
    last_day: int  # inclusive
    percent_off: float
    uplift: float  # demand multiplier while it runs, on top of the price effect
    dip: float  # demand multiplier over the PROMOTION_DIP_DAYS after it


@dataclass(frozen=True)
class DrawnOrders:
    """Orders sorted by arrival; lines grouped by order, one line per SKU."""

    day: np.ndarray  # [orders] day index
    second: np.ndarray  # [orders] seconds after 07:30
    customer: np.ndarray  # [orders] customer index
    line_order: np.ndarray  # [lines] order index
    line_sku: np.ndarray  # [lines] SKU index
    line_qty: np.ndarray  # [lines] units asked for


def customer_activity(plan: MerchantPlan, calendar: Calendar) -> np.ndarray:
    """Purchase intensity per customer and day: [customers, days]."""
    ordinals = np.array([day.toordinal() for day in calendar.days])
    activity = np.array([c.activity for c in plan.customers])
    joined = np.array([c.joined_on.toordinal() for c in plan.customers])
    churned = np.array([c.churned_on.toordinal() if c.churned_on else 10**7 for c in plan.customers])
    fading = np.clip((churned[:, None] - ordinals[None, :]) / DECLINE_DAYS, 0.0, 1.0)
    return activity[:, None] * (joined[:, None] <= ordinals[None, :]) * fading


def plan_promotions(plan: MerchantPlan, days: int, rng: np.random.Generator) -> list[Promotion]:
    """Percentage-off promotions on one SKU at a time, a few days each, never on fresh produce."""
    candidates = [index for index, sku in enumerate(plan.skus) if not sku.fresh and sku.stopped_on is None]
    promotions = []
    day = int(rng.integers(7, PROMOTION_EVERY_DAYS + 7))
    while day < days - 10 and candidates:
        length = int(rng.integers(3, 8))
        promotions.append(
            Promotion(
                code=f"{plan.spec.code}-P{len(promotions) + 1:04d}",
                sku=int(candidates[int(rng.integers(0, len(candidates)))]),
                first_day=day,
                last_day=min(day + length - 1, days - 1),
                percent_off=float(rng.choice([5.0, 8.0, 10.0, 15.0, 20.0])),
                uplift=float(rng.uniform(1.4, 2.4)),
                dip=float(rng.uniform(0.6, 0.85)),
            )
        )
        day += int(rng.integers(PROMOTION_EVERY_DAYS // 2, PROMOTION_EVERY_DAYS * 3 // 2 + 1))
    return promotions


def sku_curves(
    plan: MerchantPlan,
    calendar: Calendar,
    price_ratio: np.ndarray,
    promotions: list[Promotion],
) -> np.ndarray:
    """Each SKU's demand multiplier per day: [skus, days]. `price_ratio` is the SKU's selling
    price over its list price per day (commodities move with the market)."""
    by_profile = {name: seasonal_curve(profile, calendar) for name, profile in PROFILES.items()}
    ordinals = np.array([day.toordinal() for day in calendar.days])
    years = calendar.years_since_start()
    curves = np.empty((len(plan.skus), len(ordinals)))
    for index, sku in enumerate(plan.skus):
        stop = sku.stopped_on.toordinal() if sku.stopped_on else 10**7
        alive = (ordinals >= sku.launched_on.toordinal()) & (ordinals < stop)
        season = by_profile[sku.group.season] ** sku.season_strength
        elasticity = ELASTICITY_BY_DIVISION[sku.division]
        curves[index] = season * np.exp(sku.trend_per_year * years) * price_ratio[index] ** -elasticity * alive
    for promotion in promotions:
        row = curves[promotion.sku]
        elasticity = ELASTICITY_BY_DIVISION[plan.skus[promotion.sku].division]
        price_effect = (1 - promotion.percent_off / 100) ** -elasticity
        row[promotion.first_day : promotion.last_day + 1] *= promotion.uplift * price_effect
        after = slice(promotion.last_day + 1, promotion.last_day + 1 + PROMOTION_DIP_DAYS)
        row[after] *= promotion.dip
    return curves


class DemandModel:
    """Order rates and SKU choice per customer type; `expected_units` is the closed form of `draw`."""

    def __init__(self, plan: MerchantPlan, activity: np.ndarray, curves: np.ndarray, traffic: np.ndarray) -> None:
        self.customer_types = np.array([c.customer_type for c in plan.customers])
        self.customer_warehouses = np.array([c.warehouse for c in plan.customers])
        self.warehouses = len(plan.spec.warehouses)
        self.activity = activity
        self.curves = curves
        self.traffic = traffic
        popularity = np.array([sku.popularity for sku in plan.skus])
        affinity = np.array([[AFFINITY[t][sku.division] for sku in plan.skus] for t in range(len(CUSTOMER_TYPES))])
        self.pick_weight = affinity * popularity  # [type, sku]
        base_qty = np.array([sku.leaf.base_qty for sku in plan.skus])
        self.line_qty = np.maximum(1.0, np.outer(QTY_MULTIPLIER, base_qty))  # mean units per line [type, sku]
        self.lines = np.array(LINES_PER_ORDER)
        norm = self.pick_weight.sum(axis=1)
        self.norm = np.where(norm > 0, norm, 1.0)
        first_day_activity = activity[:, 0].sum()
        self.orders_per_activity = plan.spec.orders_per_day / max(first_day_activity, 1e-9)

    def _order_rate(self, customer_type: int) -> np.ndarray:
        """Expected orders per day of one customer type: [days]."""
        members = self.customer_types == customer_type
        type_activity = self.activity[members].sum(axis=0)
        total_weight = self.pick_weight[customer_type] @ self.curves
        return self.orders_per_activity * self.traffic * type_activity * total_weight / self.norm[customer_type]

    def expected_units(self) -> np.ndarray:
        """Mean units demanded per warehouse, SKU and day: [warehouses, skus, days]."""
        expected = np.zeros((self.warehouses, self.curves.shape[0], self.curves.shape[1]))
        for customer_type in range(len(CUSTOMER_TYPES)):
            members = self.customer_types == customer_type
            if not members.any():
                continue
            lines_per_activity = self.orders_per_activity * self.traffic * self.lines[customer_type]
            per_sku = self.line_qty[customer_type] * self.pick_weight[customer_type] / self.norm[customer_type]
            for warehouse in range(self.warehouses):
                activity = self.activity[members & (self.customer_warehouses == warehouse)].sum(axis=0)
                expected[warehouse] += per_sku[:, None] * self.curves * (lines_per_activity * activity)[None, :]
        return expected

    def draw(self, rng: np.random.Generator) -> DrawnOrders:
        days = self.curves.shape[1]
        parts = []
        for customer_type in range(len(CUSTOMER_TYPES)):
            members = np.flatnonzero(self.customer_types == customer_type)
            if len(members) == 0 or self.pick_weight[customer_type].sum() == 0:
                continue
            counts = rng.poisson(self._order_rate(customer_type))
            order_day = np.repeat(np.arange(days), counts)
            if len(order_day) == 0:
                continue
            customer = members[_draw_per_day(self.activity[members], order_day, rng)]
            line_counts = 1 + rng.poisson(self.lines[customer_type] - 1, size=len(order_day))
            line_order = np.repeat(np.arange(len(order_day)), line_counts)
            sku_weights = self.pick_weight[customer_type][:, None] * self.curves
            line_sku = _draw_per_day(sku_weights, order_day[line_order], rng)
            line_qty = 1 + rng.poisson(self.line_qty[customer_type, line_sku] - 1)
            parts.append((order_day, customer, line_order, line_sku, line_qty))
        return _merge_types(parts, rng)


def _draw_per_day(weights: np.ndarray, draw_day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per draw, in proportion to `weights[:, draw_day]` (inverse CDF over the day's
    column, all days at once: each day's CDF is shifted by its day number)."""
    totals = weights.sum(axis=0)
    safe = np.where(totals > 0, totals, 1.0)
    cdf = np.cumsum(weights, axis=0) / safe  # [items, days]
    items = weights.shape[0]
    shifted = (cdf + np.arange(weights.shape[1])[None, :]).T.ravel()  # day-major, increasing
    targets = draw_day + rng.random(len(draw_day)) * 0.999999
    position = np.searchsorted(shifted, targets, side="right")
    return np.minimum(position - draw_day * items, items - 1)


def _merge_types(parts: list[tuple[np.ndarray, ...]], rng: np.random.Generator) -> DrawnOrders:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return DrawnOrders(empty, empty, empty, empty, empty, empty)
    order_offsets = np.cumsum([0] + [len(part[0]) for part in parts])
    day = np.concatenate([part[0] for part in parts])
    customer = np.concatenate([part[1] for part in parts])
    line_order = np.concatenate([part[2] + offset for part, offset in zip(parts, order_offsets, strict=False)])
    line_sku = np.concatenate([part[3] for part in parts])
    line_qty = np.concatenate([part[4] for part in parts])
    second = rng.integers(0, OPENING_SECONDS, size=len(day))
    arrival = np.lexsort((rng.random(len(day)), second, day))  # ties broken at random, reproducibly
    rank = np.empty_like(arrival)
    rank[arrival] = np.arange(len(arrival))
    # One line per SKU within an order: the same SKU picked twice becomes one bigger line.
    skus = int(line_sku.max()) + 1
    keys, inverse = np.unique(rank[line_order] * skus + line_sku, return_inverse=True)
    merged_qty = np.bincount(inverse, weights=line_qty).astype(np.int64)
    return DrawnOrders(
        day=day[arrival],
        second=second[arrival],
        customer=customer[arrival],
        line_order=keys // skus,
        line_sku=keys % skus,
        line_qty=merged_qty,
    )
