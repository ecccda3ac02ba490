"""A simulated co-op network: its whole history drawn in arrays and loaded in bulk.

`simulate(conn, scale, seed)` plans merchants, catalogue and customers from the seed, draws each
merchant's history (orders, stock, purchasing, returns, promotions, prices, shop traffic; see
`bulk.history`) and loads it in one transaction per merchant through COPY and set-based SQL that
the schema's constraints guard, while the next merchant is being drawn. What the simulator meant to
happen (true demand, lost sales, churn, promotion effects, market prices and their shocks) is
written to schema `sim` for evaluation. The same seed on a fresh database gives identical rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from transactional.errors import DomainError
from transactional.simulator import build
from transactional.simulator.bulk.history import IdCounters, NetworkContext, draw_history
from transactional.simulator.bulk.load import (
    copy_frame,
    foreign_keys_checked_at_the_end,
    ledger_checked_per_merchant,
    load_history,
    next_ids,
)
from transactional.simulator.bulk.money import draw_money, set_commission_rates
from transactional.simulator.plan import plan_network
from transactional.simulator.reference import CATEGORY_TREE
from transactional.simulator.scales import SCALES, Scale, scale_named
from transactional.simulator.seasons import Calendar, build_calendar, price_index, store_traffic

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
    funnel_events: int
    rows: int
    first_date: date
    last_date: date
    seconds: float


def simulate(
    conn: psycopg.Connection,
    scale: str,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    post_money: bool = True,
) -> SimulationSummary:
    """Simulate `scale` into a database without its merchants; `progress(done, total merchants)`.
    `post_money` False sets commission rates and payout terms but posts nothing to the ledger (to
    replay it through the money services)."""
    params = scale_named(scale)
    started = time.perf_counter()
    calendar = build_calendar(params.first_date, params.last_date)
    plans = plan_network(params, seed)
    totals: dict[str, int] = {}
    # The network goes in as one transaction: all of it, or nothing.
    with conn.transaction(), ledger_checked_per_merchant(conn), foreign_keys_checked_at_the_end(conn):
        _refuse_to_duplicate(conn, params)
        ids = IdCounters(next_ids(conn))
        market = _market(conn, calendar, seed)
        category_ids = build.ensure_categories(conn, build.moment(params.first_date, 5))
        rates = set_commission_rates(
            conn, build.moment(params.first_date, 5), build.moment(params.last_date, 23, 59), category_ids
        )
        conn.execute(
            "INSERT INTO sim.runs (scale, seed, first_date, last_date, merchant_codes) VALUES (%s, %s, %s, %s, %s)",
            [params.name, seed, params.first_date, params.last_date, [plan.spec.code for plan in plans]],
        )
        context = NetworkContext(params, calendar, store_traffic(calendar), market, category_ids)
        # Drawing the next merchant overlaps with loading the last one (PostgreSQL works while numpy does).
        with ThreadPoolExecutor(max_workers=1) as loader:
            pending: Future | None = None
            for index, plan in enumerate(plans):
                history = draw_history(plan, context, ids, np.random.default_rng([seed, index + 1, 1]))
                draw_money(history, context, rates, ids, np.random.default_rng([seed, index + 1, 2]), post=post_money)
                if pending is not None:
                    pending.result()
                    _report(progress, index, len(plans))
                for name, count in history.counts.items():
                    totals[name] = totals.get(name, 0) + count
                totals["cancelled_orders"] = totals.get("cancelled_orders", 0) + int(
                    (history.core["orders"]["status"] == "cancelled").sum()
                )
                pending = loader.submit(load_history, conn, history)
            if pending is not None:
                pending.result()
    with conn.transaction():
        conn.execute("ANALYZE")
    _report(progress, len(plans), len(plans))
    return SimulationSummary(
        scale=params.name,
        seed=seed,
        merchants=len(plans),
        skus=totals.get("products", 0),
        customers=totals.get("customers", 0),
        orders=totals.get("orders", 0),
        order_lines=totals.get("order_lines", 0),
        cancelled_orders=totals.get("cancelled_orders", 0),
        purchase_orders=totals.get("purchase_orders", 0),
        funnel_events=totals.get("funnel_events", 0),
        rows=sum(count for name, count in totals.items() if name != "cancelled_orders"),
        first_date=params.first_date,
        last_date=params.last_date,
        seconds=time.perf_counter() - started,
    )


def _report(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _refuse_to_duplicate(conn: psycopg.Connection, scale: Scale) -> None:
    if conn.execute("SELECT to_regclass('sim.promotion_effects')").fetchone() == (None,):
        raise DomainError("schema sim is missing or old: migrate the database first (coopcast init)")
    codes = [merchant.code for merchant in scale.merchants]
    taken = [
        row[0]
        for row in conn.execute(
            "SELECT merchant_code FROM core.merchants WHERE merchant_code = ANY(%s) ORDER BY merchant_code", [codes]
        ).fetchall()
    ]
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise DomainError(
            f"the database already holds merchants {shown}: simulate into an empty database instead of duplicating them"
        )


def _market(conn: psycopg.Connection, calendar: Calendar, seed: int) -> dict[str, np.ndarray]:
    """One market price index per commodity category, shared by every merchant of the network;
    the index and its injected shocks go to schema sim."""
    rng = np.random.default_rng([seed, 0])
    market = {}
    prices, shocks = [], []
    dates = pd.Series(calendar.days)
    for division in CATEGORY_TREE:
        for group in division.groups:
            for leaf in group.leaves:
                if not leaf.commodity:
                    continue
                index, leaf_shocks = price_index(leaf, calendar, rng)
                market[leaf.code] = index
                prices.append(
                    pd.DataFrame({"category_code": leaf.code, "date": dates, "price_index": index / index[0]})
                )
                shocks.extend(
                    {
                        "kind": "price_shock",
                        "subject": leaf.code,
                        "starts_on": calendar.days[shock.day],
                        "ends_on": calendar.days[-1],
                        "magnitude": shock.magnitude,
                    }
                    for shock in leaf_shocks
                )
    with conn.transaction():
        copy_frame(conn, "sim.market_prices", pd.concat(prices, ignore_index=True))
        copy_frame(
            conn,
            "sim.anomalies",
            pd.DataFrame(shocks, columns=["kind", "subject", "starts_on", "ends_on", "magnitude"]),
        )
    return market
