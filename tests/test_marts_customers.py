"""The customer and merchant marts: what a merchant would check against its own orders.

Two sources: the tiny simulated network of `pipeline_run` (its ground truth says which customers
churned), and a hand-made shop traded through the real services, whose customers include one
known only from imported amount-only history.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipelines.ingest import ingest_full
from tests.conftest import PipelineRun, dbt_build, warehouse_rows
from transactional import catalogue, imports, orders, stock

SLEEPING_DAYS = 90
REPURCHASE_WINDOW_DAYS = 30


@pytest.fixture(scope="module")
def network(pipeline_run: PipelineRun) -> Path:
    return pipeline_run.home / "warehouse.duckdb"


def test_about_five_percent_of_each_merchants_buying_customers_are_diamond(network: Path) -> None:
    tiers = warehouse_rows(
        network,
        """SELECT merchant_code,
                  count(*) FILTER (WHERE tier_window_amount > 0),
                  count(*) FILTER (WHERE value_tier = 'diamond'),
                  count(*) FILTER (WHERE value_tier = 'gold'),
                  count(*) FILTER (WHERE value_tier = 'silver')
           FROM marts.dim_customers GROUP BY 1 ORDER BY 1""",
    )
    assert len(tiers) >= 2
    for merchant, buyers, diamond, gold, silver in tiers:
        assert buyers >= 20, merchant
        # Amounts in cents rarely tie, so each tier holds its rounded-up share exactly.
        assert diamond == math.ceil(buyers * 0.05), merchant
        assert diamond + gold == math.ceil(buyers * 0.20), merchant
        assert diamond + gold + silver == math.ceil(buyers * 0.50), merchant


def test_a_higher_tier_never_spent_less_than_a_lower_one(network: Path) -> None:
    bounds = warehouse_rows(
        network,
        """SELECT merchant_code, value_tier, min(tier_window_amount), max(tier_window_amount)
           FROM marts.dim_customers GROUP BY 1, 2""",
    )
    by_merchant: dict[str, dict[str, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for merchant, tier, low, high in bounds:
        by_merchant[merchant][tier] = (low, high)
    for merchant, tiers in by_merchant.items():
        order = [tiers[name] for name in ("diamond", "gold", "silver", "none") if name in tiers]
        for (higher_low, _), (_, lower_high) in itertools.pairwise(order):
            assert higher_low > lower_high, merchant


def test_customers_the_simulator_churned_long_before_as_of_are_sleeping(network: Path) -> None:
    outcomes = warehouse_rows(
        network,
        f"""SELECT lifecycle.churned_on IS NOT NULL AS churned, customers.is_sleeping, count(*)
            FROM marts.dim_customers AS customers
            JOIN sim.customer_lifecycle AS lifecycle
              ON lifecycle.merchant_code = customers.merchant_code
             AND lifecycle.customer_code = customers.customer_code
            WHERE customers.orders > 0
              AND (lifecycle.churned_on IS NULL OR lifecycle.churned_on <= customers.as_of - {SLEEPING_DAYS})
            GROUP BY ALL""",
    )
    counts = {(churned, sleeping): n for churned, sleeping, n in outcomes}
    assert counts.get((True, True), 0) > 0, "the tiny network has customers who churned long ago"
    assert counts.get((True, False), 0) == 0, "a customer who stopped buying 90+ days ago must be sleeping"
    staying = counts.get((False, False), 0) + counts.get((False, True), 0)
    assert counts.get((False, True), 0) < 0.25 * staying, "most customers who never churned still buy"


def test_sleeping_means_no_purchase_for_at_least_ninety_days(network: Path) -> None:
    wrong = warehouse_rows(
        network,
        f"""SELECT count(*) FROM marts.dim_customers
            WHERE is_sleeping <> coalesce(as_of - last_purchase_date >= {SLEEPING_DAYS}, false)""",
    )
    assert wrong == [(0,)]


def test_merchant_annual_and_trailing_sales_equal_the_sum_of_its_daily_sales(network: Path) -> None:
    annual = warehouse_rows(
        network,
        """SELECT annual.merchant_code, annual.sales_year, annual.sales, coalesce(sum(daily.revenue), 0)
           FROM marts.fct_merchant_annual_sales AS annual
           LEFT JOIN marts.fct_merchant_daily_sales AS daily
             ON daily.merchant_id = annual.merchant_id AND year(daily.sales_date) = annual.sales_year
           GROUP BY ALL ORDER BY 1, 2""",
    )
    assert annual
    for merchant, year, sales, daily in annual:
        assert sales == daily, (merchant, year)
    trailing = warehouse_rows(
        network,
        """SELECT tiers.merchant_code, tiers.trailing_sales, tiers.growth_tier, sum(daily.revenue)
           FROM marts.fct_merchant_growth_tiers AS tiers
           JOIN marts.fct_merchant_daily_sales AS daily
             ON daily.merchant_id = tiers.merchant_id
            AND daily.sales_date BETWEEN tiers.as_of - 364 AND tiers.as_of
           GROUP BY ALL""",
    )
    assert trailing
    floors = [(Decimal(10_000_000), "elite"), (Decimal(3_000_000), "senior"), (Decimal(1_000_000), "growth")]
    floors.append((Decimal(300_000), "standard"))
    for merchant, sales, tier, daily in trailing:
        assert sales == daily, merchant
        assert tier == next((name for floor, name in floors if sales >= floor), "entry"), merchant


def test_rfm_scores_every_recent_buyer_and_ranks_recency_the_right_way(network: Path) -> None:
    missing = warehouse_rows(
        network,
        """SELECT count(*) FROM marts.dim_customers AS customers
           LEFT JOIN marts.fct_customer_rfm AS rfm ON rfm.customer_id = customers.customer_id
           WHERE customers.last_purchase_date >= customers.as_of - 364 AND rfm.customer_id IS NULL""",
    )
    assert missing == [(0,)]
    by_score = warehouse_rows(
        network,
        """SELECT merchant_code, recency_score, min(recency_days), max(recency_days), count(*)
           FROM marts.fct_customer_rfm GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    per_merchant: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    for merchant, score, low, high, n in by_score:
        per_merchant[merchant].append((score, low, high, n))
    for merchant, scores in per_merchant.items():
        # The most recent buyers always score 5; a large tie can leave a lower score unused.
        assert scores[-1][0] == 5 and len(scores) >= 3, merchant
        for (_, older_low, _, _), (_, _, newer_high, _) in itertools.pairwise(scores):
            assert newer_high < older_low, f"{merchant}: a higher recency score is a more recent purchase"
    champions_recency, hibernating_recency = warehouse_rows(
        network,
        """SELECT avg(recency_days) FILTER (WHERE rfm_segment = 'champions'),
                  avg(recency_days) FILTER (WHERE rfm_segment = 'hibernating')
           FROM marts.fct_customer_rfm""",
    )[0]
    assert champions_recency < hibernating_recency


def test_segments_add_up_to_the_customers_and_their_revenue(network: Path) -> None:
    totals = warehouse_rows(
        network,
        """SELECT segments.merchant_code, segments.customers, segments.revenue, segments.share,
                  customers.customers, customers.revenue
           FROM (SELECT merchant_code, sum(customers) AS customers, sum(revenue) AS revenue,
                        sum(customer_share) AS share
                 FROM marts.fct_customer_segments GROUP BY 1) AS segments
           JOIN (SELECT merchant_code, count(*) AS customers, sum(tier_window_amount) AS revenue
                 FROM marts.dim_customers GROUP BY 1) AS customers USING (merchant_code)""",
    )
    assert totals
    for merchant, customers, revenue, share, expected_customers, expected_revenue in totals:
        assert (customers, revenue) == (expected_customers, expected_revenue), merchant
        assert share == pytest.approx(1.0), merchant


def _repurchase_from_orders(network: Path, merchant: str, month: date) -> tuple[int, int]:
    """Buyers of `month` and those who bought again within the window, from raw orders."""
    purchases = warehouse_rows(
        network,
        f"""SELECT DISTINCT orders.customer_id, CAST(timezone('Asia/Shanghai', orders.ordered_at) AS DATE)
           FROM raw.orders AS orders
           JOIN marts.dim_merchants AS merchants USING (merchant_id)
           WHERE merchants.merchant_code = '{merchant}'
             AND CAST(timezone('Asia/Shanghai', orders.ordered_at) AS DATE) <= merchants.as_of
             AND (orders.cancelled_at IS NULL
                  OR CAST(timezone('Asia/Shanghai', orders.cancelled_at) AS DATE) > merchants.as_of)""",
    )
    days: dict[int, list[date]] = defaultdict(list)
    for customer, day in purchases:
        days[customer].append(day)
    buyers = repurchasers = 0
    for customer_days in days.values():
        in_month = sorted(day for day in customer_days if (day.year, day.month) == (month.year, month.month))
        if not in_month:
            continue
        buyers += 1
        first = in_month[0]
        if any(first < day <= first + timedelta(days=REPURCHASE_WINDOW_DAYS) for day in customer_days):
            repurchasers += 1
    return buyers, repurchasers


def test_repurchase_rate_of_the_last_complete_month_matches_the_orders(network: Path) -> None:
    latest = warehouse_rows(
        network,
        """SELECT merchant_code, purchase_month, buyers, repurchasers, repurchase_rate, trailing_repurchase_rate
           FROM marts.fct_customer_repurchase_monthly
           WHERE is_complete
           QUALIFY row_number() OVER (PARTITION BY merchant_code ORDER BY purchase_month DESC) = 1""",
    )
    assert latest
    for merchant, month, buyers, repurchasers, rate, trailing in latest:
        assert (buyers, repurchasers) == _repurchase_from_orders(network, merchant, month), merchant
        assert rate == pytest.approx(repurchasers / buyers)
        assert 0 < trailing <= 1
    incomplete = warehouse_rows(
        network,
        f"""SELECT count(*) FROM marts.fct_customer_repurchase_monthly
            WHERE is_complete <> (purchase_month + INTERVAL 1 MONTH - INTERVAL 1 DAY
                                  + INTERVAL {REPURCHASE_WINDOW_DAYS} DAY <= as_of)""",
    )
    assert incomplete == [(0,)]


# A hand-made shop: exact numbers, an imported customer and the 90-day boundary.


def utc(year: int, month: int, day: int) -> datetime:
    """02:00 UTC is 10:00 in Shanghai: the same business date."""
    return datetime(year, month, day, 2, tzinfo=UTC)


def _trade(conn: psycopg.Connection) -> None:
    """M1 sells fertiliser to C0001–C0003 (last order, so as_of, on 10 April 2026) and imports
    amount-only history: C0099 exists only there and spends the most; C0001 has one old order."""
    t0 = utc(2025, 11, 1)
    top = catalogue.create_category(conn, "A", "农资", 1, t0)
    middle = catalogue.create_category(conn, "A1", "化肥", 2, t0, top)
    leaf = catalogue.create_category(conn, "A11", "复合肥", 3, t0, middle)
    merchant = catalogue.create_merchant(conn, "M1", "城关供销社", t0, "county_coop")
    warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", t0)
    fert = catalogue.create_product(conn, merchant, "FERT", "复合肥", leaf, Decimal("80.00"), Decimal("98.00"), t0)
    stock.receive_stock(conn, warehouse_id=warehouse, product_id=fert, quantity=100, at=t0, unit_cost=Decimal("80"))
    buyers = {
        code: catalogue.create_customer(conn, merchant, code, name, t0, "farm", "城关镇")
        for code, name in (("C0001", "张三"), ("C0002", "李四"), ("C0003", "王五"))
    }

    def sell(code: str, quantity: int, at: datetime) -> None:
        orders.place_order(
            conn,
            merchant_id=merchant,
            customer_id=buyers[code],
            warehouse_id=warehouse,
            lines=[orders.OrderLineRequest(fert, quantity)],
            at=at,
        )

    sell("C0001", 1, utc(2026, 1, 10))
    sell("C0002", 2, utc(2026, 1, 10))  # exactly 90 days before as_of
    sell("C0003", 3, utc(2026, 1, 11))  # 89 days before as_of
    sell("C0001", 1, utc(2026, 4, 10))
    conn.commit()
    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.csv"
        history.write_text(
            "order_code,customer_code,ordered_at,amount\n"
            "OLD-1,C0099,2026-02-01 10:00,5000.00\n"
            "OLD-2,C0099,2026-03-01 10:00,3000.00\n"
            "OLD-3,C0001,2025-12-01 10:00,100.00\n",
            encoding="utf-8",
        )
        imports.import_file(conn, "orders", history, merchant_code="M1", at=utc(2026, 4, 10))
    conn.commit()


@pytest.fixture(scope="module")
def shop(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    uri = database_factory()
    with psycopg.connect(uri) as conn:
        _trade(conn)
    tmp = tmp_path_factory.mktemp("customers_dbt")
    path = tmp / "warehouse.duckdb"
    ingest_full(uri, path)
    dbt_build(
        path,
        tmp,
        "--select",
        "+path:models/marts/customers",
        "+path:models/marts/merchants",
        "--exclude",
        "test_type:unit",
        "--indirect-selection",
        "cautious",
    )
    return path


def test_a_customer_known_only_from_imported_history_is_tiered_and_scored(shop: Path) -> None:
    customers = warehouse_rows(
        shop,
        """SELECT customer_code, orders, amount, amount_only_amount, tier_position, value_tier,
                  first_purchase_date, main_category_l1
           FROM marts.dim_customers ORDER BY customer_code""",
    )
    # 4 buyers in the window: diamond takes ceil(0.05 × 4) = 1 place, gold none more (ceil(0.8) = 1),
    # silver up to ceil(0.5 × 4) = 2. C0099 bought nothing with SKU lines, so it has no category.
    assert customers == [
        ("C0001", 3, Decimal("296.00"), Decimal("100.00"), 2, "silver", date(2025, 12, 1), "农资"),
        ("C0002", 1, Decimal("196.00"), Decimal("0.00"), 4, "none", date(2026, 1, 10), "农资"),
        ("C0003", 1, Decimal("294.00"), Decimal("0.00"), 3, "none", date(2026, 1, 11), "农资"),
        ("C0099", 2, Decimal("8000.00"), Decimal("8000.00"), 1, "diamond", date(2026, 2, 1), None),
    ]
    rfm = warehouse_rows(shop, "SELECT customer_code, frequency, monetary FROM marts.fct_customer_rfm ORDER BY 1")
    assert ("C0099", 2, Decimal("8000.00")) in rfm


def test_sleeping_starts_exactly_ninety_days_after_the_last_purchase(shop: Path) -> None:
    sleeping = warehouse_rows(
        shop,
        "SELECT customer_code, days_since_last_purchase, is_sleeping FROM marts.dim_customers ORDER BY 1",
    )
    assert sleeping == [
        ("C0001", 0, False),
        ("C0002", 90, True),
        ("C0003", 89, False),
        ("C0099", 40, False),
    ]


def test_imported_history_counts_in_the_merchants_annual_and_trailing_sales(shop: Path) -> None:
    annual = warehouse_rows(
        shop,
        """SELECT sales_year, orders, sales, amount_only_sales, is_complete_year, comparable_previous_sales
           FROM marts.fct_merchant_annual_sales ORDER BY 1""",
    )
    # 2026: 7 bags at 98.00 and 8 000.00 imported; 2025 only the imported 100.00.
    assert annual == [
        (2025, 1, Decimal("100.00"), Decimal("100.00"), True, None),
        (2026, 6, Decimal("8686.00"), Decimal("8000.00"), False, None),
    ]
    tiers = warehouse_rows(
        shop, "SELECT trailing_sales, amount_only_sales, growth_tier FROM marts.fct_merchant_growth_tiers"
    )
    assert tiers == [(Decimal("8786.00"), Decimal("8100.00"), "entry")]
