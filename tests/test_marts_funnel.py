"""The funnel and promotion marts on the tiny simulated network: what a merchant's analyst checks.

The simulator's traffic model (docs/simulator.md) makes every order come from one buying session,
so the funnel's purchases must be the orders; its ground truth (sim.promotion_effects) says how
much each promotion lifted demand and how deep the dip after it was, which the estimated effect
must reflect.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, dbt


@pytest.fixture(scope="module")
def mart(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


def rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0.0] * len(values)
        position = 0
        while position < len(order):
            tied = position
            while tied + 1 < len(order) and values[order[tied + 1]] == values[order[position]]:
                tied += 1
            for index in order[position : tied + 1]:
                result[index] = (position + tied) / 2
            position = tied + 1
        return result

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    covariance = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    spread = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return covariance / spread


def test_every_order_is_one_purchase_of_its_day(mart: duckdb.DuckDBPyConnection) -> None:
    funnel = dict(
        ((merchant, day), purchases)
        for merchant, day, purchases in rows(
            mart, "SELECT merchant_code, funnel_date, purchases FROM marts.fct_funnel_daily"
        )
    )
    placed = dict(
        ((merchant, day), count)
        for merchant, day, count in rows(
            mart,
            """SELECT m.merchant_code, o.ordered_date, count(*)
                 FROM staging.stg_postgres__orders o
                 JOIN marts.dim_merchants m USING (merchant_id)
                WHERE o.ordered_date <= m.as_of
                GROUP BY ALL""",
        )
    )
    assert placed and sum(placed.values()) > 1000
    assert {key: value for key, value in funnel.items() if value} == placed


def test_sessions_never_increase_down_the_funnel_after_the_visit(mart: duckdb.DuckDBPyConnection) -> None:
    broken = rows(
        mart,
        """SELECT merchant_code, funnel_date FROM marts.fct_funnel_daily
            WHERE NOT (visit_sessions >= product_view_sessions
                       AND product_view_sessions >= cart_add_sessions
                       AND cart_add_sessions >= purchase_sessions)""",
    )
    assert broken == []
    broken_skus = rows(
        mart,
        """SELECT merchant_code, sku_code, funnel_date FROM marts.fct_funnel_sku_daily
            WHERE NOT (product_view_sessions >= cart_add_sessions AND cart_add_sessions >= purchase_sessions)""",
    )
    assert broken_skus == []


def test_shop_events_are_the_sum_of_its_skus_events(mart: duckdb.DuckDBPyConnection) -> None:
    differences = rows(
        mart,
        """WITH skus AS (
               SELECT merchant_id, funnel_date, sum(exposures) AS exposures, sum(product_views) AS views,
                      sum(cart_adds) AS carts, max(purchase_sessions) AS most_buying_sessions_of_a_sku
                 FROM marts.fct_funnel_sku_daily GROUP BY ALL)
           SELECT d.merchant_code, d.funnel_date
             FROM marts.fct_funnel_daily d
             LEFT JOIN skus USING (merchant_id, funnel_date)
            WHERE d.exposures <> coalesce(skus.exposures, 0)
               OR d.product_views <> coalesce(skus.views, 0)
               OR d.cart_adds <> coalesce(skus.carts, 0)
               OR d.purchase_sessions < coalesce(skus.most_buying_sessions_of_a_sku, 0)""",
    )
    assert differences == []
    assert rows(mart, "SELECT sum(exposures) > 0, sum(product_views) > 0 FROM marts.fct_funnel_daily") == [(True, True)]


def test_visitor_conversion_rises_over_the_history_as_simulated(mart: duckdb.DuckDBPyConnection) -> None:
    """The simulator drifts visitor conversion from 12% to 20%: the mart must show it rising."""
    [(first_day, last_day)] = rows(mart, "SELECT min(funnel_date), max(funnel_date) FROM marts.fct_funnel_daily")
    middle = first_day + (last_day - first_day) / 2
    [(first, last)] = rows(
        mart,
        f"""SELECT sum(purchase_sessions) FILTER (WHERE funnel_date < DATE '{middle}')
                    / sum(visit_sessions) FILTER (WHERE funnel_date < DATE '{middle}'),
                  sum(purchase_sessions) FILTER (WHERE funnel_date >= DATE '{middle}')
                    / sum(visit_sessions) FILTER (WHERE funnel_date >= DATE '{middle}')
             FROM marts.fct_funnel_daily""",
    )
    assert 0.10 < first < last < 0.22


def test_repurchase_of_a_closed_month_matches_the_orders(mart: duckdb.DuckDBPyConnection) -> None:
    ((merchant_id, month, buyers, repurchased, as_of),) = rows(
        mart,
        """SELECT merchant_id, period_start, buying_customers, repurchased_customers, as_of
             FROM marts.fct_funnel_repurchase
            WHERE period_grain = 'month' AND is_complete
            ORDER BY buying_customers DESC LIMIT 1""",
    )
    orders = rows(
        mart,
        f"""SELECT customer_id, ordered_date FROM staging.stg_postgres__orders
             WHERE merchant_id = {merchant_id} AND customer_id IS NOT NULL AND ordered_date <= DATE '{as_of}'
               AND (cancelled_date IS NULL OR cancelled_date > DATE '{as_of}')""",
    )
    days: dict[int, set[date]] = {}
    for customer, day in orders:
        days.setdefault(customer, set()).add(day)
    month_end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    cohort = {
        customer: min(d for d in ds if month <= d <= month_end)
        for customer, ds in days.items()
        if any(month <= d <= month_end for d in ds)
    }
    came_back = {
        customer
        for customer, first in cohort.items()
        if any(first < d <= first + timedelta(days=30) for d in days[customer])
    }
    assert (buyers, repurchased) == (len(cohort), len(came_back))
    assert 0 < repurchased < buyers
    flags = rows(
        mart,
        """SELECT count(*) FROM marts.fct_funnel_repurchase
            WHERE is_complete <> (period_end + 30 <= as_of)""",
    )
    assert flags == [(0,)]


def test_every_simulated_promotion_is_measured_over_its_own_days(mart: duckdb.DuckDBPyConnection) -> None:
    truth = set(
        rows(mart, "SELECT merchant_code, promotion_code, sku_code, starts_on, ends_on FROM sim.promotion_effects")
    )
    measured = set(
        rows(
            mart,
            """SELECT merchant_code, promotion_code, sku_code, starts_date, ends_date
                 FROM marts.fct_promotion_sku_effects""",
        )
    )
    assert len(truth) >= 10
    assert measured == truth


def test_promotion_cost_is_the_discount_on_orders_kept_and_roi_is_sales_over_cost(
    mart: duckdb.DuckDBPyConnection,
) -> None:
    costs = dict(
        rows(
            mart,
            """SELECT d.promotion_id, sum(d.amount)
                 FROM staging.stg_postgres__order_discounts d
                 JOIN staging.stg_postgres__orders o USING (order_id)
                WHERE d.promotion_id IS NOT NULL AND o.order_status <> 'cancelled'
                GROUP BY ALL""",
        )
    )
    effects = rows(mart, "SELECT promotion_id, promotion_cost, sales_revenue, roi FROM marts.fct_promotion_effects")
    assert sum(1 for _, cost, _, _ in effects if cost > 0) >= 5
    for promotion_id, cost, revenue, roi in effects:
        assert cost == costs.get(promotion_id, Decimal("0.00"))
        if cost == 0:
            assert roi is None
        else:
            assert roi == pytest.approx(float(revenue / cost))


def test_promotion_sales_are_the_order_lines_of_its_sku_in_its_days(mart: duckdb.DuckDBPyConnection) -> None:
    mismatched = rows(
        mart,
        """WITH lines AS (
               SELECT e.promotion_id, sum(l.line_amount) AS revenue, sum(l.quantity) AS quantity
                 FROM marts.fct_promotion_sku_effects e
                 JOIN staging.stg_postgres__order_lines l ON l.product_id = e.product_id
                 JOIN staging.stg_postgres__orders o ON o.order_id = l.order_id
                WHERE o.ordered_date BETWEEN e.starts_date AND e.ends_date
                  AND (o.cancelled_date IS NULL OR o.cancelled_date > e.as_of)
                GROUP BY ALL)
           SELECT e.promotion_code FROM marts.fct_promotion_sku_effects e LEFT JOIN lines USING (promotion_id)
            WHERE e.sales_revenue <> coalesce(lines.revenue, 0) OR e.sales_quantity <> coalesce(lines.quantity, 0)""",
    )
    assert mismatched == []


def test_promotions_lift_sales_above_baseline_and_dip_after(mart: duckdb.DuckDBPyConnection) -> None:
    """Every simulated promotion lifts demand 1.4–2.4× and is followed by ten days at 0.6–0.85×."""
    ((during, baseline, after, after_baseline),) = rows(
        mart,
        """SELECT sum(sales_quantity), sum(baseline_quantity),
                  sum(post_quantity), sum(baseline_quantity / observed_days * post_days)
             FROM marts.fct_promotion_effects
            WHERE is_complete AND is_post_window_complete AND baseline_days > 0""",
    )
    assert during / baseline > 1.2
    assert after / after_baseline < 1.0


def test_promotions_with_larger_true_uplift_show_larger_measured_uplift(mart: duckdb.DuckDBPyConnection) -> None:
    pairs = rows(
        mart,
        """SELECT t.uplift, e.uplift_ratio
             FROM marts.fct_promotion_effects e
             JOIN sim.promotion_effects t USING (merchant_code, promotion_code)
            WHERE e.is_complete AND e.uplift_ratio IS NOT NULL""",
    )
    assert len(pairs) >= 10
    assert spearman([true for true, _ in pairs], [measured for _, measured in pairs]) > 0


def test_promotion_funnel_compares_with_the_days_before(mart: duckdb.DuckDBPyConnection) -> None:
    ((promotions, with_window, lifted),) = rows(
        mart,
        """SELECT count(*), count(*) FILTER (WHERE has_comparison_window),
                  sum(during_purchase_sessions) FILTER (WHERE has_comparison_window)
                    / sum(before_purchase_sessions) FILTER (WHERE has_comparison_window)
             FROM marts.fct_promotion_funnel""",
    )
    assert promotions == rows(mart, "SELECT count(*) FROM sim.promotion_effects")[0][0]
    assert 0 < with_window <= promotions
    assert lifted > 1.0
    assert rows(
        mart,
        """SELECT count(*) FROM marts.fct_promotion_funnel
            WHERE NOT has_comparison_window AND before_purchase_sessions IS NOT NULL""",
    ) == [(0,)]


def test_rebuilding_a_window_of_days_leaves_the_funnel_aggregate_as_a_full_build(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    """The daily partitions: a backfill of a few days replaces exactly those days."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.home / "warehouse.duckdb", copy)
    query = "SELECT * FROM intermediate.int_funnel_events_aggregated ORDER BY ALL"
    with duckdb.connect(str(copy), read_only=True) as conn:
        before = conn.execute(query).fetchall()
        (last_day,) = conn.execute("SELECT max(event_date) FROM intermediate.int_funnel_events_aggregated").fetchone()
    start, end = last_day - timedelta(days=20), last_day - timedelta(days=10)
    with duckdb.connect(str(copy)) as conn:
        conn.execute(
            f"""UPDATE intermediate.int_funnel_events_aggregated SET exposures = exposures + 1000
                 WHERE event_date >= DATE '{start}' AND event_date < DATE '{end}'"""
        )
    result = dbt(
        copy,
        tmp_path,
        "run",
        "--select",
        "int_funnel_events_aggregated",
        "--vars",
        f"{{partition_start: '{start}', partition_end: '{end}'}}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute(query).fetchall() == before
