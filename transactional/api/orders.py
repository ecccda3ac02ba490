"""/orders: place an order, read it, move it through its lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Response

from transactional import orders
from transactional.api import lookups, reads
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import CancelOrder, OrderOut, OrderTransition, PlaceOrder
from transactional.api.session import IdempotencyKey, MerchantSession, Session
from transactional.operations import JsonObject, Performed

router = APIRouter(prefix="/orders", tags=["orders"], responses=ERROR_RESPONSES)


@dataclass(frozen=True)
class Step:
    service: Callable[..., None]
    summary: str


# Path segment → the lifecycle step; each gets POST /orders/{order_no}/<segment>. Cancelling,
# which takes a reason, has its own route below.
STEPS: dict[str, Step] = {
    "review": Step(orders.review_order, "Review a received order: check credit, reserve its stock"),
    "confirm": Step(orders.confirm_order, "Confirm a reviewed order"),
    "pick": Step(orders.pick_order, "Record that a confirmed order is picked"),
    "ship": Step(orders.ship_order, "Ship: issue the reserved units from their batches"),
    "in-transit": Step(orders.mark_in_transit, "Record that a shipped order is in transit"),
    "deliver": Step(orders.deliver_order, "Record that the customer signed for the order"),
    "complete": Step(orders.complete_order, "Complete a delivered order"),
}


@router.post("", status_code=201, response_model=OrderOut, summary="Place an order and reserve its stock")
def place_order(
    body: PlaceOrder, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn, merchant_id = session.conn, session.merchant_id
    place_or_receive = orders.place_order if body.stage == "confirmed" else orders.receive_order

    def place(at: datetime) -> Performed:
        product_ids = lookups.ids(conn, merchant_id, lookups.SKU, [line.sku_code for line in body.lines])
        order_id = place_or_receive(
            conn,
            merchant_id=merchant_id,
            customer_id=lookups.id_of(conn, merchant_id, lookups.CUSTOMER, body.customer_code),
            warehouse_id=lookups.id_of(conn, merchant_id, lookups.WAREHOUSE, body.warehouse_code),
            lines=[
                orders.OrderLineRequest(
                    product_ids[line.sku_code], line.quantity, line.unit_price, line.discount_amount
                )
                for line in body.lines
            ],
            at=at,
            order_no=body.order_no,
            payment_method=body.payment_method,
            credit_term_days=body.credit_term_days,
            coupon_code=body.coupon_code,
            actor=session.actor,
        )
        placed = reads.order(conn, order_id)
        return Performed(placed.model_dump(mode="json"), target=placed.order_no)

    return session.write("order.place", body, response, idempotency_key, place)


@router.get("/{order_no}", response_model=OrderOut, summary="Read an order with its lines and reserved batches")
def read_order(order_no: str, session: Session) -> OrderOut:
    return session.read(
        lambda conn: reads.order(conn, lookups.id_of(conn, session.merchant_id, lookups.ORDER, order_no))
    )


def _move(
    session: MerchantSession,
    order_no: str,
    operation: str,
    body: OrderTransition | CancelOrder,
    response: Response,
    idempotency_key: str | None,
    step: Callable[[int, datetime], None],
) -> JsonObject:
    conn = session.conn

    def act(at: datetime) -> Performed:
        order_id = lookups.id_of(conn, session.merchant_id, lookups.ORDER, order_no)
        step(order_id, at)
        return Performed(reads.order(conn, order_id).model_dump(mode="json"))

    return session.write(operation, body, response, idempotency_key, act, target=order_no)


@router.post("/{order_no}/cancel", response_model=OrderOut, summary="Cancel before shipment, releasing the stock")
def cancel_order(
    order_no: str,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: CancelOrder | None = None,
) -> JsonObject:
    request = body or CancelOrder()

    def cancel(order_id: int, at: datetime) -> None:
        orders.cancel_order(session.conn, order_id, at, actor=session.actor, reason=request.reason)

    return _move(session, order_no, "order.cancel", request, response, idempotency_key, cancel)


def _add_step_route(segment: str, step: Step) -> None:
    def move(
        order_no: str,
        session: Session,
        response: Response,
        idempotency_key: IdempotencyKey = None,
        body: OrderTransition | None = None,
    ) -> JsonObject:
        def act(order_id: int, at: datetime) -> None:
            step.service(session.conn, order_id, at, actor=session.actor)

        operation = f"order.{segment.replace('-', '_')}"
        return _move(session, order_no, operation, body or OrderTransition(), response, idempotency_key, act)

    move.__name__ = f"{segment.replace('-', '_')}_order"
    router.add_api_route(
        f"/{{order_no}}/{segment}", move, methods=["POST"], response_model=OrderOut, summary=step.summary
    )


for _segment, _step in STEPS.items():
    _add_step_route(_segment, _step)
