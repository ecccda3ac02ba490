"""Who is calling: the API key resolved to a merchant, and the connection the request uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, Header, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from transactional import merchants
from transactional.api.schemas import WriteRequest
from transactional.db import act_for_merchant
from transactional.operations import JsonObject, Operation, Performed, perform

T = TypeVar("T")

REPLAYED_HEADER = "Idempotent-Replayed"

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The merchant's API key.")
_bearer = HTTPBearer(auto_error=False, description="The merchant's API key as a bearer token.")


@dataclass(frozen=True)
class MerchantSession:
    conn: psycopg.Connection
    merchant_id: int
    actor: str

    def read(self, query: Callable[[psycopg.Connection], T]) -> T:
        """Run a read in a transaction that sees only this merchant's rows."""
        with self.conn.transaction():
            act_for_merchant(self.conn, self.merchant_id)
            return query(self.conn)

    def write(
        self,
        name: str,
        body: WriteRequest,
        response: Response,
        idempotency_key: str | None,
        action: Callable[[datetime], Performed],
        *,
        target: str | None = None,
        logged_request: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        """Run a write through `operations.perform`; `action` gets the operation's time (the
        request's `at`, else now: the one place the server's clock enters)."""
        at = body.at or datetime.now(UTC)
        operation = Operation(
            merchant_id=self.merchant_id,
            actor=self.actor,
            name=name,
            request=body.model_dump(mode="json", exclude_unset=True),
            at=at,
            target=target,
            idempotency_key=idempotency_key,
            logged_request=logged_request,
        )
        outcome = perform(self.conn, operation, lambda: action(at))
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return outcome.response


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def merchant_session(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Iterator[MerchantSession]:
    presented = api_key or (bearer.credentials if bearer else None)
    if not presented:
        raise _unauthorized("an API key is required: send it in the X-API-Key header or as Authorization: Bearer")
    with request.app.state.pool.connection() as conn:
        merchant_id = merchants.authenticate(conn, presented)
        if merchant_id is None:
            raise _unauthorized("the API key is not valid: it is unknown or has been rotated")
        yield MerchantSession(conn, merchant_id, actor=merchants.key_prefix(presented))


Session = Annotated[MerchantSession, Depends(merchant_session)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retrying with the same key returns the first response instead of writing again; "
        "reusing it for a different request is refused (422).",
    ),
]
