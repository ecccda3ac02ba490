"""The one way a write enters the system: for the merchant, idempotent, logged, all in one transaction.

Every write entry point (the HTTP API; the CLI and imports as they arrive) wraps its service calls
in `perform`. Inside one transaction it names the merchant for row security, claims the
idempotency key, runs the action, appends the operation log row and stores the response, so
either all of them happen or none does.

Concurrent requests with the same key are serialised by the key's primary key: the first claims
it, the others' `INSERT … ON CONFLICT DO NOTHING` waits until that transaction ends, then (READ
COMMITTED: each statement sees what committed before it) reads the stored response. If the first
fails, its claim rolls back and the next waiter runs the action itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from transactional.db import act_for_merchant
from transactional.errors import IdempotencyKeyReused

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """A write as its caller asked for it.

    `request` is what the client asked for, its defaults filled in but before any server default
    such as the current time, so a retry of the same request hashes the same. `logged_request`
    replaces it in the operation log (what the client sent, or a summary of a batch too big to keep).
    """

    merchant_id: int
    actor: str
    name: str
    request: Mapping[str, Any]
    at: datetime
    target: str | None = None
    idempotency_key: str | None = None
    logged_request: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Performed:
    """What an action returns: the JSON response, and the target when only the action knows it
    (the order number of a new order)."""

    response: JsonObject
    target: str | None = None


@dataclass(frozen=True)
class Outcome:
    response: JsonObject
    replayed: bool


def perform(conn: psycopg.Connection, operation: Operation, action: Callable[[], Performed]) -> Outcome:
    """Run `action` as `operation`; a retry under the same idempotency key returns the first
    response without running it again. Raises IdempotencyKeyReused when the key guarded another
    request."""
    with conn.transaction():
        act_for_merchant(conn, operation.merchant_id)
        if operation.idempotency_key is not None:
            stored = _claim_idempotency_key(conn, operation)
            if stored is not None:
                return Outcome(stored, replayed=True)
        performed = action()
        log_operation(conn, operation, target=performed.target or operation.target)
        response = performed.response
        if operation.idempotency_key is not None:
            response = _store_response(conn, operation, response)
    return Outcome(response, replayed=False)


def log_operation(conn: psycopg.Connection, operation: Operation, target: str | None = None) -> None:
    """Append the operation log row; call inside the transaction of the write it records."""
    logged = operation.logged_request if operation.logged_request is not None else operation.request
    conn.execute(
        """INSERT INTO core.operation_log (merchant_id, actor, operation, target, idempotency_key, request, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        [
            operation.merchant_id,
            operation.actor,
            operation.name,
            target or operation.target,
            operation.idempotency_key,
            Jsonb(dict(logged)),
            operation.at,
        ],
    )


def request_hash(operation: Operation) -> bytes:
    """SHA-256 of the operation, its target and the request in canonical JSON."""
    canonical = json.dumps(
        {"operation": operation.name, "target": operation.target, "request": operation.request},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).digest()


def _claim_idempotency_key(conn: psycopg.Connection, operation: Operation) -> JsonObject | None:
    """Claim the key for this transaction (None), or return the response it already guards."""
    fingerprint = request_hash(operation)
    claimed = conn.execute(
        """INSERT INTO core.idempotency_keys (merchant_id, key, operation, request_hash)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (merchant_id, key) DO NOTHING
           RETURNING 1""",
        [operation.merchant_id, operation.idempotency_key, operation.name, fingerprint],
    ).fetchone()
    if claimed:
        return None
    row = conn.execute(
        "SELECT operation, request_hash, response FROM core.idempotency_keys WHERE merchant_id = %s AND key = %s",
        [operation.merchant_id, operation.idempotency_key],
    ).fetchone()
    assert row is not None, "a conflicting idempotency key is committed, so it is visible"
    first_operation, first_hash, response = row
    if first_operation != operation.name or bytes(first_hash) != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {operation.idempotency_key!r} was already used for a different request "
            f"({first_operation}); send a new key for a new request"
        )
    return response


def _store_response(conn: psycopg.Connection, operation: Operation, response: JsonObject) -> JsonObject:
    """Store the response and return it as stored, so the first answer and every replay agree."""
    row = conn.execute(
        "UPDATE core.idempotency_keys SET response = %s WHERE merchant_id = %s AND key = %s RETURNING response",
        [Jsonb(response), operation.merchant_id, operation.idempotency_key],
    ).fetchone()
    assert row is not None
    return row[0]
