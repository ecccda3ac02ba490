"""One merchant's whole history as table rows, drawn in arrays: master data, promotions, price
changes, customer orders served from batches first-expiry-first, lost sales, cancellations,
shipments and deliveries, returns, the merchant's own replenishment (supplier delays and failed
inspections included), expiry write-offs, shop traffic, and the ground truth in `sim`.

The merchant's reorder rule is its own naive one (what customers asked for lately, lead time, a
few days of safety stock, one order day per supplier): it knows nothing of the demand model, so
seasonal ramps cause real stock-outs and stopped SKUs leave real stock behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from transactional.simulator import merchant_rule
from transactional.simulator.bulk.demand import (
    PROMOTION_DIP_DAYS,
    DemandModel,
    customer_activity,
    plan_promotions,
    sku_curves,
)
from transactional.simulator.bulk.funnel import ShopTraffic, funnel_events
from transactional.simulator.bulk.stockroom import NEVER_EXPIRES, Allocation, Stockroom
from transactional.simulator.merchant_rule import MEMORY_DAYS, RECENT_DAYS
from transactional.simulator.plan import DECLINE_DAYS, MerchantPlan
from transactional.simulator.reference import CUSTOMER_TYPES
from transactional.simulator.scales import Scale
from transactional.simulator.seasons import Calendar
from transactional.stock import BUSINESS_TIMEZONE

DAY_US = 86_400_000_000
SECOND_US = 1_000_000
SHIP_NEXT_DAY_SHARE = 0.7  # the rest ship the day after; fresh produce always next day
LATE_SHIPMENT_SHARE = 0.03  # shipped a day later than planned: the 48-hour SLA breaks
SLOW_CONFIRMATION_SHARE = 0.02  # confirmed after more than 24 hours
RETURN_SHARE = 0.012  # of delivered order lines
FAILED_INSPECTION_SHARE = 0.04  # of delivered purchase lines, part of which is rejected
PRICE_REVIEW_WEEKDAY = 0  # commodity prices are reviewed on Mondays…
PRICE_REVIEW_THRESHOLD = 0.03  # …and changed when the market moved more than 3%
RETAIL_PRICE_LAG_DAYS = 14  # shelf prices follow the purchase cost two weeks late
CREDIT_TERMS = np.array([7, 15, 30])
WHOLESALE_PRICE_SHARE = 0.92  # shops and canteens buy at the wholesale tier, 8% under the shelf price
DISRUPTED_MERCHANT_SHARE = 0.3  # merchants one of whose suppliers delivers late for weeks


@dataclass(frozen=True)
class NetworkContext:
    scale: Scale
    calendar: Calendar
    traffic: np.ndarray  # [days]
    market: dict[str, np.ndarray]  # commodity leaf code -> price index per day
    category_ids: dict[str, int]  # leaf code -> category_id

    @property
    def days(self) -> int:
        return len(self.calendar)

    @property
    def day0_us(self) -> int:
        midnight = datetime.combine(self.calendar.days[0], time(0), tzinfo=BUSINESS_TIMEZONE)
        return int(midnight.timestamp()) * SECOND_US


@dataclass
class IdCounters:
    """The next free id per table; ids are handed out in the order rows are drawn, so the same
    seed on the same (empty) database gives the same ids."""

    next_id: dict[str, int]

    def take(self, table: str, count: int) -> np.ndarray:
        first = self.next_id[table]
        self.next_id[table] = first + count
        return np.arange(first, first + count, dtype=np.int64)


@dataclass
class MerchantHistory:
    merchant_code: str
    core: dict[str, pd.DataFrame]  # core table -> rows, in load order
    truth: dict[str, pd.DataFrame]  # sim table -> rows
    updates: dict[str, pd.DataFrame]  # lifecycle steps applied after the rows are in
    counts: dict[str, int] = field(default_factory=dict)


def draw_history(
    plan: MerchantPlan, context: NetworkContext, ids: IdCounters, rng: np.random.Generator
) -> MerchantHistory:
    return _MerchantDraw(plan, context, ids, rng).run()


def _timestamps(microseconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(microseconds, dtype=np.int64), unit="us", utc=True))


def _money(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), 2)


class _MerchantDraw:
    def __init__(self, plan: MerchantPlan, context: NetworkContext, ids: IdCounters, rng: np.random.Generator) -> None:
        self.plan = plan
        self.context = context
        self.ids = ids
        self.rng = rng
        self.days = context.days
        self.day0 = context.day0_us
        self.skus = len(plan.skus)
        self.warehouses = len(plan.spec.warehouses)
        self.slots = self.warehouses * self.skus
        self.core: dict[str, pd.DataFrame] = {}
        self.truth: dict[str, pd.DataFrame] = {}
        sku = plan.skus
        self.launch_day = np.array([(s.launched_on - context.calendar.days[0]).days for s in sku])
        self.stop_day = np.array(
            [(s.stopped_on - context.calendar.days[0]).days if s.stopped_on else self.days for s in sku]
        )
        self.shelf_life = np.array([s.leaf.shelf_life_days or NEVER_EXPIRES for s in sku])
        self.fresh = np.array([s.fresh for s in sku])
        self.lead = np.array([plan.suppliers[s.supplier].lead_time_days for s in sku])
        self.supplier_of = np.array([s.supplier for s in sku])
        self.list_price = np.array([float(s.price) for s in sku])
        self.list_cost = np.array([float(s.unit_cost) for s in sku])
        self.multiple = np.array([s.leaf.order_multiple for s in sku])
        self.min_qty = np.array([s.leaf.min_order_qty for s in sku])
        self.cover_days = merchant_rule.cover_days(self.shelf_life)
        self.safety_days = merchant_rule.safety_days(self.lead)
        # Like most co-op shops, the merchant orders from each supplier on one weekday (produce daily).
        self.order_weekday = self.supplier_of % 7
        self.weekday = np.array([day.weekday() for day in context.calendar.days])
        self.disruption = _plan_disruption(len(plan.suppliers), self.days, rng)

    def at(self, day: np.ndarray | int, seconds: np.ndarray | int) -> np.ndarray:
        """Epoch microseconds of business-local `seconds` after midnight of day index `day`."""
        return self.day0 + np.asarray(day, dtype=np.int64) * DAY_US + np.asarray(seconds, dtype=np.int64) * SECOND_US

    def run(self) -> MerchantHistory:
        self._master_data()
        self._prices()
        self.promotions = plan_promotions(self.plan, self.days, self.rng)
        activity = customer_activity(self.plan, self.context.calendar)
        curves = sku_curves(self.plan, self.context.calendar, self.price_ratio, self.promotions)
        model = DemandModel(self.plan, activity, curves, self.context.traffic)
        self.expected = model.expected_units()  # [warehouses, skus, days]
        self.drawn = model.draw(self.rng)
        self.customer_warehouse = model.customer_warehouses
        self._trade()
        self._low_stock_thresholds()
        self._orders_tables()
        self._purchase_tables()
        self._returns()
        self._movements()
        self._funnel()
        self._truth()
        self.core.update(self.price_changes)
        updates = {
            "purchase_orders": self.po_final,
            "returns": self.return_final,
            "return_movements": self.return_movements,
        }
        history = MerchantHistory(self.plan.spec.code, self.core, self.truth, updates)
        history.counts = {name: len(frame) for name, frame in {**self.core, **self.truth}.items()}
        return history

    # ---- master data -------------------------------------------------------------------------

    def _master_data(self) -> None:
        plan, spec = self.plan, self.plan.spec
        opening = self.at(0, 5 * 3600)
        self.merchant_id = int(self.ids.take("merchants", 1)[0])
        self.core["merchants"] = pd.DataFrame(
            {
                "merchant_id": [self.merchant_id],
                "merchant_code": [spec.code],
                "name": [spec.name],
                "merchant_type": [spec.merchant_type],
                "region": [spec.region],
                "created_at": _timestamps(np.array([opening])),
                "updated_at": _timestamps(np.array([opening])),
            }
        )
        self.warehouse_ids = self.ids.take("warehouses", self.warehouses)
        self.core["warehouses"] = pd.DataFrame(
            {
                "warehouse_id": self.warehouse_ids,
                "merchant_id": self.merchant_id,
                "warehouse_code": [wh.code for wh in spec.warehouses],
                "name": [wh.name for wh in spec.warehouses],
                "region": [wh.townships[0] for wh in spec.warehouses],
                "created_at": _timestamps(np.full(self.warehouses, opening)),
                "updated_at": _timestamps(np.full(self.warehouses, opening)),
            }
        )
        self.supplier_ids = self.ids.take("suppliers", len(plan.suppliers))
        self.core["suppliers"] = pd.DataFrame(
            {
                "supplier_id": self.supplier_ids,
                "merchant_id": self.merchant_id,
                "supplier_code": [s.code for s in plan.suppliers],
                "name": [s.name for s in plan.suppliers],
                "lead_time_days": [s.lead_time_days for s in plan.suppliers],
                "created_at": _timestamps(np.full(len(plan.suppliers), opening)),
                "updated_at": _timestamps(np.full(len(plan.suppliers), opening)),
            }
        )
        self.product_ids = self.ids.take("products", self.skus)
        created = _timestamps(self.at(self.launch_day, 5 * 3600))
        skus = plan.skus
        self.core["products"] = pd.DataFrame(
            {
                "product_id": self.product_ids,
                "merchant_id": self.merchant_id,
                "sku_code": [s.sku_code for s in skus],
                "name": [s.name for s in skus],
                "spec": [s.spec for s in skus],
                "unit": [s.unit for s in skus],
                "category_id": [self.context.category_ids[s.leaf.code] for s in skus],
                "supplier_id": self.supplier_ids[self.supplier_of],
                "shelf_life_days": pd.array([s.leaf.shelf_life_days for s in skus], dtype="Int64"),
                "unit_cost": self.list_cost,
                "price": self.list_price,
                "lead_time_days": self.lead,
                "min_order_qty": self.min_qty,
                "order_multiple": self.multiple,
                # Set once the history shows what the merchant reorders at (_low_stock_thresholds).
                "low_stock_threshold": 0,
                "brand": [s.brand for s in skus],
                "created_at": created,
                "updated_at": created,
            }
        )
        customers = plan.customers
        self.join_day = np.array([(c.joined_on - self.context.calendar.days[0]).days for c in customers])
        self.customer_ids = self.ids.take("customers", len(customers))
        joined = _timestamps(self.at(self.join_day, 5 * 3600))
        self.customer_type = np.array([c.customer_type for c in customers])
        business = np.isin(self.customer_type, [CUSTOMER_TYPES.index("shop"), CUSTOMER_TYPES.index("canteen")])
        self.core["customers"] = pd.DataFrame(
            {
                "customer_id": self.customer_ids,
                "merchant_id": self.merchant_id,
                "customer_code": [c.customer_code for c in customers],
                "name": [c.name for c in customers],
                "customer_type": [CUSTOMER_TYPES[c.customer_type] for c in customers],
                "region": [c.region for c in customers],
                "price_tier": np.where(business, "wholesale", "retail"),
                "created_at": joined,
                "updated_at": joined,
            }
        )
        self.price_tier_wholesale = business
        # Businesses buy on credit at a fixed term, households pay online or on delivery.
        self.credit_term = np.where(business, CREDIT_TERMS[self.rng.integers(0, 3, len(customers))], 0)
        self.pays_on_delivery = self.rng.random(len(customers)) < 0.25

    def _prices(self) -> None:
        """Commodities follow their market index: the purchase cost moves with it, the shelf price
        two weeks later; both are reviewed weekly and changed when they moved more than 3%."""
        cost_ratio = np.ones((self.skus, self.days))
        for index, sku in enumerate(self.plan.skus):
            market = self.context.market.get(sku.leaf.code)
            if market is not None:
                cost_ratio[index] = market / market[0]
        lagged = np.concatenate([np.repeat(cost_ratio[:, :1], RETAIL_PRICE_LAG_DAYS, axis=1), cost_ratio], axis=1)
        self.cost_ratio = _reviewed(cost_ratio, self.weekday, self.launch_day)
        self.price_ratio = _reviewed(lagged[:, : self.days], self.weekday, self.launch_day)
        self.cost = _money(self.list_cost[:, None] * self.cost_ratio)
        self.price = _money(self.list_price[:, None] * self.price_ratio)
        self.wholesale_price = _money(self.price * WHOLESALE_PRICE_SHARE)
        launched = np.arange(self.skus), self.launch_day
        products = self.core["products"]
        products["unit_cost"], products["price"] = self.cost[launched], self.price[launched]
        retail = self._changes(self.price, first=False).assign(tier="retail")
        wholesale = self._changes(self.wholesale_price, first=True).assign(tier="wholesale")
        prices = pd.concat([retail, wholesale]).sort_values(["product_id", "valid_from", "tier"], kind="stable")
        self.price_changes = {
            "product_cost_history": self._changes(self.cost, first=False).rename(columns={"value": "unit_cost"}),
            "product_price_history": prices.assign(min_quantity=1).rename(columns={"value": "unit_price"}),
        }

    def _changes(self, values: np.ndarray, first: bool) -> pd.DataFrame:
        """The days a price series changes after launch (and its launch value when `first`)."""
        changed = np.diff(values, axis=1) != 0
        sku, day = np.nonzero(changed)
        day = day + 1
        keep = day > self.launch_day[sku]
        sku, day = sku[keep], day[keep]
        if first:
            sku = np.concatenate([np.arange(self.skus), sku])
            day = np.concatenate([self.launch_day, day])
        order = np.lexsort((day, sku))
        sku, day = sku[order], day[order]
        return pd.DataFrame(
            {
                "merchant_id": self.merchant_id,
                "product_id": self.product_ids[sku],
                "value": values[sku, day],
                "valid_from": _timestamps(self.at(day, 5 * 3600 + 30 * 60)),
            }
        )

    # ---- trading day by day ------------------------------------------------------------------

    def _trade(self) -> None:
        drawn = self.drawn
        self.stock = Stockroom(self.skus)
        order_count = len(drawn.day)
        self.order_cancelled = self.rng.random(order_count) < self.context.scale.cancel_rate
        self.order_cancelled &= drawn.day + 1 < self.days
        self.line_got = np.zeros(len(drawn.line_qty), dtype=np.int64)
        line_day = drawn.day[drawn.line_order]
        line_warehouse = self.customer_warehouse[drawn.customer[drawn.line_order]]
        self.line_slot = line_warehouse * self.skus + drawn.line_sku
        line_bounds = np.searchsorted(line_day, np.arange(self.days + 1))
        allocations: list[Allocation] = []
        self.asked = np.zeros((self.slots, MEMORY_DAYS))
        self.on_order = np.zeros(self.slots, dtype=np.int64)
        # (day, batch indexes, units, purchase order or -1 for opening stock, line within the order)
        self.receipts: list[tuple[int, np.ndarray, np.ndarray, int, np.ndarray]] = []
        self.write_offs: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.po_lines: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.arrivals: dict[int, list[int]] = {}
        self.po_arrival_day: list[int] = []
        self.po_line_rejected: dict[int, np.ndarray] = {}
        self.demand = np.zeros((self.skus, self.days), dtype=np.int64)
        self.sold = np.zeros((self.skus, self.days), dtype=np.int64)
        self.cancelled_units = np.zeros((self.skus, self.days), dtype=np.int64)
        release_tomorrow: Allocation | None = None
        for day in range(self.days):
            self._launch(day)
            self._receive(day)
            if release_tomorrow is not None and len(release_tomorrow.batch):
                self.stock.release(release_tomorrow.batch, release_tomorrow.quantity)
            if self.weekday[day] == 0:
                batches, units = self.stock.expired(day)
                if len(batches):
                    self.write_offs.append((day, batches, units))
            lines = slice(line_bounds[day], line_bounds[day + 1])
            got, allocation = self.stock.allocate(day, self.line_slot[lines], drawn.line_qty[lines])
            self.line_got[lines] = got
            allocation = Allocation(allocation.line + line_bounds[day], allocation.batch, allocation.quantity)
            allocations.append(allocation)
            cancelled_lines = self.order_cancelled[drawn.line_order[allocation.line]]
            release_tomorrow = Allocation(
                allocation.line[cancelled_lines],
                allocation.batch[cancelled_lines],
                allocation.quantity[cancelled_lines],
            )
            asked = np.bincount(self.line_slot[lines], weights=drawn.line_qty[lines], minlength=self.slots)
            self.asked[:, day % MEMORY_DAYS] = asked
            self._replenish(day)
        self.allocation = Allocation(
            np.concatenate([a.line for a in allocations]),
            np.concatenate([a.batch for a in allocations]),
            np.concatenate([a.quantity for a in allocations]),
        )
        line_day = drawn.day[drawn.line_order]
        np.add.at(self.demand, (drawn.line_sku, line_day), drawn.line_qty)
        cancelled = self.order_cancelled[drawn.line_order]
        np.add.at(self.sold, (drawn.line_sku[~cancelled], line_day[~cancelled]), self.line_got[~cancelled])
        np.add.at(self.cancelled_units, (drawn.line_sku[cancelled], line_day[cancelled]), self.line_got[cancelled])

    def _low_stock_thresholds(self) -> None:
        """The merchant is warned where it would reorder: each SKU's reorder point as its rule
        sets it on the last day (usual daily demand × (lead time + safety days)), the mean over its
        warehouses. A SKU that sells less than about a unit per lead time keeps 0, no warning."""
        usual = self.asked.mean(axis=1).reshape(self.warehouses, self.skus)
        reorder_point = usual * (self.lead + self.safety_days)
        self.core["products"]["low_stock_threshold"] = np.round(reorder_point.mean(axis=0)).astype(np.int64)

    def _launch(self, day: int) -> None:
        """SKUs launching today get opening stock for one replenishment cycle; on the first day
        the stock is partly aged."""
        launching = np.flatnonzero(self.launch_day == day)
        if len(launching) == 0:
            return
        prior = self.expected[:, launching, day]  # [warehouses, launching]
        if day > 0:
            self.asked.reshape(self.warehouses, self.skus, MEMORY_DAYS)[:, launching, :] = prior[:, :, None]
        cycle = self.lead[launching] + self.safety_days[launching] + self.cover_days[launching]
        quantity = np.ceil(prior * cycle[None, :]).astype(np.int64)
        warehouse, position = np.nonzero(quantity > 0)
        sku = launching[position]
        life = self.shelf_life[sku]
        if day == 0:
            remaining = np.round(life * self.rng.uniform(0.5, 1.0, len(sku))).astype(np.int64)
            expiry = np.where(life >= NEVER_EXPIRES, NEVER_EXPIRES, day + np.maximum(remaining, 1))
        else:
            expiry = np.where(life >= NEVER_EXPIRES, NEVER_EXPIRES, day + life)
        slot = warehouse * self.skus + sku
        batches = self.stock.receive(slot, quantity[warehouse, position], day, expiry)
        self.receipts.append((day, batches, quantity[warehouse, position], -1, np.full(len(slot), -1)))

    def _receive(self, day: int) -> None:
        for po in self.arrivals.pop(day, []):
            _, slots, quantities, _costs, line_ids = self.po_lines[po]
            rejected = np.zeros(len(slots), dtype=np.int64)
            failed = self.rng.random(len(slots)) < FAILED_INSPECTION_SHARE
            rejected[failed] = np.ceil(quantities[failed] * self.rng.uniform(0.1, 1.0, failed.sum())).astype(np.int64)
            self.po_line_rejected[po] = rejected
            passed = quantities - rejected
            keep = passed > 0
            sku = slots % self.skus
            life = self.shelf_life[sku[keep]]
            expiry = np.where(life >= NEVER_EXPIRES, NEVER_EXPIRES, day + life)
            batches = self.stock.receive(slots[keep], passed[keep], day, expiry)
            self.receipts.append((day, batches, passed[keep], po, line_ids[keep]))
            np.subtract.at(self.on_order, slots, quantities)

    def _replenish(self, day: int) -> None:
        """One purchase order per warehouse and supplier for everything below its reorder point."""
        lead = np.tile(self.lead, self.warehouses)
        usable = self.stock.sellable(day, self.slots, ahead=lead)
        recent = [(day - back) % MEMORY_DAYS for back in range(RECENT_DAYS)]
        usual = self.asked.mean(axis=1)
        fresh = np.tile(self.fresh, self.warehouses)
        rate = np.where(fresh, usual, np.maximum(usual, self.asked[:, recent].mean(axis=1)))
        reorder_point = rate * (lead + np.tile(self.safety_days, self.warehouses))
        order_up_to = reorder_point + rate * np.tile(self.cover_days, self.warehouses)
        position = usable + self.on_order
        sku_of_slot = np.arange(self.slots) % self.skus
        selling = (self.launch_day[sku_of_slot] <= day) & (self.stop_day[sku_of_slot] > day)
        order_day = fresh | (np.tile(self.order_weekday, self.warehouses) == self.weekday[day])
        short = (rate > 0) & (position < reorder_point) & selling & order_day
        multiple = np.tile(self.multiple, self.warehouses)
        needed = np.ceil(np.maximum(order_up_to - position, 0) / multiple) * multiple
        minimum = np.ceil(np.tile(self.min_qty, self.warehouses) / multiple) * multiple
        quantity = np.where(short, np.maximum(needed, minimum), 0).astype(np.int64)
        slots = np.flatnonzero(quantity)
        if len(slots) == 0:
            return
        supplier = self.supplier_of[slots % self.skus]
        warehouse = slots // self.skus
        group = warehouse * len(self.plan.suppliers) + supplier
        for key in np.unique(group):
            members = slots[group == key]
            po = len(self.po_lines)
            sku = members % self.skus
            self.po_lines.append((day, members, quantity[members], self.cost[sku, day], np.arange(len(members))))
            self.on_order[members] += quantity[members]
            supplier_index = int(supplier[group == key][0])
            plan = self.plan.suppliers[supplier_index]
            late = self.rng.random() >= plan.on_time_rate
            arrival = day + plan.lead_time_days + (1 + int(self.rng.poisson(1.5)) if late else 0)
            disruption = self.disruption
            if disruption is not None and disruption.supplier == supplier_index and disruption.covers(day):
                arrival += disruption.days_late
            self.po_arrival_day.append(arrival)
            self.arrivals.setdefault(arrival, []).append(po)

    # ---- tables ------------------------------------------------------------------------------

    def _orders_tables(self) -> None:
        drawn, rng = self.drawn, self.rng
        end = self.at(self.days, 0)
        line_kept = self.line_got > 0
        order_lines_kept = np.bincount(drawn.line_order[line_kept], minlength=len(drawn.day))
        placed = order_lines_kept > 0
        self.placed_orders = np.flatnonzero(placed)
        count = len(self.placed_orders)
        self.order_ids = np.zeros(len(drawn.day), dtype=np.int64)
        self.order_ids[placed] = self.ids.take("orders", count)
        day = drawn.day[placed]
        customer = drawn.customer[placed]
        ordered = self.at(day, 7 * 3600 + 30 * 60 + drawn.second[placed])
        confirm_minutes = np.where(
            rng.random(count) < SLOW_CONFIRMATION_SHARE,
            rng.uniform(25 * 60, 40 * 60, count),
            rng.gamma(2.0, 12.0, count),
        )
        confirmed = ordered + (confirm_minutes * 60 * SECOND_US).astype(np.int64)
        has_fresh = (
            np.bincount(
                drawn.line_order[line_kept], weights=self.fresh[drawn.line_sku[line_kept]], minlength=len(drawn.day)
            )[placed]
            > 0
        )
        ship_day = day + np.where(has_fresh | (rng.random(count) < SHIP_NEXT_DAY_SHARE), 1, 2)
        ship_day += rng.random(count) < LATE_SHIPMENT_SHARE
        shipped = self.at(ship_day, 7 * 3600 + rng.integers(0, 4 * 3600, count))
        shipped = np.maximum(shipped, confirmed + 60 * SECOND_US)
        delivered = shipped + (rng.uniform(3, 30, count) * 3600 * SECOND_US).astype(np.int64)
        cancelled = self.order_cancelled[placed]
        cancelled_at = self.at(day + 1, 6 * 3600 + 50 * 60)
        confirmed = np.where(cancelled & (confirmed >= cancelled_at), 0, confirmed)
        status = np.select(
            [cancelled, shipped >= end, delivered >= end], ["cancelled", "confirmed", "shipped"], "delivered"
        )
        confirmed = np.where(confirmed >= end, 0, confirmed)
        status = np.where((status == "confirmed") & (confirmed == 0), "received", status)
        self.order_status = status
        self.order_shipped_us = np.where(np.isin(status, ["shipped", "delivered"]), shipped, 0)
        self.order_delivered_us = np.where(status == "delivered", delivered, 0)
        self.order_ordered_us = ordered
        line_day = drawn.day[drawn.line_order]
        wholesale = self.price_tier_wholesale[drawn.customer[drawn.line_order]]
        line_price = np.where(
            wholesale, self.wholesale_price[drawn.line_sku, line_day], self.price[drawn.line_sku, line_day]
        )
        percent = np.zeros(len(drawn.line_qty))
        self.line_promotion = np.full(len(drawn.line_qty), -1)
        for number, promotion in enumerate(self.promotions):
            hit = (
                (drawn.line_sku == promotion.sku) & (line_day >= promotion.first_day) & (line_day <= promotion.last_day)
            )
            percent[hit] = promotion.percent_off
            self.line_promotion[hit] = number
        gross = _money(line_price * self.line_got)
        discount = np.minimum(_money(gross * percent / 100), gross)
        net_share = gross - discount
        amount = np.bincount(drawn.line_order[line_kept], weights=net_share[line_kept], minlength=len(drawn.day))[
            placed
        ]
        term = self.credit_term[customer]
        method = np.where(term > 0, "credit", np.where(self.pays_on_delivery[customer], "cod", "online"))
        nullable = lambda values: _timestamps(values).where(values > 0)  # noqa: E731
        self.core["orders"] = pd.DataFrame(
            {
                "order_id": self.order_ids[placed],
                "merchant_id": self.merchant_id,
                "order_no": [f"SO{self.plan.spec.code}{n:08d}" for n in range(1, count + 1)],
                "customer_id": self.customer_ids[customer],
                "warehouse_id": self.warehouse_ids[self.customer_warehouse[customer]],
                "status": status,
                "ordered_at": _timestamps(ordered),
                "confirmed_at": nullable(confirmed),
                "shipped_at": nullable(self.order_shipped_us),
                "delivered_at": nullable(self.order_delivered_us),
                "cancelled_at": nullable(np.where(cancelled, cancelled_at, 0)),
                "total_amount": _money(amount),
                "updated_at": _timestamps(
                    np.select(
                        [cancelled, status == "delivered", status == "shipped", confirmed > 0],
                        [cancelled_at, delivered, shipped, confirmed],
                        ordered,
                    )
                ),
                "payment_method": method,
                "credit_term_days": pd.Series(np.where(term > 0, term, 0), dtype="Int64").where(term > 0),
            }
        )
        kept = np.flatnonzero(line_kept)
        self.line_ids = np.zeros(len(drawn.line_qty), dtype=np.int64)
        self.line_ids[kept] = self.ids.take("order_lines", len(kept))
        first_kept = np.searchsorted(drawn.line_order[kept], drawn.line_order[kept], side="left")
        line_no = np.arange(len(kept)) - first_kept + 1
        self.core["order_lines"] = pd.DataFrame(
            {
                "order_line_id": self.line_ids[kept],
                "order_id": self.order_ids[drawn.line_order[kept]],
                "merchant_id": self.merchant_id,
                "line_no": line_no,
                "product_id": self.product_ids[drawn.line_sku[kept]],
                "quantity": self.line_got[kept],
                "unit_price": line_price[kept],
                "discount_amount": discount[kept],
            }
        )
        promoted = kept[(self.line_promotion[kept] >= 0) & (discount[kept] > 0)]
        self.promotion_ids = self.ids.take("promotions", len(self.promotions))
        self.core["promotions"] = pd.DataFrame(
            {
                "promotion_id": self.promotion_ids,
                "merchant_id": self.merchant_id,
                "promotion_code": [p.code for p in self.promotions],
                "name": [f"{self.plan.skus[p.sku].name} 限时直降{p.percent_off:g}%" for p in self.promotions],
                "kind": "percentage",
                "starts_at": _timestamps(self.at(np.array([p.first_day for p in self.promotions], dtype=np.int64), 0)),
                "ends_at": _timestamps(self.at(np.array([p.last_day + 1 for p in self.promotions], dtype=np.int64), 0)),
                "product_id": self.product_ids[np.array([p.sku for p in self.promotions], dtype=np.int64)],
                "percent_off": [p.percent_off for p in self.promotions],
                "created_at": _timestamps(
                    self.at(np.array([max(p.first_day - 3, 0) for p in self.promotions], dtype=np.int64), 9 * 3600)
                ),
            }
        )
        self.core["order_discounts"] = pd.DataFrame(
            {
                "order_discount_id": self.ids.take("order_discounts", len(promoted)),
                "order_id": self.order_ids[drawn.line_order[promoted]],
                "merchant_id": self.merchant_id,
                "order_line_id": self.line_ids[promoted],
                "source": "promotion",
                "promotion_id": self.promotion_ids[self.line_promotion[promoted]],
                "amount": discount[promoted],
            }
        )
        allocation = self.allocation
        self.core["order_allocations"] = (
            pd.DataFrame(
                {
                    "order_line_id": self.line_ids[allocation.line],
                    "warehouse_id": self.warehouse_ids[self.stock.slot[allocation.batch] // self.skus],
                    "batch_index": allocation.batch,
                    "merchant_id": self.merchant_id,
                    "quantity": allocation.quantity,
                }
            )
            .groupby(["order_line_id", "warehouse_id", "batch_index", "merchant_id"], as_index=False, sort=True)
            .sum()
        )
        self.order_index_of = np.full(len(drawn.day), -1)
        self.order_index_of[placed] = np.arange(count)

    def _purchase_tables(self) -> None:
        """Purchase orders, their receipts, and every batch with its id."""
        po_count = len(self.po_lines)
        self.po_ids = self.ids.take("purchase_orders", po_count)
        po_day = np.array([line[0] for line in self.po_lines], dtype=np.int64)
        arrival = np.array(self.po_arrival_day, dtype=np.int64)
        warehouse = np.array([line[1][0] // self.skus for line in self.po_lines], dtype=np.int64)
        supplier = np.array([self.supplier_of[line[1][0] % self.skus] for line in self.po_lines], dtype=np.int64)
        lead = np.array([self.plan.suppliers[s].lead_time_days for s in supplier], dtype=np.int64)
        arrived = arrival < self.days
        rejected_any = np.array([bool(self.po_line_rejected.get(po, np.zeros(1)).any()) for po in range(po_count)])
        ordered = self.at(po_day, 20 * 3600 + 30 * 60) + np.arange(po_count) % 50 * 10 * SECOND_US
        received = self.at(arrival, 6 * 3600) + np.arange(po_count) % 100 * 30 * SECOND_US
        self.core["purchase_orders"] = pd.DataFrame(
            {
                "purchase_order_id": self.po_ids,
                "merchant_id": self.merchant_id,
                "po_no": [f"PO{self.plan.spec.code}{n:07d}" for n in range(1, po_count + 1)],
                "supplier_id": self.supplier_ids[supplier],
                "warehouse_id": self.warehouse_ids[warehouse],
                "status": "open",
                "ordered_at": _timestamps(ordered),
                "expected_at": _timestamps(ordered + lead * DAY_US),
                "updated_at": _timestamps(ordered),
            }
        )
        # Set after the receipts are in, the way the services move an order along.
        self.po_final = pd.DataFrame(
            {
                "purchase_order_id": self.po_ids[arrived],
                "status": np.where(rejected_any[arrived], "cancelled", "received"),
                "received_at": _timestamps(received[arrived]).where(~rejected_any[arrived]),
                "updated_at": _timestamps(received[arrived]),
            }
        )
        line_counts = np.array([len(line[1]) for line in self.po_lines], dtype=np.int64)
        po_line_po = np.repeat(np.arange(po_count), line_counts)
        slots = np.concatenate([line[1] for line in self.po_lines]) if po_count else np.zeros(0, dtype=np.int64)
        quantity = np.concatenate([line[2] for line in self.po_lines]) if po_count else np.zeros(0, dtype=np.int64)
        cost = np.concatenate([line[3] for line in self.po_lines]) if po_count else np.zeros(0)
        self.po_line_ids = self.ids.take("purchase_order_lines", len(slots))
        po_line_offset = np.concatenate([[0], np.cumsum(line_counts)])
        self.core["purchase_order_lines"] = pd.DataFrame(
            {
                "purchase_order_line_id": self.po_line_ids,
                "purchase_order_id": self.po_ids[po_line_po],
                "merchant_id": self.merchant_id,
                "product_id": self.product_ids[slots % self.skus],
                "quantity": quantity,
                "unit_cost": cost,
            }
        )
        arrived_pos = np.flatnonzero(arrived)
        receipt_ids = self.ids.take("purchase_receipts", len(arrived_pos))
        self.core["purchase_receipts"] = pd.DataFrame(
            {
                "receipt_id": receipt_ids,
                "merchant_id": self.merchant_id,
                "purchase_order_id": self.po_ids[arrived_pos],
                "received_at": _timestamps(received[arrived_pos]),
                "expected_at": _timestamps(ordered[arrived_pos] + lead[arrived_pos] * DAY_US),
            }
        )
        receipt_of_po = np.full(po_count, -1)
        receipt_of_po[arrived_pos] = np.arange(len(arrived_pos))
        # Batches: opening stock and deliveries, in the order the stockroom numbered them.
        self.batch_ids = self.ids.take("batches", self.stock.count)
        batch_po = np.full(self.stock.count, -1)
        batch_po_line = np.full(self.stock.count, -1)
        batch_cost = self.cost[
            self.stock.slot[: self.stock.count] % self.skus, self.stock.received_day[: self.stock.count]
        ]
        batch_received = self.at(self.stock.received_day[: self.stock.count], 6 * 3600)
        for _day, batches, _units, po, line_index in self.receipts:
            if po < 0:
                continue
            batch_po[batches] = po
            batch_po_line[batches] = po_line_offset[po] + line_index
            batch_cost[batches] = cost[po_line_offset[po] + line_index]
            batch_received[batches] = received[po]
        self.batch_po = batch_po
        self.batch_received_us = batch_received
        self.batch_quantity = np.zeros(self.stock.count, dtype=np.int64)
        for _day, batches, units, _po, _line in self.receipts:
            self.batch_quantity[batches] = units
        expiry = self.stock.expiry_day[: self.stock.count]
        first_day = self.context.calendar.days[0]
        expiry_dates = pd.Series(
            pd.to_datetime(
                np.where(expiry >= NEVER_EXPIRES, 0, expiry) + first_day.toordinal() - date(1970, 1, 1).toordinal(),
                unit="D",
            )
        ).dt.date.where(expiry < NEVER_EXPIRES)
        self.core["batches"] = pd.DataFrame(
            {
                "batch_id": self.batch_ids,
                "merchant_id": self.merchant_id,
                "product_id": self.product_ids[self.stock.slot[: self.stock.count] % self.skus],
                "lot_code": [f"L{self.plan.spec.code}-{n:07d}" for n in range(1, self.stock.count + 1)],
                "received_at": _timestamps(batch_received),
                "expiry_date": expiry_dates,
                "unit_cost": batch_cost,
                "supplier_id": self.supplier_ids[self.supplier_of[self.stock.slot[: self.stock.count] % self.skus]],
                "created_at": _timestamps(batch_received),
            }
        )
        # Receipt lines: every delivered purchase line, passed or not.
        rows = []
        for po in arrived_pos:
            lines = np.arange(po_line_offset[po], po_line_offset[po + 1])
            rejected = self.po_line_rejected.get(int(po), np.zeros(len(lines), dtype=np.int64))
            rows.append((np.full(len(lines), receipt_of_po[po]), lines, rejected))
        receipt_index = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        line_index = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        rejected = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        batch_of_line = np.full(len(slots), -1)
        has_batch = batch_po_line >= 0
        batch_of_line[batch_po_line[has_batch]] = np.flatnonzero(has_batch)
        line_batch = batch_of_line[line_index]
        self.core["purchase_receipt_lines"] = pd.DataFrame(
            {
                "receipt_line_id": self.ids.take("purchase_receipt_lines", len(line_index)),
                "receipt_id": receipt_ids[receipt_index],
                "purchase_order_id": self.po_ids[po_line_po[line_index]],
                "purchase_order_line_id": self.po_line_ids[line_index],
                "product_id": self.product_ids[slots[line_index] % self.skus],
                "merchant_id": self.merchant_id,
                "delivered_quantity": quantity[line_index],
                "passed_quantity": quantity[line_index] - rejected,
                "rejected_quantity": rejected,
                "rejection_reason": pd.Series(np.where(rejected > 0, "质检不合格", None)),
                "batch_id": pd.Series(
                    np.where(line_batch >= 0, self.batch_ids[np.maximum(line_batch, 0)], 0), dtype="Int64"
                ).where(line_batch >= 0),
            }
        )

    def _returns(self) -> None:
        """A few delivered lines come back (most for no reason, some faulty); the goods go back
        into the batch they shipped from."""
        drawn, rng = self.drawn, self.rng
        end = self.at(self.days, 0)
        allocation = self.allocation
        first_piece = np.unique(allocation.line, return_index=True)[1]
        piece_line = allocation.line[first_piece]
        order = self.order_index_of[drawn.line_order[piece_line]]
        delivered = self.order_delivered_us[order]
        eligible = (delivered > 0) & ~self.fresh[drawn.line_sku[piece_line]]
        chosen = first_piece[eligible & (rng.random(len(first_piece)) < RETURN_SHARE)]
        line = allocation.line[chosen]
        order = self.order_index_of[drawn.line_order[line]]
        count = len(chosen)
        requested = self.order_delivered_us[order] + (rng.uniform(1, 6, count) * DAY_US).astype(np.int64)
        keep = requested < end
        chosen, line, order, requested = chosen[keep], line[keep], order[keep], requested[keep]
        count = len(chosen)
        approved = requested + (rng.uniform(2, 20, count) * 3600 * SECOND_US).astype(np.int64)
        received = approved + (rng.uniform(1, 4, count) * DAY_US).astype(np.int64)
        status = np.select([approved >= end, received >= end], ["requested", "approved"], "received")
        quantity = 1 + (rng.random(count) * allocation.quantity[chosen]).astype(np.int64)
        return_ids = self.ids.take("returns", count)
        self.core["returns"] = pd.DataFrame(
            {
                "return_id": return_ids,
                "merchant_id": self.merchant_id,
                "return_no": [f"RT{self.plan.spec.code}{n:07d}" for n in range(1, count + 1)],
                "order_id": self.order_ids[drawn.line_order[line]],
                "reason": np.where(rng.random(count) < 0.3, "quality_defect", "no_reason"),
                "status": "requested",
                "requested_at": _timestamps(requested),
                "updated_at": _timestamps(requested),
            }
        )
        self.core["return_lines"] = pd.DataFrame(
            {
                "return_line_id": self.ids.take("return_lines", count),
                "return_id": return_ids,
                "merchant_id": self.merchant_id,
                "order_line_id": self.line_ids[line],
                "quantity": quantity,
            }
        )
        nullable = lambda values, mask: _timestamps(values).where(mask)  # noqa: E731
        self.return_final = pd.DataFrame(
            {
                "return_id": return_ids,
                "status": status,
                "approved_at": nullable(approved, status != "requested"),
                "received_at": nullable(received, status == "received"),
                "updated_at": _timestamps(
                    np.select([status == "received", status == "approved"], [received, approved], requested)
                ),
            }
        )
        back = status == "received"
        batch = allocation.batch[chosen[back]]
        self.return_movements = pd.DataFrame(
            {
                "merchant_id": self.merchant_id,
                "warehouse_id": self.warehouse_ids[self.stock.slot[batch] // self.skus],
                "batch_id": self.batch_ids[batch],
                "product_id": self.product_ids[self.stock.slot[batch] % self.skus],
                "movement_type": "return",
                "on_hand_delta": quantity[back],
                "reserved_delta": 0,
                "order_id": self.order_ids[drawn.line_order[line[back]]],
                "occurred_at": _timestamps(received[back]),
            }
        )

    def _movements(self) -> None:
        """The stock ledger. An order shipped within the history records one shipment movement
        per batch (its reservation and shipment netted); an order still open at the end holds a
        reservation; a cancelled one leaves no trace (reserved and released)."""
        drawn = self.drawn
        count = self.stock.count
        slot = self.stock.slot[:count]
        receipts = pd.DataFrame(
            {
                "warehouse_index": slot // self.skus,
                "batch_index": np.arange(count),
                "movement_type": "receipt",
                "on_hand_delta": self.batch_quantity,
                "reserved_delta": 0,
                "order_index": -1,
                "purchase_order_index": self.batch_po,
                "occurred_us": self.batch_received_us,
                "reason": None,
            }
        )
        allocation = self.allocation
        order = self.order_index_of[drawn.line_order[allocation.line]]
        status = self.order_status[order]
        shipped = np.isin(status, ["shipped", "delivered"])
        open_ = np.isin(status, ["received", "confirmed"])
        issues = pd.DataFrame(
            {
                "warehouse_index": slot[allocation.batch] // self.skus,
                "batch_index": allocation.batch,
                "movement_type": np.where(shipped, "ship", "reserve"),
                "on_hand_delta": np.where(shipped, -allocation.quantity, 0),
                "reserved_delta": np.where(shipped, 0, allocation.quantity),
                "order_index": order,
                "purchase_order_index": -1,
                "occurred_us": np.where(shipped, self.order_shipped_us[order], self.order_ordered_us[order]),
                "reason": None,
            }
        )[shipped | open_]
        write_offs = [
            pd.DataFrame(
                {
                    "warehouse_index": slot[batches] // self.skus,
                    "batch_index": batches,
                    "movement_type": "write_off",
                    "on_hand_delta": -units,
                    "reserved_delta": 0,
                    "order_index": -1,
                    "purchase_order_index": -1,
                    "occurred_us": self.at(day, 6 * 3600 + 30 * 60),
                    "reason": "过期报损 expired",
                }
            )
            for day, batches, units in self.write_offs
        ]
        ledger = pd.concat([receipts, issues, *write_offs], ignore_index=True)
        ledger = ledger.groupby(
            ["occurred_us", "movement_type", "order_index", "purchase_order_index", "warehouse_index", "batch_index"],
            as_index=False,
            sort=True,
            dropna=False,
        ).agg(
            on_hand_delta=("on_hand_delta", "sum"), reserved_delta=("reserved_delta", "sum"), reason=("reason", "first")
        )
        batch = ledger["batch_index"].to_numpy()
        order_index = ledger["order_index"].to_numpy()
        po_index = ledger["purchase_order_index"].to_numpy()
        self.core["stock_movements"] = pd.DataFrame(
            {
                "movement_id": self.ids.take("stock_movements", len(ledger)),
                "merchant_id": self.merchant_id,
                "warehouse_id": self.warehouse_ids[ledger["warehouse_index"].to_numpy()],
                "batch_id": self.batch_ids[batch],
                "product_id": self.product_ids[slot[batch] % self.skus],
                "movement_type": ledger["movement_type"],
                "on_hand_delta": ledger["on_hand_delta"].astype(np.int64),
                "reserved_delta": ledger["reserved_delta"].astype(np.int64),
                "order_id": pd.Series(
                    self.order_ids[self.placed_orders][np.maximum(order_index, 0)], dtype="Int64"
                ).where(order_index >= 0),
                "purchase_order_id": pd.Series(
                    self.po_ids[np.maximum(po_index, 0)]
                    if len(self.po_ids)
                    else np.zeros(len(po_index), dtype=np.int64),
                    dtype="Int64",
                ).where(po_index >= 0),
                "occurred_at": _timestamps(ledger["occurred_us"].to_numpy()),
                "reason": ledger["reason"],
            }
        )
        self.return_movements.insert(0, "movement_id", self.ids.take("stock_movements", len(self.return_movements)))
        allocations = self.core.pop("order_allocations")
        allocations.insert(2, "batch_id", self.batch_ids[allocations.pop("batch_index").to_numpy()])
        self.core["order_allocations"] = allocations

    def _funnel(self) -> None:
        drawn = self.drawn
        placed = self.placed_orders
        kept = self.line_got > 0
        orders = self.core["orders"]
        line_order_index = self.order_index_of[drawn.line_order[kept]]
        traffic = ShopTraffic(
            merchant_id=self.merchant_id,
            order_ids=orders["order_id"].to_numpy(),
            order_customer_ids=orders["customer_id"].to_numpy(),
            order_times_us=self.order_ordered_us,
            line_order_index=line_order_index,
            line_product_ids=self.product_ids[drawn.line_sku[kept]],
            day_starts_us=self.at(np.arange(self.days), 0),
            day_traffic=self.context.traffic,
            products_on_sale=self.product_ids,
            product_launch_day=self.launch_day,
            product_stop_day=self.stop_day,
            product_weight=np.array([sku.popularity for sku in self.plan.skus]),
            customer_ids=self.customer_ids,
            customer_join_day=self.join_day,
        )
        assert len(placed) == len(orders)
        events, next_session = funnel_events(traffic, self.ids.next_id["funnel_sessions"], self.rng)
        self.ids.next_id["funnel_sessions"] = next_session
        self.core["funnel_events"] = events

    def _truth(self) -> None:
        code = self.plan.spec.code
        expected = self.expected.sum(axis=0)
        sku, day = np.nonzero((expected > 0) | (self.demand > 0))
        dates = np.array(self.context.calendar.days, dtype="datetime64[D]")
        sku_codes = np.array([s.sku_code for s in self.plan.skus], dtype=object)
        self.truth["daily_demand"] = pd.DataFrame(
            {
                "merchant_code": code,
                "sku_code": sku_codes[sku],
                "date": dates[day],
                "expected": np.round(expected[sku, day], 4),
                "demand": self.demand[sku, day],
                "sold": self.sold[sku, day],
                "lost": self.demand[sku, day] - self.sold[sku, day] - self.cancelled_units[sku, day],
                "cancelled": self.cancelled_units[sku, day],
            }
        )
        skus = self.plan.skus
        self.truth["sku_lifecycle"] = pd.DataFrame(
            {
                "merchant_code": code,
                "sku_code": sku_codes,
                "launched_on": [s.launched_on for s in skus],
                "stopped_selling_on": [s.stopped_on for s in skus],
                "season_profile": [s.group.season for s in skus],
                "trend_per_year": [s.trend_per_year for s in skus],
                "popularity": [s.popularity for s in skus],
            }
        )
        customers = self.plan.customers
        self.truth["customer_lifecycle"] = pd.DataFrame(
            {
                "merchant_code": code,
                "customer_code": [c.customer_code for c in customers],
                "customer_type": [CUSTOMER_TYPES[c.customer_type] for c in customers],
                "joined_on": [c.joined_on for c in customers],
                "churned_on": [c.churned_on for c in customers],
                "decline_days": [DECLINE_DAYS if c.churned_on else 0 for c in customers],
                "activity": [c.activity for c in customers],
            }
        )
        disruption = self.disruption
        self.truth["anomalies"] = pd.DataFrame(
            {
                "kind": "supplier_disruption",
                "merchant_code": code,
                "subject": [self.plan.suppliers[disruption.supplier].code] if disruption else [],
                "starts_on": dates[[disruption.first_day]] if disruption else [],
                "ends_on": dates[[disruption.last_day]] if disruption else [],
                "magnitude": [disruption.days_late] if disruption else [],
            }
        )
        promotions = self.promotions
        self.truth["promotion_effects"] = pd.DataFrame(
            {
                "merchant_code": code,
                "promotion_code": [p.code for p in promotions],
                "sku_code": sku_codes[np.array([p.sku for p in promotions], dtype=np.int64)],
                "starts_on": dates[np.array([p.first_day for p in promotions], dtype=np.int64)],
                "ends_on": dates[np.array([p.last_day for p in promotions], dtype=np.int64)],
                "percent_off": [p.percent_off for p in promotions],
                "uplift": [p.uplift for p in promotions],
                "dip": [p.dip for p in promotions],
                "dip_days": PROMOTION_DIP_DAYS,
            }
        )


@dataclass(frozen=True)
class Disruption:
    """A supplier that delivers everything ordered in a window days late (a flood, a strike)."""

    supplier: int
    first_day: int
    last_day: int
    days_late: int

    def covers(self, day: int) -> bool:
        return self.first_day <= day <= self.last_day


def _plan_disruption(suppliers: int, days: int, rng: np.random.Generator) -> Disruption | None:
    if rng.random() >= DISRUPTED_MERCHANT_SHARE or days < 120:
        return None
    first = int(rng.integers(30, days - 60))
    return Disruption(
        int(rng.integers(0, suppliers)), first, first + int(rng.integers(20, 41)), int(rng.integers(5, 13))
    )


def _reviewed(ratio: np.ndarray, weekday: np.ndarray, launch_day: np.ndarray) -> np.ndarray:
    """Hold each row's ratio between weekly reviews, changing it only when it moved past the threshold."""
    held = ratio.copy()
    current = ratio[:, 0].copy()
    for day in range(ratio.shape[1]):
        if weekday[day] == PRICE_REVIEW_WEEKDAY:
            moved = np.abs(ratio[:, day] / current - 1) > PRICE_REVIEW_THRESHOLD
            current = np.where(moved & (launch_day < day), ratio[:, day], current)
        held[:, day] = current
    return held
