"""The bulk funnel generator: traffic consistent with the orders, a funnel that narrows, the target
conversion, determinism, speed, and rows the database's constraints accept."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.builders import category_path
from transactional import catalogue, orders
from transactional.simulator.bulk.funnel import (
    CART_ADD,
    EXPOSURE,
    PRODUCT_VIEW,
    PURCHASE,
    VISIT,
    ShopTraffic,
    funnel_events,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_DAY = datetime(2024, 1, 1, tzinfo=SHANGHAI)
DAY_US = 86_400_000_000
FIRST_SESSION_ID = 1_001
SEED = 11
TARGET_CONVERSION = 0.16
COLUMNS = ["merchant_id", "occurred_at", "session_id", "customer_id", "product_id", "order_id", "event_type"]


def epoch_us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def synthetic_history(days: int = 730, orders_per_day: float = 27.0, products: int = 300, customers: int = 2_000):
    """A growing shop with a weekly rhythm, launched and discontinued products, customers joining."""
    rng = np.random.default_rng(3)
    day_starts = epoch_us(FIRST_DAY) + np.arange(days, dtype=np.int64) * DAY_US
    day_traffic = 1 + 0.2 * np.sin(np.arange(days) * 2 * np.pi / 7)
    order_day = np.repeat(np.arange(days), rng.poisson(orders_per_day * np.linspace(0.6, 1.4, days) * day_traffic))
    order_count = len(order_day)
    order_times = np.sort(day_starts[order_day] + (rng.uniform(8, 19.5, order_count) * 3_600_000_000).astype(np.int64))
    line_order_index = np.repeat(np.arange(order_count), 1 + rng.poisson(1.5, order_count))
    launch = np.where(rng.random(products) < 0.1, rng.integers(0, days, products), 0)
    stop = np.maximum(np.where(rng.random(products) < 0.1, rng.integers(0, days, products), days), launch + 1)
    join_day = np.sort(rng.integers(0, days, customers))
    join_day[: customers // 3] = 0
    return ShopTraffic(
        merchant_id=7,
        order_ids=np.arange(order_count, dtype=np.int64) + 5_000,
        order_customer_ids=rng.integers(1, customers + 1, order_count),
        order_times_us=order_times,
        line_order_index=line_order_index,
        line_product_ids=rng.integers(1, products + 1, len(line_order_index)),
        day_starts_us=day_starts,
        day_traffic=day_traffic,
        products_on_sale=np.arange(1, products + 1, dtype=np.int64),
        product_launch_day=launch,
        product_stop_day=stop,
        product_weight=rng.pareto(1.2, products) + 0.01,
        customer_ids=np.arange(1, customers + 1, dtype=np.int64),
        customer_join_day=join_day,
    )


@pytest.fixture(scope="module")
def history() -> ShopTraffic:
    return synthetic_history()


@pytest.fixture(scope="module")
def generated(history: ShopTraffic) -> tuple[pd.DataFrame, int]:
    return funnel_events(history, FIRST_SESSION_ID, np.random.default_rng(SEED), TARGET_CONVERSION)


@pytest.fixture(scope="module")
def events(generated: tuple[pd.DataFrame, int]) -> pd.DataFrame:
    return generated[0]


def micros(times: pd.Series) -> np.ndarray:
    return times.astype("int64").to_numpy()


def sessions_with(events: pd.DataFrame, event_type: int) -> set[int]:
    return set(events.loc[events.event_type == event_type, "session_id"])


def test_the_frame_has_the_table_columns_in_time_then_session_order(events: pd.DataFrame) -> None:
    assert list(events.columns) == COLUMNS
    assert {column: str(dtype) for column, dtype in events.dtypes.items()} == {
        "merchant_id": "int64",
        "occurred_at": "datetime64[us, UTC]",
        "session_id": "int64",
        "customer_id": "Int64",
        "product_id": "Int64",
        "order_id": "Int64",
        "event_type": "int16",
    }
    times = micros(events.occurred_at)
    same_time = times[1:] == times[:-1]
    assert (np.diff(times) >= 0).all()
    assert (np.diff(events.session_id.to_numpy())[same_time] >= 0).all()


def test_session_ids_are_contiguous_and_each_session_visits_once(
    events: pd.DataFrame, generated: tuple[pd.DataFrame, int]
) -> None:
    next_session_id = generated[1]
    visits = events.loc[events.event_type == VISIT, "session_id"]
    assert visits.is_unique
    assert np.array_equal(np.sort(events.session_id.unique()), np.arange(FIRST_SESSION_ID, next_session_id))
    assert len(visits) == next_session_id - FIRST_SESSION_ID


def test_each_stage_is_reached_by_a_subset_of_the_sessions_before_it(events: pd.DataFrame) -> None:
    visited, viewed, carted, bought = (
        sessions_with(events, stage) for stage in (VISIT, PRODUCT_VIEW, CART_ADD, PURCHASE)
    )
    assert visited >= viewed >= carted >= bought
    assert len(visited) > len(viewed) > len(carted) > len(bought) > 0
    assert (events.event_type == EXPOSURE).sum() > 0


def test_visitor_conversion_lands_near_the_target_and_rises_over_the_history(
    events: pd.DataFrame, history: ShopTraffic
) -> None:
    visits = events[events.event_type == VISIT]
    bought = visits.session_id.isin(sessions_with(events, PURCHASE))
    assert bought.mean() == pytest.approx(TARGET_CONVERSION, abs=0.015)
    day = (micros(visits.occurred_at) - history.day_starts_us[0]) // DAY_US
    quarter = len(history.day_starts_us) // 4
    first_quarter, last_quarter = bought[day < quarter].mean(), bought[day >= 3 * quarter].mean()
    assert 0.10 < first_quarter < 0.145 and 0.175 < last_quarter < 0.22


def test_every_order_is_bought_at_its_time_after_its_products_were_viewed_and_carted(
    events: pd.DataFrame, history: ShopTraffic
) -> None:
    purchases = events[events.event_type == PURCHASE]
    assert purchases.product_id.isna().all()
    assert purchases.order_id.is_unique and purchases.session_id.is_unique
    placed = pd.DataFrame(
        {"order_id": history.order_ids, "ordered_us": history.order_times_us, "buyer": history.order_customer_ids}
    )
    bought = purchases.assign(occurred_us=micros(purchases.occurred_at)).merge(placed, on="order_id", validate="1:1")
    assert len(bought) == len(history.order_ids)
    assert (bought.occurred_us == bought.ordered_us).all() and (bought.customer_id == bought.buyer).all()

    lines = pd.DataFrame(
        {"order_id": history.order_ids[history.line_order_index], "product_id": history.line_product_ids}
    ).merge(bought[["order_id", "session_id", "occurred_us"]], on="order_id")
    timed = events.assign(occurred_us=micros(events.occurred_at))
    for stage in (PRODUCT_VIEW, CART_ADD):
        first = timed[timed.event_type == stage].groupby(["session_id", "product_id"]).occurred_us.min()
        stage_at = lines.join(first.rename(f"at_{stage}"), on=["session_id", "product_id"])[f"at_{stage}"]
        assert stage_at.notna().all()
        assert (stage_at < lines.occurred_us).all()
        lines[f"at_{stage}"] = stage_at
    assert (lines[f"at_{PRODUCT_VIEW}"] < lines[f"at_{CART_ADD}"]).all()


def test_sessions_last_minutes_and_a_purchase_ends_its_session(events: pd.DataFrame) -> None:
    timed = events.assign(occurred_us=micros(events.occurred_at))
    by_session = timed.groupby("session_id").occurred_us
    assert (by_session.diff().dropna() > 0).all(), "events of a session share no instant"
    assert ((by_session.max() - by_session.min()) <= 45 * 60_000_000).all()
    purchases = timed[timed.event_type == PURCHASE].set_index("session_id").occurred_us
    assert (by_session.max()[purchases.index] == purchases).all()
    assert (timed.groupby("session_id").customer_id.nunique(dropna=False) == 1).all()


def test_browsing_shows_products_on_sale_to_joined_or_anonymous_customers(
    events: pd.DataFrame, history: ShopTraffic
) -> None:
    browsing = events[~events.session_id.isin(sessions_with(events, PURCHASE))]
    day = (micros(browsing.occurred_at) - history.day_starts_us[0]) // DAY_US
    shown = browsing.product_id.notna().to_numpy()
    product = np.searchsorted(history.products_on_sale, browsing.product_id.to_numpy(dtype=np.int64, na_value=0))
    assert (history.product_launch_day[product[shown]] <= day[shown]).all()
    assert (day[shown] < history.product_stop_day[product[shown]]).all()

    signed_in = browsing.customer_id.notna().to_numpy()
    customer = browsing.customer_id.to_numpy(dtype=np.int64, na_value=1) - 1
    assert (history.customer_join_day[customer[signed_in]] <= day[signed_in]).all()
    visits = browsing.event_type == VISIT
    assert signed_in[visits.to_numpy()].mean() == pytest.approx(0.3, abs=0.02)


def test_the_same_seed_gives_the_same_events(history: ShopTraffic, generated: tuple[pd.DataFrame, int]) -> None:
    again = funnel_events(history, FIRST_SESSION_ID, np.random.default_rng(SEED), TARGET_CONVERSION)
    pd.testing.assert_frame_equal(again[0], generated[0])
    assert again[1] == generated[1]
    other = funnel_events(history, FIRST_SESSION_ID, np.random.default_rng(SEED + 1), TARGET_CONVERSION)[0]
    assert not other.equals(generated[0])


def test_a_shop_without_orders_has_no_traffic() -> None:
    empty = synthetic_history(days=30, orders_per_day=0.0)
    events, next_session_id = funnel_events(empty, FIRST_SESSION_ID, np.random.default_rng(SEED))
    assert events.empty and list(events.columns) == COLUMNS
    assert next_session_id == FIRST_SESSION_ID


def test_generation_rate(history: ShopTraffic) -> None:
    started = time.perf_counter()
    events, _ = funnel_events(history, FIRST_SESSION_ID, np.random.default_rng(SEED + 2), TARGET_CONVERSION)
    seconds = time.perf_counter() - started
    per_order = len(events) / len(history.order_ids)
    print(f"\n{len(events):,} funnel events for {len(history.order_ids):,} orders ({per_order:.1f} per order)")
    print(f"in {seconds:.2f} s: {len(events) / seconds:,.0f} events/s")
    # The county scale's 50 M events for about 4 M orders need 12.5 a order.
    assert per_order >= 12.5


def test_the_rows_satisfy_the_funnel_table_constraints(conn: psycopg.Connection) -> None:
    traffic = _shop_in_database(conn, days=20, order_count=40)
    events, _ = funnel_events(traffic, 1, np.random.default_rng(SEED))
    rows = events.astype(object).where(events.notna(), None)
    with conn.cursor() as cursor, cursor.copy(f"COPY core.funnel_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows.itertuples(index=False, name=None):
            copy.write_row(row)
    conn.commit()
    stored, bought_on_time = conn.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE e.event_type = 5 AND e.occurred_at = o.ordered_at
                                     AND e.customer_id = o.customer_id)
           FROM core.funnel_events e LEFT JOIN core.orders o USING (order_id, merchant_id)"""
    ).fetchone()
    assert stored == len(events)
    assert bought_on_time == 40


def _shop_in_database(conn: psycopg.Connection, days: int, order_count: int) -> ShopTraffic:
    """A merchant with products, customers and orders made by the services; its traffic arrays."""
    rng = np.random.default_rng(5)
    leaf = category_path(conn, "T1", ("农资", "化肥", "复合肥"), FIRST_DAY).leaf
    merchant_id = catalogue.create_merchant(conn, "MFUNNEL", "城关供销社", FIRST_DAY)
    warehouse_id = catalogue.create_warehouse(conn, merchant_id, "WH01", "主仓", FIRST_DAY)
    product_ids = [
        catalogue.create_product(
            conn, merchant_id, f"SKU-{number}", f"商品{number}", leaf, Decimal("10"), Decimal("15"), FIRST_DAY
        )
        for number in range(6)
    ]
    customer_ids = [
        catalogue.create_customer(conn, merchant_id, f"C{number:04d}", f"客户{number}", FIRST_DAY)
        for number in range(8)
    ]
    for number in range(order_count):
        ordered_at = FIRST_DAY + timedelta(days=number * days // order_count, hours=9, minutes=int(rng.integers(600)))
        chosen = rng.choice(product_ids, size=int(rng.integers(1, 4)), replace=False)
        orders.receive_order(
            conn,
            merchant_id=merchant_id,
            customer_id=customer_ids[number % len(customer_ids)],
            warehouse_id=warehouse_id,
            lines=[orders.OrderLineRequest(int(product_id), 1) for product_id in chosen],
            at=ordered_at,
        )
    placed = conn.execute(
        "SELECT order_id, customer_id, ordered_at FROM core.orders WHERE merchant_id = %s ORDER BY order_id",
        [merchant_id],
    ).fetchall()
    lines = conn.execute(
        "SELECT order_id, product_id FROM core.order_lines WHERE merchant_id = %s ORDER BY order_id, line_no",
        [merchant_id],
    ).fetchall()
    order_ids = np.array([order_id for order_id, _, _ in placed], dtype=np.int64)
    return ShopTraffic(
        merchant_id=merchant_id,
        order_ids=order_ids,
        order_customer_ids=np.array([customer for _, customer, _ in placed], dtype=np.int64),
        order_times_us=np.array([epoch_us(at) for _, _, at in placed], dtype=np.int64),
        line_order_index=np.searchsorted(order_ids, [order_id for order_id, _ in lines]),
        line_product_ids=np.array([product_id for _, product_id in lines], dtype=np.int64),
        day_starts_us=epoch_us(FIRST_DAY) + np.arange(days, dtype=np.int64) * DAY_US,
        day_traffic=np.ones(days),
        products_on_sale=np.array(product_ids, dtype=np.int64),
        product_launch_day=np.array([0, 0, 0, 0, 5, 10]),
        product_stop_day=np.array([days, days, days, 12, days, days]),
        product_weight=np.array([5.0, 3.0, 1.0, 1.0, 2.0, 0.5]),
        customer_ids=np.array(customer_ids, dtype=np.int64),
        customer_join_day=np.array([0, 0, 0, 0, 3, 6, 9, 15]),
    )
