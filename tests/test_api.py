"""The HTTP API against a real PostgreSQL, connected as the role subject to row security."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import (
    AT,
    REPO_ROOT,
    RICE,
    SKU,
    ApiShop,
    build_shop,
    merchant_rows,
    order_body,
    receipt_body,
    running_api,
)
from transactional import merchants, purchasing
from transactional.api import create_app
from transactional.imports import import_file


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


def stock_of(client: TestClient, headers: dict, sku_code: str = SKU) -> dict:
    levels = client.get("/stock", params={"sku_code": sku_code}, headers=headers).json()
    assert len(levels) == 1, levels
    return levels[0]


def orders_written(shop: ApiShop) -> int:
    return merchant_rows(shop, "orders")


def logged_operations(shop: ApiShop) -> list[str]:
    """The operation log of the first merchant's API writes, in order."""
    with psycopg.connect(shop.owner_url) as conn:
        rows = conn.execute(
            """SELECT operation FROM core.operation_log
               WHERE merchant_id = %s AND actor = %s ORDER BY operation_log_id""",
            [shop.merchant.merchant_id, merchants.key_prefix(shop.merchant.api_key)],
        ).fetchall()
    return [row[0] for row in rows]


def test_the_schema_and_docs_need_no_key(client: TestClient) -> None:
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for route in ("/orders", "/orders/{order_no}", "/orders/{order_no}/cancel", "/orders/{order_no}/ship", "/stock"):
        assert route in paths
    assert "/stock/receipts" in paths and "/purchase-orders/{po_no}/receipts" in paths and "/funnel-events" in paths
    assert client.get("/docs").status_code == 200


def test_requests_without_a_live_key_are_refused(client: TestClient, shop: ApiShop) -> None:
    missing = client.get("/stock")
    assert missing.status_code == 401
    assert "API key is required" in missing.json()["detail"]
    wrong = client.get("/stock", headers={"X-API-Key": shop.merchant.api_key[:-1] + "x"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["detail"]
    bearer = client.get("/stock", headers={"Authorization": f"Bearer {shop.merchant.api_key}"})
    assert bearer.status_code == 200


def test_a_rotated_key_stops_working_and_the_new_one_works(client: TestClient, shop: ApiShop) -> None:
    assert client.get("/stock", headers=shop.merchant.headers).status_code == 200
    with psycopg.connect(shop.owner_url) as conn:
        rotated = merchants.rotate_api_key(conn, shop.merchant.merchant_code, AT, actor="test")
    assert client.get("/stock", headers=shop.merchant.headers).status_code == 401
    assert client.get("/stock", headers={"X-API-Key": rotated.api_key}).status_code == 200


def test_keys_are_stored_only_as_hashes(shop: ApiShop) -> None:
    with psycopg.connect(shop.owner_url) as conn:
        stored = conn.execute(
            "SELECT key_prefix, key_hash FROM core.api_keys WHERE merchant_id = ANY(%s)",
            [[shop.merchant.merchant_id, shop.other.merchant_id]],
        ).fetchall()
    assert len(stored) == 2
    assert all(shop.merchant.api_key not in (prefix, bytes(digest).hex()) for prefix, digest in stored)
    assert (shop.merchant.api_key[:11], merchants.hash_api_key(shop.merchant.api_key)) in {
        (prefix, bytes(digest)) for prefix, digest in stored
    }


def test_units_of_a_batch_past_its_expiry_are_not_available(client: TestClient, shop: ApiShop) -> None:
    headers = shop.other.headers
    # Received in March with a June expiry: sellable then, waiting for its write-off now.
    expiring = receipt_body(6, lot_code="LOT-JUNE", expiry_date="2026-06-01", at="2026-03-02T09:00:00+08:00")
    assert client.post("/stock/receipts", json=expiring, headers=headers).status_code == 201

    level = stock_of(client, headers)
    assert (level["on_hand"], level["available"], level["expired"]) == (6, 0, 6)
    [batch] = client.get("/stock/batches", params={"sku_code": SKU}, headers=headers).json()
    assert (batch["lot_code"], batch["on_hand"], batch["available"]) == ("LOT-JUNE", 6, 0)
    refused = client.post("/orders", json=order_body(1), headers=headers)
    assert refused.status_code == 409 and "available 0" in refused.json()["detail"]


def test_place_read_and_cancel_an_order(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    received = client.post("/stock/receipts", json=receipt_body(10, lot_code="LOT-A"), headers=headers)
    assert received.status_code == 201, received.text
    assert received.json()["quantity"] == 10 and received.json()["lot_code"] == "LOT-A"

    placed = client.post("/orders", json=order_body(3), headers=headers)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "confirmed"
    assert order["total_amount"] == "294.00"
    assert order["lines"][0]["allocations"] == [{"lot_code": "LOT-A", "expiry_date": None, "quantity": 3}]
    assert stock_of(client, headers) == {
        "sku_code": SKU,
        "warehouse_code": "WH01",
        "on_hand": 10,
        "reserved": 3,
        "frozen": 0,
        "available": 7,
        "expired": 0,
        "batches": 1,
        "earliest_expiry": None,
    }

    read = client.get(f"/orders/{order['order_no']}", headers=headers)
    assert read.status_code == 200 and read.json() == order

    cancelled = client.post(f"/orders/{order['order_no']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelled_at"] is not None
    assert stock_of(client, headers)["reserved"] == 0

    refused = client.post(f"/orders/{order['order_no']}/ship", headers=headers)
    assert refused.status_code == 409
    assert "cancelled" in refused.json()["detail"]


def test_an_imported_order_reads_like_any_other(client: TestClient, shop: ApiShop, tmp_path) -> None:
    """Imported history never moved stock, so it has no warehouse; the API reads it all the same."""
    history = tmp_path / "history.csv"
    history.write_text(
        "order_code,customer_code,customer_name,ordered_at,sku_code,quantity,unit_price,amount\n"
        "EXT-7,C0001,,2025-03-01 09:30,FERT-001,2,,190.00\n",
        encoding="utf-8",
    )
    with psycopg.connect(shop.owner_url) as conn:
        import_file(conn, "orders", history, merchant_code=shop.merchant.merchant_code, at=AT)
        (order_no,) = conn.execute(
            "SELECT order_no FROM core.orders WHERE merchant_id = %s AND external_order_code = 'EXT-7'",
            [shop.merchant.merchant_id],
        ).fetchone()

    read = client.get(f"/orders/{order_no}", headers=shop.merchant.headers)

    assert read.status_code == 200, read.text
    order = read.json()
    assert (order["source"], order["external_order_code"], order["warehouse_code"]) == ("import", "EXT-7", None)
    assert order["status"] == "completed" and order["total_amount"] == "190.00"
    assert [(line["sku_code"], line["quantity"], line["line_amount"]) for line in order["lines"]] == [
        (SKU, 2, "190.00")
    ]


def test_ship_issues_the_reserved_units(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, at="2026-03-01T09:00:00+08:00"), headers=headers)
    order_no = client.post("/orders", json=order_body(2, at="2026-03-02T10:00:00+08:00"), headers=headers).json()[
        "order_no"
    ]
    shipped = client.post(f"/orders/{order_no}/ship", json={"at": "2026-03-03T09:00:00+08:00"}, headers=headers)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert datetime.fromisoformat(shipped.json()["shipped_at"]) == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert {key: stock_of(client, headers)[key] for key in ("on_hand", "reserved")} == {"on_hand": 3, "reserved": 0}


def test_refusals_carry_the_status_and_the_message(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(2), headers=headers)

    short = client.post("/orders", json=order_body(5), headers=headers)
    assert short.status_code == 409
    assert short.json()["detail"] == f"insufficient stock for SKU {SKU} in warehouse WH01: requested 5, available 2"

    unknown = client.post("/orders", json=order_body(1, sku_code="NOPE-1"), headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "SKU NOPE-1 does not exist"

    assert client.get("/orders/SO9999999999", headers=headers).status_code == 404
    assert client.post("/orders", json=order_body(0), headers=headers).status_code == 422
    assert client.post("/orders", json=order_body(1, surprise=True), headers=headers).status_code == 422
    oversized = b'{"events": [' + b" " * (9 * 1024 * 1024) + b"]}"
    assert (
        client.post(
            "/funnel-events", content=oversized, headers={**headers, "Content-Type": "application/json"}
        ).status_code
        == 413
    )

    assert orders_written(shop) == 0


def test_a_merchant_reaches_only_its_own_data(client: TestClient, shop: ApiShop) -> None:
    client.post("/stock/receipts", json=receipt_body(4), headers=shop.other.headers)
    theirs = client.post("/orders", json=order_body(1), headers=shop.other.headers).json()["order_no"]

    assert client.get(f"/orders/{theirs}", headers=shop.merchant.headers).status_code == 404
    assert client.post(f"/orders/{theirs}/cancel", headers=shop.merchant.headers).status_code == 404
    assert client.get("/stock", headers=shop.merchant.headers).json() == []
    assert client.get(f"/orders/{theirs}", headers=shop.other.headers).json()["status"] == "confirmed"


def test_back_dated_writes_keep_their_time(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, sku_code=RICE, at="2026-03-02T08:00:00"), headers=headers)
    order = client.post("/orders", json=order_body(1, sku_code=RICE, at="2026-03-04T10:30:00"), headers=headers).json()
    # Naive times are Asia/Shanghai; the SKU's shelf life runs from the receipt's business date.
    assert datetime.fromisoformat(order["ordered_at"]) == datetime(2026, 3, 4, 2, 30, tzinfo=UTC)
    assert order["lines"][0]["allocations"][0]["expiry_date"] == "2027-03-02"
    assert order["lines"][0]["line_amount"] == "32.50"


def test_purchase_order_and_its_receipt(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    created = client.post(
        "/purchase-orders",
        json={
            "supplier_code": "S01",
            "warehouse_code": "WH02",
            "lines": [{"sku_code": SKU, "quantity": 40, "unit_cost": "76.50"}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    purchase_order = created.json()
    assert purchase_order["status"] == "open"
    lead_time = datetime.fromisoformat(purchase_order["expected_at"]) - datetime.fromisoformat(
        purchase_order["ordered_at"]
    )
    assert lead_time == timedelta(days=5)

    received = client.post(f"/purchase-orders/{purchase_order['po_no']}/receipts", headers=headers)
    assert received.status_code == 201, received.text
    assert received.json()["purchase_order"]["status"] == "received"
    assert [(b["sku_code"], b["quantity"], b["unit_cost"]) for b in received.json()["batches"]] == [(SKU, 40, "76.50")]
    level = client.get("/stock", params={"warehouse_code": "WH02"}, headers=headers).json()
    assert [(row["sku_code"], row["on_hand"], row["available"]) for row in level] == [(SKU, 40, 40)]

    again = client.post(f"/purchase-orders/{purchase_order['po_no']}/receipts", headers=headers)
    assert again.status_code == 409
    assert purchase_order["po_no"] in again.json()["detail"]


def test_every_write_is_in_the_operation_log(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(6, lot_code="LOT-L"), headers=headers)
    order_no = client.post(
        "/orders", json=order_body(2, at="2026-03-05T10:00:00+08:00"), headers={**headers, "Idempotency-Key": "ord-1"}
    ).json()["order_no"]
    client.post(f"/orders/{order_no}/cancel", headers=headers)
    client.post("/orders", json=order_body(99), headers=headers)  # refused: not a write, not logged

    with psycopg.connect(shop.owner_url) as conn:
        rows = conn.execute(
            """SELECT actor, operation, target, idempotency_key, request, occurred_at FROM core.operation_log
               WHERE merchant_id = %s AND operation NOT LIKE 'merchant.%%' ORDER BY operation_log_id""",
            [shop.merchant.merchant_id],
        ).fetchall()
        prefix = shop.merchant.api_key[:11]
        assert [row[:4] for row in rows] == [
            (prefix, "stock.receive", f"{SKU}/LOT-L", None),
            (prefix, "order.place", order_no, "ord-1"),
            (prefix, "order.cancel", order_no, None),
        ]
        assert rows[1][4] == order_body(2, at="2026-03-05T10:00:00+08:00")
        assert rows[1][5] == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)

        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE core.operation_log SET actor = 'someone else'")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM core.operation_log")


def test_merchant_commands_print_a_key_the_api_accepts(shop: ApiShop, tmp_path) -> None:
    def coopcast(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": shop.owner_url, "COOPCAST_HOME": str(tmp_path)}
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "merchant", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    code = f"{shop.merchant.merchant_code}C"
    created = coopcast("create", code, "新开村店", "--type", "grassroots_coop", "--region", "清河县")
    assert created.returncode == 0, created.stderr
    first_key = created.stdout.strip()
    duplicate = coopcast("create", code, "again")
    assert duplicate.returncode == 1 and f"merchant {code} already exists" in duplicate.stderr

    rotated = coopcast("rotate-key", code)
    assert rotated.returncode == 0, rotated.stderr
    second_key = rotated.stdout.strip()
    listing = coopcast("list")
    assert code in listing.stdout and second_key[:11] in listing.stdout

    with running_api(shop.owner_url, tmp_path) as base_url:
        assert httpx.get(f"{base_url}/openapi.json").status_code == 200
        assert httpx.get(f"{base_url}/stock", headers={"X-API-Key": first_key}).status_code == 401
        answer = httpx.get(f"{base_url}/stock", headers={"X-API-Key": second_key})
        assert answer.status_code == 200 and answer.json() == []


def test_an_order_walks_its_whole_lifecycle(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, at="2026-03-02T09:00:00+08:00"), headers=headers)
    received = client.post(
        "/orders", json=order_body(2, stage="received", at="2026-03-02T10:00:00+08:00"), headers=headers
    ).json()
    assert received["status"] == "received" and received["lines"][0]["allocations"] == []
    order_no = received["order_no"]
    statuses = []
    for hour, step in enumerate(["review", "confirm", "pick", "ship", "in-transit", "deliver", "complete"], start=11):
        moved = client.post(
            f"/orders/{order_no}/{step}", json={"at": f"2026-03-02T{hour}:00:00+08:00"}, headers=headers
        )
        assert moved.status_code == 200, (step, moved.text)
        statuses.append(moved.json()["status"])
    assert statuses == ["reviewed", "confirmed", "picked", "shipped", "in_transit", "delivered", "completed"]
    order = client.get(f"/orders/{order_no}", headers=headers).json()
    assert datetime.fromisoformat(order["completed_at"]) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert client.post(f"/orders/{order_no}/cancel", headers=headers).status_code == 409
    steps = ["review", "confirm", "pick", "ship", "in_transit", "deliver", "complete"]
    assert logged_operations(shop) == ["stock.receive", "order.place", *(f"order.{step}" for step in steps)]


def test_stock_operations_by_sku_and_lot(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post(
        "/stock/receipts", json=receipt_body(20, lot_code="LOT-1", at="2026-03-02T09:00:00+08:00"), headers=headers
    )
    batch = {"warehouse_code": "WH01", "sku_code": SKU, "lot_code": "LOT-1"}

    frozen = client.post("/stock/freezes", json={**batch, "quantity": 5, "reason": "质检"}, headers=headers)
    assert frozen.status_code == 200, frozen.text
    assert (frozen.json()["frozen"], frozen.json()["available"]) == (5, 15)
    written_off = client.post(
        "/stock/write-offs", json={**batch, "quantity": 2, "reason": "破袋", "from_frozen": True}, headers=headers
    ).json()
    assert (written_off["on_hand"], written_off["frozen"]) == (18, 3)
    unfrozen = client.post("/stock/unfreezes", json={**batch, "quantity": 3, "reason": "合格"}, headers=headers)
    assert unfrozen.json()["available"] == 18

    moved = client.post(
        "/stock/transfers",
        json={"sku_code": SKU, "from_warehouse_code": "WH01", "to_warehouse_code": "WH02", "quantity": 8},
        headers=headers,
    )
    assert moved.status_code == 201, moved.text
    assert {level["warehouse_code"]: level["on_hand"] for level in moved.json()["levels"]} == {"WH01": 10, "WH02": 8}

    counted = client.post(
        "/stock/stocktakes",
        json={"warehouse_code": "WH01", "counts": [{"sku_code": SKU, "lot_code": "LOT-1", "counted_quantity": 9}]},
        headers=headers,
    )
    assert counted.status_code == 201, counted.text
    assert counted.json()["batches"][0]["on_hand"] == 9

    too_many = client.post("/stock/freezes", json={**batch, "quantity": 50, "reason": "召回"}, headers=headers)
    assert too_many.status_code == 409 and "requested 50, available 9" in too_many.json()["detail"]
    no_batch = client.post(
        "/stock/freezes", json={**batch, "lot_code": "LOT-X", "quantity": 1, "reason": "x"}, headers=headers
    )
    assert no_batch.status_code == 404 and no_batch.json()["detail"] == f"SKU {SKU} has no batch LOT-X"
    by_batch = client.get("/stock/batches", params={"sku_code": SKU}, headers=headers).json()
    assert [(b["warehouse_code"], b["lot_code"], b["on_hand"]) for b in by_batch] == [
        ("WH01", "LOT-1", 9),
        ("WH02", "LOT-1", 8),
    ]
    assert logged_operations(shop) == [
        "stock.receive",
        "stock.freeze",
        "stock.write_off",
        "stock.unfreeze",
        "stock.transfer",
        "stock.stocktake",
    ]


def test_a_large_purchase_order_waits_for_approval_and_may_arrive_in_parts(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    with psycopg.connect(shop.owner_url) as conn:
        purchasing.set_approval_rule(
            conn, merchant_id=shop.merchant.merchant_id, required_level=1, min_amount=Decimal("1000.00"), at=AT
        )
    lines = [{"sku_code": SKU, "quantity": 30, "unit_cost": "75.00"}]
    created = client.post(
        "/purchase-orders", json={"supplier_code": "S01", "warehouse_code": "WH01", "lines": lines}, headers=headers
    )
    po_no = created.json()["po_no"]
    assert created.json()["status"] == "pending_approval"
    assert client.post(f"/purchase-orders/{po_no}/receipts", headers=headers).status_code == 409

    approved = client.post(
        f"/purchase-orders/{po_no}/approve", json={"approver": "李会计", "level": 1}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "open"

    delivery = {
        "lines": [{"sku_code": SKU, "delivered_quantity": 20, "rejected_quantity": 4, "rejection_reason": "受潮"}]
    }
    first = client.post(f"/purchase-orders/{po_no}/receipts", json=delivery, headers=headers)
    assert first.status_code == 201, first.text
    assert (first.json()["passed_quantity"], first.json()["rejected_quantity"]) == (16, 4)
    assert first.json()["purchase_order"]["status"] == "partially_received"
    assert [batch["quantity"] for batch in first.json()["batches"]] == [16]

    cancelled = client.post(f"/purchase-orders/{po_no}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert stock_of(client, headers)["on_hand"] == 16
    assert logged_operations(shop) == [
        "purchase_order.create",
        "purchase_order.approve",
        "purchase_order.receive",
        "purchase_order.cancel",
    ]


def test_a_return_is_requested_by_line_and_refunded(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, at="2026-03-02T09:00:00+08:00"), headers=headers)
    order_no = client.post("/orders", json=order_body(3, at="2026-03-02T10:00:00+08:00"), headers=headers).json()[
        "order_no"
    ]
    for hour, step in ((11, "ship"), (12, "deliver")):
        client.post(f"/orders/{order_no}/{step}", json={"at": f"2026-03-02T{hour}:00:00+08:00"}, headers=headers)

    no_reason = {"lines": [{"line_no": 1, "quantity": 1}], "reason": "no_reason", "at": "2026-03-03T09:00:00+08:00"}
    refused = client.post(f"/orders/{order_no}/returns", json=no_reason, headers=headers)
    assert refused.status_code == 409, refused.text
    unknown_line = client.post(
        f"/orders/{order_no}/returns", json={**no_reason, "lines": [{"line_no": 2, "quantity": 1}]}, headers=headers
    )
    assert unknown_line.status_code == 404 and unknown_line.json()["detail"] == f"order {order_no} has no line 2"

    defect = client.post(f"/orders/{order_no}/returns", json={**no_reason, "reason": "quality_defect"}, headers=headers)
    assert defect.status_code == 201, defect.text
    return_no = defect.json()["return_no"]
    for hour, step in ((10, "approve"), (11, "receive"), (12, "refund")):
        moved = client.post(
            f"/returns/{return_no}/{step}", json={"at": f"2026-03-03T{hour}:00:00+08:00"}, headers=headers
        )
        assert moved.status_code == 200, (step, moved.text)
    refunded = client.get(f"/returns/{return_no}", headers=headers).json()
    assert (refunded["status"], refunded["refund_amount"]) == ("refunded", "98.00")
    assert refunded["lines"] == [{"line_no": 1, "sku_code": SKU, "quantity": 1, "refund_amount": "98.00"}]
    assert client.get(f"/returns/{return_no}", headers=shop.other.headers).status_code == 404
    returned = ["return.request", "return.approve", "return.receive", "return.refund"]
    assert logged_operations(shop) == ["stock.receive", "order.place", "order.ship", "order.deliver", *returned]


def refused_fields(answer: httpx.Response) -> list[tuple]:
    """The fields a 422 from request validation names."""
    assert answer.status_code == 422, answer.text
    return [tuple(error["loc"][1:]) for error in answer.json()["detail"]]


def test_values_beyond_a_co_ops_trade_are_refused(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    huge = receipt_body(10_000_000, unit_cost="999999999999.99", lot_code="HUGE-1")
    assert refused_fields(client.post("/stock/receipts", json=huge, headers=headers)) == [("quantity",), ("unit_cost",)]
    huge_line = {"sku_code": SKU, "quantity": 10_000_000, "unit_cost": "999999999999.99"}
    purchase = {"supplier_code": "S01", "warehouse_code": "WH01", "lines": [huge_line]}
    assert refused_fields(client.post("/purchase-orders", json=purchase, headers=headers)) == [
        ("lines", 0, "quantity"),
        ("lines", 0, "unit_cost"),
    ]
    priced = order_body(2) | {"lines": [{"sku_code": SKU, "quantity": 2, "unit_price": "999999999999.99"}]}
    assert refused_fields(client.post("/orders", json=priced, headers=headers)) == [("lines", 0, "unit_price")]
    # A JSON true is no quantity, nor is a string of digits.
    for quantity in (True, "3"):
        assert refused_fields(client.post("/orders", json=order_body(quantity), headers=headers)) == [
            ("lines", 0, "quantity")
        ]

    # Each value within its bound, the order's total is not.
    dearest = {"sku_code": SKU, "quantity": 1_000, "unit_price": "1000000.00"}
    too_much = client.post(
        "/orders", json=order_body() | {"lines": [dearest, {"sku_code": RICE, "quantity": 1}]}, headers=headers
    )
    assert too_much.status_code == 422
    assert too_much.json()["detail"] == (
        "the order's total of 1000000032.50 CNY is above the 1000000000.00 CNY an order may reach"
    )
    assert client.get("/stock", headers=headers).json() == []
    assert orders_written(shop) == 0


def test_control_characters_are_refused_by_field(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5), headers=headers)
    assert refused_fields(client.post("/orders", json=order_body(1, order_no="x\u0000y"), headers=headers)) == [
        ("order_no",)
    ]
    order_no = client.post("/orders", json=order_body(1), headers=headers).json()["order_no"]
    cancel = client.post(f"/orders/{order_no}/cancel", json={"reason": "a\u0000b"}, headers=headers)
    assert refused_fields(cancel) == [("reason",)]
    assert "U+0000" in cancel.text
    by_path = client.post("/orders/%00/ship", headers=headers)
    assert by_path.status_code == 422
    assert by_path.json()["detail"] == "order code '\\x00' contains a control character"
    # Free text keeps tabs and line breaks.
    kept = client.post(f"/orders/{order_no}/cancel", json={"reason": "客户改单\n\t另约"}, headers=headers)
    assert kept.status_code == 200, kept.text


def test_a_nul_that_reaches_the_database_is_a_one_line_422(client: TestClient, shop: ApiShop) -> None:
    answer = client.get("/stock", params={"sku_code": "a\u0000b"}, headers=shop.merchant.headers)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "refused by the database: PostgreSQL text fields cannot contain NUL (0x00) bytes"
    }


def test_writes_may_not_be_dated_in_the_future(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert client.post("/stock/receipts", json=receipt_body(5, at=soon), headers=headers).status_code == 201
    for later in ("2027-01-01T00:00:00", "2099-06-01T09:00:00+08:00"):
        placed = client.post("/orders", json=order_body(1, at=later), headers=headers)
        assert refused_fields(placed) == [("at",)]
        assert "in the future" in placed.text
    assert stock_of(client, headers)["reserved"] == 0


def test_dates_that_contradict_the_write_are_refused(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    at = "2026-03-02T09:00:00+08:00"
    expired = client.post("/stock/receipts", json=receipt_body(5, expiry_date="2026-03-02", at=at), headers=headers)
    assert expired.status_code == 422
    assert expired.json()["detail"] == (
        "expiry_date 2026-03-02 is not after the receipt's business date 2026-03-02: the batch would arrive expired"
    )
    fresh = client.post("/stock/receipts", json=receipt_body(5, expiry_date="2026-03-03", at=at), headers=headers)
    assert fresh.status_code == 201, fresh.text

    purchase = {
        "supplier_code": "S01",
        "warehouse_code": "WH01",
        "lines": [{"sku_code": SKU, "quantity": 10}],
        "at": at,
        "expected_at": "2026-03-01T09:00:00+08:00",
    }
    early = client.post("/purchase-orders", json=purchase, headers=headers)
    assert early.status_code == 422
    assert early.json()["detail"] == (
        "expected_at 2026-03-01T09:00:00+08:00 is before the order is placed (2026-03-02T09:00:00+08:00)"
    )


def test_a_stocktake_counts_each_batch_once(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, lot_code="QA-LOT-1"), headers=headers)
    twice = [
        {"sku_code": SKU, "lot_code": "QA-LOT-1", "counted_quantity": 2},
        {"sku_code": RICE, "lot_code": "QA-LOT-1", "counted_quantity": 4},
        {"sku_code": SKU, "lot_code": "QA-LOT-1", "counted_quantity": 9},
    ]
    counted = client.post("/stock/stocktakes", json={"warehouse_code": "WH01", "counts": twice}, headers=headers)
    assert counted.status_code == 422
    assert f"counts[0] and counts[2] both count SKU {SKU} batch QA-LOT-1" in counted.text
    assert stock_of(client, headers)["on_hand"] == 5


def test_client_order_numbers_stay_out_of_the_generated_range(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5), headers=headers)
    generated = client.post("/orders", json=order_body(1), headers=headers).json()["order_no"]
    next_no = f"SO{int(generated[2:]) + 1:010d}"
    taken = client.post("/orders", json=order_body(1, order_no=next_no), headers=headers)
    assert taken.status_code == 422
    assert taken.json()["detail"] == (
        f"order_no {next_no} is in the range the platform numbers orders from ('SO' and 10 digits): "
        "choose another number, or leave order_no out to get the next one"
    )
    own = client.post("/orders", json=order_body(1, order_no="WX-20260302-7"), headers=headers)
    assert own.status_code == 201 and own.json()["order_no"] == "WX-20260302-7"
    assert client.post("/orders", json=order_body(1), headers=headers).status_code == 201


def test_refusals_name_things_by_their_codes(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(5, lot_code="LOT-W1"), headers=headers)
    batch = {"warehouse_code": "WH02", "sku_code": SKU, "lot_code": "LOT-W1", "quantity": 1, "reason": "质检"}
    wrong_warehouse = client.post("/stock/freezes", json=batch, headers=headers)
    assert wrong_warehouse.status_code == 404
    assert wrong_warehouse.json()["detail"] == f"SKU {SKU} batch LOT-W1 has no stock in warehouse WH02"

    same = {"sku_code": SKU, "from_warehouse_code": "WH01", "to_warehouse_code": "WH01", "quantity": 1}
    transfer = client.post("/stock/transfers", json=same, headers=headers)
    assert transfer.status_code == 409
    assert transfer.json()["detail"] == "a transfer needs two different warehouses, got WH01 twice"

    lines = [{"sku_code": SKU, "quantity": 4}]
    po_no = client.post(
        "/purchase-orders", json={"supplier_code": "S01", "warehouse_code": "WH01", "lines": lines}, headers=headers
    ).json()["po_no"]
    delivery = {"lines": [{"sku_code": RICE, "delivered_quantity": 1}]}
    receipt = client.post(f"/purchase-orders/{po_no}/receipts", json=delivery, headers=headers)
    assert receipt.status_code == 422
    assert receipt.json()["detail"] == f"SKU {RICE} is not on purchase order {po_no}"
