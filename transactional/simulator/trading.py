"""One simulated merchant trading day by day, only through the domain services.

A day runs in business-local time: purchase orders arrive (06:00), orders due are cancelled
(06:50) or shipped (07:00), customers order while the shop is open (07:30-20:00), and in the
evening (20:30) the merchant reorders what runs low. The merchant's reorder rule is its own naive
one (what customers asked for lately, lead time, a few days of safety stock): it knows nothing of
the demand model, so seasonal ramps cause real stock-outs and stopped SKUs leave real stock behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg

from transactional import stock
from transactional.errors import InsufficientStock
from transactional.orders import OrderLineRequest, cancel_order, place_order, ship_order
from transactional.purchasing import PurchaseLineRequest, create_purchase_order, receive_purchase_order
from transactional.simulator import build
from transactional.simulator.market import MerchantMarket, OrderRequest
from transactional.simulator.plan import MerchantPlan
from transactional.simulator.reference import FRESH_SHELF_LIFE_DAYS
from transactional.simulator.seasons import Calendar

# The merchant judges demand by what customers asked for (a shopkeeper hears about what was
# out of stock) over the last four weeks, or the last week if higher, to follow a ramp up quickly;
# not for fresh produce, where chasing one big canteen order would leave the rest to rot.
MEMORY_DAYS = 28
RECENT_DAYS = 7
SHIP_NEXT_DAY_SHARE = 0.7  # the rest ship the day after; fresh produce always next day
CENT = Decimal("0.01")


@dataclass
class DayTally:
    """Ground truth of one merchant-day, per SKU (units)."""

    expected: np.ndarray
    demand: np.ndarray
    sold: np.ndarray
    lost: np.ndarray
    cancelled: np.ndarray


@dataclass
class Totals:
    skus: int = 0
    customers: int = 0
    orders: int = 0
    order_lines: int = 0
    cancelled_orders: int = 0
    purchase_orders: int = 0


@dataclass(frozen=True)
class InboundPurchase:
    purchase_order_id: int
    warehouse: int
    lines: tuple[tuple[int, int], ...]  # (SKU index, quantity)


@dataclass
class Schedule:
    """What is due on which day index; lists keep the order things were scheduled in."""

    arrivals: dict[int, list[InboundPurchase]] = field(default_factory=dict)
    shipments: dict[int, list[int]] = field(default_factory=dict)
    cancellations: dict[int, list[int]] = field(default_factory=dict)

    @staticmethod
    def add(book: dict, day: int, item: object) -> None:
        book.setdefault(day, []).append(item)


class MerchantTrader:
    def __init__(
        self,
        plan: MerchantPlan,
        ids: build.MerchantIds,
        calendar: Calendar,
        prices: dict[str, np.ndarray],
        category_ids: dict[str, int],
        rng: np.random.Generator,
        cancel_rate: float,
    ) -> None:
        self.plan = plan
        self.ids = ids
        self.calendar = calendar
        self.market = MerchantMarket(plan, calendar)
        self.totals = Totals()
        self._prices = prices
        self._category_ids = category_ids
        self._rng = rng
        self._cancel_rate = cancel_rate
        self._schedule = Schedule()
        warehouses, skus = len(plan.spec.warehouses), len(plan.skus)
        self._asked = np.zeros((warehouses, skus, MEMORY_DAYS))
        self._on_order = np.zeros((warehouses, skus), dtype=np.int64)
        self._sku_by_code = {sku.sku_code: index for index, sku in enumerate(plan.skus)}
        self._joining = _indexes_by_date([customer.joined_on for customer in plan.customers])
        self._launching = _indexes_by_date([sku.launched_on for sku in plan.skus])
        self._lead = np.array([plan.suppliers[sku.supplier].lead_time_days for sku in plan.skus])
        shelf_life = np.array([sku.leaf.shelf_life_days or 10**6 for sku in plan.skus])
        # Days of sales one reorder should cover: little for produce that rots, more for goods that keep.
        self._cover_days = np.select([shelf_life <= FRESH_SHELF_LIFE_DAYS, shelf_life <= 200], [2, 14], 30)
        self._safety_days = np.maximum(2.0, self._lead / 2)
        self._fresh = np.array([sku.fresh for sku in plan.skus])
        # Like most co-op shops, the merchant orders from each supplier on one weekday (produce
        # daily), so between order days some SKUs sit below the platform's reorder point.
        self._order_weekday = np.array([sku.supplier % 7 for sku in plan.skus])
        self._multiple = np.array([sku.leaf.order_multiple for sku in plan.skus])
        self._min_qty = np.array([sku.leaf.min_order_qty for sku in plan.skus])

    def trade_day(self, conn: psycopg.Connection, day: int) -> DayTally:
        self._open_day(conn, day)
        self._receive_arrivals(conn, day)
        self._cancel_and_ship(conn, day)
        tally = self._take_orders(conn, day)
        self._replenish(conn, day)
        return tally

    def _open_day(self, conn: psycopg.Connection, day: int) -> None:
        """Customers join and SKUs launch (with their opening stock) on their planned dates."""
        today = self.calendar.days[day]
        for index in self._joining.get(today, []):
            build.create_customer(conn, self.ids, self.plan, index, build.moment(today, 5))
            self.totals.customers += 1
        launches = self._launching.get(today, [])
        if not launches:
            return
        expected = self.market.expected_units(day)
        for index in launches:
            prior = expected[:, index]
            threshold = math.ceil(prior.sum() * self._lead[index])
            build.create_product(
                conn, self.ids, self.plan, index, self._category_ids, threshold, build.moment(today, 5)
            )
            self.totals.skus += 1
            self._asked[:, index, :] = prior[:, None]
            self._receive_opening_stock(conn, day, index, prior)

    def _receive_opening_stock(self, conn: psycopg.Connection, day: int, index: int, prior: np.ndarray) -> None:
        """Enough for one replenishment cycle; on the first day the stock is partly aged."""
        sku = self.plan.skus[index]
        today = self.calendar.days[day]
        cycle = self._lead[index] + self._safety_days[index] + self._cover_days[index]
        for warehouse, rate in enumerate(prior):
            quantity = math.ceil(rate * cycle)
            expiry = None
            if day == 0 and sku.leaf.shelf_life_days is not None:
                remaining = round(sku.leaf.shelf_life_days * float(self._rng.uniform(0.5, 1.0)))
                expiry = today + timedelta(days=max(remaining, 1))
            if quantity > 0:
                stock.receive_stock(
                    conn,
                    warehouse_id=self.ids.warehouse_ids[warehouse],
                    product_id=self._product_id(index),
                    quantity=quantity,
                    at=build.moment(today, 6),
                    expiry_date=expiry,
                )

    def _receive_arrivals(self, conn: psycopg.Connection, day: int) -> None:
        for position, inbound in enumerate(self._schedule.arrivals.pop(day, [])):
            receive_purchase_order(
                conn, inbound.purchase_order_id, build.moment(self.calendar.days[day], 6, 0, position * 30)
            )
            for index, quantity in inbound.lines:
                self._on_order[inbound.warehouse, index] -= quantity

    def _cancel_and_ship(self, conn: psycopg.Connection, day: int) -> None:
        today = self.calendar.days[day]
        for position, order_id in enumerate(self._schedule.cancellations.pop(day, [])):
            cancel_order(conn, order_id, build.moment(today, 6, 50, position * 5))
        for position, order_id in enumerate(self._schedule.shipments.pop(day, [])):
            ship_order(conn, order_id, build.moment(today, 7, 0, position * 5))

    def _take_orders(self, conn: psycopg.Connection, day: int) -> DayTally:
        skus = len(self.plan.skus)
        tally = DayTally(
            expected=self.market.expected_units(day).sum(axis=0),
            demand=np.zeros(skus, dtype=np.int64),
            sold=np.zeros(skus, dtype=np.int64),
            lost=np.zeros(skus, dtype=np.int64),
            cancelled=np.zeros(skus, dtype=np.int64),
        )
        self._asked[:, :, day % MEMORY_DAYS] = 0
        today = self.calendar.days[day]
        for number, request in enumerate(self.market.draw_orders(day, self._rng), start=1):
            cancel_draw, ship_draw = self._rng.random(2)
            warehouse = int(self.plan.customers[request.customer].warehouse)
            for index, quantity in request.lines:
                tally.demand[index] += quantity
                self._asked[warehouse, index, day % MEMORY_DAYS] += quantity
            at = build.moment(today, 7, 30, request.seconds_after_opening)
            order_id, placed = self._place(conn, request, warehouse, at, f"SO{today:%Y%m%d}{number:04d}", day)
            cancels = cancel_draw < self._cancel_rate and day + 1 < len(self.calendar)
            for index, quantity in placed.items():
                (tally.cancelled if cancels else tally.sold)[index] += quantity
            if order_id is not None:
                self._schedule_fulfilment(order_id, placed, day, cancels, ship_draw)
        tally.lost = tally.demand - tally.sold - tally.cancelled
        return tally

    def _place(
        self, conn: psycopg.Connection, request: OrderRequest, warehouse: int, at: datetime, order_no: str, day: int
    ) -> tuple[int | None, dict[int, int]]:
        """Place as much of the request as stock allows (short lines shrink or go); a lost sale
        is the part that could not be placed."""
        wanted = dict(request.lines)
        while wanted:
            lines = [
                OrderLineRequest(self._product_id(index), quantity, self._sale_price(index, day))
                for index, quantity in wanted.items()
            ]
            try:
                order_id = place_order(
                    conn,
                    merchant_id=self.ids.merchant_id,
                    customer_id=self._customer_id(request.customer),
                    warehouse_id=self.ids.warehouse_ids[warehouse],
                    lines=lines,
                    at=at,
                    order_no=order_no,
                )
            except InsufficientStock as short:
                index = self._sku_by_code[short.sku_code]
                if short.available > 0:
                    wanted[index] = short.available
                else:
                    del wanted[index]
                continue
            self.totals.orders += 1
            self.totals.order_lines += len(lines)
            return order_id, wanted
        return None, {}

    def _schedule_fulfilment(self, order_id: int, placed: dict[int, int], day: int, cancels: bool, draw: float) -> None:
        if cancels:
            Schedule.add(self._schedule.cancellations, day + 1, order_id)
            self.totals.cancelled_orders += 1
            return
        fresh = any(self.plan.skus[index].fresh for index in placed)
        ship_day = day + 1 if fresh or draw < SHIP_NEXT_DAY_SHARE else day + 2
        if ship_day < len(self.calendar):
            Schedule.add(self._schedule.shipments, ship_day, order_id)

    def _sale_price(self, index: int, day: int) -> Decimal | None:
        """Commodities sell at the day's market price; everything else at the list price."""
        sku = self.plan.skus[index]
        return self._at_market(sku.price, index, day) if sku.leaf.commodity else None

    def _purchase_cost(self, index: int, day: int) -> Decimal:
        sku = self.plan.skus[index]
        return self._at_market(sku.unit_cost, index, day) if sku.leaf.commodity else sku.unit_cost

    def _at_market(self, amount: Decimal, index: int, day: int) -> Decimal:
        market_index = self._prices[self.plan.skus[index].leaf.code][day]
        return (amount * Decimal(f"{market_index:.4f}")).quantize(CENT)

    def _usable_stock(self, conn: psycopg.Connection, day: int) -> np.ndarray:
        """Free stock per warehouse and SKU that will still be sellable when a new order arrives."""
        rows = conn.execute(
            """SELECT s.warehouse_id, s.product_id, sum(s.on_hand - s.reserved)
               FROM core.stock s JOIN core.batches b USING (batch_id)
               JOIN core.products p ON p.product_id = s.product_id
               WHERE s.merchant_id = %s AND s.on_hand > s.reserved
                 AND (b.expiry_date IS NULL OR b.expiry_date > %s::date + p.lead_time_days)
               GROUP BY s.warehouse_id, s.product_id""",
            [self.ids.merchant_id, self.calendar.days[day]],
        ).fetchall()
        warehouse_index = {warehouse_id: index for index, warehouse_id in enumerate(self.ids.warehouse_ids)}
        sku_index = {product_id: index for index, product_id in enumerate(self.ids.product_ids) if product_id}
        usable = np.zeros_like(self._on_order)
        for warehouse_id, product_id, quantity in rows:
            usable[warehouse_index[warehouse_id], sku_index[product_id]] = quantity
        return usable

    def _reorder_quantities(self, usable: np.ndarray, day: int) -> np.ndarray:
        recent = [(day - back) % MEMORY_DAYS for back in range(RECENT_DAYS)]
        usual = self._asked.mean(axis=2)
        rate = np.where(self._fresh, usual, np.maximum(usual, self._asked[:, :, recent].mean(axis=2)))
        reorder_point = rate * (self._lead + self._safety_days)
        order_up_to = reorder_point + rate * self._cover_days
        position = usable + self._on_order
        launched = np.array([product_id is not None for product_id in self.ids.product_ids])
        order_day = self._fresh | (self._order_weekday == self.calendar.days[day].weekday())
        short = (rate > 0) & (position < reorder_point) & launched & order_day
        needed = np.ceil(np.maximum(order_up_to - position, 0) / self._multiple) * self._multiple
        minimum = np.ceil(self._min_qty / self._multiple) * self._multiple
        return np.where(short, np.maximum(needed, minimum), 0).astype(np.int64)

    def _replenish(self, conn: psycopg.Connection, day: int) -> None:
        """One purchase order per warehouse and supplier for everything below its reorder point."""
        quantities = self._reorder_quantities(self._usable_stock(conn, day), day)
        orders: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for warehouse, index in zip(*np.nonzero(quantities), strict=True):
            key = (int(warehouse), self.plan.skus[index].supplier)
            orders.setdefault(key, []).append((int(index), int(quantities[warehouse, index])))
        today = self.calendar.days[day]
        for position, ((warehouse, supplier_index), lines) in enumerate(sorted(orders.items())):
            supplier = self.plan.suppliers[supplier_index]
            purchase_order_id = create_purchase_order(
                conn,
                merchant_id=self.ids.merchant_id,
                supplier_id=self.ids.supplier_ids[supplier_index],
                warehouse_id=self.ids.warehouse_ids[warehouse],
                lines=[PurchaseLineRequest(self._product_id(i), q, self._purchase_cost(i, day)) for i, q in lines],
                at=build.moment(today, 20, 30, position * 10),
            )
            self.totals.purchase_orders += 1
            for index, quantity in lines:
                self._on_order[warehouse, index] += quantity
            late = self._rng.random() >= supplier.on_time_rate
            arrival = day + supplier.lead_time_days + (1 + int(self._rng.poisson(1.5)) if late else 0)
            Schedule.add(self._schedule.arrivals, arrival, InboundPurchase(purchase_order_id, warehouse, tuple(lines)))

    def _product_id(self, index: int) -> int:
        product_id = self.ids.product_ids[index]
        if product_id is None:
            raise RuntimeError(f"SKU {self.plan.skus[index].sku_code} traded before its launch")
        return product_id

    def _customer_id(self, index: int) -> int:
        customer_id = self.ids.customer_ids[index]
        if customer_id is None:
            raise RuntimeError(f"customer {self.plan.customers[index].customer_code} ordered before joining")
        return customer_id


def _indexes_by_date(dates: list[date]) -> dict[date, list[int]]:
    by_date: dict[date, list[int]] = {}
    for index, day in enumerate(dates):
        by_date.setdefault(day, []).append(index)
    return by_date
