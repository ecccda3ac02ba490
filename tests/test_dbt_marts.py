"""The dbt marts on a small shop traded through the real services: what a merchant would check.

One scenario, built once: PostgreSQL → ingestion → `dbt build`, both with each merchant's own
as_of and with a fixed past as_of (a second warehouse file), so the later data must vanish.
"""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest

from models.forecasting.candidates import VALUE_COLUMNS
from models.forecasting.intervals import period_rollups
from pipelines import warehouse
from pipelines.assets.ml import DEMAND_FORECAST_PERIOD_COLUMNS, write_replenishment_plan
from pipelines.ingest import ingest_full
from tests.conftest import dbt_build, warehouse_rows
from transactional import catalogue, imports, orders, purchasing, stock

# Two minutes alone, four beside the Spark check: weighted to start with the two longest files,
# which wait for the shared pipeline build, and so to run before Spark starts.
pytestmark = pytest.mark.slow(minutes=4)

PAST_AS_OF = date(2026, 3, 10)


def utc(year: int, month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Warehouses:
    own_as_of: Path
    past_as_of: Path


def _trade(conn: psycopg.Connection) -> None:
    """Merchant M1 (two warehouses) trades FERT, OIL and SEED; M2 stops trading on 1 February,
    and has imported amount-only history from its old system."""
    t0 = utc(2026, 1, 5)
    top = catalogue.create_category(conn, "A", "农资", 1, t0)
    middle = catalogue.create_category(conn, "A1", "化肥", 2, t0, top)
    leaf = catalogue.create_category(conn, "A11", "复合肥", 3, t0, middle)

    m1 = catalogue.create_merchant(conn, "M1", "城关供销社", t0, "county_coop")
    wh1 = catalogue.create_warehouse(conn, m1, "WH01", "主仓", t0)
    wh2 = catalogue.create_warehouse(conn, m1, "WH02", "乡镇仓", t0)
    supplier = catalogue.create_supplier(conn, m1, "S01", "丰收化肥厂", 7, t0)
    customer = catalogue.create_customer(conn, m1, "C0001", "张三", t0)
    fert = catalogue.create_product(
        conn,
        m1,
        "FERT",
        "复合肥",
        leaf,
        Decimal("80.00"),
        Decimal("98.00"),
        t0,
        supplier_id=supplier,
        lead_time_days=7,
        min_order_qty=10,
        order_multiple=6,
        low_stock_threshold=5,
    )
    oil = catalogue.create_product(
        conn,
        m1,
        "OIL",
        "菜籽油",
        leaf,
        Decimal("44.00"),
        Decimal("60.00"),
        t0,
        supplier_id=supplier,
        shelf_life_days=365,
        low_stock_threshold=50,
    )
    seed = catalogue.create_product(conn, m1, "SEED", "玉米种子", leaf, Decimal("20.00"), Decimal("30.00"), t0)

    def receive(warehouse_id: int, product_id: int, quantity: int, cost: str, expiry: date | None, lot: str) -> None:
        stock.receive_stock(
            conn,
            warehouse_id=warehouse_id,
            product_id=product_id,
            quantity=quantity,
            at=t0,
            unit_cost=Decimal(cost),
            expiry_date=expiry,
            lot_code=lot,
        )

    receive(wh1, fert, 10, "70.00", date(2026, 5, 1), "F-EARLY")
    receive(wh1, fert, 20, "75.00", date(2027, 6, 1), "F-LATE")
    receive(wh2, fert, 5, "72.00", None, "F-W2")
    receive(wh1, oil, 40, "40.00", date(2026, 3, 20), "O-1")
    receive(wh1, oil, 30, "44.00", date(2026, 6, 1), "O-2")
    receive(wh2, seed, 8, "20.00", None, "S-1")

    def sell(warehouse_id: int, product_id: int, quantity: int, at: datetime, discount: str = "0") -> int:
        line = orders.OrderLineRequest(product_id, quantity, discount_amount=Decimal(discount))
        return orders.place_order(
            conn, merchant_id=m1, customer_id=customer, warehouse_id=warehouse_id, lines=[line], at=at
        )

    # 17:30 UTC is 01:30 the next day in Shanghai: a sale of 2 March.
    orders.ship_order(conn, sell(wh1, fert, 3, utc(2026, 3, 1, 17, 30), discount="1.00"), utc(2026, 3, 2))
    orders.cancel_order(conn, sell(wh1, oil, 5, utc(2026, 3, 10)), utc(2026, 3, 11))
    orders.ship_order(conn, sell(wh1, fert, 12, utc(2026, 3, 15)), utc(2026, 3, 16))
    sell(wh1, oil, 4, utc(2026, 4, 1))
    sell(wh2, fert, 2, utc(2026, 4, 10, 3))

    oil_po = purchasing.create_purchase_order(
        conn,
        merchant_id=m1,
        supplier_id=supplier,
        warehouse_id=wh1,
        lines=[purchasing.PurchaseLineRequest(oil, 30, Decimal("41.00"))],
        at=utc(2026, 3, 1),
    )
    purchasing.receive_purchase_order(conn, oil_po, utc(2026, 3, 12))
    purchasing.create_purchase_order(
        conn,
        merchant_id=m1,
        supplier_id=supplier,
        warehouse_id=wh1,
        lines=[purchasing.PurchaseLineRequest(fert, 24, Decimal("76.00"))],
        at=utc(2026, 4, 5),
    )

    m2 = catalogue.create_merchant(conn, "M2", "小卖部", t0)
    wh = catalogue.create_warehouse(conn, m2, "WH01", "店内", t0)
    soap = catalogue.create_product(conn, m2, "SOAP", "肥皂", leaf, Decimal("2.00"), Decimal("3.50"), t0)
    stock.receive_stock(conn, warehouse_id=wh, product_id=soap, quantity=10, at=t0)
    buyer = catalogue.create_customer(conn, m2, "C0001", "李四", t0)
    orders.place_order(
        conn,
        merchant_id=m2,
        customer_id=buyer,
        warehouse_id=wh,
        lines=[orders.OrderLineRequest(soap, 1)],
        at=utc(2026, 2, 1),
    )
    conn.commit()
    with tempfile.TemporaryDirectory() as folder:
        history = Path(folder) / "history.csv"
        history.write_text(
            "order_code,customer_code,ordered_at,amount\n"
            "OLD-1,C0001,2026-01-20 10:00,500.00\n"
            "OLD-2,C0099,2026-01-20 15:30,120.50\n"
            "OLD-3,C0099,2026-01-21 09:00,80.00\n",
            encoding="utf-8",
        )
        imports.import_file(conn, "orders", history, merchant_code="M2", at=utc(2026, 2, 2))
    conn.commit()


def _write_forecasts(path: Path) -> None:
    """FERT: 2 a day after M1's as_of (10 April), its 95% upper bound 1 above; an older as_of's
    rows that must be ignored. Its weeks and months are summed as the forecast sums them; with no
    backtest behind it, their intervals add up the days' spreads."""
    conn = duckdb.connect(str(path))
    try:
        warehouse.create_ml_tables(conn)
        for as_of, yhat in ((date(2026, 4, 10), 2.0), (date(2026, 3, 1), 500.0)):
            days = pd.DataFrame(
                {
                    "unique_id": "1|FERT",
                    "model": "seasonal_naive",
                    "ds": pd.date_range(as_of + timedelta(days=1), periods=90),
                }
            ).assign(yhat=yhat, yhat_lower_80=yhat, yhat_upper_80=yhat, yhat_lower_95=yhat, yhat_upper_95=yhat + 1.0)
            for day in days.itertuples():
                conn.execute(
                    "INSERT INTO ml.demand_forecasts VALUES (1, 'M1', 'FERT', NULL, ?, ?, ?, ?, ?, ?,"
                    " 'seasonal_naive', 'test-1', 'run-1', ?)",
                    [day.ds.date(), *(getattr(day, column) for column in VALUE_COLUMNS), as_of],
                )
            periods = period_rollups(days).assign(
                merchant_id=1,
                merchant_code="M1",
                sku_code="FERT",
                as_of=as_of,
                period_start=lambda frame: frame["period_start"].dt.date,
                period_end=lambda frame: frame["period_end"].dt.date,
                model_version="test-1",
                run_id="run-1",
            )
            warehouse.insert_rows(conn, "ml.demand_forecast_periods", DEMAND_FORECAST_PERIOD_COLUMNS, periods)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def warehouses(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    uri = database_factory()
    with psycopg.connect(uri) as conn:
        _trade(conn)
    tmp = tmp_path_factory.mktemp("dbt")
    own = tmp / "own" / "warehouse.duckdb"
    past = tmp / "past" / "warehouse.duckdb"
    own.parent.mkdir()
    past.parent.mkdir()
    ingest_full(uri, own)
    _write_forecasts(own)
    shutil.copy(own, past)
    _build_with_plan(own, tmp / "own")
    _build_with_plan(past, tmp / "past", "--vars", f'{{"as_of": "{PAST_AS_OF.isoformat()}"}}')
    return Warehouses(own, past)


def _build_with_plan(path: Path, tmp: Path, *args: str) -> None:
    """dbt build in the full run's order: the models, the replenishment plan on the forecasts, the ML marts."""
    dbt_build(path, tmp, "--exclude", "tag:ml", *args)
    with duckdb.connect(str(path)) as conn:
        write_replenishment_plan(conn, "plan-run-1")
    dbt_build(path, tmp, "--select", "tag:ml", *args)


def test_each_merchant_is_reported_as_of_its_own_last_order_day(warehouses: Warehouses) -> None:
    assert warehouse_rows(warehouses.own_as_of, "SELECT merchant_code, as_of FROM marts.dim_merchants ORDER BY 1") == [
        ("M1", date(2026, 4, 10)),
        ("M2", date(2026, 2, 1)),
    ]


def test_amount_only_history_counts_in_merchant_revenue_but_not_in_sku_marts(warehouses: Warehouses) -> None:
    merchant_days = warehouse_rows(
        warehouses.own_as_of,
        """SELECT sales_date, orders, order_lines, customers, revenue, gross_profit, amount_only_revenue
           FROM marts.fct_merchant_daily_sales WHERE merchant_code = 'M2' ORDER BY sales_date""",
    )
    assert merchant_days == [
        (date(2026, 1, 20), 2, 0, 2, Decimal("620.50"), Decimal("0.00"), Decimal("620.50")),
        (date(2026, 1, 21), 1, 0, 1, Decimal("80.00"), Decimal("0.00"), Decimal("80.00")),
        (date(2026, 2, 1), 1, 1, 1, Decimal("3.50"), Decimal("1.50"), Decimal("0.00")),
    ]
    sku_revenue = warehouse_rows(
        warehouses.own_as_of, "SELECT sum(revenue) FROM marts.fct_daily_sales WHERE merchant_code = 'M2'"
    )
    assert sku_revenue == [(Decimal("3.50"),)]


def test_daily_sales_are_net_of_discounts_dated_in_shanghai_and_skip_cancelled_orders(
    warehouses: Warehouses,
) -> None:
    sales = warehouse_rows(
        warehouses.own_as_of,
        """SELECT sku_code, sales_date, orders, quantity, revenue, cost, gross_profit
           FROM marts.fct_daily_sales WHERE merchant_code = 'M1' ORDER BY sales_date""",
    )
    assert sales == [
        ("FERT", date(2026, 3, 2), 1, 3, Decimal("293.00"), Decimal("210.00"), Decimal("83.00")),
        # FEFO: the 7 units left of the 70.00 batch, then 5 of the 75.00 batch.
        ("FERT", date(2026, 3, 15), 1, 12, Decimal("1176.00"), Decimal("865.00"), Decimal("311.00")),
        ("OIL", date(2026, 4, 1), 1, 4, Decimal("240.00"), Decimal("176.00"), Decimal("64.00")),
        ("FERT", date(2026, 4, 10), 1, 2, Decimal("196.00"), Decimal("144.00"), Decimal("52.00")),
    ]


def test_a_past_as_of_hides_later_orders_and_cancellations(warehouses: Warehouses) -> None:
    assert {row[0] for row in warehouse_rows(warehouses.past_as_of, "SELECT as_of FROM marts.dim_merchants")} == {
        PAST_AS_OF
    }
    sales = warehouse_rows(
        warehouses.past_as_of,
        "SELECT sku_code, sales_date, quantity FROM marts.fct_daily_sales WHERE merchant_code = 'M1' ORDER BY 2",
    )
    # The OIL order of 10 March was cancelled only on 11 March: on the 10th it was a sale.
    assert sales == [("FERT", date(2026, 3, 2), 3), ("OIL", date(2026, 3, 10), 5)]


def test_stock_on_hand_is_rebuilt_for_the_past_as_of(warehouses: Warehouses) -> None:
    stock_rows = warehouse_rows(
        warehouses.past_as_of,
        """SELECT warehouse_code, lot_code, on_hand, reserved, days_to_expiry, near_expiry_level, is_expired
           FROM marts.fct_stock_on_hand WHERE merchant_code = 'M1' ORDER BY 1, 2""",
    )
    assert stock_rows == [
        ("WH01", "F-EARLY", 7, 0, 52, 90, False),
        ("WH01", "F-LATE", 20, 0, 448, None, False),
        ("WH01", "O-1", 40, 5, 10, 30, False),
        ("WH01", "O-2", 30, 0, 83, 90, False),
        ("WH02", "F-W2", 5, 0, None, None, False),
        ("WH02", "S-1", 8, 0, None, None, False),
    ]
    on_order = warehouse_rows(
        warehouses.past_as_of,
        "SELECT sku_code, warehouse_code, on_order FROM marts.fct_replenishment_suggestions WHERE on_order > 0",
    )
    assert on_order == [("OIL", "WH01", 30)], "the OIL purchase order arrived only on 12 March"


def test_inventory_flags_at_the_merchants_as_of(warehouses: Warehouses) -> None:
    flags = warehouse_rows(
        warehouses.own_as_of,
        """SELECT sku_code, warehouse_code, on_hand, available, is_slow_moving, near_expiry_level,
                  nearest_expiry_date, expired_quantity, value_at_risk, is_low_stock, is_out_of_stock
           FROM marts.fct_inventory_flags WHERE merchant_code = 'M1' ORDER BY 1, 2""",
    )
    assert flags == [
        ("FERT", "WH01", 15, 15, False, None, date(2027, 6, 1), 0, Decimal("0.00"), False, False),
        # 2 of the 5 units are reserved for the open order of 10 April: 3 < threshold 5.
        ("FERT", "WH02", 5, 3, False, None, None, 0, Decimal("0.00"), True, False),
        # O-1 expired on 20 March (40 × 40.00); O-2 expires in 52 days (30 × 44.00).
        ("OIL", "WH01", 100, 56, False, 90, date(2026, 6, 1), 40, Decimal("2920.00"), False, False),
        # Never sold, received 95 days before as_of.
        ("SEED", "WH02", 8, 8, True, None, None, 0, Decimal("0.00"), False, False),
    ]


def test_replenishment_uses_the_current_forecast_and_open_purchase_orders(warehouses: Warehouses) -> None:
    suggestions = warehouse_rows(
        warehouses.own_as_of,
        """SELECT warehouse_code, forecast_lead_time_demand, safety_stock, available, on_order, suggested_qty,
                  forecast_model, review_period_days, service_level, lead_time_sd_days, daily_forecast_error_sd,
                  reorder_point, order_up_to, position, reason
           FROM marts.fct_replenishment_suggestions WHERE merchant_code = 'M1' AND sku_code = 'FERT' ORDER BY 1""",
    )
    assert [row[0] for row in suggestions] == ["WH01", "WH02"]
    # (7 days of lead time + 7 of review period: FERT does not expire) × 2 a day from the 10 April
    # forecast, split 15 : 2 by the units each warehouse sold.
    assert [row[7] for row in suggestions] == [7, 7]
    assert sum(row[1] for row in suggestions) == pytest.approx(28.0)
    assert suggestions[0][1] == pytest.approx(28.0 * 15 / 17)
    # No backtest: σe is the spread of the last 28 days' sales (12 on 15 March, 2 on 10 April).
    error_sd = statistics.pstdev([12, 2] + [0] * 26)
    assert sum(row[10] for row in suggestions) == pytest.approx(error_sd)
    service_level, lead_time_sd = suggestions[0][8], suggestions[0][9]
    z = statistics.NormalDist().inv_cdf(service_level)
    # Over P = 14 days the days' errors are correlated by ρ = 0.06: 14 · σe² · (1 + 0.06 · 13).
    expected_safety = z * math.sqrt(14 * error_sd**2 * 1.78 + 2.0**2 * lead_time_sd**2)
    assert sum(row[2] for row in suggestions) == pytest.approx(expected_safety)
    assert [(row[3], row[4]) for row in suggestions] == [(15, 24), (3, 0)]
    for _, forecast, safety, available, on_order, suggested, model, *_, reorder, up_to, position, reason in suggestions:
        assert model == "seasonal_naive"
        assert position == available + on_order
        assert reorder == pytest.approx(forecast + safety) and up_to == pytest.approx(reorder)
        if position > reorder:
            assert (suggested, reason) == (0, "covered")
        else:
            need = max(up_to - position, 10)
            assert suggested % 6 == 0 and suggested >= need and suggested - 6 < need
            assert reason == "below_reorder_point"


def test_forecast_periods_add_up_the_days_and_their_spread(warehouses: Warehouses) -> None:
    weeks = warehouse_rows(
        warehouses.own_as_of,
        """SELECT period_start, period_end, days_covered, yhat, yhat_lower_95, yhat_upper_95, yhat_upper_80
           FROM marts.fct_demand_forecast_periods
           WHERE merchant_code = 'M1' AND sku_code = 'FERT' AND period_grain = 'week' ORDER BY 1""",
    )
    # 11 April 2026 is a Saturday: the first ISO week holds the 11th and 12th, the next a whole week.
    assert weeks[0][:4] == (date(2026, 4, 6), date(2026, 4, 12), 2, 4.0)
    start, end, days, yhat, lower_95, upper_95, upper_80 = weeks[1]
    assert (start, end, days, yhat) == (date(2026, 4, 13), date(2026, 4, 19), 7, 14.0)
    # Each day's σ is 1 / 1.96 (its 95% bound is 1 above): a week's σ is √7 / 1.96.
    sigma = math.sqrt(7) / statistics.NormalDist().inv_cdf(0.975)
    assert upper_95 == pytest.approx(14 + math.sqrt(7)) and lower_95 == pytest.approx(14 - math.sqrt(7))
    assert upper_80 == pytest.approx(14 + statistics.NormalDist().inv_cdf(0.9) * sigma)
    assert sum(row[2] for row in weeks) == 90
    months = warehouse_rows(
        warehouses.own_as_of,
        """SELECT period_start, days_covered, yhat FROM marts.fct_demand_forecast_periods
           WHERE merchant_code = 'M1' AND sku_code = 'FERT' AND period_grain = 'month' ORDER BY 1""",
    )
    assert months[:2] == [(date(2026, 4, 1), 20, 40.0), (date(2026, 5, 1), 31, 62.0)]
