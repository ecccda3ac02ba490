"""Idempotency keys: a retry returns the first result, a reuse with another body is refused, and
concurrent retries (a client that times out and tries again at once) still write exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import AT, SKU, ApiShop, build_shop, order_body, receipt_body, running_api
from transactional import orders
from transactional.api import create_app
from transactional.db import act_for_merchant
from transactional.errors import IdempotencyKeyReused
from transactional.operations import Operation, Performed, perform
from transactional.stock import receive_stock

PARALLEL_REQUESTS = 50


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


def effects(shop: ApiShop) -> tuple[int, int, int]:
    """Orders, reserve movements and reserved units of the first merchant."""
    with psycopg.connect(shop.owner_url) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM core.orders WHERE merchant_id = %(m)s),
                      (SELECT count(*) FROM core.stock_movements
                       WHERE merchant_id = %(m)s AND movement_type = 'reserve'),
                      (SELECT coalesce(sum(reserved), 0) FROM core.stock WHERE merchant_id = %(m)s)""",
            {"m": shop.merchant.merchant_id},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_fifty_parallel_retries_over_http_make_one_order(shop: ApiShop, tmp_path) -> None:
    with running_api(shop.owner_url, tmp_path, pool_size=25) as base_url:
        headers = shop.merchant.headers
        assert httpx.post(f"{base_url}/stock/receipts", json=receipt_body(10), headers=headers).status_code == 201
        start = threading.Barrier(PARALLEL_REQUESTS)

        def place(_: int) -> httpx.Response:
            start.wait()
            return httpx.post(
                f"{base_url}/orders",
                json=order_body(3),
                headers={**headers, "Idempotency-Key": "retry-storm"},
                timeout=60,
            )

        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            answers = list(pool.map(place, range(PARALLEL_REQUESTS)))

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1, "every retry gets the first response, byte for byte"
    assert sum(answer.headers.get("Idempotent-Replayed") == "true" for answer in answers) == PARALLEL_REQUESTS - 1
    assert effects(shop) == (1, 1, 3)


def test_parallel_retries_through_the_wrapper_run_the_action_once(shop: ApiShop) -> None:
    """The same guarantee one level down, on separate connections of the application role."""
    with psycopg.connect(shop.owner_url) as conn:
        ids = conn.execute(
            """SELECT c.customer_id, w.warehouse_id, p.product_id
               FROM core.customers c, core.warehouses w, core.products p
               WHERE c.merchant_id = %(m)s AND w.merchant_id = %(m)s AND p.merchant_id = %(m)s
                 AND w.warehouse_code = 'WH01' AND p.sku_code = %(sku)s""",
            {"m": shop.merchant.merchant_id, "sku": SKU},
        ).fetchone()
    assert ids is not None
    customer_id, warehouse_id, product_id = ids
    threads = 20
    start = threading.Barrier(threads)
    actions_run = []

    def retry(_: int) -> tuple[dict, bool]:
        with psycopg.connect(shop.app_url, autocommit=True) as conn:
            operation = Operation(shop.merchant.merchant_id, "test", "order.place", {"quantity": 2}, AT, None, "k-7")

            def place() -> Performed:
                actions_run.append(1)
                order_id = orders.place_order(
                    conn,
                    merchant_id=shop.merchant.merchant_id,
                    customer_id=customer_id,
                    warehouse_id=warehouse_id,
                    lines=[orders.OrderLineRequest(product_id, 2)],
                    at=AT,
                )
                return Performed({"order_id": order_id})

            start.wait()
            outcome = perform(conn, operation, place)
            return outcome.response, outcome.replayed

    with psycopg.connect(shop.owner_url) as conn:
        receive_stock(conn, warehouse_id=warehouse_id, product_id=product_id, quantity=5, at=AT)
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(retry, range(threads)))

    assert len({response["order_id"] for response, _ in outcomes}) == 1
    assert sorted(replayed for _, replayed in outcomes) == [False] + [True] * (threads - 1)
    assert len(actions_run) == 1
    assert effects(shop) == (1, 1, 2)


def test_a_retry_returns_the_first_response_and_writes_nothing(client: TestClient, shop: ApiShop) -> None:
    headers = {**shop.merchant.headers, "Idempotency-Key": "order-2026-03-02-001"}
    client.post("/stock/receipts", json=receipt_body(10), headers=shop.merchant.headers)
    first = client.post("/orders", json=order_body(4), headers=headers)
    again = client.post("/orders", json=order_body(4), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert effects(shop) == (1, 1, 4)


def test_a_key_reused_for_another_request_is_refused(client: TestClient, shop: ApiShop) -> None:
    headers = {**shop.merchant.headers, "Idempotency-Key": "k-1"}
    client.post("/stock/receipts", json=receipt_body(10), headers=shop.merchant.headers)
    assert client.post("/orders", json=order_body(4), headers=headers).status_code == 201

    other_body = client.post("/orders", json=order_body(5), headers=headers)
    assert other_body.status_code == 422
    assert other_body.json()["detail"] == (
        "idempotency key 'k-1' was already used for a different request (order.place); send a new key for a new request"
    )
    other_route = client.post("/stock/receipts", json=receipt_body(1), headers=headers)
    assert other_route.status_code == 422
    assert effects(shop) == (1, 1, 4)


def test_defaults_written_out_or_left_out_make_the_same_request(client: TestClient, shop: ApiShop) -> None:
    headers = {**shop.merchant.headers, "Idempotency-Key": "k-defaults"}
    client.post("/stock/receipts", json=receipt_body(10), headers=shop.merchant.headers)
    first = client.post("/orders", json=order_body(4), headers=headers)
    spelled_out = order_body(4, payment_method="online", stage="confirmed", order_no=None)
    spelled_out["lines"][0] |= {"discount_amount": "0", "unit_price": None}
    again = client.post("/orders", json=spelled_out, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content
    assert effects(shop) == (1, 1, 4)


def test_an_empty_idempotency_key_is_refused(client: TestClient, shop: ApiShop) -> None:
    client.post("/stock/receipts", json=receipt_body(10), headers=shop.merchant.headers)
    for blank in ("", "   "):
        empty = client.post("/orders", json=order_body(4), headers={**shop.merchant.headers, "Idempotency-Key": blank})
        assert empty.status_code == 422, empty.text
        assert "Idempotency-Key" in empty.text
    assert effects(shop) == (0, 0, 0)


def test_a_refused_request_does_not_use_up_its_key(client: TestClient, shop: ApiShop) -> None:
    headers = {**shop.merchant.headers, "Idempotency-Key": "k-2"}
    assert client.post("/orders", json=order_body(3), headers=headers).status_code == 409
    client.post("/stock/receipts", json=receipt_body(3), headers=shop.merchant.headers)
    assert client.post("/orders", json=order_body(3), headers=headers).status_code == 201
    assert effects(shop) == (1, 1, 3)


def test_keys_belong_to_one_merchant(client: TestClient, shop: ApiShop) -> None:
    for merchant in (shop.merchant, shop.other):
        client.post("/stock/receipts", json=receipt_body(5), headers=merchant.headers)
        placed = client.post("/orders", json=order_body(1), headers={**merchant.headers, "Idempotency-Key": "same"})
        assert placed.status_code == 201 and "Idempotent-Replayed" not in placed.headers


def test_a_key_never_commits_without_its_response(shop: ApiShop) -> None:
    with psycopg.connect(shop.owner_url) as conn:
        act_for_merchant(conn, shop.merchant.merchant_id)
        conn.execute(
            """INSERT INTO core.idempotency_keys (merchant_id, key, operation, request_hash)
               VALUES (%s, 'half-done', 'order.place', %s)""",
            [shop.merchant.merchant_id, bytes(32)],
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="without a response"):
            conn.commit()


def test_the_wrapper_refuses_a_reused_key_before_running_the_action(shop: ApiShop) -> None:
    with psycopg.connect(shop.app_url, autocommit=True) as conn:
        first = Operation(shop.merchant.merchant_id, "test", "order.place", {"quantity": 1}, AT, None, "k-3")
        perform(conn, first, lambda: Performed({"done": 1}))
        changed = Operation(shop.merchant.merchant_id, "test", "order.place", {"quantity": 2}, AT, None, "k-3")
        ran = []

        def action() -> Performed:
            ran.append(1)
            return Performed({"done": 2})

        with pytest.raises(IdempotencyKeyReused, match="k-3"):
            perform(conn, changed, action)
        assert ran == []
