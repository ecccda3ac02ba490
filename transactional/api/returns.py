"""After-sales returns: POST /orders/{order_no}/returns opens one; /returns/{return_no} moves it
through approve | reject → receive → refund."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Response

from transactional import returns
from transactional.api import lookups, reads
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import RequestReturn, ReturnOut, ReturnStep
from transactional.api.session import IdempotencyKey, Session
from transactional.errors import NotFound
from transactional.operations import JsonObject, Performed

router = APIRouter(tags=["returns"], responses=ERROR_RESPONSES)


@dataclass(frozen=True)
class Step:
    service: Callable[..., object]
    summary: str


STEPS: dict[str, Step] = {
    "approve": Step(returns.approve_return, "Approve a requested return"),
    "reject": Step(returns.reject_return, "Reject a requested return; its units may be asked for again"),
    "receive": Step(returns.receive_return, "Receive the goods; no-reason returns go back into stock"),
    "refund": Step(returns.refund_return, "Refund received goods, pro rata to the units"),
}


@router.post(
    "/orders/{order_no}/returns", status_code=201, response_model=ReturnOut, summary="Request an after-sales return"
)
def request_return(
    order_no: str, body: RequestReturn, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    conn, merchant_id = session.conn, session.merchant_id

    def request(at: datetime) -> Performed:
        order_id = lookups.id_of(conn, merchant_id, lookups.ORDER, order_no)
        line_ids = dict(
            conn.execute(
                "SELECT line_no, order_line_id FROM core.order_lines WHERE order_id = %s", [order_id]
            ).fetchall()
        )
        unknown = sorted({line.line_no for line in body.lines} - line_ids.keys())
        if unknown:
            raise NotFound(f"order {order_no} has no line {', '.join(map(str, unknown))}")
        return_id = returns.request_return(
            conn,
            order_id=order_id,
            lines=[returns.ReturnLineRequest(line_ids[line.line_no], line.quantity) for line in body.lines],
            reason=body.reason,
            at=at,
            note=body.note,
        )
        opened = reads.order_return(conn, return_id)
        return Performed(opened.model_dump(mode="json"), target=opened.return_no)

    return session.write("return.request", body, response, idempotency_key, request)


@router.get("/returns/{return_no}", response_model=ReturnOut, summary="Read a return")
def read_return(return_no: str, session: Session) -> ReturnOut:
    return session.read(
        lambda conn: reads.order_return(conn, lookups.id_of(conn, session.merchant_id, lookups.RETURN, return_no))
    )


def _add_step_route(segment: str, step: Step) -> None:
    def move(
        return_no: str,
        session: Session,
        response: Response,
        idempotency_key: IdempotencyKey = None,
        body: ReturnStep | None = None,
    ) -> JsonObject:
        conn = session.conn

        def act(at: datetime) -> Performed:
            return_id = lookups.id_of(conn, session.merchant_id, lookups.RETURN, return_no)
            step.service(conn, return_id, at)
            return Performed(reads.order_return(conn, return_id).model_dump(mode="json"))

        request = body or ReturnStep()
        return session.write(f"return.{segment}", request, response, idempotency_key, act, target=return_no)

    move.__name__ = f"{segment}_return"
    router.add_api_route(
        f"/returns/{{return_no}}/{segment}", move, methods=["POST"], response_model=ReturnOut, summary=step.summary
    )


for _segment, _step in STEPS.items():
    _add_step_route(_segment, _step)
