"""The sales marts: period sales by merchant, SKU, category, region and channel, and the product
ranking, checked against the orders themselves on the tiny simulated network (and its ground
truth) and on a hand-made merchant with imported amount-only history."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from pipelines.ingest import ingest_full
from tests.builders import category_path
from tests.conftest import PipelineRun, dbt_build
from transactional import catalogue, imports, orders, stock

PERIOD_MARTS = (
    "fct_merchant_period_sales",
    "fct_sku_period_sales",
    "fct_category_period_sales",
    "fct_region_period_sales",
    "fct_channel_period_sales",
    "fct_product_rankings",
)


@pytest.fixture(scope="module")
def marts(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


def test_merchant_revenue_per_month_equals_the_orders_ingested(marts: duckdb.DuckDBPyConnection) -> None:
    """Net line amounts of orders not cancelled by the merchant's last order day, by Shanghai
    month, straight from raw.orders and raw.order_lines."""
    independent = marts.execute(
        """
        WITH orders AS (
            SELECT order_id, merchant_id, total_amount,
                   CAST(ordered_at AT TIME ZONE 'Asia/Shanghai' AS DATE) AS ordered_on,
                   CAST(cancelled_at AT TIME ZONE 'Asia/Shanghai' AS DATE) AS cancelled_on
            FROM raw.orders
        ),
        last_days AS (SELECT merchant_id, max(ordered_on) AS last_day FROM orders GROUP BY 1),
        lines AS (SELECT order_id, sum(line_amount) AS amount FROM raw.order_lines GROUP BY 1)
        SELECT orders.merchant_id, date_trunc('month', ordered_on)::DATE,
               sum(coalesce(lines.amount, orders.total_amount)), count(*)
        FROM orders
        JOIN last_days USING (merchant_id)
        LEFT JOIN lines USING (order_id)
        WHERE cancelled_on IS NULL OR cancelled_on > last_day
        GROUP BY ALL ORDER BY 1, 2
        """
    ).fetchall()
    mart = marts.execute(
        """SELECT merchant_id, period_start, revenue, orders FROM marts.fct_merchant_period_sales
           WHERE period = 'month' ORDER BY 1, 2"""
    ).fetchall()
    assert len(independent) > 10
    assert mart == independent


@pytest.mark.parametrize("mart", ["fct_merchant_period_sales", "fct_region_period_sales"])
def test_days_weeks_months_and_quarters_add_up_to_the_same_totals(marts: duckdb.DuckDBPyConnection, mart: str) -> None:
    totals = marts.execute(
        f"""SELECT merchant_id, period, sum(revenue), sum(orders)
            FROM marts.{mart} GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    by_merchant: dict[int, set[tuple]] = {}
    for merchant_id, _, revenue, order_count in totals:
        by_merchant.setdefault(merchant_id, set()).add((revenue, order_count))
    assert len(totals) == 4 * len(by_merchant) >= 8
    assert all(len(values) == 1 for values in by_merchant.values()), totals


def test_months_add_up_to_their_quarter(marts: duckdb.DuckDBPyConnection) -> None:
    mismatches = marts.execute(
        """
        WITH months AS (
            SELECT merchant_id, date_trunc('quarter', period_start)::DATE AS quarter_start,
                   sum(revenue) AS revenue, sum(orders) AS orders, sum(new_customers) AS new_customers
            FROM marts.fct_merchant_period_sales WHERE period = 'month' GROUP BY ALL
        )
        SELECT * FROM months
        FULL JOIN (SELECT * FROM marts.fct_merchant_period_sales WHERE period = 'quarter') AS quarters
            ON quarters.merchant_id = months.merchant_id AND quarters.period_start = months.quarter_start
        WHERE quarters.revenue IS DISTINCT FROM months.revenue
           OR quarters.orders IS DISTINCT FROM months.orders
           OR quarters.new_customers IS DISTINCT FROM months.new_customers
        """
    ).fetchall()
    assert mismatches == []


def test_sku_and_category_periods_add_up_to_daily_sku_sales(marts: duckdb.DuckDBPyConnection) -> None:
    daily = dict(marts.execute("SELECT merchant_id, sum(revenue) FROM marts.fct_daily_sales GROUP BY 1").fetchall())
    sku = marts.execute(
        "SELECT merchant_id, period, sum(revenue) FROM marts.fct_sku_period_sales GROUP BY ALL"
    ).fetchall()
    category = marts.execute(
        """SELECT merchant_id, period || category_level, sum(revenue)
           FROM marts.fct_category_period_sales GROUP BY ALL"""
    ).fetchall()
    assert len(sku) == 3 * len(daily) and len(category) == 12 * len(daily)
    assert all(revenue == daily[merchant_id] for merchant_id, _, revenue in sku + category)


def test_new_customers_are_counted_once_in_their_first_period(marts: duckdb.DuckDBPyConnection) -> None:
    """Summed over the periods of any grain, new customers are every customer who bought."""
    buyers = marts.execute(
        """
        WITH orders AS (
            SELECT merchant_id, customer_id, ordered_at,
                   CAST(cancelled_at AT TIME ZONE 'Asia/Shanghai' AS DATE) AS cancelled_on
            FROM raw.orders
        ),
        last_days AS (
            SELECT merchant_id, max(CAST(ordered_at AT TIME ZONE 'Asia/Shanghai' AS DATE)) AS last_day
            FROM orders GROUP BY 1
        )
        SELECT merchant_id, period, count(DISTINCT customer_id)
        FROM orders JOIN last_days USING (merchant_id)
        CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('quarter')) AS periods (period)
        WHERE cancelled_on IS NULL OR cancelled_on > last_day
        GROUP BY ALL ORDER BY 1, 2
        """
    ).fetchall()
    mart = marts.execute(
        """SELECT merchant_id, period, sum(new_customers) FROM marts.fct_merchant_period_sales
           GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    assert len(buyers) >= 8
    assert mart == buyers


def test_average_order_value_and_customer_split(marts: duckdb.DuckDBPyConnection) -> None:
    rows = marts.execute(
        """SELECT revenue, orders, average_order_value, customers, new_customers, returning_customers,
                  new_customer_revenue, returning_customer_revenue, sku_revenue, cost, gross_profit
           FROM marts.fct_merchant_period_sales"""
    ).fetchall()
    assert rows
    for revenue, count, aov, customers, new, returning, new_revenue, returning_revenue, sku, cost, profit in rows:
        assert abs(aov - revenue / count) <= Decimal("0.005")
        assert new + returning == customers and customers <= count
        assert new_revenue + returning_revenue == revenue
        assert profit == sku - cost
    late_months = marts.execute(
        """SELECT sum(returning_customers), sum(new_customers) FROM marts.fct_merchant_period_sales
           WHERE period = 'month' AND period_start >= DATE '2026-01-01'"""
    ).fetchone()
    # After half a year of trading most buyers have bought before.
    assert late_months[0] > late_months[1]


@pytest.mark.parametrize("mart", PERIOD_MARTS)
def test_every_row_belongs_to_its_merchant(marts: duckdb.DuckDBPyConnection, mart: str) -> None:
    foreign = marts.execute(
        f"""SELECT count(*) FROM marts.{mart} AS m
            JOIN marts.dim_merchants AS d USING (merchant_id)
            WHERE m.merchant_code <> d.merchant_code OR m.as_of <> d.as_of"""
    ).fetchone()
    assert foreign == (0,)
    columns = {row[0] for row in marts.execute(f"DESCRIBE marts.{mart}").fetchall()}
    if "product_id" in columns:
        other_merchants_products = marts.execute(
            f"""SELECT count(*) FROM marts.{mart} AS m JOIN raw.products AS p USING (product_id)
                WHERE p.merchant_id <> m.merchant_id OR p.sku_code <> m.sku_code"""
        ).fetchone()
        assert other_merchants_products == (0,)
    if "region" in columns:
        unknown_regions = marts.execute(
            f"""SELECT count(*) FROM marts.{mart} AS m WHERE m.region IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM raw.customers AS c WHERE c.merchant_id = m.merchant_id AND c.region = m.region)"""
        ).fetchone()
        assert unknown_regions == (0,)


@pytest.mark.parametrize("mart", PERIOD_MARTS)
def test_weeks_start_on_monday_and_only_the_running_period_is_incomplete(
    marts: duckdb.DuckDBPyConnection, mart: str
) -> None:
    rows = marts.execute(
        f"""SELECT period, period_start, period_end, is_complete_period, as_of FROM marts.{mart}"""
    ).fetchall()
    assert rows
    for period, start, end, complete, as_of in rows:
        assert start <= end and complete == (end <= as_of) and start <= as_of
        if period == "week":
            assert start.isoweekday() == 1 and end == start + timedelta(days=6)
        if period in ("month", "quarter"):
            assert start.day == 1 and (end + timedelta(days=1)).day == 1
            assert (end.month - start.month) == (2 if period == "quarter" else 0)


@pytest.mark.parametrize("mart", ["fct_region_period_sales", "fct_channel_period_sales"])
def test_shares_of_a_period_add_up_to_one(marts: duckdb.DuckDBPyConnection, mart: str) -> None:
    key = "channel_type," if mart == "fct_channel_period_sales" else ""
    shares = marts.execute(
        f"SELECT sum(revenue_share) FROM marts.{mart} GROUP BY merchant_id, {key} period, period_start"
    ).fetchall()
    assert shares and all(abs(total - 1) < 1e-9 for (total,) in shares)


def test_channels_split_revenue_by_price_tier_of_the_customer(marts: duckdb.DuckDBPyConnection) -> None:
    independent = marts.execute(
        """SELECT c.price_tier, sum(l.line_amount) FROM raw.order_lines l
           JOIN raw.orders o USING (order_id) JOIN raw.customers c USING (customer_id)
           JOIN marts.dim_merchants d ON d.merchant_id = o.merchant_id
           WHERE (o.cancelled_at AT TIME ZONE 'Asia/Shanghai')::DATE > d.as_of OR o.cancelled_at IS NULL
           GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    mart = marts.execute(
        """SELECT channel, sum(revenue) FROM marts.fct_channel_period_sales
           WHERE channel_type = 'price_tier' AND period = 'quarter' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert len(mart) >= 2 and mart == independent


def test_hot_sellers_outsell_the_rest_and_rank_change_compares_with_the_period_before(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    overtaken = marts.execute(
        """SELECT count(*) FROM marts.fct_product_rankings AS hot
           JOIN marts.fct_product_rankings AS other USING (merchant_id, period, period_start)
           WHERE hot.is_hot_seller AND NOT other.is_hot_seller AND other.revenue >= hot.revenue"""
    ).fetchone()
    assert overtaken == (0,)
    hot_and_slow = marts.execute(
        """SELECT count(*) FILTER (WHERE is_hot_seller), count(*) FILTER (WHERE is_slow_seller),
                  count(*) FILTER (WHERE is_hot_seller AND is_slow_seller)
           FROM marts.fct_product_rankings WHERE period = 'month'"""
    ).fetchone()
    assert hot_and_slow[0] > 0 and hot_and_slow[1] > 0 and hot_and_slow[2] == 0
    wrong_change = marts.execute(
        """SELECT count(*), count(*) FILTER (
                      WHERE now.previous_revenue_rank IS DISTINCT FROM before.revenue_rank
                         OR now.revenue_rank_change IS DISTINCT FROM before.revenue_rank - now.revenue_rank)
           FROM marts.fct_product_rankings AS now
           JOIN marts.fct_product_rankings AS before
             ON before.product_id = now.product_id AND before.period = 'month'
            AND before.period_start = now.period_start - INTERVAL 1 MONTH
           WHERE now.period = 'month'"""
    ).fetchone()
    assert wrong_change[0] > 100 and wrong_change[1] == 0


def test_skus_the_simulator_stopped_selling_are_slow_sellers_with_no_sales(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    """Ground truth: every active SKU still in stock at the end of a whole month after the
    simulator stopped selling it is listed that month with no sales and flagged slow."""
    expected = marts.execute(
        """
        WITH stopped AS (
            SELECT p.merchant_id, p.product_id, s.stopped_selling_on
            FROM sim.sku_lifecycle AS s
            JOIN raw.merchants AS m USING (merchant_code)
            JOIN raw.products AS p ON p.merchant_id = m.merchant_id AND p.sku_code = s.sku_code
            WHERE s.stopped_selling_on IS NOT NULL AND p.is_active
        ),
        months AS (
            SELECT DISTINCT merchant_id, period_start, period_end FROM marts.fct_merchant_period_sales
            WHERE period = 'month' AND is_complete_period
        ),
        stocked AS (
            SELECT stopped.product_id, months.period_start,
                   (SELECT sum(on_hand_delta) FROM raw.stock_movements AS sm
                    WHERE sm.product_id = stopped.product_id
                      AND (sm.occurred_at AT TIME ZONE 'Asia/Shanghai')::DATE <= months.period_end) AS on_hand
            FROM stopped JOIN months USING (merchant_id)
            WHERE months.period_start > stopped.stopped_selling_on
        )
        SELECT product_id, period_start, on_hand FROM stocked WHERE on_hand > 0 ORDER BY 1, 2
        """
    ).fetchall()
    flagged = marts.execute(
        """SELECT product_id, period_start, period_end_on_hand FROM marts.fct_product_rankings
           WHERE period = 'month' AND revenue = 0 AND is_slow_seller ORDER BY 1, 2"""
    ).fetchall()
    assert len(expected) >= 5
    assert set(expected) <= set(flagged)


# A hand-made merchant: customer C0001's first order is imported amount-only history in
# January; in February C0001 buys again (returning) and C0002, a wholesale customer, buys for
# the first time (new). IDLE is in stock and never sells; only C0001's order has shipped.
def utc(year: int, month: int, day: int, hour: int = 2) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _trade(conn: psycopg.Connection) -> None:
    t0 = utc(2026, 1, 5)
    leaf = category_path(conn, "A", ("农资", "化肥", "复合肥"), t0).leaf
    merchant = catalogue.create_merchant(conn, "M1", "城关供销社", t0, "county_coop")
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", t0)
    products = {
        code: catalogue.create_product(conn, merchant, code, name, leaf, Decimal(cost), Decimal(price), t0)
        for code, name, cost, price in (
            ("FERT", "复合肥", "80.00", "98.00"),
            ("SEED", "玉米种子", "20.00", "30.00"),
            ("IDLE", "尿素", "50.00", "70.00"),
        )
    }
    for product_id in products.values():
        stock.receive_stock(conn, warehouse_id=warehouse, product_id=product_id, quantity=20, at=t0)
    retail = catalogue.create_customer(conn, merchant, "C0001", "张三", t0, region="城关镇")
    wholesale = catalogue.create_customer(conn, merchant, "C0002", "李四", t0, "shop", "杨桥镇", price_tier="wholesale")
    conn.commit()
    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.csv"
        history.write_text(
            "order_code,customer_code,ordered_at,amount\nOLD-1,C0001,2026-01-20 10:00,500.00\n", encoding="utf-8"
        )
        imports.import_file(conn, "orders", history, merchant_code="M1", at=utc(2026, 2, 1))
    placed = [
        orders.place_order(
            conn,
            merchant_id=merchant,
            customer_id=customer,
            warehouse_id=warehouse,
            lines=[orders.OrderLineRequest(products[code], quantity)],
            at=utc(2026, 2, day),
        )
        for customer, code, quantity, day in (
            (retail, "FERT", 2, 3),
            (wholesale, "SEED", 1, 5),
            (wholesale, "FERT", 1, 6),
        )
    ]
    # Shipping takes the units off hand; the unshipped orders only reserve theirs.
    orders.ship_order(conn, placed[0], utc(2026, 2, 4))
    conn.commit()


@pytest.fixture(scope="module")
def handmade(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    uri = database_factory()
    with psycopg.connect(uri) as conn:
        _trade(conn)
    tmp = tmp_path_factory.mktemp("sales")
    path = tmp / "warehouse.duckdb"
    ingest_full(uri, path)
    dbt_build(
        path,
        tmp,
        "--select",
        "+path:models/marts/sales",
        "--exclude",
        "test_type:unit",
        # Tests of other marts that merely reference dim_merchants stay out.
        "--indirect-selection",
        "cautious",
    )
    conn = duckdb.connect(str(path), read_only=True)
    yield conn
    conn.close()


def test_a_customer_whose_first_order_was_imported_history_returns(handmade: duckdb.DuckDBPyConnection) -> None:
    months = handmade.execute(
        """SELECT period_start, is_complete_period, orders, customers, new_customers, returning_customers,
                  revenue, amount_only_revenue, new_customer_revenue, returning_customer_revenue,
                  average_order_value
           FROM marts.fct_merchant_period_sales WHERE period = 'month' ORDER BY period_start"""
    ).fetchall()
    amounts = [tuple(str(amount) for amount in row[6:]) for row in months]
    assert [row[:6] for row in months] == [(date(2026, 1, 1), True, 1, 1, 1, 0), (date(2026, 2, 1), False, 3, 2, 1, 1)]
    assert amounts == [
        ("500.00", "500.00", "500.00", "0.00", "500.00"),
        ("324.00", "0.00", "128.00", "196.00", "108.00"),
    ]


def test_channels_and_regions_of_the_handmade_merchant(handmade: duckdb.DuckDBPyConnection) -> None:
    channels = handmade.execute(
        """SELECT period_start, channel_type, channel, orders, revenue, revenue_share
           FROM marts.fct_channel_period_sales WHERE period = 'month' ORDER BY 1, 2, 3"""
    ).fetchall()
    assert channels == [
        (date(2026, 1, 1), "order_source", "import", 1, Decimal("500.00"), 1.0),
        (date(2026, 1, 1), "price_tier", "retail", 1, Decimal("500.00"), 1.0),
        (date(2026, 2, 1), "order_source", "platform", 3, Decimal("324.00"), 1.0),
        (date(2026, 2, 1), "price_tier", "retail", 1, Decimal("196.00"), 196 / 324),
        (date(2026, 2, 1), "price_tier", "wholesale", 2, Decimal("128.00"), 128 / 324),
    ]
    regions = handmade.execute(
        """SELECT region, customers, revenue FROM marts.fct_region_period_sales
           WHERE period = 'quarter' ORDER BY 1"""
    ).fetchall()
    assert regions == [("城关镇", 1, Decimal("696.00")), ("杨桥镇", 1, Decimal("128.00"))]


def test_sku_marts_leave_out_amount_only_history_and_list_the_idle_sku(handmade: duckdb.DuckDBPyConnection) -> None:
    categories = handmade.execute(
        """SELECT category_level, category_code, category_name, orders, quantity, revenue
           FROM marts.fct_category_period_sales WHERE period = 'quarter' ORDER BY 1"""
    ).fetchall()
    assert categories == [
        (1, "A", "农资", 3, 4, Decimal("324.00")),
        (2, "A-1", "化肥", 3, 4, Decimal("324.00")),
        (3, "A-1-1", "复合肥", 3, 4, Decimal("324.00")),
    ]
    ranking = handmade.execute(
        """SELECT sku_code, revenue, revenue_rank, quantity_rank, is_hot_seller, is_slow_seller, period_end_on_hand
           FROM marts.fct_product_rankings WHERE period = 'month' AND period_start = DATE '2026-02-01'
           ORDER BY revenue_rank"""
    ).fetchall()
    assert ranking == [
        ("FERT", Decimal("294.00"), 1, 1, True, False, 18),
        ("SEED", Decimal("30.00"), 2, 2, False, False, 20),
        ("IDLE", Decimal("0.00"), 3, 3, False, True, 20),
    ]
