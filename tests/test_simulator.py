"""The simulator at tiny scale against a real PostgreSQL: what it writes, and what it promises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest

from transactional.errors import DomainError
from transactional.simulator import SimulationSummary, simulate

SEED = 11

FINGERPRINTS = {
    "orders": """
        SELECT count(*), md5(string_agg(concat_ws(',', o.order_id, m.merchant_code, o.order_no, c.customer_code,
                   w.warehouse_code, o.status, o.ordered_at, o.shipped_at, o.cancelled_at, o.total_amount,
                   l.order_line_id, l.line_no, p.product_id, p.sku_code, l.quantity, l.unit_price),
                   '|' ORDER BY l.order_line_id))
        FROM core.orders o JOIN core.order_lines l USING (order_id)
        JOIN core.merchants m ON m.merchant_id = o.merchant_id
        JOIN core.customers c ON c.customer_id = o.customer_id
        JOIN core.warehouses w ON w.warehouse_id = o.warehouse_id
        JOIN core.products p ON p.product_id = l.product_id""",
    "purchase_orders": """
        SELECT count(*), md5(string_agg(concat_ws(',', po.purchase_order_id, po.po_no, po.status, po.ordered_at,
                   po.expected_at, po.received_at, l.product_id, l.quantity, l.unit_cost), '|'
                   ORDER BY po.purchase_order_id, l.product_id))
        FROM core.purchase_orders po JOIN core.purchase_order_lines l USING (purchase_order_id)""",
    "batches": """
        SELECT count(*), md5(string_agg(concat_ws(',', b.batch_id, b.lot_code, b.expiry_date, b.unit_cost,
                   s.warehouse_id, s.on_hand, s.reserved), '|' ORDER BY b.batch_id))
        FROM core.batches b JOIN core.stock s USING (batch_id)""",
    "daily_demand": """
        SELECT count(*), md5(string_agg(concat_ws(',', merchant_code, sku_code, date, expected, demand, sold, lost,
                   cancelled), '|' ORDER BY merchant_code, sku_code, date))
        FROM sim.daily_demand""",
}


@dataclass(frozen=True)
class Simulated:
    url: str
    summary: SimulationSummary
    progress: list[tuple[int, int]]


@pytest.fixture(scope="module")
def simulated(database_factory) -> Simulated:
    """One tiny simulation shared by the read-only tests of this module."""
    url = database_factory()
    calls: list[tuple[int, int]] = []
    with psycopg.connect(url) as conn:
        summary = simulate(conn, "tiny", SEED, progress=lambda done, total: calls.append((done, total)))
    return Simulated(url, summary, calls)


@pytest.fixture
def db(simulated: Simulated):
    with psycopg.connect(simulated.url) as conn:
        yield conn


def fingerprint(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchone() for name, sql in FINGERPRINTS.items()}


def test_the_same_seed_on_a_fresh_database_gives_identical_rows(simulated: Simulated, pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url) as conn:
        again = simulate(conn, "tiny", SEED)
    assert again.orders == simulated.summary.orders
    assert fingerprint(pg_database_url) == fingerprint(simulated.url)


def test_the_summary_counts_what_is_in_the_tables(simulated: Simulated, db: psycopg.Connection) -> None:
    summary = simulated.summary
    counts = db.execute(
        """SELECT (SELECT count(*) FROM core.merchants), (SELECT count(*) FROM core.products),
                  (SELECT count(*) FROM core.customers), (SELECT count(*) FROM core.orders),
                  (SELECT count(*) FROM core.order_lines),
                  (SELECT count(*) FROM core.orders WHERE status = 'cancelled'),
                  (SELECT count(*) FROM core.purchase_orders),
                  (SELECT min((ordered_at AT TIME ZONE 'Asia/Shanghai')::date) FROM core.orders),
                  (SELECT max((ordered_at AT TIME ZONE 'Asia/Shanghai')::date) FROM core.orders)"""
    ).fetchone()
    assert counts == (
        summary.merchants,
        summary.skus,
        summary.customers,
        summary.orders,
        summary.order_lines,
        summary.cancelled_orders,
        summary.purchase_orders,
        summary.first_date,
        summary.last_date,
    )
    assert summary.merchants == 2
    assert (summary.last_date - summary.first_date).days >= 240
    assert summary.orders > 1000


def test_progress_is_reported_day_by_day(simulated: Simulated) -> None:
    total = (simulated.summary.last_date - simulated.summary.first_date).days + 1
    assert simulated.progress == [(done, total) for done in range(1, total + 1)]


def test_stopped_skus_sell_nothing_after_their_stop_date_and_keep_their_stock(db: psycopg.Connection) -> None:
    rows = db.execute(
        """SELECT l.merchant_code, l.sku_code, l.stopped_selling_on,
                  (SELECT max((o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date)
                     FROM core.order_lines ol JOIN core.orders o USING (order_id)
                    WHERE ol.product_id = p.product_id) AS last_sale,
                  (SELECT coalesce(sum(s.on_hand), 0) FROM core.stock s WHERE s.product_id = p.product_id),
                  r.last_date
           FROM sim.sku_lifecycle l
           JOIN core.merchants m USING (merchant_code)
           JOIN core.products p ON p.merchant_id = m.merchant_id AND p.sku_code = l.sku_code
           CROSS JOIN sim.runs r
           WHERE l.stopped_selling_on IS NOT NULL
           ORDER BY 1, 2"""
    ).fetchall()
    assert {merchant for merchant, *_ in rows} == {"M001", "M002"}
    for merchant, sku, stopped_on, last_sale, on_hand, last_date in rows:
        assert stopped_on <= last_date - timedelta(days=120), (merchant, sku)
        assert last_sale is not None and last_sale < stopped_on, (merchant, sku, last_sale)
        assert on_hand > 0, (merchant, sku)


def test_stock_never_goes_negative_at_any_moment_of_the_history(db: psycopg.Connection) -> None:
    """Replays the ledger in business time: receipts come before the sales that use them."""
    worst = db.execute(
        """WITH running AS (
               SELECT sum(on_hand_delta) OVER w AS on_hand, sum(reserved_delta) OVER w AS reserved
               FROM core.stock_movements
               WINDOW w AS (PARTITION BY warehouse_id, batch_id ORDER BY occurred_at, movement_id)
           )
           SELECT min(on_hand), min(reserved), min(on_hand - reserved), count(*) FROM running"""
    ).fetchone()
    assert worst is not None and worst[3] > 0
    lowest_on_hand, lowest_reserved, lowest_free, _ = worst
    assert lowest_on_hand >= 0 and lowest_reserved >= 0 and lowest_free >= 0


def test_sold_in_the_ground_truth_equals_the_order_lines(db: psycopg.Connection) -> None:
    mismatches = db.execute(
        """WITH lines AS (
               SELECT m.merchant_code, p.sku_code, (o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date AS date,
                      sum(l.quantity) FILTER (WHERE o.status <> 'cancelled') AS sold,
                      sum(l.quantity) FILTER (WHERE o.status = 'cancelled') AS cancelled
               FROM core.order_lines l JOIN core.orders o USING (order_id)
               JOIN core.merchants m ON m.merchant_id = o.merchant_id
               JOIN core.products p ON p.product_id = l.product_id
               GROUP BY 1, 2, 3
           )
           SELECT count(*) FROM sim.daily_demand d
           FULL JOIN lines USING (merchant_code, sku_code, date)
           WHERE coalesce(d.sold, 0) <> coalesce(lines.sold, 0)
              OR coalesce(d.cancelled, 0) <> coalesce(lines.cancelled, 0)"""
    ).fetchone()
    assert mismatches == (0,)
    lost, demand = db.execute("SELECT sum(lost), sum(demand) FROM sim.daily_demand").fetchone()
    assert 0 < lost < demand * 0.25


def test_demand_follows_the_farming_calendar_and_spring_festival(db: psycopg.Connection) -> None:
    units_per_day = dict(
        db.execute(
            """SELECT l.season_profile || ':' || CASE
                        WHEN d.date BETWEEN '2026-03-01' AND '2026-04-15' THEN 'spring'
                        WHEN d.date BETWEEN '2026-02-01' AND '2026-02-14' THEN 'before_festival'
                        WHEN d.date BETWEEN '2026-05-01' AND '2026-08-31' THEN 'summer' END,
                      sum(d.demand)::float / count(DISTINCT d.date)
               FROM sim.daily_demand d JOIN sim.sku_lifecycle l USING (merchant_code, sku_code)
               GROUP BY 1"""
        ).fetchall()
    )
    assert units_per_day["fertiliser:spring"] > 1.5 * units_per_day["fertiliser:summer"]
    assert units_per_day["pesticide:summer"] > 1.5 * units_per_day["pesticide:spring"]
    assert units_per_day["snacks:before_festival"] > 1.5 * units_per_day["snacks:summer"]


def test_the_last_day_leaves_near_expiry_stock_and_open_purchase_orders(db: psycopg.Connection) -> None:
    levels = dict(
        db.execute(
            """SELECT CASE WHEN b.expiry_date - r.last_date < 0 THEN 'expired'
                           WHEN b.expiry_date - r.last_date <= 30 THEN '30'
                           WHEN b.expiry_date - r.last_date <= 90 THEN '90'
                           WHEN b.expiry_date - r.last_date <= 180 THEN '180' ELSE 'later' END,
                      count(DISTINCT b.product_id)
               FROM core.stock s JOIN core.batches b USING (batch_id) CROSS JOIN sim.runs r
               WHERE s.on_hand > 0 GROUP BY 1"""
        ).fetchall()
    )
    assert all(levels.get(level, 0) > 0 for level in ("30", "90", "180")), levels
    open_orders = db.execute("SELECT count(*) FROM core.purchase_orders WHERE status = 'open'").fetchone()
    assert open_orders is not None and open_orders[0] > 0


def test_a_second_run_into_the_same_database_is_refused(simulated: Simulated, db: psycopg.Connection) -> None:
    with pytest.raises(DomainError, match="already holds merchants M001, M002"):
        simulate(db, "tiny", SEED + 1)
    db.rollback()
    orders = db.execute("SELECT count(*) FROM core.orders").fetchone()
    assert orders == (simulated.summary.orders,)


def test_an_unknown_scale_names_the_allowed_ones(db: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="choose one of tiny, small"):
        simulate(db, "huge", SEED)


def test_fresh_produce_is_held_to_the_fresh_service_level(db: psycopg.Connection) -> None:
    fresh_divisions = db.execute(
        """SELECT DISTINCT top.name FROM core.categories leaf
           JOIN core.categories mid ON mid.category_id = leaf.parent_id
           JOIN core.categories top ON top.category_id = mid.parent_id
           WHERE leaf.is_fresh"""
    ).fetchall()
    assert fresh_divisions == [("生鲜",)]
    fresh_orders, ship_due_within_a_day = db.execute(
        """SELECT count(*), bool_and(ship_due_at - ordered_at = interval '24 hours')
           FROM core.order_sla WHERE has_fresh_goods"""
    ).fetchone()
    assert fresh_orders > 0 and ship_due_within_a_day
