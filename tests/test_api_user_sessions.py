"""Purchase orders through the API: drafts, and dashboard accounts acting with a session token
beside API keys, against a real PostgreSQL as the role subject to row security."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api_support import SKU, ApiShop, build_shop
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
