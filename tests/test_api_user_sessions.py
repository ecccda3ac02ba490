"""Purchase orders through the API: drafts, and dashboard accounts acting with a session token
beside API keys, against a real PostgreSQL as the role subject to row security."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import SKU, ApiShop, build_shop
from tests.dashboard_signin import create_account
from transactional import merchants, user_sessions, users
from transactional.api import create_app

PURCHASE = {"supplier_code": "S01", "warehouse_code": "WH01", "lines": [{"sku_code": SKU, "quantity": 40}]}


@pytest.fixture(scope="module")
def owner_url(database_factory) -> str:
    return database_factory()


@pytest.fixture
def shop(owner_url: str) -> ApiShop:
    return build_shop(owner_url)


@pytest.fixture(scope="module")
def client(owner_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(build_shop(owner_url).app_url, pool_size=4)) as test_client:
        yield test_client


def stored_status(shop: ApiShop, po_no: str) -> str:
    with psycopg.connect(shop.owner_url) as conn:
        return conn.execute("SELECT status FROM core.purchase_orders WHERE po_no = %s", [po_no]).fetchone()[0]


def test_draft_is_documented_and_makes_a_draft_even_above_an_approval_rule(client: TestClient, shop: ApiShop) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["CreatePurchaseOrder"]
    assert schema["properties"]["draft"]["default"] is False and "draft" in schema["properties"]["draft"]["description"]
    headers = shop.merchant.headers
    rule = client.post("/purchase-approval-rules", json={"required_level": 1, "min_amount": "100.00"}, headers=headers)
    assert rule.status_code == 200, rule.text

    draft = client.post("/purchase-orders", json={**PURCHASE, "draft": True}, headers=headers)
    sent = client.post("/purchase-orders", json=PURCHASE, headers=headers)

    assert draft.status_code == 201, draft.text
    assert (draft.json()["status"], draft.json()["required_approval_level"]) == ("draft", 0)
    assert stored_status(shop, draft.json()["po_no"]) == "draft"
    assert sent.json()["status"] == "pending_approval"
    assert client.post("/purchase-orders", json={**PURCHASE, "draft": "maybe"}, headers=headers).status_code == 422


def test_a_draft_is_submitted_once_and_then_awaits_its_approval(client: TestClient, shop: ApiShop) -> None:
    headers = shop.merchant.headers
    rule = client.post("/purchase-approval-rules", json={"required_level": 1, "min_amount": "100.00"}, headers=headers)
    assert rule.status_code == 200, rule.text
    po_no = client.post("/purchase-orders", json={**PURCHASE, "draft": True}, headers=headers).json()["po_no"]

    submitted = client.post(f"/purchase-orders/{po_no}/submit", headers=headers)

    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["status"], submitted.json()["required_approval_level"]) == ("pending_approval", 1)
    again = client.post(f"/purchase-orders/{po_no}/submit", headers=headers)
    assert again.status_code == 409 and "only a draft can be submitted" in again.json()["detail"]
    assert client.post(f"/purchase-orders/{po_no}/submit", headers=shop.other.headers).status_code == 404


# Dashboard session tokens


def signed_in_token(shop: ApiShop, role: str, merchant_id: int | None, signed_in_at: datetime | None = None) -> str:
    """Sign a new account of `role` in as the dashboard does (as the application role) and mint its token."""
    account = create_account(shop.owner_url, role, merchant_id)
    at = signed_in_at or datetime.now(UTC)
    with psycopg.connect(shop.app_url, autocommit=True) as conn:
        user = users.authenticate(conn, account.username, account.password, at)
        return user_sessions.open_session(conn, user, at).token


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def purchase_orders_of(shop: ApiShop, merchant_id: int) -> list[tuple]:
    """(po_no, status, actor of its creation) of a merchant's purchase orders, oldest first."""
    with psycopg.connect(shop.owner_url) as conn:
        return conn.execute(
            """SELECT po.po_no, po.status, log.actor FROM core.purchase_orders po
               JOIN core.operation_log log ON log.merchant_id = po.merchant_id AND log.target = po.po_no
                                          AND log.operation = 'purchase_order.create'
               WHERE po.merchant_id = %s ORDER BY po.purchase_order_id""",
            [merchant_id],
        ).fetchall()


def username_of(shop: ApiShop, token: str) -> str:
    with psycopg.connect(shop.app_url) as conn:
        return user_sessions.account_for_token(conn, token, datetime.now(UTC)).username


@pytest.mark.parametrize("role", ["owner", "procurement"])
def test_a_buying_accounts_token_orders_for_its_merchant_under_its_name(
    client: TestClient, shop: ApiShop, role: str
) -> None:
    token = signed_in_token(shop, role, shop.merchant.merchant_id)

    created = client.post("/purchase-orders", json={**PURCHASE, "draft": True}, headers=bearer(token))

    assert created.status_code == 201, created.text
    assert purchase_orders_of(shop, shop.merchant.merchant_id) == [
        (created.json()["po_no"], "draft", username_of(shop, token))
    ]
    assert purchase_orders_of(shop, shop.other.merchant_id) == []


@pytest.mark.parametrize("role", ["sales", "finance"])
def test_other_roles_tokens_are_refused_with_the_reason(client: TestClient, shop: ApiShop, role: str) -> None:
    token = signed_in_token(shop, role, shop.merchant.merchant_id)

    refused = client.post("/purchase-orders", json=PURCHASE, headers=bearer(token))

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(f"an account of role {role} may not")
    assert "owner, procurement, admin" in refused.json()["detail"]
    assert purchase_orders_of(shop, shop.merchant.merchant_id) == []


def test_an_expired_or_signed_out_token_gets_401(client: TestClient, shop: ApiShop) -> None:
    expired = signed_in_token(
        shop, "owner", shop.merchant.merchant_id, datetime.now(UTC) - timedelta(hours=12, minutes=1)
    )
    revoked = signed_in_token(shop, "owner", shop.merchant.merchant_id)
    live = signed_in_token(shop, "owner", shop.merchant.merchant_id)
    with psycopg.connect(shop.app_url, autocommit=True) as conn:
        user_sessions.revoke_session(conn, revoked, datetime.now(UTC))

    answers = {
        name: client.post("/purchase-orders", json=PURCHASE, headers=bearer(token))
        for name, token in {"expired": expired, "revoked": revoked, "live": live, "made up": "cus_" + "x" * 43}.items()
    }

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "expired": 401,
        "revoked": 401,
        "live": 201,
        "made up": 401,
    }
    assert "expired" in answers["expired"].json()["detail"]


def test_a_password_reset_revokes_the_accounts_tokens(client: TestClient, shop: ApiShop) -> None:
    token = signed_in_token(shop, "owner", shop.merchant.merchant_id)
    other = signed_in_token(shop, "owner", shop.merchant.merchant_id)
    with psycopg.connect(shop.owner_url) as conn:
        users.reset_password(conn, username_of(shop, token), "newharvest99", datetime.now(UTC))

    refused = client.post("/purchase-orders", json=PURCHASE, headers=bearer(token))
    accepted = client.post("/purchase-orders", json=PURCHASE, headers=bearer(other))

    assert refused.status_code == 401
    assert accepted.status_code == 201, accepted.text


def test_an_admin_token_must_name_the_merchant_it_acts_for(client: TestClient, shop: ApiShop) -> None:
    token = signed_in_token(shop, "admin", None)

    unnamed = client.post("/purchase-orders", json=PURCHASE, headers=bearer(token))
    unknown = client.post("/purchase-orders", json=PURCHASE, headers=bearer(token, **{"X-Merchant-Code": "NOPE"}))
    named = client.post(
        "/purchase-orders", json=PURCHASE, headers=bearer(token, **{"X-Merchant-Code": shop.other.merchant_code})
    )

    assert unnamed.status_code == 422 and "X-Merchant-Code" in unnamed.json()["detail"]
    assert unknown.status_code == 404
    assert named.status_code == 201, named.text
    assert [po_no for po_no, _, _ in purchase_orders_of(shop, shop.other.merchant_id)] == [named.json()["po_no"]]
    assert purchase_orders_of(shop, shop.merchant.merchant_id) == []


def test_merchant_as_token_cannot_order_for_merchant_b(client: TestClient, shop: ApiShop) -> None:
    token = signed_in_token(shop, "owner", shop.merchant.merchant_id)

    other = client.post(
        "/purchase-orders", json=PURCHASE, headers=bearer(token, **{"X-Merchant-Code": shop.other.merchant_code})
    )
    own = client.post("/purchase-orders", json=PURCHASE, headers=bearer(token))
    seen_by_b = client.get(f"/purchase-orders/{own.json()['po_no']}", headers=shop.other.headers)

    assert other.status_code == 403 and "only for its own merchant" in other.json()["detail"]
    assert seen_by_b.status_code == 404
    assert purchase_orders_of(shop, shop.other.merchant_id) == []


def test_a_buying_accounts_token_lists_its_merchants_drafts_and_nothing_of_another_merchant(
    client: TestClient, shop: ApiShop
) -> None:
    token = signed_in_token(shop, "procurement", shop.merchant.merchant_id)
    draft = client.post("/purchase-orders", json={**PURCHASE, "draft": True}, headers=bearer(token)).json()["po_no"]
    opened = client.post("/purchase-orders", json=PURCHASE, headers=shop.merchant.headers).json()["po_no"]
    client.post("/purchase-orders", json={**PURCHASE, "draft": True}, headers=shop.other.headers)

    drafts = client.get("/purchase-orders", params={"status": "draft"}, headers=bearer(token))
    every_order = client.get("/purchase-orders", headers=shop.merchant.headers)
    unknown_status = client.get("/purchase-orders", params={"status": "drafted"}, headers=bearer(token))
    by_sales = client.get("/purchase-orders", headers=bearer(signed_in_token(shop, "sales", shop.merchant.merchant_id)))

    assert drafts.status_code == 200, drafts.text
    assert [(order["po_no"], order["status"], order["warehouse_code"]) for order in drafts.json()] == [
        (draft, "draft", "WH01")
    ]
    assert [(line["sku_code"], line["quantity"]) for line in drafts.json()[0]["lines"]] == [(SKU, 40)]
    assert [order["po_no"] for order in every_order.json()] == [draft, opened]
    assert unknown_status.status_code == 422
    assert by_sales.status_code == 403


def test_a_token_opens_no_other_route_and_api_keys_work_as_before(client: TestClient, shop: ApiShop) -> None:
    token = signed_in_token(shop, "owner", shop.merchant.merchant_id)
    by_key = client.post(
        "/purchase-orders",
        json=PURCHASE,
        headers={**shop.merchant.headers, "X-Merchant-Code": shop.other.merchant_code},
    )

    read_by_token = client.get(f"/purchase-orders/{by_key.json()['po_no']}", headers=bearer(token))
    cancel_by_token = client.post(f"/purchase-orders/{by_key.json()['po_no']}/cancel", headers=bearer(token))

    assert by_key.status_code == 201
    assert purchase_orders_of(shop, shop.merchant.merchant_id) == [
        (by_key.json()["po_no"], "open", merchants.key_prefix(shop.merchant.api_key))
    ]
    assert (read_by_token.status_code, cancel_by_token.status_code) == (403, 403)
    assert "API key" in cancel_by_token.json()["detail"]


def test_the_application_role_mints_a_token_only_right_after_a_sign_in(shop: ApiShop) -> None:
    account = create_account(shop.owner_url, "owner", shop.merchant.merchant_id)
    signed_in_at = datetime.now(UTC)
    with psycopg.connect(shop.app_url, autocommit=True) as conn:
        user = users.authenticate(conn, account.username, account.password, signed_in_at)
        user_sessions.open_session(conn, user, signed_in_at)
        with pytest.raises(psycopg.errors.UniqueViolation):
            user_sessions.open_session(conn, user, signed_in_at)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            user_sessions.open_session(conn, user, signed_in_at + timedelta(minutes=1))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT token_hash FROM core.user_sessions")
