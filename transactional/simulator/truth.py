"""The simulator's ground truth in schema sim (see migration 0002): what it meant to happen."""

from __future__ import annotations

from datetime import date

import psycopg

from transactional.simulator.plan import DECLINE_DAYS, MerchantPlan
from transactional.simulator.reference import CUSTOMER_TYPES
from transactional.simulator.scales import Scale
from transactional.simulator.trading import DayTally


def record_plan(conn: psycopg.Connection, scale: Scale, seed: int, plans: list[MerchantPlan]) -> None:
    conn.execute(
        "INSERT INTO sim.runs (scale, seed, first_date, last_date, merchant_codes) VALUES (%s, %s, %s, %s, %s)",
        [scale.name, seed, scale.first_date, scale.last_date, [plan.spec.code for plan in plans]],
    )
    with conn.cursor().copy(
        """COPY sim.sku_lifecycle (merchant_code, sku_code, launched_on, stopped_selling_on, season_profile,
               trend_per_year, popularity) FROM STDIN"""
    ) as copy:
        for plan in plans:
            for sku in plan.skus:
                copy.write_row(
                    [
                        plan.spec.code,
                        sku.sku_code,
                        sku.launched_on,
                        sku.stopped_on,
                        sku.group.season,
                        sku.trend_per_year,
                        sku.popularity,
                    ]
                )
    with conn.cursor().copy(
        """COPY sim.customer_lifecycle (merchant_code, customer_code, customer_type, joined_on, churned_on,
               decline_days, activity) FROM STDIN"""
    ) as copy:
        for plan in plans:
            for customer in plan.customers:
                copy.write_row(
                    [
                        plan.spec.code,
                        customer.customer_code,
                        CUSTOMER_TYPES[customer.customer_type],
                        customer.joined_on,
                        customer.churned_on,
                        DECLINE_DAYS if customer.churned_on else 0,
                        customer.activity,
                    ]
                )


def record_day(conn: psycopg.Connection, day: date, plans: list[MerchantPlan], tallies: list[DayTally]) -> None:
    """One row per SKU on sale (expected > 0) or asked for that day; other days had no demand."""
    with conn.cursor().copy(
        """COPY sim.daily_demand (merchant_code, sku_code, date, expected, demand, sold, lost, cancelled)
           FROM STDIN"""
    ) as copy:
        for plan, tally in zip(plans, tallies, strict=True):
            for index, sku in enumerate(plan.skus):
                if tally.expected[index] > 0 or tally.demand[index] > 0:
                    copy.write_row(
                        [
                            plan.spec.code,
                            sku.sku_code,
                            day,
                            round(float(tally.expected[index]), 4),
                            int(tally.demand[index]),
                            int(tally.sold[index]),
                            int(tally.lost[index]),
                            int(tally.cancelled[index]),
                        ]
                    )
