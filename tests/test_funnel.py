"""Funnel events: compact rows, a COPY bulk path that works under row security, bad events refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import AT, SKU, ApiShop, build_shop, merchant_rows, order_body, receipt_body
from transactional import funnel
from transactional.api import create_app
from transactional.db import act_for_merchant
from transactional.errors import InvalidFunnelEvent

BULK_EVENTS = 100_000
# About 1.5 s on a 2-core machine; the bound leaves room for a loaded CI runner.
BULK_SECONDS_AT_MOST = 15


@dataclass(frozen=True)
class Ids:
    merchant_id: int
    customer_id: int
    product_id: int
    order_id: int
    other_product_id: int


@pytest.fixture(scope="module")
def owner_url(database_factory) -> str:
    """One database for the module; each test trades as merchants of its own."""
    return database_factory()


@pytest.fixture
def shop(owner_url: str) -> ApiShop:
    return build_shop(owner_url)


@pytest.fixture
def client(shop: ApiShop) -> Iterator[TestClient]:
    with TestClient(create_app(shop.app_url)) as test_client:
        yield test_client


@pytest.fixture
def ids(shop: ApiShop, client: TestClient) -> Ids:
    client.post("/stock/receipts", json=receipt_body(5), headers=shop.merchant.headers)
    order_no = client.post("/orders", json=order_body(1), headers=shop.merchant.headers).json()["order_no"]
    with psycopg.connect(shop.owner_url) as conn:
        row = conn.execute(
            """SELECT c.customer_id, p.product_id, o.order_id, other.product_id
               FROM core.customers c, core.products p, core.orders o, core.products other
               WHERE c.merchant_id = %(m)s AND p.merchant_id = %(m)s AND p.sku_code = %(sku)s
                 AND o.merchant_id = %(m)s AND o.order_no = %(order_no)s
                 AND other.merchant_id = %(other)s AND other.sku_code = %(sku)s""",
            {"m": shop.merchant.merchant_id, "other": shop.other.merchant_id, "sku": SKU, "order_no": order_no},
        ).fetchone()
    assert row is not None
    return Ids(shop.merchant.merchant_id, *row)


@pytest.fixture
def app_conn(shop: ApiShop, ids: Ids) -> Iterator[psycopg.Connection]:
    """The application role, acting for the first merchant, as the API does."""
    with psycopg.connect(shop.app_url) as conn:
        act_for_merchant(conn, ids.merchant_id)
        yield conn


def a_day_of_traffic(ids: Ids, count: int) -> list[funnel.FunnelEvent]:
    """Sessions of five events: exposure, visit, view, cart add, and a purchase every fifth session."""
    events = []
    for number in range(count):
        session, stage = divmod(number, 5)
        kind = list(funnel.EVENT_TYPES)[stage]
        if kind == "purchase" and session % 5:
            kind = "visit"
        events.append(
            funnel.FunnelEvent(
                merchant_id=ids.merchant_id,
                occurred_at=AT + timedelta(seconds=number),
                session_id=session + 1,
                event_type=kind,
                customer_id=ids.customer_id if session % 3 else None,
                product_id=ids.product_id if kind in ("product_view", "cart_add") else None,
                order_id=ids.order_id if kind == "purchase" else None,
            )
        )
    return events


def stored_events(shop: ApiShop) -> int:
    return merchant_rows(shop, "funnel_events")


def test_a_hundred_thousand_events_load_fast_and_compactly(shop: ApiShop, ids: Ids, app_conn) -> None:
    events = a_day_of_traffic(ids, BULK_EVENTS)
    started = time.perf_counter()
    assert funnel.record_events(app_conn, events) == BULK_EVENTS
    app_conn.commit()
    seconds = time.perf_counter() - started
    print(f"\n{BULK_EVENTS} funnel events in {seconds:.2f} s ({BULK_EVENTS / seconds:,.0f} events/s)")
    assert seconds < BULK_SECONDS_AT_MOST

    with psycopg.connect(shop.owner_url) as conn:
        counts = dict(
            conn.execute(
                """SELECT t.name, count(*) FROM core.funnel_events e JOIN core.funnel_event_types t USING (event_type)
                   WHERE e.merchant_id = %s GROUP BY t.name""",
                [ids.merchant_id],
            ).fetchall()
        )
        table_bytes, rows = conn.execute(
            "SELECT pg_table_size('core.funnel_events'), (SELECT count(*) FROM core.funnel_events)"
        ).fetchone()
        text_columns = conn.execute(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = 'core' AND table_name = 'funnel_events'
                 AND data_type IN ('text', 'character varying')"""
        ).fetchall()
    assert counts == {
        "exposure": 20_000,
        "visit": 36_000,
        "product_view": 20_000,
        "cart_add": 20_000,
        "purchase": 4_000,
    }
    assert text_columns == []
    assert table_bytes / rows < 90, f"{table_bytes / rows:.0f} bytes per event"


def test_the_type_codes_match_the_lookup_table(shop: ApiShop) -> None:
    with psycopg.connect(shop.owner_url) as conn:
        stored = dict(conn.execute("SELECT name, event_type FROM core.funnel_event_types").fetchall())
    assert stored == funnel.EVENT_TYPES


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_type": "checkout"}, "unknown event type 'checkout'"),
        ({"event_type": "cart_add"}, "funnel_events_product_stage_names_product"),
        ({"event_type": "purchase"}, "funnel_events_purchase_names_order"),
        ({"session_id": 0}, "funnel_events_session_id_check"),
        ({"event_type": "product_view", "product_id": "another merchant's"}, 'is not present in table "products"'),
        ({"customer_id": -1}, 'is not present in table "customers"'),
        ({"occurred_at": AT.replace(tzinfo=None)}, "has no time zone"),
    ],
)
def test_a_bad_event_refuses_its_whole_batch(shop: ApiShop, ids: Ids, app_conn, change: dict, reason: str) -> None:
    events = a_day_of_traffic(ids, 1_000)
    if "product_id" in change:
        change = {**change, "product_id": ids.other_product_id}
    events[500] = replace(funnel.FunnelEvent(ids.merchant_id, AT, 101, "visit"), **change)
    with pytest.raises(InvalidFunnelEvent, match=reason):
        funnel.record_events(app_conn, events)
    app_conn.commit()
    assert stored_events(shop) == 0


def test_events_of_another_merchant_are_refused_by_row_security(shop: ApiShop, ids: Ids, app_conn) -> None:
    stranger = funnel.FunnelEvent(shop.other.merchant_id, AT, 1, "visit")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        funnel.record_events(app_conn, [stranger])


def test_two_batches_in_one_transaction_each_land_once(shop: ApiShop, ids: Ids, app_conn) -> None:
    assert funnel.record_events(app_conn, a_day_of_traffic(ids, 10)) == 10
    assert funnel.record_events(app_conn, a_day_of_traffic(ids, 7)) == 7
    app_conn.commit()
    assert stored_events(shop) == 17


def test_the_api_records_a_batch_by_codes(client: TestClient, shop: ApiShop, ids: Ids) -> None:
    headers = {**shop.merchant.headers, "Idempotency-Key": "traffic-0302"}
    batch = {
        "events": [
            {"occurred_at": "2026-03-02T09:00:00", "session_id": 7, "event_type": "exposure"},
            {"occurred_at": "2026-03-02T09:00:05", "session_id": 7, "event_type": "visit", "customer_code": "C0001"},
            {"occurred_at": "2026-03-02T09:01:00", "session_id": 7, "event_type": "product_view", "sku_code": SKU},
            {"occurred_at": "2026-03-02T09:02:00", "session_id": 7, "event_type": "cart_add", "sku_code": SKU},
        ]
    }
    accepted = client.post("/funnel-events", json=batch, headers=headers)
    assert accepted.status_code == 201 and accepted.json() == {"accepted": 4}
    assert client.post("/funnel-events", json=batch, headers=headers).json() == {"accepted": 4}
    assert stored_events(shop) == 4

    unknown = client.post(
        "/funnel-events",
        json={
            "events": [{"occurred_at": "2026-03-02T09:03:00", "session_id": 8, "event_type": "visit", "sku_code": "X"}]
        },
        headers=shop.merchant.headers,
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "SKU X does not exist"
    missing_product = client.post(
        "/funnel-events",
        json={"events": [{"occurred_at": "2026-03-02T09:03:00", "session_id": 8, "event_type": "cart_add"}]},
        headers=shop.merchant.headers,
    )
    assert missing_product.status_code == 422
    assert "funnel_events_product_stage_names_product" in missing_product.json()["detail"]
    assert stored_events(shop) == 4

    with psycopg.connect(shop.owner_url) as conn:
        logged = conn.execute("SELECT request FROM core.operation_log WHERE operation = 'funnel.record'").fetchall()
    assert len(logged) == 1
    assert logged[0][0]["events"] == 4 and logged[0][0]["first_occurred_at"] == "2026-03-02T09:00:00+08:00"
