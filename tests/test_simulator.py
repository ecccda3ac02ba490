"""The simulator at tiny scale against a real PostgreSQL: what it writes, and what it promises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest

from transactional.errors import DomainError
from transactional.simulator import SimulationSummary, simulate

SEED = 11
# Parts of the schema a simulated history does not use (the tiny network has no transfers,
# stocktakes, coupons, agreements or approval rules, and no API or operator activity).
UNTOUCHED_TABLES = {
    "core.api_keys", "core.idempotency_keys", "core.operation_log", "core.coupons", "core.coupon_redemptions",
    "core.stock_transfers", "core.stocktakes", "core.stocktake_lines", "core.supplier_agreements",
    "core.supplier_agreement_prices", "core.purchase_approval_rules", "core.purchase_order_approvals",
    "core.product_groups", "core.product_tags", "core.product_promotion_prices", "core.deleted_rows",
    # Dashboard accounts are made by people (`coopcast user create`, `init`, `demo`), never simulated.
    "core.users", "core.account_log", "core.user_sessions",
}  # fmt: skip

# Every table the simulator writes, in both schemas: a run is identical when all of them are.
# change_txid is the transaction that wrote a row (for ingestion), not data: it is left out.
TABLE_HASH = """
    SELECT format('SELECT count(*), md5(coalesce(string_agg(r, %L ORDER BY r), %L))
                   FROM (SELECT (to_jsonb(t) - %L)::text AS r FROM %I.%I t) rows',
                  '|', '', 'change_txid', table_schema, table_name), table_schema || '.' || table_name
    FROM information_schema.tables
    WHERE table_schema IN ('core', 'sim') AND table_type = 'BASE TABLE'
    ORDER BY 2"""


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
    """Row count and a hash of every row (ids and timestamps included) of every table, sorted."""
    with psycopg.connect(url) as conn:
        queries = conn.execute(TABLE_HASH).fetchall()
        return {table: conn.execute(query).fetchone() for query, table in queries}


def test_the_same_seed_on_a_fresh_database_gives_identical_rows(simulated: Simulated, pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url) as conn:
        again = simulate(conn, "tiny", SEED)
    assert again.orders == simulated.summary.orders
    first, second = fingerprint(simulated.url), fingerprint(pg_database_url)
    assert first["core.funnel_events"][0] > 0 and first["sim.daily_demand"][0] > 0
    assert {table for table, (rows, _) in first.items() if rows == 0} <= UNTOUCHED_TABLES
    assert second == first


def test_another_seed_gives_other_data(simulated: Simulated, pg_database_url: str) -> None:
    with psycopg.connect(pg_database_url) as conn:
        simulate(conn, "tiny", SEED + 1)
    assert fingerprint(pg_database_url)["core.order_lines"] != fingerprint(simulated.url)["core.order_lines"]


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


def test_progress_is_reported_merchant_by_merchant(simulated: Simulated) -> None:
    assert simulated.progress == [(1, 2), (2, 2)]


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


def test_low_stock_warnings_are_set_where_the_merchant_reorders(db: psycopg.Connection) -> None:
    """Thresholds of 0 would never warn: the busier SKUs warn, and below their reorder level."""
    warned, skus = db.execute(
        "SELECT count(*) FILTER (WHERE low_stock_threshold > 0), count(*) FROM core.products"
    ).fetchone()
    below_reorder_level = db.execute(
        """SELECT count(*) FROM (SELECT product_id, warehouse_id, sum(on_hand - reserved - frozen) AS available
                                 FROM core.stock GROUP BY product_id, warehouse_id) s
           JOIN core.products p USING (product_id)
           WHERE s.available < p.low_stock_threshold"""
    ).fetchone()[0]
    assert 0.2 * skus < warned < skus and below_reorder_level > 0


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


def test_no_rule_of_the_schema_is_broken_at_any_point_of_the_history(db: psycopg.Connection) -> None:
    """Every row passed the constraints on the way in; the stock ledger is also replayed in time."""
    violations = db.execute(
        "SELECT count(*) FROM core.merchants m, core.stock_history_violations(m.merchant_id)"
    ).fetchone()
    assert violations == (0,)
    ledger_mismatch = db.execute(
        """SELECT count(*) FROM core.stock s FULL JOIN (
               SELECT warehouse_id, batch_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
               FROM core.stock_movements GROUP BY 1, 2) l USING (warehouse_id, batch_id)
           WHERE (s.on_hand, s.reserved) IS DISTINCT FROM (l.on_hand, l.reserved)"""
    ).fetchone()
    assert ledger_mismatch == (0,)
    unbalanced = db.execute(
        """SELECT count(*) FROM core.orders o JOIN (
               SELECT order_id, sum(quantity * unit_price - discount_amount) AS net FROM core.order_lines GROUP BY 1
           ) l USING (order_id) WHERE o.total_amount <> l.net"""
    ).fetchone()
    assert unbalanced == (0,)


def test_customers_shop_more_at_weekend_markets_than_midweek(db: psycopg.Connection) -> None:
    per_weekday = dict(
        db.execute(
            """SELECT extract(isodow FROM ordered_at AT TIME ZONE 'Asia/Shanghai')::int,
                      count(*)::float / count(DISTINCT (ordered_at AT TIME ZONE 'Asia/Shanghai')::date)
               FROM core.orders GROUP BY 1"""
        ).fetchall()
    )
    assert per_weekday[6] > 1.1 * per_weekday[2]


def test_spring_fertiliser_sales_exceed_autumn_sales(db: psycopg.Connection) -> None:
    spring, autumn = db.execute(
        """SELECT sum(d.sold) FILTER (WHERE d.date BETWEEN '2026-03-01' AND '2026-04-15'),
                  sum(d.sold) FILTER (WHERE d.date BETWEEN '2026-09-15' AND '2026-10-30')
           FROM sim.daily_demand d JOIN sim.sku_lifecycle l USING (merchant_code, sku_code)
           WHERE l.season_profile = 'fertiliser'"""
    ).fetchone()
    assert spring > 1.3 * autumn


def test_the_long_tail_sells_on_few_days(db: psycopg.Connection) -> None:
    """Intermittent demand: most SKUs have many days without a sale while on the shelf."""
    zero_day_shares = [
        share
        for (share,) in db.execute(
            """SELECT avg((d.sold = 0)::int)::float FROM sim.daily_demand d
               WHERE d.expected > 0 GROUP BY d.merchant_code, d.sku_code"""
        ).fetchall()
    ]
    zero_day_shares.sort()
    median = zero_day_shares[len(zero_day_shares) // 2]
    assert median >= 0.3
    assert sum(share >= 0.7 for share in zero_day_shares) >= 3
    assert zero_day_shares[0] < 0.3  # and a few sell on most days


def test_churned_customers_fade_then_stop_buying(db: psycopg.Connection) -> None:
    rows = db.execute(
        """SELECT l.customer_code, l.churned_on,
                  count(o.order_id) FILTER (WHERE (o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date >= l.churned_on),
                  count(o.order_id) FILTER (WHERE (o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date
                                            BETWEEN l.churned_on - 120 AND l.churned_on - 61),
                  count(o.order_id) FILTER (WHERE (o.ordered_at AT TIME ZONE 'Asia/Shanghai')::date
                                            BETWEEN l.churned_on - 60 AND l.churned_on - 1)
           FROM sim.customer_lifecycle l
           JOIN core.merchants m USING (merchant_code)
           JOIN core.customers c ON c.merchant_id = m.merchant_id AND c.customer_code = l.customer_code
           LEFT JOIN core.orders o ON o.customer_id = c.customer_id
           WHERE l.churned_on IS NOT NULL
           GROUP BY 1, 2"""
    ).fetchall()
    assert len(rows) >= 5
    assert all(after == 0 for _, _, after, _, _ in rows)
    assert sum(fading for *_, fading in rows) < sum(before for *_, before, _ in rows)


def test_promotions_lift_sales_then_dip(db: psycopg.Connection) -> None:
    """Against the four weeks before: the demand process rises while a promotion runs and sags
    after it; the drawn demand follows in total (one promotion's few days are noisy)."""
    rows = db.execute(
        """SELECT (avg(d.expected) FILTER (WHERE d.date BETWEEN p.starts_on - 28 AND p.starts_on - 1))::float,
                  (avg(d.expected) FILTER (WHERE d.date BETWEEN p.starts_on AND p.ends_on))::float,
                  (avg(d.expected) FILTER (WHERE d.date BETWEEN p.ends_on + 1 AND p.ends_on + p.dip_days))::float,
                  (avg(d.demand) FILTER (WHERE d.date BETWEEN p.starts_on - 28 AND p.starts_on - 1))::float,
                  (avg(d.demand) FILTER (WHERE d.date BETWEEN p.starts_on AND p.ends_on))::float
           FROM sim.promotion_effects p
           JOIN sim.daily_demand d USING (merchant_code, sku_code)
           GROUP BY p.merchant_code, p.promotion_code
           HAVING avg(d.expected) FILTER (WHERE d.date BETWEEN p.starts_on - 28 AND p.starts_on - 1) > 0"""
    ).fetchall()
    assert len(rows) >= 5
    assert sum(during > 1.2 * before for before, during, *_ in rows) >= 0.8 * len(rows)
    assert sum(after < during for _, during, after, *_ in rows if after is not None) >= 0.8 * len(rows)
    assert sum(row[4] for row in rows) > 1.2 * sum(row[3] for row in rows)
    discounted = db.execute(
        """SELECT count(*) FROM core.order_discounts x JOIN core.promotions p USING (promotion_id)
           WHERE x.source = 'promotion' AND p.kind = 'percentage'"""
    ).fetchone()
    assert discounted is not None and discounted[0] > 0


def test_commodity_prices_follow_the_market_with_its_shocks(db: psycopg.Connection) -> None:
    shocks = db.execute("SELECT count(*) FROM sim.anomalies WHERE kind = 'price_shock'").fetchone()
    assert shocks is not None and shocks[0] > 0
    changes = db.execute(
        """SELECT count(DISTINCT h.product_id), count(*) FROM core.product_price_history h
           JOIN core.products p USING (product_id) JOIN core.categories c ON c.category_id = p.category_id
           WHERE c.category_code IN (SELECT DISTINCT category_code FROM sim.market_prices)
             AND h.valid_from > p.created_at"""
    ).fetchone()
    assert changes is not None and changes[0] > 0 and changes[1] > changes[0]


def test_operations_show_stockouts_late_suppliers_failed_inspections_expiry_returns_and_breaches(
    db: psycopg.Connection,
) -> None:
    facts = db.execute(
        """SELECT (SELECT sum(lost) FROM sim.daily_demand),
                  (SELECT count(*) FROM core.purchase_receipts WHERE NOT on_time),
                  (SELECT count(*) FROM core.purchase_receipt_lines WHERE rejected_quantity > 0),
                  (SELECT count(*) FROM core.stock_movements WHERE movement_type = 'write_off'),
                  (SELECT count(*) FROM core.returns WHERE status = 'received'),
                  (SELECT count(*) FROM core.order_sla WHERE confirm_breached OR ship_breached)"""
    ).fetchone()
    assert facts is not None and all(value > 0 for value in facts), facts


def test_shop_traffic_converts_12_to_20_percent_of_visits(db: psycopg.Connection) -> None:
    visits, buying = db.execute(
        """SELECT count(*) FILTER (WHERE event_type = 2), count(DISTINCT session_id) FILTER (WHERE event_type = 5)
           FROM core.funnel_events"""
    ).fetchone()
    orders = db.execute("SELECT count(*) FROM core.orders").fetchone()
    assert (buying,) == orders
    assert 0.12 <= buying / visits <= 0.20


def foreign_keys(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
           WHERE contype = 'f' AND connamespace = 'core'::regnamespace ORDER BY 1, 2"""
    ).fetchall()


def test_a_failure_mid_load_leaves_the_database_as_it_was(pg_database_url: str) -> None:
    """The second merchant's returns are refused: nothing of the first stays, every key is back."""
    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        keys_before = foreign_keys(conn)
        conn.execute(
            """CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF (SELECT count(*) FROM core.merchants) > 1 THEN
                       RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full';
                   END IF;
                   RETURN NULL;
               END $$"""
        )
        conn.execute(
            """CREATE TRIGGER refuse_second AFTER INSERT ON core.returns
               FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.refuse()"""
        )
        with pytest.raises(psycopg.errors.DiskFull):
            simulate(conn, "tiny", SEED)
        conn.execute("DROP TRIGGER refuse_second ON core.returns")
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM core.merchants), (SELECT count(*) FROM core.orders),
                      (SELECT count(*) FROM core.funnel_events), (SELECT count(*) FROM sim.runs)"""
        ).fetchone()
        assert counts == (0, 0, 0, 0)
        assert foreign_keys(conn) == keys_before
        assert all(validated for *_, validated in keys_before)
