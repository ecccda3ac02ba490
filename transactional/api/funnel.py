"""/funnel-events: batches of shop traffic events, stored in bulk."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from fastapi import APIRouter, Response

from transactional import funnel
from transactional.api import lookups
from transactional.api.errors import ERROR_RESPONSES
from transactional.api.schemas import FunnelAccepted, FunnelBatch
from transactional.api.session import IdempotencyKey, MerchantSession, Session
from transactional.operations import JsonObject, Performed

router = APIRouter(prefix="/funnel-events", tags=["funnel"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=FunnelAccepted, summary="Record a batch of funnel events")
def record_funnel_events(
    body: FunnelBatch, session: Session, response: Response, idempotency_key: IdempotencyKey = None
) -> JsonObject:
    """All events of a batch are stored, or none (the first problem is named)."""
    conn, merchant_id = session.conn, session.merchant_id

    def record(at: datetime) -> Performed:
        customers = _ids(session, lookups.CUSTOMER, [event.customer_code for event in body.events])
        products = _ids(session, lookups.SKU, [event.sku_code for event in body.events])
        orders = _ids(session, lookups.ORDER, [event.order_no for event in body.events])
        accepted = funnel.record_events(
            conn,
            (
                funnel.FunnelEvent(
                    merchant_id=merchant_id,
                    occurred_at=event.occurred_at,
                    session_id=event.session_id,
                    event_type=event.event_type,
                    customer_id=customers.get(event.customer_code),
                    product_id=products.get(event.sku_code),
                    order_id=orders.get(event.order_no),
                )
                for event in body.events
            ),
        )
        return Performed({"accepted": accepted})

    return session.write("funnel.record", body, response, idempotency_key, record, logged_request=_summary(body))


def _ids(session: MerchantSession, kind: lookups.Kind, codes: list[str | None]) -> dict[str | None, int]:
    return dict(lookups.ids(session.conn, session.merchant_id, kind, [code for code in codes if code is not None]))


def _summary(body: FunnelBatch) -> dict:
    """The operation log keeps a batch's size, time span and fingerprint, not its events."""
    times = [event.occurred_at for event in body.events]
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return {
        "events": len(body.events),
        "first_occurred_at": min(times).isoformat(),
        "last_occurred_at": max(times).isoformat(),
        "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }
