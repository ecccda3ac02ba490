"""The plan of a simulated network, drawn from the seed before anything touches the database:
assortment, prices, suppliers, customers, and when SKUs launch or stop and customers join or leave.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from transactional.simulator.reference import (
    ASSORTMENT,
    CATEGORY_TREE,
    CUSTOMER_MIX,
    CUSTOMER_TYPES,
    Division,
    Group,
    Leaf,
    customer_name,
)
from transactional.simulator.scales import MerchantSpec, Scale

DECLINE_DAYS = 60  # a leaving customer buys less and less over this many days
# Only SKUs that keep this long can stop selling: their stock must outlive the history unexpired.
STOPPABLE_SHELF_LIFE_DAYS = 1095
STOPPED_AT_LEAST_DAYS = 125  # before the end, so a 90-day "no sale" rule must flag every stopped SKU
# The last lot of a stale SKU arrives shortly before its stop and expires this many days after the
# end (minus up to one reorder cycle): inside the 90-day warning, outside the 30-day one.
STALE_DAYS_LEFT = 75
FRESH_POPULARITY = 2.5  # produce is bought every day: a shop stocks only the few kinds that move
MARKUP_BY_DIVISION = {"01": (1.08, 1.20), "02": (1.12, 1.35), "03": (1.15, 1.40), "04": (1.25, 1.60)}


@dataclass(frozen=True)
class SupplierPlan:
    code: str
    name: str
    lead_time_days: int
    on_time_rate: float


@dataclass(frozen=True)
class SkuPlan:
    sku_code: str
    name: str
    brand: str
    spec: str
    leaf: Leaf
    group: Group
    division: int
    supplier: int
    unit_cost: Decimal
    price: Decimal
    popularity: float
    season_strength: float
    trend_per_year: float
    launched_on: date
    stopped_on: date | None

    @property
    def unit(self) -> str:
        return self.spec.rsplit("/", 1)[-1]

    @property
    def fresh(self) -> bool:
        return self.leaf.fresh


@dataclass(frozen=True)
class CustomerPlan:
    customer_code: str
    name: str
    customer_type: int  # index into CUSTOMER_TYPES
    region: str
    warehouse: int
    activity: float
    joined_on: date
    churned_on: date | None


@dataclass(frozen=True)
class MerchantPlan:
    spec: MerchantSpec
    suppliers: tuple[SupplierPlan, ...]
    skus: tuple[SkuPlan, ...]
    customers: tuple[CustomerPlan, ...]


def plan_network(scale: Scale, seed: int) -> list[MerchantPlan]:
    # One stream per merchant, so resizing one merchant leaves the others' plans unchanged.
    return [
        plan_merchant(spec, scale, np.random.default_rng([seed, index + 1]))
        for index, spec in enumerate(scale.merchants)
    ]


def plan_merchant(spec: MerchantSpec, scale: Scale, rng: np.random.Generator) -> MerchantPlan:
    groups = [(index, division, group) for index, division in enumerate(CATEGORY_TREE) for group in division.groups]
    weights = ASSORTMENT[spec.merchant_type]
    counts = apportion(spec.skus, [weights.get(group.code, 0.0) for _, _, group in groups])
    suppliers: list[SupplierPlan] = []
    skus: list[SkuPlan] = []
    for (division_index, division, group), count in zip(groups, counts, strict=True):
        if count == 0:
            continue
        group_suppliers = _plan_suppliers(group, 2 if count >= 15 else 1, len(suppliers), rng)
        supplier_indexes = list(range(len(suppliers), len(suppliers) + len(group_suppliers)))
        suppliers.extend(group_suppliers)
        skus.extend(_plan_group_skus(division_index, division, group, count, supplier_indexes, spec, scale, rng))
    skus = _plan_lifecycles(skus, scale, rng)
    customers = _plan_customers(spec, scale, rng)
    return MerchantPlan(spec, tuple(suppliers), tuple(skus), tuple(customers))


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder; ties go to the earlier one)."""
    weight_sum = sum(weights)
    exact = [total * weight / weight_sum for weight in weights]
    counts = [int(share) for share in exact]
    by_remainder = sorted(range(len(weights)), key=lambda index: (-(exact[index] - counts[index]), index))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def _plan_suppliers(group: Group, count: int, already: int, rng: np.random.Generator) -> list[SupplierPlan]:
    names = [group.suppliers[index] for index in rng.permutation(len(group.suppliers))[:count]]
    low, high = group.lead_time_days
    return [
        SupplierPlan(
            code=f"S{already + offset + 1:02d}",
            name=name,
            lead_time_days=int(rng.integers(low, high + 1)),
            on_time_rate=float(rng.uniform(*group.on_time_rate)),
        )
        for offset, name in enumerate(names)
    ]


def _plan_group_skus(
    division_index: int,
    division: Division,
    group: Group,
    count: int,
    supplier_indexes: list[int],
    spec: MerchantSpec,
    scale: Scale,
    rng: np.random.Generator,
) -> list[SkuPlan]:
    # Each leaf gets its own shuffled list of distinct (brand, item, spec) names.
    candidates = {}
    for leaf in group.leaves:
        options = [(brand, item, pack) for brand in division.brands for item in leaf.items for pack in leaf.specs]
        candidates[leaf.code] = [options[index] for index in rng.permutation(len(options))]
    markup_low, markup_high = MARKUP_BY_DIVISION[division.code]
    skus = []
    for index in range(count):
        leaf = group.leaves[index % len(group.leaves)]
        options = candidates[leaf.code]
        brand, item, pack = options[(index // len(group.leaves)) % len(options)]
        cost = round(float(rng.uniform(*leaf.unit_cost)), 2)
        price = round(cost * float(rng.uniform(markup_low, markup_high)), 1)
        skus.append(
            SkuPlan(
                sku_code=f"{group.sku_prefix}{index + 1:03d}",
                name=brand + item,
                brand=brand,
                spec=pack,
                leaf=leaf,
                group=group,
                division=division_index,
                supplier=supplier_indexes[index % len(supplier_indexes)],
                unit_cost=Decimal(f"{cost:.2f}"),
                price=Decimal(f"{max(price, cost):.2f}"),
                popularity=float(rng.lognormal(0.0, 1.0)) * (FRESH_POPULARITY if leaf.fresh else 1.0),
                season_strength=float(rng.uniform(0.8, 1.2)),
                trend_per_year=spec.growth_per_year + float(rng.normal(0.0, 0.06)),
                launched_on=scale.first_date,
                stopped_on=None,
            )
        )
    return skus


def _plan_lifecycles(skus: list[SkuPlan], scale: Scale, rng: np.random.Generator) -> list[SkuPlan]:
    """Stop some established SKUs (leaving stock behind) and launch a few during the history."""
    planned = list(skus)
    popularity_floor = float(np.quantile([sku.popularity for sku in skus], 0.3))
    established = [index for index, sku in enumerate(skus) if sku.popularity >= popularity_floor]
    # Long keepers whose leftover stock stays sellable: slow-moving, not expiring.
    keepers = [
        index
        for index in established
        if skus[index].leaf.shelf_life_days is None or skus[index].leaf.shelf_life_days >= STOPPABLE_SHELF_LIFE_DAYS
    ]
    stop_count = min(len(keepers), max(2, round(scale.stopped_share * len(skus))))
    earliest_stop = max(scale.first_date + timedelta(days=60), scale.last_date - timedelta(days=300))
    stop_window = (scale.last_date - timedelta(days=STOPPED_AT_LEAST_DAYS) - earliest_stop).days
    for index in sorted(int(i) for i in rng.choice(keepers, size=stop_count, replace=False)):
        stop = earliest_stop + timedelta(days=int(rng.integers(0, stop_window + 1)))
        planned[index] = replace(skus[index], stopped_on=stop)
    stale = _stop_one_to_go_stale(planned, established, scale, rng)
    if stale is not None:
        planned[stale[0]] = replace(skus[stale[0]], stopped_on=stale[1])
    launchable = [index for index, sku in enumerate(planned) if sku.stopped_on is None]
    launch_count = round(scale.launched_share * len(skus))
    launch_window = scale.history_days - 45 - 90
    for index in sorted(int(i) for i in rng.choice(launchable, size=launch_count, replace=False)):
        launch = scale.first_date + timedelta(days=45 + int(rng.integers(0, launch_window + 1)))
        planned[index] = replace(skus[index], launched_on=launch)
    return planned


def _stop_one_to_go_stale(
    skus: list[SkuPlan], established: list[int], scale: Scale, rng: np.random.Generator
) -> tuple[int, date] | None:
    """A SKU keeping 180-365 days whose demand stops when its last lot has about STALE_DAYS_LEFT days
    of shelf life left at the end of the history, so the near-expiry warnings meet a mid-level case."""
    latest = scale.last_date - timedelta(days=STOPPED_AT_LEAST_DAYS)
    earliest = scale.first_date + timedelta(days=60)
    candidates = []
    for index in established:
        shelf_life = skus[index].leaf.shelf_life_days
        if skus[index].stopped_on is None and shelf_life is not None and 180 <= shelf_life <= 365:
            stop = scale.last_date + timedelta(days=STALE_DAYS_LEFT - shelf_life)
            if earliest <= stop <= latest:
                candidates.append((index, stop))
    if not candidates:
        return None
    return candidates[int(rng.integers(0, len(candidates)))]


def _plan_customers(spec: MerchantSpec, scale: Scale, rng: np.random.Generator) -> list[CustomerPlan]:
    townships = [(township, index) for index, wh in enumerate(spec.warehouses) for township in wh.townships]
    mix = np.array(CUSTOMER_MIX[spec.merchant_type])
    joiners = round(scale.joined_share * spec.customers)
    join_offsets = sorted(int(day) for day in rng.integers(7, scale.history_days - 14, size=joiners))
    joined = [scale.first_date] * spec.customers + [scale.first_date + timedelta(days=d) for d in join_offsets]
    churners = {
        int(index) for index in rng.choice(spec.customers, round(scale.churned_share * spec.customers), replace=False)
    }
    churn_start = int(scale.history_days * 0.35)
    customers = []
    for index, joined_on in enumerate(joined):
        customer_type = int(rng.choice(len(CUSTOMER_TYPES), p=mix / mix.sum()))
        township, warehouse = townships[int(rng.integers(0, len(townships)))]
        picks = [int(pick) for pick in rng.integers(0, 1000, size=4)]
        churned_on = None
        if index in churners:
            churned_on = scale.first_date + timedelta(days=int(rng.integers(churn_start, scale.history_days - 10)))
        customers.append(
            CustomerPlan(
                customer_code=f"C{index + 1:04d}",
                name=customer_name(CUSTOMER_TYPES[customer_type], township, picks),
                customer_type=customer_type,
                region=township,
                warehouse=warehouse,
                activity=float(rng.lognormal(0.0, 0.7)),
                joined_on=joined_on,
                churned_on=churned_on,
            )
        )
    return customers
