"""The inventory marts on a shop traded through the real services, checked against numbers worked
out by hand from its stock ledger: positions, turnover, ageing, stock-out and low-stock days.

Merchant M1 (as_of 10 April 2026, its last order day):
- FERT in WH01 (leaf 复合肥, low-stock threshold 5): 10 @ 10.00 on 1 Jan, 20 @ 12.00 on 1 Feb;
  sold 10 on 1 Mar and 20 on 20 Mar (empty until 1 Apr); 10 @ 11.00 on 1 Apr; sold 6 on 5 Apr,
  2 of them returned into stock on 8 Apr; 1 ordered on 10 Apr, reserved, not shipped.
- SEED in WH02 (same leaf): 8 @ 20.00 on 1 Jan, never sold.
- OIL in WH01 (leaf 菜籽油): 5 @ 8.00 on 1 Jan expiring 31 Mar, never sold nor written off.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipelines.ingest import ingest_full
from tests.conftest import PipelineRun, dbt_build, warehouse_rows
from transactional import catalogue, orders, stock

AS_OF = date(2026, 4, 10)


def utc(day: date, hour: int = 2) -> datetime:
    """10:00 in Shanghai at hour 2 UTC: the same business date."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _trade(conn: psycopg.Connection) -> None:
    t0 = utc(date(2026, 1, 1), 1)
    farm = catalogue.create_category(conn, "A", "农资", 1, t0)
    fertiliser = catalogue.create_category(conn, "A1", "化肥", 2, t0, farm)
    compound = catalogue.create_category(conn, "A11", "复合肥", 3, t0, fertiliser)
    food = catalogue.create_category(conn, "B", "食品", 1, t0)
    oils = catalogue.create_category(conn, "B1", "粮油", 2, t0, food)
    rapeseed = catalogue.create_category(conn, "B11", "菜籽油", 3, t0, oils)

    m1 = catalogue.create_merchant(conn, "M1", "城关供销社", t0, "county_coop")
    wh1 = catalogue.create_warehouse(conn, m1, "WH01", "主仓", t0)
    wh2 = catalogue.create_warehouse(conn, m1, "WH02", "乡镇仓", t0)
    customer = catalogue.create_customer(conn, m1, "C0001", "张三", t0)
    fert = catalogue.create_product(
        conn, m1, "FERT", "复合肥", compound, Decimal("10.00"), Decimal("15.00"), t0, low_stock_threshold=5
    )
    seed = catalogue.create_product(conn, m1, "SEED", "玉米种子", compound, Decimal("20.00"), Decimal("30.00"), t0)
    oil = catalogue.create_product(conn, m1, "OIL", "菜籽油", rapeseed, Decimal("8.00"), Decimal("12.00"), t0)

    def receive(warehouse_id: int, product_id: int, quantity: int, cost: str, day: date, expiry: date) -> int:
        return stock.receive_stock(
            conn,
            warehouse_id=warehouse_id,
            product_id=product_id,
            quantity=quantity,
            at=utc(day),
            unit_cost=Decimal(cost),
            expiry_date=expiry,
        )

    def sell(quantity: int, day: date, ship: bool = True) -> int:
        order_id = orders.place_order(
            conn,
            merchant_id=m1,
            customer_id=customer,
            warehouse_id=wh1,
            lines=[orders.OrderLineRequest(fert, quantity)],
            at=utc(day, 3),
        )
        if ship:
            orders.ship_order(conn, order_id, utc(day, 4))
        return order_id

    receive(wh1, fert, 10, "10.00", date(2026, 1, 1), date(2026, 12, 31))
    receive(wh2, seed, 8, "20.00", date(2026, 1, 1), date(2027, 12, 31))
    receive(wh1, oil, 5, "8.00", date(2026, 1, 1), date(2026, 3, 31))
    receive(wh1, fert, 20, "12.00", date(2026, 2, 1), date(2027, 6, 30))
    sell(10, date(2026, 3, 1))
    sell(20, date(2026, 3, 20))
    restock = receive(wh1, fert, 10, "11.00", date(2026, 4, 1), date(2027, 12, 31))
    returned_order = sell(6, date(2026, 4, 5))
    stock.return_to_stock(
        conn, warehouse_id=wh1, batch_id=restock, quantity=2, order_id=returned_order, at=utc(date(2026, 4, 8))
    )
    sell(1, AS_OF, ship=False)
    conn.commit()


# FERT's stock value in WH01 at the end of each day, from the ledger above: (first day, value).
FERT_VALUE_STEPS = [
    (date(2026, 1, 1), Decimal("100")),
    (date(2026, 2, 1), Decimal("340")),
    (date(2026, 3, 1), Decimal("240")),
    (date(2026, 3, 20), Decimal("0")),
    (date(2026, 4, 1), Decimal("110")),
    (date(2026, 4, 5), Decimal("44")),
    (date(2026, 4, 8), Decimal("66")),
]


def average_value(steps: list[tuple[date, Decimal]], window_days: int) -> float:
    """The time-weighted average of a step function of end-of-day values over the window,
    summed day by day (the marts integrate over runs instead)."""
    start = AS_OF - timedelta(days=window_days - 1)
    total = Decimal(0)
    day = start
    while day <= AS_OF:
        total += next((value for first, value in reversed(steps) if first <= day), Decimal(0))
        day += timedelta(days=1)
    return float(total) / window_days


@pytest.fixture(scope="module")
def warehouse_path(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    uri = database_factory()
    with psycopg.connect(uri) as conn:
        _trade(conn)
    tmp = tmp_path_factory.mktemp("inventory")
    path = tmp / "warehouse.duckdb"
    ingest_full(uri, path)
    # Only the inventory marts, their parents and the tests of those alone.
    dbt_build(
        path,
        tmp,
        "--select",
        "+path:models/marts/inventory",
        "+path:tests/inventory",
        "--indirect-selection",
        "cautious",
    )
    return path


def test_positions_sum_the_batches_per_sku_and_warehouse(warehouse_path: Path) -> None:
    positions = warehouse_rows(
        warehouse_path,
        """SELECT sku_code, warehouse_code, as_of, on_hand, reserved, available, sellable, expired_quantity,
                  stock_value, batches_in_stock, oldest_batch_age_days
           FROM marts.fct_stock_positions ORDER BY 1, 2""",
    )
    assert positions == [
        # The two emptied batches stay out of the count; the unshipped order holds 1 unit back.
        ("FERT", "WH01", AS_OF, 6, 1, 5, 5, 0, Decimal("66.00"), 1, 9),
        # Expired on 31 March and not written off: on hand and valued, but not sellable.
        ("OIL", "WH01", AS_OF, 5, 0, 5, 0, 5, Decimal("40.00"), 1, 99),
        ("SEED", "WH02", AS_OF, 8, 0, 8, 8, 0, Decimal("160.00"), 1, 99),
    ]


def test_turnover_of_a_sku_is_its_cogs_over_its_time_weighted_average_stock(warehouse_path: Path) -> None:
    turnover = warehouse_rows(
        warehouse_path,
        """SELECT window_days, units_sold, units_returned, gross_cogs, returned_cost, cogs, average_inventory_value,
                  turnover, turnover_days, is_low_turnover, advice_code
           FROM marts.fct_inventory_turnover WHERE sku_code = 'FERT' ORDER BY 1""",
    )
    assert [row[0] for row in turnover] == [90, 365]
    for window_days, sold, returned, gross, returned_cost, cogs, average, ratio, days, low, advice in turnover:
        # Sold 10 × 10.00, 20 × 12.00, 6 × 11.00 and 1 × 11.00 (reserved: it counts by order date);
        # 2 × 11.00 came back into stock.
        assert (sold, returned, gross, returned_cost, cogs) == (
            37,
            2,
            Decimal("417.00"),
            Decimal("22.00"),
            Decimal("395.00"),
        )
        expected_average = average_value(FERT_VALUE_STEPS, window_days)
        assert float(average) == pytest.approx(expected_average, abs=0.005)
        assert ratio == pytest.approx(395 / expected_average)
        assert days == pytest.approx(window_days / ratio)
        assert (low, advice) == (False, None)


def test_a_sku_that_sold_nothing_turns_over_zero_and_is_told_to_clear(warehouse_path: Path) -> None:
    seed = warehouse_rows(
        warehouse_path,
        """SELECT window_days, cogs, average_inventory_value, turnover, turnover_days, category_name,
                  category_median_scope, is_low_turnover, advice_code
           FROM marts.fct_inventory_turnover WHERE sku_code = 'SEED' ORDER BY 1""",
    )
    # One merchant has too few SKUs in the leaf for its own median: the network's (FERT, SEED).
    assert seed == [
        (90, Decimal("0.00"), Decimal("160.00"), 0.0, None, "复合肥", "network", True, "promote_or_clear"),
        # In stock from 1 January only: 100 of the 365 days.
        (365, Decimal("0.00"), Decimal("43.84"), 0.0, None, "复合肥", "network", True, "promote_or_clear"),
    ]
    # Alone in its leaf, OIL is its own median, 0: stock that sold nothing is low all the same.
    oil = warehouse_rows(
        warehouse_path,
        """SELECT turnover, category_median_turnover, is_low_turnover, advice_code
           FROM marts.fct_inventory_turnover WHERE sku_code = 'OIL'""",
    )
    assert oil == [(0.0, 0.0, True, "promote_or_clear"), (0.0, 0.0, True, "promote_or_clear")]


def test_category_and_merchant_turnover_divide_summed_cogs_by_summed_stock(warehouse_path: Path) -> None:
    fert, seed, oil = (
        average_value(FERT_VALUE_STEPS, 90),
        average_value([(date(2026, 1, 1), Decimal("160"))], 90),
        average_value([(date(2026, 1, 1), Decimal("40"))], 90),
    )
    categories = warehouse_rows(
        warehouse_path,
        """SELECT category_level, category_code, skus, low_turnover_skus, cogs, turnover
           FROM marts.fct_category_inventory_turnover WHERE window_days = 90 ORDER BY 2""",
    )
    expected = {"A": (1, 2, 1, fert + seed), "A1": (2, 2, 1, fert + seed), "A11": (3, 2, 1, fert + seed)}
    expected |= {"B": (1, 1, 1, oil), "B1": (2, 1, 1, oil), "B11": (3, 1, 1, oil)}
    for level, code, skus, low, cogs, turnover in categories:
        level_expected, skus_expected, low_expected, average = expected.pop(code)
        assert (level, skus, low) == (level_expected, skus_expected, low_expected)
        assert turnover == pytest.approx(float(cogs) / average)
    assert expected == {}
    merchant = warehouse_rows(
        warehouse_path,
        "SELECT cogs, turnover FROM marts.fct_merchant_inventory_turnover WHERE window_days = 90",
    )
    assert merchant[0][0] == Decimal("395.00")
    assert merchant[0][1] == pytest.approx(395 / (fert + seed + oil))


def test_ageing_buckets_hold_every_unit_on_hand(warehouse_path: Path) -> None:
    buckets = warehouse_rows(
        warehouse_path,
        """SELECT sku_code, warehouse_code, bucket_label, quantity, stock_value
           FROM marts.fct_stock_ageing ORDER BY 1, 2, bucket_no""",
    )
    assert buckets == [
        ("FERT", "WH01", "0-30", 6, Decimal("66.00")),
        ("OIL", "WH01", "90+", 5, Decimal("40.00")),
        ("SEED", "WH02", "90+", 8, Decimal("160.00")),
    ]


def test_stock_out_and_low_stock_days_follow_the_ledger_and_expiry(warehouse_path: Path) -> None:
    days = warehouse_rows(
        warehouse_path,
        """SELECT sku_code, window_days, observed_days, stock_out_days, low_stock_days, sellable, is_low_stock,
                  is_stocked_out, units_sold, estimated_lost_units
           FROM marts.fct_low_stock_days ORDER BY 1, 2""",
    )
    assert [row[:9] for row in days] == [
        # Empty 20-31 March (12 days); 4 sellable, below 5, on 5-7 April; 5 of 6 sellable at as_of.
        ("FERT", 90, 90, 12, 15, 5, False, False, 37),
        # Observed from its first receipt on 1 January: 100 days.
        ("FERT", 365, 100, 12, 15, 5, False, False, 37),
        # Expired on 31 March: nothing sellable from that day, though still on hand.
        ("OIL", 90, 90, 11, 0, 0, False, True, 0),
        ("OIL", 365, 100, 11, 0, 0, False, True, 0),
        ("SEED", 90, 90, 0, 0, 8, False, False, 0),
        ("SEED", 365, 100, 0, 0, 8, False, False, 0),
    ]
    assert days[0][9] == pytest.approx(12 * 37 / 78), "stocked-out days at the in-stock days' average sales"
    assert days[2][9] == 0.0, "OIL sold nothing, so its stock-out lost nothing"


def test_simulated_network_stock_and_stock_out_days_match_a_day_by_day_count(pipeline_run: PipelineRun) -> None:
    """The marts integrate over the ledger's change points; here the same numbers come from a
    dense SKU × day grid over the raw ledger, for the 90-day window."""
    path = pipeline_run.home / "warehouse.duckdb"
    dense_average = dict(
        ((merchant, sku), value)
        for merchant, sku, value in warehouse_rows(
            path,
            """WITH moves AS (
                   SELECT m.merchant_id, m.product_id, CAST(m.occurred_at AT TIME ZONE 'Asia/Shanghai' AS DATE) AS day,
                          m.on_hand_delta * b.unit_cost AS value_delta
                   FROM raw.stock_movements m JOIN raw.batches b USING (batch_id)),
               days AS (
                   SELECT merchant_id, CAST(unnest(generate_series(as_of - 89, as_of, INTERVAL 1 DAY)) AS DATE) AS day
                   FROM marts.dim_merchants WHERE as_of IS NOT NULL)
               SELECT days.merchant_id, moves.product_id, sum(moves.value_delta) / 90
               FROM days JOIN moves ON moves.merchant_id = days.merchant_id AND moves.day <= days.day
               GROUP BY 1, 2""",
        )
    )
    mart_average = dict(
        ((merchant, sku), value)
        for merchant, sku, value in warehouse_rows(
            path,
            """SELECT merchant_id, product_id, average_inventory_value FROM marts.fct_inventory_turnover
               WHERE window_days = 90""",
        )
    )
    assert len(mart_average) > 20
    for key, value in mart_average.items():
        assert float(value) == pytest.approx(float(dense_average.get(key, 0)), abs=0.006), key
    dense_stock_out = dict(
        ((warehouse, sku), days)
        for warehouse, sku, days in warehouse_rows(
            path,
            """WITH moves AS (
                   SELECT m.merchant_id, m.warehouse_id, m.product_id,
                          CAST(m.occurred_at AT TIME ZONE 'Asia/Shanghai' AS DATE) AS day,
                          m.on_hand_delta - m.reserved_delta - m.frozen_delta AS sellable_delta, b.expiry_date
                   FROM raw.stock_movements m JOIN raw.batches b USING (batch_id)),
               pairs AS (
                   SELECT moves.warehouse_id, moves.product_id, merchants.as_of,
                          greatest(min(moves.day), merchants.as_of - 89) AS first_day
                   FROM moves JOIN marts.dim_merchants merchants USING (merchant_id)
                   GROUP BY 1, 2, 3),
               days AS (
                   SELECT warehouse_id, product_id,
                          CAST(unnest(generate_series(first_day, as_of, INTERVAL 1 DAY)) AS DATE) AS day
                   FROM pairs),
               levels AS (
                   SELECT days.warehouse_id, days.product_id, days.day,
                          coalesce(sum(moves.sellable_delta), 0) AS sellable
                   FROM days LEFT JOIN moves
                     ON moves.warehouse_id = days.warehouse_id AND moves.product_id = days.product_id
                    AND moves.day <= days.day AND (moves.expiry_date IS NULL OR moves.expiry_date > days.day)
                   GROUP BY 1, 2, 3)
               SELECT warehouse_id, product_id, count(*) FILTER (WHERE sellable <= 0) FROM levels GROUP BY 1, 2""",
        )
    )
    mart_stock_out = dict(
        ((warehouse, sku), days)
        for warehouse, sku, days in warehouse_rows(
            path, "SELECT warehouse_id, product_id, stock_out_days FROM marts.fct_low_stock_days WHERE window_days = 90"
        )
    )
    assert mart_stock_out == dense_stock_out
    assert sum(mart_stock_out.values()) > 0, "the simulated shops do run out of stock"


def test_skus_the_simulator_stopped_selling_turn_over_zero_and_are_told_to_clear(pipeline_run: PipelineRun) -> None:
    stopped = warehouse_rows(
        pipeline_run.home / "warehouse.duckdb",
        """SELECT t.sku_code, t.units_sold, t.turnover, t.turnover_days, t.is_low_turnover, t.advice_code
           FROM marts.fct_inventory_turnover t
           JOIN sim.sku_lifecycle s USING (merchant_code, sku_code)
           WHERE s.stopped_selling_on <= t.window_start_date AND t.average_inventory_value > 0""",
    )
    assert stopped, "the simulated network has SKUs that stopped selling with stock left"
    for sku, sold, turnover, days, low, advice in stopped:
        assert (sold, turnover, days, low, advice) == (0, 0.0, None, True, "promote_or_clear"), sku
