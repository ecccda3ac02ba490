"""Service, supplier and risk marts on the tiny simulated network.

Expected numbers are worked out here from `raw.*` (orders, order lines, categories, the SLA
policy, receipts) and `sim.anomalies` (the simulator's price shocks), never from the marts
they check. The tiny network (seed 3) has no supplier disruption, so late suppliers are found
from the raw receipts instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from tests.conftest import REPO_ROOT, PipelineRun

SHANGHAI = ZoneInfo("Asia/Shanghai")
VARS = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def warehouse(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


def _end_of(day: date) -> float:
    """Epoch seconds of the midnight that ends a business day in Asia/Shanghai."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI).timestamp()


def _known_by(at: float | None, end: float) -> float | None:
    """A step time if it happened before the end of as_of (later steps are later data)."""
    return at if at is not None and at < end else None


def _expected_breaches(warehouse: duckdb.DuckDBPyConnection) -> Counter:
    """(merchant, kind) → breaches, judged in Python from raw orders, lines, categories and policy."""
    confirm_within, ship_within, fresh_within = (
        limit.total_seconds()
        for limit in warehouse.execute(
            "SELECT confirm_within, ship_within, fresh_ship_within FROM raw.order_sla_policy"
        ).fetchone()
    )
    parents = dict(warehouse.execute("SELECT category_id, parent_id FROM raw.categories").fetchall())
    own_fresh = dict(warehouse.execute("SELECT category_id, is_fresh FROM raw.categories").fetchall())

    def fresh(category: int | None) -> bool:
        while category is not None:
            if own_fresh[category]:
                return True
            category = parents[category]
        return False

    fresh_orders = {
        order_id
        for order_id, category in warehouse.execute(
            "SELECT l.order_id, p.category_id FROM raw.order_lines l JOIN raw.products p USING (product_id)"
        ).fetchall()
        if fresh(category)
    }
    as_of = dict(warehouse.execute("SELECT merchant_id, as_of FROM marts.dim_merchants").fetchall())
    counts: Counter = Counter()
    for merchant, order_id, ordered, confirmed, shipped, cancelled in warehouse.execute(
        """SELECT merchant_id, order_id, epoch(ordered_at), epoch(confirmed_at), epoch(shipped_at),
                  epoch(cancelled_at)
           FROM raw.orders WHERE source = 'platform'"""
    ).fetchall():
        if as_of.get(merchant) is None:
            continue
        end = _end_of(as_of[merchant])
        if ordered >= end:
            continue
        confirm_stop = _known_by(confirmed, end) or _known_by(cancelled, end)
        ship_stop = _known_by(shipped, end) or _known_by(cancelled, end)
        ship_limit = fresh_within if order_id in fresh_orders else ship_within
        counts[merchant, "orders"] += 1
        if (confirm_stop or end) - ordered > confirm_within:
            counts[merchant, "confirm"] += 1
        if (ship_stop or end) - ordered > ship_limit:
            counts[merchant, "ship"] += 1
            if order_id in fresh_orders:
                counts[merchant, "fresh"] += 1
    return counts


def test_sla_breaches_match_an_independent_count_from_raw_orders(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = _expected_breaches(warehouse)
    merchants = {merchant for merchant, _ in expected}
    assert merchants, "the tiny network has platform orders"
    assert sum(count for (_, kind), count in expected.items() if kind == "ship") > 0, "some ship breaches to find"
    for grain in ("daily", "monthly"):
        actual = {
            merchant: (orders, confirm, ship, fresh)
            for merchant, orders, confirm, ship, fresh in warehouse.execute(
                f"""SELECT merchant_id, sum(orders), sum(confirm_breaches), sum(ship_breaches),
                           sum(fresh_ship_breaches)
                    FROM marts.fct_merchant_{grain}_sla GROUP BY merchant_id"""
            ).fetchall()
        }
        for merchant in merchants:
            assert actual[merchant] == (
                expected[merchant, "orders"],
                expected[merchant, "confirm"],
                expected[merchant, "ship"],
                expected[merchant, "fresh"],
            ), (grain, merchant)


def test_fresh_orders_are_held_to_the_fresh_limit(warehouse: duckdb.DuckDBPyConnection) -> None:
    limits = warehouse.execute(
        """SELECT has_fresh_goods, min(ship_limit_hours), max(ship_limit_hours), count(*)
           FROM marts.fct_order_sla GROUP BY has_fresh_goods ORDER BY has_fresh_goods"""
    ).fetchall()
    assert limits == [(False, 48.0, 48.0, limits[0][3]), (True, 24.0, 24.0, limits[1][3])]
    # Shipped within 48 h but after 24 h: a breach only for fresh goods.
    by_freshness = dict(
        warehouse.execute(
            """SELECT has_fresh_goods, bool_and(ship_breached) FROM marts.fct_order_sla
               WHERE ship_hours > 24 AND ship_hours <= 48 GROUP BY has_fresh_goods"""
        ).fetchall()
    )
    assert by_freshness == {True: True, False: False}


def test_rates_are_shares(warehouse: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "fct_merchant_daily_sla": ["confirm_breach_rate", "ship_breach_rate", "fresh_ship_breach_rate"],
        "fct_merchant_monthly_sla": ["confirm_breach_rate", "ship_breach_rate", "fresh_ship_breach_rate"],
        "fct_order_cancellations_monthly": ["order_cancel_rate", "line_cancel_rate"],
        "fct_supplier_performance": ["on_time_rate", "quality_pass_rate"],
        "fct_supplier_lead_times": ["delivery_share", "cumulative_share"],
        "fct_risk_register": ["probability"],
    }
    for table, columns in checks.items():
        for column in columns:
            low, high, measured = warehouse.execute(
                f"SELECT min({column}), max({column}), count({column}) FROM marts.{table}"
            ).fetchone()
            assert measured > 0, (table, column)
            assert 0 <= low <= high <= 1, (table, column, low, high)


def test_cancellations_and_returns_add_up_to_the_raw_tables(warehouse: duckdb.DuckDBPyConnection) -> None:
    cancelled_raw = dict(
        warehouse.execute(
            """SELECT o.merchant_id, count(*) FROM raw.orders o
               JOIN marts.dim_merchants d USING (merchant_id)
               WHERE o.status = 'cancelled' AND o.cancelled_at < timezone('Asia/Shanghai', (d.as_of + 1)::timestamp)
                 AND EXISTS (SELECT 1 FROM raw.order_lines l WHERE l.order_id = o.order_id)
               GROUP BY 1"""
        ).fetchall()
    )
    assert sum(cancelled_raw.values()) > 0
    # Every cancelled order has a line in at least one level-1 category; orders spanning two
    # level-1 categories count in both, so the mart's level-1 sum is at least the raw count.
    cancelled_mart = dict(
        warehouse.execute(
            """SELECT merchant_id, sum(orders_cancelled) FROM marts.fct_order_cancellations_monthly
               WHERE category_level = 1 AND cancel_reason = 'all' GROUP BY 1"""
        ).fetchall()
    )
    for merchant, count in cancelled_raw.items():
        assert cancelled_mart[merchant] >= count
    returned_raw = dict(
        warehouse.execute(
            """SELECT r.reason, sum(l.quantity) FROM raw.returns r JOIN raw.return_lines l USING (return_id)
               JOIN marts.dim_merchants d ON d.merchant_id = r.merchant_id
               WHERE r.status <> 'rejected' AND (r.requested_at AT TIME ZONE 'Asia/Shanghai')::date <= d.as_of
               GROUP BY 1"""
        ).fetchall()
    )
    # A SKU sits in exactly one leaf, so the leaf rows add up to the returned units exactly.
    returned_mart = dict(
        warehouse.execute(
            """SELECT return_reason, sum(returned_quantity) FROM marts.fct_returns_monthly
               WHERE category_level = 3 AND return_reason <> 'all' GROUP BY 1"""
        ).fetchall()
    )
    assert returned_mart == returned_raw


def _receipts(warehouse: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(merchant, supplier code, received date, on time, lead days, delivered, passed, as_of) per receipt."""
    return warehouse.execute(
        """SELECT m.merchant_code, s.supplier_code, r.received_date, r.on_time,
                  r.received_date - (po.ordered_at AT TIME ZONE 'Asia/Shanghai')::date,
                  (SELECT sum(delivered_quantity) FROM raw.purchase_receipt_lines l WHERE l.receipt_id = r.receipt_id),
                  (SELECT sum(passed_quantity) FROM raw.purchase_receipt_lines l WHERE l.receipt_id = r.receipt_id),
                  d.as_of
           FROM raw.purchase_receipts r
           JOIN raw.purchase_orders po USING (purchase_order_id)
           JOIN raw.suppliers s ON s.supplier_id = po.supplier_id
           JOIN raw.merchants m ON m.merchant_id = r.merchant_id
           JOIN marts.dim_merchants d ON d.merchant_id = r.merchant_id
           WHERE r.received_date <= d.as_of"""
    ).fetchall()


def test_supplier_rates_match_the_raw_receipts(warehouse: duckdb.DuckDBPyConnection) -> None:
    totals: dict[tuple[str, str], list] = {}
    for merchant, supplier, _, on_time, lead, delivered, passed, _ in _receipts(warehouse):
        entry = totals.setdefault((merchant, supplier), [0, 0, 0, 0, 0])
        entry[0] += 1
        entry[1] += int(on_time)
        entry[2] += delivered
        entry[3] += passed
        entry[4] = max(entry[4], lead)
    assert totals
    mart = {
        (merchant, supplier): (deliveries, on_time_rate, quality_pass_rate, lead_max)
        for merchant, supplier, deliveries, on_time_rate, quality_pass_rate, lead_max in warehouse.execute(
            """SELECT merchant_code, supplier_code, deliveries, on_time_rate, quality_pass_rate, lead_time_max_days
               FROM marts.fct_supplier_performance WHERE performance_window = 'all_time' AND deliveries > 0"""
        ).fetchall()
    }
    assert set(mart) == set(totals)
    for key, (receipts, on_time, delivered, passed, lead_max) in totals.items():
        deliveries, on_time_rate, quality_pass_rate, mart_lead_max = mart[key]
        assert deliveries == receipts, key
        assert on_time_rate == pytest.approx(on_time / receipts), key
        assert quality_pass_rate == pytest.approx(float(passed) / float(delivered)), key
        assert mart_lead_max == lead_max, key


def test_suppliers_late_over_the_window_are_on_the_risk_register(warehouse: duckdb.DuckDBPyConnection) -> None:
    window = timedelta(days=int(VARS["risk_window_days"]) - 1)
    floor = float(VARS["risk_supplier_on_time_floor"])
    least = int(VARS["risk_supplier_min_deliveries"])
    recent: dict[tuple[str, str], list[int]] = {}
    for merchant, supplier, received, on_time, *_, as_of in _receipts(warehouse):
        if received >= as_of - window:
            counts = recent.setdefault((merchant, supplier), [0, 0])
            counts[0] += 1
            counts[1] += int(on_time)
    late = {key for key, (receipts, on_time) in recent.items() if receipts >= least and on_time / receipts < floor}
    assert late, "some supplier delivered late over the window"
    flagged = set(
        warehouse.execute(
            "SELECT merchant_code, subject_code FROM marts.fct_risk_register WHERE risk_type = 'late_supplier'"
        ).fetchall()
    )
    assert flagged == late


def test_risk_register_is_scored_and_levelled(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT probability, impact, urgency, score, risk_level FROM marts.fct_risk_register"
    ).fetchall()
    assert rows, "the tiny network has risk items"
    for probability, impact, urgency, score, _ in rows:
        assert score == pytest.approx(probability * impact * urgency)
    kinds = {kind for (kind,) in warehouse.execute("SELECT DISTINCT risk_kind FROM marts.fct_risk_register").fetchall()}
    assert {"supplier", "inventory"} <= kinds


def test_every_risk_reason_reads_in_chinese_with_the_same_numbers(warehouse: duckdb.DuckDBPyConnection) -> None:
    reasons = warehouse.execute("SELECT risk_type, reason, reason_zh FROM marts.fct_risk_register").fetchall()
    assert reasons, "the tiny network has risk items"
    number = re.compile(r"\d+(?:\.\d+)?")
    for risk_type, reason, reason_zh in reasons:
        assert re.search(r"[\u4e00-\u9fff]", reason_zh), (risk_type, reason_zh)
        assert sorted(number.findall(reason_zh)) == sorted(number.findall(reason)), (reason, reason_zh)


def test_a_price_shock_in_the_window_is_a_market_risk(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The simulator's price shocks move a leaf category's costs network-wide: every merchant
    stocking a category whose shock (at least the floor) began in the window, early enough for a
    weekly cost review to pass it on, sees a cost_swing item for it."""
    window_days = int(VARS["risk_window_days"])
    floor = float(VARS["risk_cost_change_floor"])
    expected = set(
        warehouse.execute(
            """SELECT DISTINCT d.merchant_code, a.subject
               FROM sim.anomalies a
               JOIN raw.categories c ON c.category_code = a.subject
               JOIN raw.products p ON p.category_id = c.category_id
               JOIN marts.dim_merchants d ON d.merchant_id = p.merchant_id
               WHERE a.kind = 'price_shock' AND abs(a.magnitude) >= ?
                 AND a.starts_on > d.as_of - ? AND a.starts_on <= d.as_of - 14""",
            [floor, window_days],
        ).fetchall()
    )
    assert expected, "the tiny network has a price shock in the window"
    flagged = set(
        warehouse.execute(
            "SELECT merchant_code, subject_code FROM marts.fct_risk_register WHERE risk_type = 'cost_swing'"
        ).fetchall()
    )
    assert expected <= flagged
