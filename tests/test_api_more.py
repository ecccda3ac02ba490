"""The API's price, promotion, money and supplier routes against a real PostgreSQL, connected as
the role subject to row security."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import AT, RICE, SKU, ApiShop, build_shop, order_body, receipt_body
from transactional import catalogue, merchants
from transactional.api import create_app
from transactional.money import commission as money_commission


@pytest.fixture(scope="module")
def owner_url(database_factory) -> str:
    """One database for the module; each test trades as merchants of its own."""
    return database_factory()


@pytest.fixture
def shop(owner_url: str) -> ApiShop:
    return build_shop(owner_url)


@pytest.fixture(scope="module")
def app_client(owner_url: str) -> Iterator[TestClient]:
    """One application for the module: every shop's merchants share the database and its app role."""
    with TestClient(create_app(build_shop(owner_url).app_url, pool_size=4)) as test_client:
        yield test_client


@pytest.fixture
def client(app_client: TestClient, shop: ApiShop) -> TestClient:
    return app_client


def logged(shop: ApiShop) -> list[tuple]:
    """(operation, target, idempotency key) of the first merchant's API writes, in order."""
    with psycopg.connect(shop.owner_url) as conn:
        return conn.execute(
            """SELECT operation, target, idempotency_key FROM core.operation_log
               WHERE merchant_id = %s AND actor = %s ORDER BY operation_log_id""",
            [shop.merchant.merchant_id, merchants.key_prefix(shop.merchant.api_key)],
        ).fetchall()


# Prices


def test_prices_change_by_key_and_the_quote_follows_them(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    retail = client.post(
        f"/products/{SKU}/prices", json={"unit_price": "96.00", "at": "2026-03-03T09:00:00+08:00"}, headers=headers
    )
    assert retail.status_code == 201, retail.text
    changed = retail.json()
    assert datetime.fromisoformat(changed.pop("valid_from")) == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert changed == {"sku_code": SKU, "tier": "retail", "region": None, "min_quantity": 1, "unit_price": "96.00"}
    wholesale = {"unit_price": "90.00", "tier": "wholesale", "min_quantity": 10, "at": "2026-03-03T09:00:00+08:00"}
    assert client.post(f"/products/{SKU}/prices", json=wholesale, headers=headers).status_code == 201
    promotion = {
        "promotion_price": "85.00",
        "valid_from": "2026-03-05T00:00:00",
        "valid_until": "2026-03-06T00:00:00",
        "label": "春耕",
        "at": "2026-03-03T10:00:00+08:00",
    }
    promoted = client.post(f"/products/{SKU}/promotion-prices", json=promotion, headers=headers)
    assert promoted.status_code == 201, promoted.text
    assert (promoted.json()["promotion_price"], promoted.json()["tier"]) == ("85.00", None)
    cost = client.post(
        f"/products/{SKU}/unit-costs", json={"unit_cost": "78.00", "at": "2026-03-03T09:00:00+08:00"}, headers=headers
    )
    assert cost.status_code == 201 and cost.json()["unit_cost"] == "78.00"

    def quoted(quantity: int, at: str, tier: str = "retail") -> tuple:
        answer = client.get(
            f"/products/{SKU}/quote", params={"quantity": quantity, "tier": tier, "at": at}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["unit_price"], answer.json()["rule"], answer.json()["amount"]

    assert quoted(1, "2026-03-03T08:59:00+08:00") == ("98.00", "base", "98.00")
    assert quoted(2, "2026-03-04T12:00:00") == ("96.00", "base", "192.00")
    assert quoted(10, "2026-03-04T12:00:00", tier="wholesale") == ("90.00", "quantity_break", "900.00")
    assert quoted(10, "2026-03-05T12:00:00", tier="wholesale") == ("85.00", "promotion", "850.00")

    history = client.get(f"/products/{SKU}/price-history", headers=headers).json()
    assert [(row["tier"], row["min_quantity"], row["unit_price"]) for row in history] == [
        ("retail", 1, "98.00"),
        ("retail", 1, "96.00"),
        ("wholesale", 10, "90.00"),
    ]
    with psycopg.connect(shop.owner_url) as conn:
        listed = conn.execute(
            "SELECT price, unit_cost FROM core.products WHERE merchant_id = %s AND sku_code = %s",
            [shop.merchant.merchant_id, SKU],
        ).fetchone()
    assert listed == (96, 78)
    assert [row[0] for row in logged(shop)] == [
        "price.set",
        "price.set",
        "price.set_promotion",
        "price.set_unit_cost",
    ]


def test_a_back_dated_price_or_an_ended_promotion_is_refused(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    client.post(f"/products/{SKU}/prices", json={"unit_price": "96.00", "at": "2026-03-04T09:00:00"}, headers=headers)
    back_dated = client.post(
        f"/products/{SKU}/prices", json={"unit_price": "95.00", "at": "2026-03-03T09:00:00"}, headers=headers
    )
    assert back_dated.status_code == 422
    assert back_dated.json()["detail"].startswith(f"SKU {SKU}: the retail price (national, from 1 units)")
    assert "would rewrite its history" in back_dated.json()["detail"]
    over = {"promotion_price": "1.00", "valid_from": "2026-03-01T00:00:00", "valid_until": "2026-03-02T00:00:00"}
    ended = client.post(
        f"/products/{SKU}/promotion-prices", json={**over, "at": "2026-03-04T00:00:00"}, headers=headers
    )
    assert ended.status_code == 422 and "already over" in ended.json()["detail"]
    backwards = {**over, "valid_from": "2026-03-06T00:00:00", "valid_until": "2026-03-05T00:00:00"}
    reversed_dates = client.post(f"/products/{SKU}/promotion-prices", json=backwards, headers=headers)
    assert reversed_dates.status_code == 422
    assert reversed_dates.json()["detail"] == (
        f"SKU {SKU}: a promotion price must end after it starts "
        "(valid_from 2026-03-06T00:00:00+08:00, valid_until 2026-03-05T00:00:00+08:00)"
    )
    below_minimum = client.get(f"/products/{SKU}/quote", params={"quantity": 0}, headers=headers)
    assert below_minimum.status_code == 422
    now = client.get(f"/products/{SKU}/quote", params={"quantity": 1}, headers=headers).json()
    assert now["at"].endswith("+08:00"), now["at"]
    assert [row[0] for row in logged(shop)] == ["price.set"]


def test_another_merchants_key_gets_404_for_this_merchants_sku(client: TestClient, shop: ApiShop) -> None:
    with psycopg.connect(shop.owner_url) as conn:
        leaf = conn.execute("SELECT category_id FROM core.categories WHERE category_code = 'T1-1-1'").fetchone()[0]
        catalogue.create_product(
            conn, shop.merchant.merchant_id, "SEED-9", "玉米种子", leaf, Decimal("30.00"), Decimal("45.00"), AT
        )
    mine, theirs = shop.merchant.headers, shop.other.headers
    assert client.get("/products/SEED-9/price-history", headers=mine).status_code == 200
    for answer in (
        client.get("/products/SEED-9/price-history", headers=theirs),
        client.get("/products/SEED-9/quote", params={"quantity": 1}, headers=theirs),
        client.post("/products/SEED-9/prices", json={"unit_price": "1.00"}, headers=theirs),
        client.post("/products/SEED-9/unit-costs", json={"unit_cost": "1.00"}, headers=theirs),
    ):
        assert answer.status_code == 404 and answer.json()["detail"] == "SKU SEED-9 does not exist"
    assert client.get("/products/SEED-9/quote", params={"quantity": 2}, headers=mine).json()["amount"] == "90.00"


# Promotions and coupons

WINDOW = {"starts_at": "2026-03-01T00:00:00", "ends_at": "2026-04-01T00:00:00"}


def test_promotions_and_a_coupon_discount_an_order(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    full_reduction = {
        "kind": "full_reduction",
        "promotion_code": "MJ-300-30",
        "name": "满300减30",
        "threshold_amount": "300.00",
        "reduction_amount": "30.00",
        **WINDOW,
    }
    created = client.post("/promotions", json=full_reduction, headers=headers)
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["sku_code"], created.json()["category_code"]) == (
        "full_reduction",
        None,
        None,
    )
    percentage = {"kind": "percentage", "promotion_code": "ZK-10", "name": "九折", "percent_off": "10", **WINDOW}
    by_category = client.post("/promotions", json={**percentage, "category_code": "T1-1-1"}, headers=headers)
    assert by_category.status_code == 201 and by_category.json()["category_code"] == "T1-1-1"
    flash = {
        "kind": "flash_sale",
        "promotion_code": "MS-RICE",
        "name": "大米秒杀",
        "sku_code": RICE,
        "flash_price": "19.90",
        "quantity_cap": 2,
        **WINDOW,
    }
    flash_sale = client.post("/promotions", json=flash, headers=headers)
    assert flash_sale.status_code == 201 and flash_sale.json()["quantity_cap"] == 2
    assert client.get("/promotions/MS-RICE", headers=headers).json() == flash_sale.json()
    coupon = {
        "coupon_code": "NEW-10",
        "name": "新客立减10元",
        "amount_off": "10.00",
        "valid_from": "2026-03-01T00:00:00",
        "valid_until": "2026-04-01T00:00:00",
        "new_customers_only": True,
    }
    issued = client.post("/coupons", json=coupon, headers=headers)
    assert issued.status_code == 201, issued.text
    assert (issued.json()["amount_off"], issued.json()["per_customer_limit"]) == ("10.00", 1)

    client.post("/stock/receipts", json=receipt_body(10, at="2026-03-02T09:00:00"), headers=headers)
    placed = client.post("/orders", json=order_body(4, coupon_code="NEW-10", at="2026-03-02T10:00:00"), headers=headers)
    assert placed.status_code == 201, placed.text
    # 4 × 98 = 392; 10 % off → 352.80; over 300 → 30 off → 322.80; the coupon → 312.80.
    assert placed.json()["total_amount"] == "312.80"
    assert sorted((d["source"], d["code"], d["amount"]) for d in placed.json()["discounts"]) == [
        ("coupon", "NEW-10", "10.00"),
        ("promotion", "MJ-300-30", "30.00"),
        ("promotion", "ZK-10", "39.20"),
    ]
    assert [row[:2] for row in logged(shop)][:4] == [
        ("promotion.create_full_reduction", "MJ-300-30"),
        ("promotion.create_percentage", "ZK-10"),
        ("promotion.create_flash_sale", "MS-RICE"),
        ("coupon.create", "NEW-10"),
    ]


def test_promotions_the_rules_refuse(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    reduction = {
        "kind": "full_reduction",
        "promotion_code": "MJ-BAD",
        "name": "满50减80",
        "threshold_amount": "50.00",
        "reduction_amount": "80.00",
        **WINDOW,
    }
    too_much = client.post("/promotions", json=reduction, headers=headers)
    assert too_much.status_code == 422
    assert too_much.json()["detail"] == "a reduction of 80.00 cannot exceed its threshold 50.00"
    both_scopes = client.post(
        "/promotions",
        json={**reduction, "reduction_amount": "5", "sku_code": SKU, "category_code": "T1"},
        headers=headers,
    )
    assert both_scopes.status_code == 422
    unknown_category = client.post(
        "/promotions", json={**reduction, "reduction_amount": "5", "category_code": "NOPE"}, headers=headers
    )
    assert unknown_category.status_code == 404 and unknown_category.json()["detail"] == "category NOPE does not exist"
    assert client.post("/promotions", json={**reduction, "reduction_amount": "5"}, headers=headers).status_code == 201
    again = client.post("/promotions", json={**reduction, "reduction_amount": "6"}, headers=headers)
    assert again.status_code == 409
    both_offs = {
        "coupon_code": "C-BAD",
        "name": "x",
        "amount_off": "5",
        "percent_off": "5",
        "valid_from": "2026-03-01T00:00:00",
        "valid_until": "2026-04-01T00:00:00",
    }
    refused = client.post("/coupons", json=both_offs, headers=headers)
    assert (
        refused.status_code == 422
        and refused.json()["detail"] == "coupon C-BAD takes either an amount or a percentage off"
    )
    assert client.get("/promotions/MJ-BAD", headers=shop.other.headers).status_code == 404
    assert [row[0] for row in logged(shop)] == ["promotion.create_full_reduction"]


# Money


@pytest.fixture(scope="module")
def commission(owner_url: str) -> None:
    """A 5 % network-wide commission, so orders can be settled."""
    with psycopg.connect(owner_url) as conn:
        money_commission.set_commission_rate(conn, rate=Decimal("0.05"), valid_from=AT - timedelta(days=30), at=AT)


def test_payments_receivables_and_a_settlement_statement(client: TestClient, shop: ApiShop, commission) -> None:
    headers = shop.merchant.headers
    client.post("/stock/receipts", json=receipt_body(10, at="2026-03-02T09:00:00+08:00"), headers=headers)
    online = client.post("/orders", json=order_body(3, at="2026-03-02T10:00:00+08:00"), headers=headers).json()
    first = client.post(
        f"/orders/{online['order_no']}/payments",
        json={"amount": "100.00", "reference": "WX-1", "at": "2026-03-02T10:05:00+08:00"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    assert (first.json()["method"], first.json()["amount"], first.json()["still_owed"]) == (
        "online",
        "100.00",
        "194.00",
    )
    too_much = client.post(f"/orders/{online['order_no']}/payments", json={"amount": "200.00"}, headers=headers)
    assert too_much.status_code == 422
    assert too_much.json()["detail"] == (
        f"payment of 200.00 CNY for order {online['order_no']} is more than the 194.00 CNY it still owes"
    )
    rest = {"amount": "194.00", "at": "2026-03-02T10:06:00+08:00"}
    keyed = {**headers, "Idempotency-Key": "pay-rest"}
    paid = client.post(f"/orders/{online['order_no']}/payments", json=rest, headers=keyed)
    replayed = client.post(f"/orders/{online['order_no']}/payments", json=rest, headers=keyed)
    assert paid.json()["still_owed"] == "0.00"
    assert replayed.status_code == 201 and replayed.json() == paid.json()
    assert replayed.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in paid.headers
    reused = client.post(f"/orders/{online['order_no']}/payments", json={**rest, "amount": "1.00"}, headers=keyed)
    assert reused.status_code == 422

    cod = client.post(
        "/orders", json=order_body(1, payment_method="cod", at="2026-03-02T12:00:00+08:00"), headers=headers
    ).json()
    # Paying the online order in full settled it; shipping settles the cash-on-delivery one.
    client.post(f"/orders/{cod['order_no']}/ship", json={"at": "2026-03-02T13:00:00+08:00"}, headers=headers)
    owed = client.get("/receivables", params={"at": "2026-03-02T14:00:00+08:00"}, headers=headers)
    assert owed.status_code == 200, owed.text
    assert [(r["order_no"], r["customer_code"], r["open_amount"], r["days_overdue"]) for r in owed.json()] == [
        (cod["order_no"], "C0001", "98.00", 0)
    ]

    early = client.post(
        "/settlement-statements",
        json={"kind": "daily", "period_start": "2026-03-02", "at": "2026-03-02T23:00:00+08:00"},
        headers=headers,
    )
    assert early.status_code == 409 and "has not ended" in early.json()["detail"]
    tuesday = {"kind": "weekly", "period_start": "2026-03-03", "at": "2026-03-10T01:00:00+08:00"}
    not_monday = client.post("/settlement-statements", json=tuesday, headers=headers)
    assert not_monday.status_code == 422
    assert not_monday.json()["detail"] == "a weekly statement starts on a Monday; period_start 2026-03-03 is not one"
    daily = {"kind": "daily", "period_start": "2026-03-02", "at": "2026-03-03T01:00:00+08:00"}
    issued = client.post("/settlement-statements", json=daily, headers=headers)
    assert issued.status_code == 201, issued.text
    statement = issued.json()
    # 294.00 + 98.00 gross, 5 % commission (14.70 + 4.90).
    assert {key: statement[key] for key in ("order_count", "gross_sales", "commission", "net_payable")} == {
        "order_count": 2,
        "gross_sales": "392.00",
        "commission": "19.60",
        "net_payable": "372.40",
    }
    listed = client.get("/settlement-statements", params={"kind": "daily"}, headers=headers)
    assert listed.json() == [statement]
    assert client.get("/settlement-statements", params={"kind": "weekly"}, headers=headers).json() == []
    late_payment = client.post(
        f"/orders/{cod['order_no']}/payments",
        json={"amount": "98.00", "at": "2026-03-03T09:00:00+08:00"},
        headers=headers,
    )
    assert late_payment.status_code == 201 and late_payment.json()["method"] == "cod"

    other = shop.other.headers
    assert client.get("/settlement-statements", headers=other).json() == []
    assert client.get("/receivables", params={"at": "2026-03-02T14:00:00+08:00"}, headers=other).json() == []
    assert client.post(f"/orders/{cod['order_no']}/payments", json={"amount": "1"}, headers=other).status_code == 404
    with psycopg.connect(shop.owner_url) as conn:
        log = conn.execute(
            """SELECT operation, target, idempotency_key, request FROM core.operation_log
               WHERE merchant_id = %s AND operation = 'payment.record' ORDER BY operation_log_id""",
            [shop.merchant.merchant_id],
        ).fetchall()
    assert [row[:3] for row in log] == [
        ("payment.record", online["order_no"], None),
        ("payment.record", online["order_no"], "pay-rest"),
        ("payment.record", cod["order_no"], None),
    ]
    assert log[1][3] == rest
    assert ("settlement_statement.generate", "daily/2026-03-02", None) in logged(shop)


# Suppliers and purchasing rules

PURCHASE = {"supplier_code": "S01", "warehouse_code": "WH01", "lines": [{"sku_code": SKU, "quantity": 20}]}


def test_a_blacklisted_supplier_gets_no_purchase_order_until_lifted(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    graded = client.post("/suppliers/S01/grade", json={"grade": "B"}, headers=headers)
    assert graded.status_code == 200, graded.text
    assert graded.json()["qualification_grade"] == "B"
    assert client.post("/suppliers/S01/grade", json={"grade": "E"}, headers=headers).status_code == 422

    blacklisted = client.post("/suppliers/S01/blacklist", json={"reason": "以次充好"}, headers=headers)
    assert blacklisted.status_code == 200, blacklisted.text
    assert (blacklisted.json()["is_blacklisted"], blacklisted.json()["blacklist_reason"]) == (True, "以次充好")
    refused = client.post("/purchase-orders", json=PURCHASE, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "supplier S01 is blacklisted (以次充好): no purchase order may go to it"
    again = client.post("/suppliers/S01/blacklist", json={"reason": "x"}, headers=headers)
    assert again.status_code == 409 and again.json()["detail"] == "supplier S01 is already blacklisted"
    # The other merchant's supplier of the same code is untouched.
    assert client.get("/suppliers/S01", headers=shop.other.headers).json()["is_blacklisted"] is False

    lifted = client.post("/suppliers/S01/blacklist-lift", headers=headers)
    assert lifted.status_code == 200 and lifted.json()["is_blacklisted"] is False
    assert client.post("/purchase-orders", json=PURCHASE, headers=headers).status_code == 201
    assert client.post("/suppliers/S01/blacklist-lift", headers=headers).status_code == 409
    assert client.post("/suppliers/S99/grade", json={"grade": "A"}, headers=headers).status_code == 404
    operations = [(operation, target) for operation, target, _ in logged(shop)]
    assert operations[:3] == [
        ("supplier.grade", "S01"),
        ("supplier.blacklist", "S01"),
        ("supplier.lift_blacklist", "S01"),
    ]
    assert [operation for operation, _ in operations[3:]] == ["purchase_order.create"]


def test_approval_rules_decide_which_purchase_orders_wait(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    first = client.post(
        "/purchase-approval-rules", json={"required_level": 1, "min_amount": "1000.00"}, headers=headers
    )
    assert first.status_code == 200, first.text
    second = client.post(
        "/purchase-approval-rules", json={"required_level": 2, "min_amount": "5000.00"}, headers=headers
    )
    assert second.json() == [
        {"required_level": 1, "min_amount": "1000.00"},
        {"required_level": 2, "min_amount": "5000.00"},
    ]
    clash = client.post(
        "/purchase-approval-rules", json={"required_level": 3, "min_amount": "5000.00"}, headers=headers
    )
    assert clash.status_code == 422 and "level 2 already starts at 5000.00 CNY" in clash.json()["detail"]
    assert (
        client.post(
            "/purchase-approval-rules", json={"required_level": 10, "min_amount": "1"}, headers=headers
        ).status_code
        == 422
    )

    small = client.post(
        "/purchase-orders", json={**PURCHASE, "lines": [{"sku_code": SKU, "quantity": 5}]}, headers=headers
    )
    large = client.post(
        "/purchase-orders", json={**PURCHASE, "lines": [{"sku_code": SKU, "quantity": 100}]}, headers=headers
    )
    assert (small.json()["status"], small.json()["required_approval_level"]) == ("open", 0)
    assert (large.json()["status"], large.json()["required_approval_level"]) == ("pending_approval", 2)
    assert client.get("/purchase-approval-rules", headers=shop.other.headers).json() == []


def test_a_credit_line_takes_credit_orders_up_to_its_limit(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    assert client.post("/stock/receipts", json=receipt_body(10), headers=headers).status_code == 201
    on_credit = order_body(3, payment_method="credit", credit_term_days=15)  # 294.00 CNY
    refused = client.post("/orders", json=on_credit, headers=headers)
    assert refused.status_code == 409 and "no credit line" in refused.json()["detail"]

    granted = client.post("/customers/C0001/credit", json={"credit_limit": "500.00"}, headers=headers)
    assert granted.status_code == 200, granted.text
    assert granted.json()["credit_limit"] == "500.00" and Decimal(granted.json()["owed_on_credit"]) == 0
    assert client.post("/orders", json=on_credit, headers=headers).status_code == 201
    credit = client.get("/customers/C0001/credit", headers=headers).json()
    assert (Decimal(credit["owed_on_credit"]), Decimal(credit["available"])) == (Decimal("294.00"), Decimal("206.00"))
    above = client.post("/orders", json=on_credit, headers=headers)
    assert above.status_code == 409 and "above the credit limit 500.00" in above.json()["detail"]

    withdrawn = client.post("/customers/C0001/credit", json={"credit_limit": None}, headers=headers)
    assert withdrawn.json()["credit_limit"] is None and withdrawn.json()["available"] is None
    assert (
        client.post(
            "/orders", json=order_body(1, payment_method="credit", credit_term_days=7), headers=headers
        ).status_code
        == 409
    )
    assert client.post("/customers/C0001/credit", json={"credit_limit": "-1"}, headers=headers).status_code == 422
    assert client.get("/customers/C0001/credit", headers=shop.other.headers).json()["credit_limit"] is None
