"""What a merchant's customers want each day: the demand process, in closed form and as orders.

Each customer type places orders at a rate set by its customers' activity, the weekday and the
season; every line picks a SKU in proportion to affinity x popularity x the SKU's own season,
trend and lifecycle. Because a type's order rate scales with the total weight of what it buys,
a SKU's expected demand depends on its own curve only: stopping one SKU does not move the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transactional.simulator.plan import DECLINE_DAYS, MerchantPlan
from transactional.simulator.reference import AFFINITY, CUSTOMER_TYPES, LINES_PER_ORDER, QTY_MULTIPLIER
from transactional.simulator.seasons import PROFILES, Calendar, seasonal_curve, store_traffic

OPENING_SECONDS = 12 * 3600 + 30 * 60  # orders arrive over the 12.5 hours the shop is open


@dataclass(frozen=True)
class OrderRequest:
    customer: int
    seconds_after_opening: int
    lines: tuple[tuple[int, int], ...]  # (SKU index, quantity), one line per SKU


class MerchantMarket:
    def __init__(self, plan: MerchantPlan, calendar: Calendar) -> None:
        skus, customers = plan.skus, plan.customers
        ordinals = np.array([day.toordinal() for day in calendar.days])
        self.customer_types = np.array([c.customer_type for c in customers])
        self.customer_warehouses = np.array([c.warehouse for c in customers])
        self._customer_activity = np.array([c.activity for c in customers])
        self._joined = np.array([c.joined_on.toordinal() for c in customers])
        self._churned = np.array([c.churned_on.toordinal() if c.churned_on else 10**7 for c in customers])
        self._ordinals = ordinals
        self._warehouses = len(plan.spec.warehouses)
        self._traffic = store_traffic(calendar)
        self._sku_curves = self._curves(plan, calendar, ordinals)
        popularity = np.array([sku.popularity for sku in skus])
        affinity = np.array([[AFFINITY[t][sku.division] for sku in skus] for t in range(len(CUSTOMER_TYPES))])
        self._pick_weight = affinity * popularity  # [type, sku]
        self._line_qty = np.maximum(
            1.0, np.outer(QTY_MULTIPLIER, [sku.leaf.base_qty for sku in skus])
        )  # mean units per line [type, sku]
        self._lines = np.array(LINES_PER_ORDER)
        norm = self._pick_weight.sum(axis=1)
        self._norm = np.where(norm > 0, norm, 1.0)
        initial = self._customer_activity[self._joined == ordinals[0]].sum()
        self._orders_per_activity = plan.spec.orders_per_day / initial

    @staticmethod
    def _curves(plan: MerchantPlan, calendar: Calendar, ordinals: np.ndarray) -> np.ndarray:
        """Each SKU's demand multiplier per day: season, trend, and zero outside its lifecycle."""
        by_profile = {name: seasonal_curve(profile, calendar) for name, profile in PROFILES.items()}
        years = calendar.years_since_start()
        curves = np.empty((len(plan.skus), len(ordinals)))
        for index, sku in enumerate(plan.skus):
            stop = sku.stopped_on.toordinal() if sku.stopped_on else 10**7
            alive = (ordinals >= sku.launched_on.toordinal()) & (ordinals < stop)
            season = by_profile[sku.group.season] ** sku.season_strength
            curves[index] = season * np.exp(sku.trend_per_year * years) * alive
        return curves

    def activity(self, day: int) -> np.ndarray:
        """Purchase intensity per customer: zero before joining, fading to zero before churning."""
        ordinal = self._ordinals[day]
        fading = np.clip((self._churned - ordinal) / DECLINE_DAYS, 0.0, 1.0)
        return self._customer_activity * (self._joined <= ordinal) * fading

    def _type_activity(self, day: int) -> np.ndarray:
        """Activity summed per customer type and warehouse: [type, warehouse]."""
        totals = np.zeros((len(CUSTOMER_TYPES), self._warehouses))
        np.add.at(totals, (self.customer_types, self.customer_warehouses), self.activity(day))
        return totals

    def expected_units(self, day: int) -> np.ndarray:
        """Mean units demanded per warehouse and SKU on `day`: [warehouse, sku]."""
        per_type = self._type_activity(day) * (self._lines / self._norm)[:, None]
        weights = self._line_qty * self._pick_weight * self._sku_curves[:, day]
        return self._orders_per_activity * self._traffic[day] * per_type.T @ weights

    def draw_orders(self, day: int, rng: np.random.Generator) -> list[OrderRequest]:
        activity = self.activity(day)
        weights = self._pick_weight * self._sku_curves[:, day]
        orders: list[OrderRequest] = []
        for customer_type in range(len(CUSTOMER_TYPES)):
            type_activity = activity * (self.customer_types == customer_type)
            total_activity, total_weight = type_activity.sum(), weights[customer_type].sum()
            if total_activity <= 0 or total_weight <= 0:
                continue
            rate = (
                self._orders_per_activity
                * self._traffic[day]
                * total_activity
                * total_weight
                / self._norm[customer_type]
            )
            count = int(rng.poisson(rate))
            if count:
                orders.extend(
                    self._draw_type_orders(
                        customer_type, count, type_activity / total_activity, weights[customer_type] / total_weight, rng
                    )
                )
        seconds = np.sort(rng.integers(0, OPENING_SECONDS, size=len(orders)))
        shuffled = [orders[index] for index in rng.permutation(len(orders))]
        return [
            OrderRequest(order.customer, int(second), order.lines)
            for order, second in zip(shuffled, seconds, strict=True)
        ]

    def _draw_type_orders(
        self,
        customer_type: int,
        count: int,
        customer_p: np.ndarray,
        sku_p: np.ndarray,
        rng: np.random.Generator,
    ) -> list[OrderRequest]:
        customers = rng.choice(len(customer_p), size=count, p=customer_p)
        line_counts = 1 + rng.poisson(self._lines[customer_type] - 1, size=count)
        skus = rng.choice(len(sku_p), size=int(line_counts.sum()), p=sku_p)
        quantities = 1 + rng.poisson(self._line_qty[customer_type, skus] - 1)
        orders = []
        start = 0
        for customer, line_count in zip(customers, line_counts, strict=True):
            merged: dict[int, int] = {}
            for sku, quantity in zip(
                skus[start : start + line_count], quantities[start : start + line_count], strict=True
            ):
                merged[int(sku)] = merged.get(int(sku), 0) + int(quantity)
            start += line_count
            orders.append(OrderRequest(int(customer), 0, tuple(merged.items())))
        return orders
