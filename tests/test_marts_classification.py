"""Classification marts on the tiny simulated network, checked against the simulator's ground truth.

The expected flags are worked out from `raw.*` (the stock ledger, batches, orders) and `sim.*`
(which SKUs the simulator stopped selling, what it sold each day), never from the marts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest
import yaml

from tests.conftest import REPO_ROOT, PipelineRun

VARS = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
SLOW_MOVING_DAYS = int(VARS["slow_moving_days"])
NEAR_EXPIRY_DAYS = sorted(int(days) for days in VARS["near_expiry_days"])
HISTORY_DAYS = int(VARS["classification_history_days"])
A_SHARE = float(VARS["abc_cumulative_shares"][0])


@pytest.fixture(scope="module")
def warehouse(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(pipeline_run.home / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def as_of(warehouse: duckdb.DuckDBPyConnection) -> dict[str, date]:
    return dict(warehouse.execute("SELECT merchant_code, as_of FROM marts.dim_merchants").fetchall())


@pytest.fixture(scope="module")
def ledger_stock(warehouse: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str, int], tuple[int, Decimal]]:
    """(merchant, sku, warehouse, batch) → (units on hand, unit cost) at the end of as_of, from the ledger."""
    return {
        (merchant, sku, warehouse_code, batch): (on_hand, unit_cost)
        for merchant, sku, warehouse_code, batch, on_hand, unit_cost in warehouse.execute(
            """SELECT m.merchant_code, p.sku_code, w.warehouse_code, s.batch_id, sum(s.on_hand_delta), b.unit_cost
               FROM raw.stock_movements s
               JOIN raw.merchants m USING (merchant_id)
               JOIN raw.products p USING (product_id)
               JOIN raw.warehouses w USING (warehouse_id)
               JOIN raw.batches b USING (batch_id)
               JOIN marts.dim_merchants d ON d.merchant_id = s.merchant_id
               WHERE timezone('Asia/Shanghai', s.occurred_at)::DATE <= d.as_of
               GROUP BY ALL
               HAVING sum(s.on_hand_delta) > 0"""
        ).fetchall()
    }


def _sku_stock(ledger_stock: dict) -> dict[tuple[str, str], tuple[int, Decimal]]:
    totals: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for (merchant, sku, _, _), (on_hand, unit_cost) in ledger_stock.items():
        units, value = totals.get((merchant, sku), (0, Decimal("0")))
        totals[(merchant, sku)] = (units + on_hand, value + on_hand * unit_cost)
    return totals


def _last_sold(warehouse: duckdb.DuckDBPyConnection, as_of: dict[str, date]) -> dict[tuple[str, str], date]:
    """The simulator's last day with units sold per merchant × SKU, on or before the merchant's as_of."""
    last: dict[tuple[str, str], date] = {}
    for merchant, sku, day in warehouse.execute(
        "SELECT merchant_code, sku_code, date::DATE FROM sim.daily_demand WHERE sold > 0"
    ).fetchall():
        if day <= as_of[merchant] and day > last.get((merchant, sku), date.min):
            last[(merchant, sku)] = day
    return last


def _slow_moving(warehouse: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[int, Decimal, int]]:
    return {
        (merchant, sku): (on_hand, value, rank)
        for merchant, sku, on_hand, value, rank in warehouse.execute(
            """SELECT merchant_code, sku_code, on_hand, slow_moving_value, value_rank
               FROM marts.fct_slow_moving_products"""
        ).fetchall()
    }


def test_skus_the_simulator_stopped_selling_are_slow_moving_with_their_stock_value(
    warehouse: duckdb.DuckDBPyConnection, as_of: dict[str, date], ledger_stock: dict
) -> None:
    stock = _sku_stock(ledger_stock)
    stopped = [
        (merchant, sku)
        for merchant, sku, stopped_on in warehouse.execute(
            """SELECT merchant_code, sku_code, stopped_selling_on FROM sim.sku_lifecycle
               WHERE stopped_selling_on IS NOT NULL"""
        ).fetchall()
        if stopped_on < as_of[merchant] - timedelta(days=SLOW_MOVING_DAYS) and (merchant, sku) in stock
    ]
    assert stopped, "the tiny scenario has no SKU stopped long enough ago with stock left"
    slow = _slow_moving(warehouse)
    for key in stopped:
        assert key in slow, f"{key} stopped selling more than {SLOW_MOVING_DAYS} days ago and holds stock"
        assert slow[key][:2] == stock[key], f"{key}: units and value tied up should match the ledger × batch cost"
    flags = warehouse.execute(
        """SELECT merchant_code, sku_code, bool_and(is_slow_moving), sum(slow_moving_value)
           FROM marts.fct_inventory_flags WHERE on_hand > 0 GROUP BY ALL"""
    ).fetchall()
    flagged = {(merchant, sku): (all_slow, value) for merchant, sku, all_slow, value in flags}
    for key in stopped:
        assert flagged[key] == (True, stock[key][1]), f"{key}: every warehouse holding it flags it slow-moving"
    for merchant in {merchant for merchant, _ in slow}:
        ranked = sorted((rank, value) for (m, _), (_, value, rank) in slow.items() if m == merchant)
        values = [value for _, value in ranked]
        assert values == sorted(values, reverse=True), f"{merchant}: value_rank 1 ties up the most value"


def test_skus_the_simulator_kept_selling_are_not_slow_moving(
    warehouse: duckdb.DuckDBPyConnection, as_of: dict[str, date], ledger_stock: dict
) -> None:
    stock = _sku_stock(ledger_stock)
    last_sold = _last_sold(warehouse, as_of)
    kept = {
        (merchant, sku)
        for merchant, sku in warehouse.execute(
            "SELECT merchant_code, sku_code FROM sim.sku_lifecycle WHERE stopped_selling_on IS NULL"
        ).fetchall()
    }
    recent = {
        key
        for key in kept
        if key in stock and key in last_sold and last_sold[key] >= as_of[key[0]] - timedelta(days=SLOW_MOVING_DAYS)
    }
    assert recent, "the tiny scenario has no SKU still selling with stock"
    slow = _slow_moving(warehouse)
    assert not recent & slow.keys(), "SKUs the simulator sold in the last slow_moving_days days are not slow-moving"
    # Both ways: a flagged SKU the simulator never stopped went unsold (by the simulator's own
    # record) for more than slow_moving_days; never-sold SKUs count from their first receipt.
    for key in slow.keys() & kept:
        if key in last_sold:
            assert last_sold[key] < as_of[key[0]] - timedelta(days=SLOW_MOVING_DAYS), key


def _expected_class(days_to_expiry: int) -> str | None:
    if days_to_expiry <= 0:
        return "expired"
    for level in NEAR_EXPIRY_DAYS:
        if days_to_expiry <= level:
            return f"within_{level}_days"
    return None


def test_batches_the_simulator_dated_near_expiry_are_flagged_at_their_level(
    warehouse: duckdb.DuckDBPyConnection, as_of: dict[str, date], ledger_stock: dict
) -> None:
    expiry = dict(warehouse.execute("SELECT batch_id, expiry_date FROM raw.batches").fetchall())
    expected = {}
    for (merchant, _, warehouse_code, batch), (on_hand, unit_cost) in ledger_stock.items():
        if expiry[batch] is None:
            continue
        expiry_class = _expected_class((expiry[batch] - as_of[merchant]).days)
        if expiry_class is not None:
            expected[(warehouse_code, batch)] = (expiry_class, on_hand * unit_cost)
    listed = {
        (warehouse_code, batch): (expiry_class, value)
        for warehouse_code, batch, expiry_class, value in warehouse.execute(
            "SELECT warehouse_code, batch_id, expiry_class, value_at_risk FROM marts.fct_near_expiry_batches"
        ).fetchall()
    }
    assert listed == expected
    levels_present = {expiry_class for expiry_class, _ in expected.values()}
    assert {f"within_{level}_days" for level in NEAR_EXPIRY_DAYS} <= levels_present, (
        f"the tiny scenario should hold a batch at every near-expiry level, has {sorted(levels_present)}"
    )


def test_abc_puts_about_80_percent_of_revenue_in_a_and_the_best_seller_in_a(
    warehouse: duckdb.DuckDBPyConnection, as_of: dict[str, date]
) -> None:
    revenue: dict[str, dict[str, Decimal]] = {}
    for merchant, sku, ordered, cancelled, amount in warehouse.execute(
        """SELECT m.merchant_code, p.sku_code, timezone('Asia/Shanghai', o.ordered_at)::DATE,
                  timezone('Asia/Shanghai', o.cancelled_at)::DATE, l.line_amount
           FROM raw.order_lines l
           JOIN raw.orders o USING (order_id)
           JOIN raw.merchants m ON m.merchant_id = o.merchant_id
           JOIN raw.products p USING (product_id)"""
    ).fetchall():
        end = as_of[merchant]
        if end - timedelta(days=HISTORY_DAYS) < ordered <= end and (cancelled is None or cancelled > end):
            revenue.setdefault(merchant, {}).setdefault(sku, Decimal("0"))
            revenue[merchant][sku] += amount
    classes = {
        (merchant, sku): (abc_class, sku_revenue)
        for merchant, sku, abc_class, sku_revenue in warehouse.execute(
            "SELECT merchant_code, sku_code, abc_class, revenue FROM marts.fct_product_abc_xyz"
        ).fetchall()
    }
    assert revenue
    for merchant, by_sku in revenue.items():
        total = sum(by_sku.values())
        for sku, amount in by_sku.items():
            assert classes[(merchant, sku)][1] == amount, f"{merchant} {sku}: window revenue"
        best = max(by_sku, key=by_sku.get)
        assert classes[(merchant, best)][0] == "A", f"{merchant}: the best seller {best} is A"
        a_revenue = sorted(
            (amount for sku, amount in by_sku.items() if classes[(merchant, sku)][0] == "A"), reverse=True
        )
        share = float(sum(a_revenue) / total)
        assert share >= A_SHARE, f"{merchant}: A holds {share:.3f} of revenue"
        # A is the shortest run of best sellers that reaches the share: without its last SKU (and
        # any tied with it) it falls short, so A holds the share plus at most one SKU's revenue.
        without_last = sum(amount for amount in a_revenue if amount != a_revenue[-1])
        assert float(without_last / total) < A_SHARE, f"{merchant}: A holds more SKUs than it needs"
        assert all(
            classes[(merchant, sku)][0] == "C"
            for (m, sku), (_, amount) in classes.items()
            if m == merchant and amount == 0
        )
