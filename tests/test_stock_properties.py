"""A stateful property test of the stock ledger: random receive / order / freeze / unfreeze /
cancel / ship / return / advance-the-date / expire sequences against a simple in-memory model.

After every step the database must agree with the model and with itself: on-hand, reserved and
frozen per warehouse × batch equal the model and the sum of the batch's movements, nothing is
negative, reserved equals the live orders' allocations, and no order was ever given units of a
batch whose expiry date is on or before its business date (Asia/Shanghai)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from transactional import catalogue, orders, stock
from transactional.errors import InsufficientStock, StockOperationRefused

FIRST_DAY = date(2026, 4, 1)
POLICIES = ("FEFO", "FIFO")
merchant_numbers = itertools.count(1)

Key = tuple[int, int]  # (warehouse_id, batch_id)


@dataclass
class Batch:
    product: int
    expiry: date | None
    received_at: datetime


@dataclass
class Order:
    allocations: dict[Key, int]
    status: str = "live"
    returned: dict[Key, int] = field(default_factory=lambda: defaultdict(int))


class StockLedgerMachine(RuleBasedStateMachine):
    conn: psycopg.Connection
    leaf_category: int

    def __init__(self) -> None:
        super().__init__()
        conn = self.conn
        at = self._at(FIRST_DAY, 0)
        code = f"P{next(merchant_numbers):04d}"
        self.merchant_id = catalogue.create_merchant(conn, code, f"{code} 社", at)
        self.warehouses = [catalogue.create_warehouse(conn, self.merchant_id, f"W{w}", f"仓{w}", at) for w in range(2)]
        self.products = [
            catalogue.create_product(
                conn, self.merchant_id, f"SKU-{policy}", policy, self.leaf_category, Decimal(1), Decimal(2), at
            )
            for policy in POLICIES
        ]
        for product_id, policy in zip(self.products, POLICIES, strict=True):
            stock.set_issue_policy(conn, product_id=product_id, policy=policy, at=at)
        self.customer_id = catalogue.create_customer(conn, self.merchant_id, "C1", "顾客", at)
        self.day = FIRST_DAY
        self.ticks = itertools.count(1)
        self.batches: dict[int, Batch] = {}
        self.levels: dict[Key, list[int]] = {}  # [on_hand, reserved, frozen]
        self.orders: dict[int, Order] = {}

    # --- time ------------------------------------------------------------------------------------

    @staticmethod
    def _at(day: date, tick: int) -> datetime:
        """10:00 in Shanghai on `day`, plus one second per step so every event has its own time."""
        return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC) + timedelta(seconds=tick)

    def now(self) -> datetime:
        return self._at(self.day, next(self.ticks))

    # --- the model's own rules -------------------------------------------------------------------

    def free(self, key: Key) -> int:
        on_hand, reserved, frozen = self.levels[key]
        return on_hand - reserved - frozen

    def issue_order(self, warehouse_id: int, product: int) -> list[Key]:
        """The model's sellable batches of a SKU in a warehouse, in the order they are issued."""
        keys = [
            (w, batch_id)
            for (w, batch_id) in self.levels
            if w == warehouse_id
            and self.batches[batch_id].product == product
            and self.free((w, batch_id)) > 0
            and (self.batches[batch_id].expiry is None or self.batches[batch_id].expiry > self.day)
        ]
        if POLICIES[product] == "FIFO":
            return sorted(keys, key=lambda k: (self.batches[k[1]].received_at, k[1]))
        return sorted(
            keys,
            key=lambda k: (
                self.batches[k[1]].expiry is None,
                self.batches[k[1]].expiry or date.max,
                self.batches[k[1]].received_at,
                k[1],
            ),
        )

    def expected_allocation(self, warehouse_id: int, product: int, quantity: int) -> dict[Key, int] | None:
        taken: dict[Key, int] = {}
        for key in self.issue_order(warehouse_id, product):
            take = min(quantity, self.free(key))
            if take:
                taken[key] = take
                quantity -= take
        return taken if quantity == 0 else None

    def pick(self, keys: list, index: int):
        return sorted(keys)[index % len(keys)]

    # --- rules -----------------------------------------------------------------------------------

    @rule(
        warehouse=st.integers(0, 1),
        product=st.integers(0, 1),
        quantity=st.integers(1, 8),
        expiry_in_days=st.none() | st.integers(-1, 10),
    )
    def receive(self, warehouse: int, product: int, quantity: int, expiry_in_days: int | None) -> None:
        at = self.now()
        expiry = None if expiry_in_days is None else self.day + timedelta(days=expiry_in_days)
        batch_id = stock.receive_stock(
            self.conn,
            warehouse_id=self.warehouses[warehouse],
            product_id=self.products[product],
            quantity=quantity,
            at=at,
            expiry_date=expiry,
        )
        self.batches[batch_id] = Batch(product, expiry, at)
        self.levels[self.warehouses[warehouse], batch_id] = [quantity, 0, 0]

    @precondition(lambda self: any(self.free(key) for key in self.levels))
    @rule(
        warehouse=st.integers(0, 1),
        product=st.integers(0, 1),
        quantity=st.integers(1, 4),
        split_line=st.booleans(),
        other_product_quantity=st.none() | st.integers(1, 2),
    )
    def place_order(
        self, warehouse: int, product: int, quantity: int, split_line: bool, other_product_quantity: int | None
    ) -> None:
        warehouse_id = self.warehouses[warehouse]
        lines = [(product, quantity - 1), (product, 1)] if split_line and quantity > 1 else [(product, quantity)]
        if other_product_quantity is not None:
            lines.append((1 - product, other_product_quantity))
        wanted: dict[int, int] = defaultdict(int)
        for line_product, line_quantity in lines:
            wanted[line_product] += line_quantity
        expected = {p: self.expected_allocation(warehouse_id, p, q) for p, q in sorted(wanted.items())}
        request = [orders.OrderLineRequest(self.products[p], q) for p, q in lines]
        short = [p for p, allocation in expected.items() if allocation is None]
        if short:
            with pytest.raises(InsufficientStock) as refused:
                orders.place_order(
                    self.conn,
                    merchant_id=self.merchant_id,
                    customer_id=self.customer_id,
                    warehouse_id=warehouse_id,
                    lines=request,
                    at=self.now(),
                )
            assert refused.value.sku_code == f"SKU-{POLICIES[short[0]]}"
            return
        order_id = orders.place_order(
            self.conn,
            merchant_id=self.merchant_id,
            customer_id=self.customer_id,
            warehouse_id=warehouse_id,
            lines=request,
            at=self.now(),
        )
        allocations: dict[Key, int] = {}
        for allocation in expected.values():
            assert allocation is not None
            allocations.update(allocation)
        recorded = self.conn.execute(
            """SELECT a.warehouse_id, a.batch_id, sum(a.quantity) FROM core.order_allocations a
               JOIN core.order_lines l USING (order_line_id) WHERE l.order_id = %s GROUP BY 1, 2""",
            [order_id],
        ).fetchall()
        assert {(w, b): q for w, b, q in recorded} == allocations
        for key, taken in allocations.items():
            self.levels[key][1] += taken
        self.orders[order_id] = Order(allocations)

    def shipped_orders(self) -> list[int]:
        return [order_id for order_id, order in self.orders.items() if order.status == "shipped"]

    @precondition(lambda self: self.shipped_orders())
    @rule(index=st.integers(0, 100), quantity=st.integers(1, 3))
    def return_to_stock(self, index: int, quantity: int) -> None:
        order_id = self.pick(self.shipped_orders(), index)
        order = self.orders[order_id]
        warehouse_id, batch_id = key = self.pick(list(order.allocations), index)
        call = dict(warehouse_id=warehouse_id, batch_id=batch_id, quantity=quantity, order_id=order_id, at=self.now())
        if order.returned[key] + quantity > order.allocations[key]:
            with pytest.raises(StockOperationRefused):
                stock.return_to_stock(self.conn, **call)
            return
        stock.return_to_stock(self.conn, **call)
        order.returned[key] += quantity
        self.levels[key][0] += quantity

    @precondition(lambda self: self.levels)
    @rule(index=st.integers(0, 100), quantity=st.integers(1, 4))
    def freeze(self, index: int, quantity: int) -> None:
        warehouse_id, batch_id = key = self.pick(list(self.levels), index)
        free = self.free(key)
        call = dict(warehouse_id=warehouse_id, batch_id=batch_id, quantity=quantity, reason="质检", at=self.now())
        if quantity > free:
            with pytest.raises(InsufficientStock):
                stock.freeze_stock(self.conn, **call)
            return
        stock.freeze_stock(self.conn, **call)
        self.levels[key][2] += quantity

    @precondition(lambda self: any(frozen for _, _, frozen in self.levels.values()))
    @rule(index=st.integers(0, 100), quantity=st.integers(1, 4))
    def unfreeze(self, index: int, quantity: int) -> None:
        warehouse_id, batch_id = key = self.pick([k for k, level in self.levels.items() if level[2]], index)
        call = dict(warehouse_id=warehouse_id, batch_id=batch_id, quantity=quantity, reason="放行", at=self.now())
        if quantity > self.levels[key][2]:
            with pytest.raises(StockOperationRefused):
                stock.unfreeze_stock(self.conn, **call)
            return
        stock.unfreeze_stock(self.conn, **call)
        self.levels[key][2] -= quantity

    def live_orders(self) -> list[int]:
        return [order_id for order_id, order in self.orders.items() if order.status == "live"]

    @precondition(lambda self: self.live_orders())
    @rule(index=st.integers(0, 100))
    def ship(self, index: int) -> None:
        order_id = self.pick(self.live_orders(), index)
        orders.ship_order(self.conn, order_id, self.now())
        order = self.orders[order_id]
        for key, quantity in order.allocations.items():
            self.levels[key][0] -= quantity
            self.levels[key][1] -= quantity
        order.status = "shipped"

    @precondition(lambda self: self.live_orders())
    @rule(index=st.integers(0, 100))
    def cancel(self, index: int) -> None:
        order_id = self.pick(self.live_orders(), index)
        orders.cancel_order(self.conn, order_id, self.now())
        order = self.orders[order_id]
        for key, quantity in order.allocations.items():
            self.levels[key][1] -= quantity
        order.status = "cancelled"

    @rule(days=st.integers(1, 3))
    def advance_the_date(self, days: int) -> None:
        self.day += timedelta(days=days)

    def expired_on_hand(self) -> list[Key]:
        return [
            key
            for key, (on_hand, reserved, _) in self.levels.items()
            if on_hand > reserved and (expiry := self.batches[key[1]].expiry) is not None and expiry <= self.day
        ]

    @precondition(lambda self: self.expired_on_hand())
    @rule()
    def write_off_expired(self) -> None:
        written = stock.write_off_expired(self.conn, merchant_id=self.merchant_id, at=self.now())
        expected = set()
        for key in self.expired_on_hand():
            on_hand, reserved, _ = self.levels[key]
            expected.add(stock.ExpiredWriteOff(key[0], key[1], on_hand - reserved, reserved))
            self.levels[key] = [reserved, reserved, 0]
        assert set(written) == expected

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def stock_equals_the_model_and_the_ledger(self) -> None:
        rows = self.conn.execute(
            """SELECT s.warehouse_id, s.batch_id, s.on_hand, s.reserved, s.frozen,
                      m.on_hand, m.reserved, m.frozen, coalesce(a.quantity, 0)
               FROM core.stock s
               JOIN (SELECT warehouse_id, batch_id, sum(on_hand_delta) AS on_hand,
                            sum(reserved_delta) AS reserved, sum(frozen_delta) AS frozen
                     FROM core.stock_movements WHERE merchant_id = %(merchant)s GROUP BY 1, 2) m
                 USING (warehouse_id, batch_id)
               LEFT JOIN (SELECT a.warehouse_id, a.batch_id, sum(a.quantity) AS quantity
                          FROM core.order_allocations a JOIN core.order_lines l USING (order_line_id)
                          JOIN core.orders o USING (order_id)
                          WHERE o.merchant_id = %(merchant)s AND o.status <> 'cancelled' AND o.shipped_at IS NULL
                          GROUP BY 1, 2) a USING (warehouse_id, batch_id)
               WHERE s.merchant_id = %(merchant)s""",
            {"merchant": self.merchant_id},
        ).fetchall()
        actual = {}
        for warehouse_id, batch_id, on_hand, reserved, frozen, *ledger, live_allocated in rows:
            assert [on_hand, reserved, frozen] == ledger, (warehouse_id, batch_id)
            assert reserved == live_allocated, (warehouse_id, batch_id)
            assert min(on_hand, reserved, frozen, on_hand - reserved - frozen) >= 0, (warehouse_id, batch_id)
            actual[warehouse_id, batch_id] = [on_hand, reserved, frozen]
        assert actual == self.levels

    @invariant()
    def no_order_took_a_batch_expired_on_its_business_date(self) -> None:
        expired_allocations = self.conn.execute(
            """SELECT o.order_id, a.batch_id, b.expiry_date, o.ordered_at
               FROM core.order_allocations a JOIN core.order_lines l USING (order_line_id)
               JOIN core.orders o USING (order_id) JOIN core.batches b ON b.batch_id = a.batch_id
               WHERE o.merchant_id = %s AND b.expiry_date <= (o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date""",
            [self.merchant_id],
        ).fetchall()
        assert expired_allocations == []


def test_stock_ledger_agrees_with_a_simple_model(pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        top = catalogue.create_category(conn, "G1", "杂货", 1, at)
        middle = catalogue.create_category(conn, "G1-1", "杂货", 2, at, top)
        StockLedgerMachine.conn = conn
        StockLedgerMachine.leaf_category = catalogue.create_category(conn, "G1-1-1", "杂货", 3, at, middle)
        run_state_machine_as_test(
            StockLedgerMachine,
            settings=settings(
                max_examples=60,
                stateful_step_count=40,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
