"""Approving replenishment suggestions: the edited quantities become draft purchase orders, one
per supplier × warehouse, written through the HTTP API as the signed-in account.

Dashboards never write a database themselves (DESIGN): the API checks the account's session
token, its role and its merchant, and logs the account as the actor. As `coopcast replenish
--approve` does, a SKU already on one of the merchant's drafts for the same warehouse is left out
and named, so approving again, with the same quantities or edited ones, never orders it twice;
the draft is where its quantity is changed. Each order also carries an `Idempotency-Key` derived
from the merchant, the suggestions' date, the supplier, the warehouse and the lines, so two
approvals racing each other (a double click) make one draft.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import httpx
import pandas as pd
import streamlit as st

from dashboards.auth import api_token, signed_in_user
from dashboards.i18n import t
from dashboards.merchant import Merchant
from pipelines.settings import api_url
from transactional.users import ADMIN_ROLE

APPROVING_ROLES = frozenset({"owner", "procurement", ADMIN_ROLE})
# The API's header with which a platform admin's session names the merchant it acts for.
MERCHANT_HEADER = "X-Merchant-Code"
REQUEST_TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True)
class DraftOrder:
    supplier_code: str
    warehouse_code: str
    # (sku_code, quantity), sorted by SKU.
    lines: tuple[tuple[str, int], ...]

    def body(self) -> dict[str, object]:
        return {
            "supplier_code": self.supplier_code,
            "warehouse_code": self.warehouse_code,
            "lines": [{"sku_code": sku_code, "quantity": quantity} for sku_code, quantity in self.lines],
            "draft": True,
        }

    def idempotency_key(self, merchant: Merchant) -> str:
        plan = [merchant.merchant_code, merchant.as_of.isoformat(), self.supplier_code, self.warehouse_code, self.lines]
        return "replenish-" + hashlib.sha256(json.dumps(plan).encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    created: list[str]
    # "sku_code (po_no)" of each line left out because a draft of its warehouse already holds the SKU.
    on_drafts: list[str]


class ApprovalRefused(Exception):
    """The API refused an order, or could not be reached; the message is one line for the page."""


def _lines(lines: pd.DataFrame, quantity_column: str) -> tuple[tuple[str, int], ...]:
    pairs = zip(lines["sku_code"], lines[quantity_column], strict=True)
    return tuple(sorted((str(sku_code), int(quantity)) for sku_code, quantity in pairs))


def draft_orders(plan: pd.DataFrame, quantity_column: str) -> list[DraftOrder]:
    """The plan's lines with a quantity above zero and a supplier, as one draft per supplier × warehouse."""
    ordered = plan[(plan[quantity_column] > 0) & plan["supplier_code"].notna()]
    return [
        DraftOrder(str(supplier_code), str(warehouse_code), _lines(lines, quantity_column))
        for (supplier_code, warehouse_code), lines in ordered.groupby(["supplier_code", "warehouse_code"], sort=True)
    ]


def _refusal(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list) and detail:
        detail = detail[0].get("msg") if isinstance(detail[0], dict) else detail[0]
    return " ".join(str(detail or response.reason_phrase or response.status_code).split())


def _headers(merchant: Merchant, token: str, role: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if role == ADMIN_ROLE:
        headers[MERCHANT_HEADER] = merchant.merchant_code
    return headers


def drafted_lines(client: httpx.Client, headers: dict[str, str]) -> dict[tuple[str, str], str]:
    """(warehouse_code, sku_code) → po_no of every line on the merchant's drafts."""
    response = client.get("/purchase-orders", params={"status": "draft"}, headers=headers)
    if not response.is_success:
        raise ApprovalRefused(t("fc_approve_refused", status=response.status_code, reason=_refusal(response)))
    return {
        (order["warehouse_code"], line["sku_code"]): order["po_no"]
        for order in response.json()
        for line in order["lines"]
    }


def leave_out_drafted(
    orders: list[DraftOrder], drafted: dict[tuple[str, str], str]
) -> tuple[list[DraftOrder], list[str]]:
    """The orders without the lines a draft of their warehouse already holds, and those lines as "sku (po_no)"."""
    kept: list[DraftOrder] = []
    left_out: list[str] = []
    for order in orders:
        lines = []
        for sku_code, quantity in order.lines:
            po_no = drafted.get((order.warehouse_code, sku_code))
            if po_no is None:
                lines.append((sku_code, quantity))
            else:
                left_out.append(f"{sku_code} ({po_no})")
        if lines:
            kept.append(DraftOrder(order.supplier_code, order.warehouse_code, tuple(lines)))
    return kept, left_out


def submit(merchant: Merchant, orders: list[DraftOrder], token: str, role: str) -> Approval:
    """Create the drafts through the API, leaving out the lines already on a draft; ApprovalRefused
    at the first refusal (the drafts made before it stay, and approving again leaves their lines out)."""
    headers = _headers(merchant, token, role)
    created: list[str] = []
    try:
        with httpx.Client(base_url=api_url(), timeout=REQUEST_TIMEOUT) as client:
            orders, on_drafts = leave_out_drafted(orders, drafted_lines(client, headers))
            for order in orders:
                response = client.post(
                    "/purchase-orders",
                    json=order.body(),
                    headers={**headers, "Idempotency-Key": order.idempotency_key(merchant)},
                )
                if not response.is_success:
                    reason = _refusal(response)
                    raise ApprovalRefused(t("fc_approve_refused", status=response.status_code, reason=reason))
                created.append(response.json()["po_no"])
    except httpx.TransportError as error:
        raise ApprovalRefused(t("fc_approve_unreachable", url=api_url(), error=type(error).__name__)) from error
    return Approval(created, on_drafts)


def render_approval(merchant: Merchant, plan: pd.DataFrame, quantity_column: str) -> None:
    """The approve button, for the roles that buy, and what approving did."""
    user, token = signed_in_user(), api_token()
    if user is None or token is None or user.role not in APPROVING_ROLES:
        return
    if not st.button(t("fc_approve"), key="fc_approve", type="primary", help=t("fc_approve_help")):
        return
    orders = draft_orders(plan, quantity_column)
    if not orders:
        st.info(t("fc_approve_nothing"))
        return
    try:
        approval = submit(merchant, orders, token, user.role)
    except ApprovalRefused as refusal:
        st.error(str(refusal))
        return
    if approval.created:
        st.success(t("fc_approve_done", count=len(approval.created), po_nos="、".join(approval.created)))
    if approval.on_drafts:
        st.info(t("fc_approve_on_drafts", count=len(approval.on_drafts), lines="、".join(approval.on_drafts)))
