"""A simulated co-op network that trades day by day through the domain services.

`simulate(conn, scale, seed)` plans merchants, catalogue and customers from the seed, then trades
every business day of the scale's history (one committed transaction per day): customers order,
short stock turns into lost sales, orders ship or get cancelled, and each merchant reorders from
its suppliers. What the simulator meant to happen (true demand, stopped SKUs, leaving customers)
is written to schema `sim` for evaluation. The same seed on a fresh database gives identical rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg

from transactional.errors import DomainError
from transactional.simulator import build, truth
from transactional.simulator.plan import plan_network
from transactional.simulator.reference import CATEGORY_TREE
from transactional.simulator.scales import SCALES, Scale, scale_named
from transactional.simulator.seasons import Calendar, build_calendar, price_index
from transactional.simulator.trading import MerchantTrader

__all__ = ["SCALES", "SimulationSummary", "simulate"]


@dataclass(frozen=True)
class SimulationSummary:
    scale: str
    seed: int
    merchants: int
    skus: int
    customers: int
    orders: int
    order_lines: int
    cancelled_orders: int
    purchase_orders: int
    first_date: date
    last_date: date
    seconds: float


def simulate(
    conn: psycopg.Connection,
    scale: str,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Simulate `scale` ("tiny" or "small") into an empty database; `progress(done_days, total_days)`."""
    params = scale_named(scale)
    started = time.perf_counter()
    with conn.transaction():
        _refuse_to_duplicate(conn, params)
    calendar = build_calendar(params.first_date, params.last_date)
    plans = plan_network(params, seed)
    prices = _market_prices(calendar, seed)
    opening = build.moment(params.first_date, 5)
    with conn.transaction():
        category_ids = build.ensure_categories(conn, opening)
        traders = [
            MerchantTrader(
                plan,
                build.create_merchant(conn, plan, opening),
                calendar,
                prices,
                category_ids,
                np.random.default_rng([seed, index + 1, 0]),
                params.cancel_rate,
            )
            for index, plan in enumerate(plans)
        ]
        truth.record_plan(conn, params, seed, plans)
    for day in range(len(calendar)):
        # One transaction per day: a crash loses at most a day, and commits stay cheap.
        with conn.transaction():
            with conn.pipeline():
                tallies = [trader.trade_day(conn, day) for trader in traders]
            truth.record_day(conn, calendar.days[day], plans, tallies)
        if _statistics_due(day):
            _refresh_statistics(conn)
        if progress is not None:
            progress(day + 1, len(calendar))
    totals = [trader.totals for trader in traders]
    return SimulationSummary(
        scale=params.name,
        seed=seed,
        merchants=len(traders),
        skus=sum(t.skus for t in totals),
        customers=sum(t.customers for t in totals),
        orders=sum(t.orders for t in totals),
        order_lines=sum(t.order_lines for t in totals),
        cancelled_orders=sum(t.cancelled_orders for t in totals),
        purchase_orders=sum(t.purchase_orders for t in totals),
        first_date=params.first_date,
        last_date=params.last_date,
        seconds=time.perf_counter() - started,
    )


def _refuse_to_duplicate(conn: psycopg.Connection, scale: Scale) -> None:
    if conn.execute("SELECT to_regclass('sim.daily_demand')").fetchone() == (None,):
        raise DomainError("schema sim is missing: migrate the database first (coopcast init)")
    codes = [merchant.code for merchant in scale.merchants]
    taken = [
        row[0]
        for row in conn.execute(
            "SELECT merchant_code FROM core.merchants WHERE merchant_code = ANY(%s) ORDER BY merchant_code", [codes]
        ).fetchall()
    ]
    if taken:
        raise DomainError(
            f"the database already holds merchants {', '.join(taken)}: "
            "simulate into an empty database instead of duplicating them"
        )


# The tables grow from nothing; without fresh statistics the planner keeps plans made for empty
# tables (hash joins over whole tables) and every shipment gets slower. Autovacuum may be off or
# lag behind, so the simulator analyses as it goes: often at first, then every two months.
GROWING_TABLES = (
    "core.batches, core.stock, core.stock_movements, core.orders, core.order_lines, core.order_allocations, "
    "core.purchase_orders, core.purchase_order_lines, core.customers, core.products"
)


def _statistics_due(day: int) -> bool:
    days_done = day + 1
    return days_done & (days_done - 1) == 0 or days_done % 60 == 0


def _refresh_statistics(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(f"ANALYZE {GROWING_TABLES}")


def _market_prices(calendar: Calendar, seed: int) -> dict[str, np.ndarray]:
    """One market price index per commodity category, shared by every merchant of the network."""
    rng = np.random.default_rng([seed, 0])
    return {
        leaf.code: price_index(leaf, calendar, rng)
        for division in CATEGORY_TREE
        for group in division.groups
        for leaf in group.leaves
        if leaf.commodity
    }
