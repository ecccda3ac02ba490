"""/purchase-orders: open one to a supplier (or a draft, and submit it later), approve or reject it,
receive deliveries, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from transactional import purchasing
from transactional.api import lookups, reads
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import (
    ApprovalDecision,
    ApprovalRejection,
    CreatePurchaseOrder,
    PurchaseDraftSubmission,
    PurchaseOrderCancellation,
    PurchaseOrderOut,
    PurchaseOrderStatus,
    PurchaseReceiptOut,
    ReceivePurchaseOrder,
    WriteRequest,
)
from transactional.api.session import IdempotencyKey, MerchantSession, PurchasingSession, Session
from transactional.operations import JsonObject, Performed

router = APIRouter(prefix="/purchase-orders", tags=["purchasing"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=PurchaseOrderOut, summary="Open a purchase order")
def create_purchase_order(
    body: CreatePurchaseOrder, session: PurchasingSession, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """Large orders wait for approval (status pending_approval) when the merchant's rules say so;
    with `draft`, the order is a draft whatever its amount. Besides the API key, a dashboard
    session token of an owner, procurement or admin account is accepted (an admin's names the
    merchant in `X-Merchant-Code`)."""
    conn, merchant_id = session.conn, session.merchant_id

    def create(at: datetime) -> Performed:
        product_ids = lookups.ids(conn, merchant_id, lookups.SKU, [line.sku_code for line in body.lines])
        purchase_order_id = purchasing.create_purchase_order(
            conn,
            merchant_id=merchant_id,
            supplier_id=lookups.id_of(conn, merchant_id, lookups.SUPPLIER, body.supplier_code),
            warehouse_id=lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, body.warehouse_code),
            lines=[
                purchasing.PurchaseLineRequest(product_ids[line.sku_code], line.quantity, line.unit_cost)
                for line in body.lines
            ],
            at=at,
            expected_at=body.expected_at,
            draft=body.draft,
        )
        opened = reads.purchase_order(conn, purchase_order_id)
        return Performed(opened.model_dump(mode="json"), target=opened.po_no)

    return session.write("purchase_order.create", body, response, idempotency_key, create)


@router.get("", response_model=list[PurchaseOrderOut], summary="List the merchant's purchase orders")
def list_purchase_orders(
    session: PurchasingSession,
    status: Annotated[PurchaseOrderStatus | None, Query(description="Only orders of this status")] = None,
) -> list[PurchaseOrderOut]:
    """Oldest first. `status=draft` lists the drafts replenishment approvals made, which hold
    stock for no one until submitted. Accepts the same credentials as opening an order."""
    return session.read(lambda conn: reads.purchase_orders(conn, session.merchant_id, status))


@router.get("/{po_no}", response_model=PurchaseOrderOut, summary="Read a purchase order")
def read_purchase_order(po_no: str, session: Session) -> PurchaseOrderOut:
    return session.read(
        lambda conn: reads.purchase_order(conn, lookups.id_of(conn, session.merchant_id, lookups.PURCHASE_ORDER, po_no))
    )


@router.post(
    "/{po_no}/receipts",
    status_code=201,
    response_model=PurchaseReceiptOut,
    summary="Receive a delivery: passed units enter stock as new batches, rejected ones stay outstanding",
)
def receive_purchase_order(
    po_no: str,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: ReceivePurchaseOrder | None = None,
) -> JsonObject:
    request = body or ReceivePurchaseOrder()
    conn, merchant_id = session.conn, session.merchant_id

    def receive(at: datetime) -> Performed:
        purchase_order_id = lookups.id_of(conn, merchant_id, lookups.PURCHASE_ORDER, po_no)
        delivered, inspections = None, None
        if request.lines is not None:
            product_ids = lookups.ids(conn, merchant_id, lookups.SKU, [line.sku_code for line in request.lines])
            delivered = {product_ids[line.sku_code]: line.delivered_quantity for line in request.lines}
            inspections = {
                product_ids[line.sku_code]: purchasing.Inspection(line.rejected_quantity, line.rejection_reason or "")
                for line in request.lines
                if line.rejected_quantity
            }
        receipt = purchasing.receive_purchase_order(conn, purchase_order_id, at, delivered, inspections)
        answer = PurchaseReceiptOut(
            purchase_order=reads.purchase_order(conn, purchase_order_id),
            on_time=receipt.on_time,
            days_late=receipt.days_late,
            delivered_quantity=receipt.delivered_quantity,
            passed_quantity=receipt.passed_quantity,
            rejected_quantity=receipt.rejected_quantity,
            batches=[reads.received_batch(conn, batch_id) for batch_id in receipt.batch_ids],
        )
        return Performed(answer.model_dump(mode="json"))

    return session.write("purchase_order.receive", request, response, idempotency_key, receive, target=po_no)


def _decide(
    session: MerchantSession,
    po_no: str,
    operation: str,
    body: WriteRequest,
    response: Response,
    idempotency_key: str | None,
    decide: Callable[[int, datetime], object],
) -> JsonObject:
    conn = session.conn

    def act(at: datetime) -> Performed:
        purchase_order_id = lookups.id_of(conn, session.merchant_id, lookups.PURCHASE_ORDER, po_no)
        decide(purchase_order_id, at)
        return Performed(reads.purchase_order(conn, purchase_order_id).model_dump(mode="json"))

    return session.write(operation, body, response, idempotency_key, act, target=po_no)


@router.post("/{po_no}/submit", response_model=PurchaseOrderOut, summary="Send a draft to its supplier")
def submit(
    po_no: str,
    session: PurchasingSession,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: PurchaseDraftSubmission | None = None,
) -> JsonObject:
    """A draft (one replenishment approval made, or `"draft": true`) becomes an order now: its
    approval level comes from its amount (status pending_approval, or open), and it is expected
    after the supplier's lead time. Accepts the same credentials as opening an order."""

    def decide(purchase_order_id: int, at: datetime) -> object:
        return purchasing.submit_purchase_order(session.conn, purchase_order_id, at)

    request = body or PurchaseDraftSubmission()
    return _decide(session, po_no, "purchase_order.submit", request, response, idempotency_key, decide)


@router.post("/{po_no}/approve", response_model=PurchaseOrderOut, summary="Sign the next approval level")
def approve(
    po_no: str, body: ApprovalDecision, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    def decide(purchase_order_id: int, at: datetime) -> object:
        return purchasing.approve_purchase_order(
            session.conn, purchase_order_id, body.approver, body.level, at, body.note
        )

    return _decide(session, po_no, "purchase_order.approve", body, response, idempotency_key, decide)


@router.post(
    "/{po_no}/reject", response_model=PurchaseOrderOut, summary="Reject the order at the level awaiting a decision"
)
def reject(
    po_no: str, body: ApprovalRejection, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    def decide(purchase_order_id: int, at: datetime) -> object:
        return purchasing.reject_purchase_order(
            session.conn, purchase_order_id, body.approver, body.level, at, body.reason
        )

    return _decide(session, po_no, "purchase_order.reject", body, response, idempotency_key, decide)


@router.post("/{po_no}/cancel", response_model=PurchaseOrderOut, summary="Cancel an order not yet fully received")
def cancel(
    po_no: str,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: PurchaseOrderCancellation | None = None,
) -> JsonObject:
    def decide(purchase_order_id: int, at: datetime) -> object:
        return purchasing.cancel_purchase_order(session.conn, purchase_order_id, at)

    request = body or PurchaseOrderCancellation()
    return _decide(session, po_no, "purchase_order.cancel", request, response, idempotency_key, decide)
