"""Shop traffic: exposure → visit → product view → cart add → purchase, per customer and session.

Funnel events are the biggest table, so they are loaded in bulk with COPY and stored as fixed-width
rows (the event type as a smallint code). PostgreSQL refuses COPY FROM into a table under row
security for a role subject to it, so events are copied into a session-local staging table and
moved with one INSERT … SELECT, which row security, the CHECKs and the foreign keys all apply to:
a batch is accepted whole or refused whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg

from transactional.errors import InvalidFunnelEvent

# The codes of core.funnel_event_types, in funnel order.
EVENT_TYPES = {"exposure": 1, "visit": 2, "product_view": 3, "cart_add": 4, "purchase": 5}

_COLUMNS = "merchant_id, occurred_at, session_id, customer_id, product_id, order_id, event_type"
_STAGING = "pg_temp.funnel_events_incoming"


@dataclass(frozen=True)
class FunnelEvent:
    merchant_id: int
    occurred_at: datetime
    session_id: int
    event_type: str
    customer_id: int | None = None
    product_id: int | None = None
    order_id: int | None = None


def record_events(conn: psycopg.Connection, events: Iterable[FunnelEvent]) -> int:
    """Store a batch of events; returns how many. Raises InvalidFunnelEvent naming the first
    problem (an unknown type, a naive time, or a row the database's constraints refuse)."""
    try:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE core.funnel_events INCLUDING DEFAULTS)")
            with cursor.copy(f"COPY {_STAGING} ({_COLUMNS}) FROM STDIN") as copy:
                for number, event in enumerate(events, start=1):
                    copy.write_row(_row(number, event))
            # Emptying the staging table in the same statement keeps it ready for the next batch,
            # even one in the same transaction.
            cursor.execute(
                f"""WITH incoming AS (DELETE FROM {_STAGING} RETURNING {_COLUMNS})
                    INSERT INTO core.funnel_events ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming"""
            )
            return cursor.rowcount
    except psycopg.errors.IntegrityError as error:
        raise InvalidFunnelEvent(_describe(error)) from error


def _row(number: int, event: FunnelEvent) -> tuple:
    code = EVENT_TYPES.get(event.event_type)
    if code is None:
        raise InvalidFunnelEvent(
            f"event {number}: unknown event type {event.event_type!r}; expected one of {', '.join(EVENT_TYPES)}"
        )
    if event.occurred_at.tzinfo is None:
        raise InvalidFunnelEvent(f"event {number}: occurred_at {event.occurred_at} has no time zone")
    return (
        event.merchant_id,
        event.occurred_at,
        event.session_id,
        event.customer_id,
        event.product_id,
        event.order_id,
        code,
    )


def _describe(error: psycopg.Error) -> str:
    detail = f" ({error.diag.message_detail})" if error.diag.message_detail else ""
    return f"funnel events refused: {error.diag.message_primary}{detail}"
