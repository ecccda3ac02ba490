"""Who is calling: the API key resolved to a merchant, and the connection the request uses.

Besides API keys, the routes the dashboard writes through accept a dashboard session token
(`transactional.user_sessions`, minted at sign-in) as `Authorization: Bearer`: it acts for the
account's merchant, under the account's name in the operation log, and only for the roles the
route allows. Every other route refuses such a token (403), so a signed-in account can do no
more through the API than its dashboard offers it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, Header, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from transactional import merchants, user_sessions
from transactional.api.schemas import WriteRequest
from transactional.db import act_for_merchant
from transactional.operations import JsonObject, Operation, Performed, perform
from transactional.users import ADMIN_ROLE, ROLES

T = TypeVar("T")

REPLAYED_HEADER = "Idempotent-Replayed"
MERCHANT_HEADER = "X-Merchant-Code"
PURCHASING_ROLES = frozenset({"owner", "procurement", ADMIN_ROLE})

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The merchant's API key.")
_bearer = HTTPBearer(
    auto_error=False,
    description="The merchant's API key as a bearer token, or a dashboard session token where a route accepts one.",
)


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
            # Defaults written out or left out make the same request, so they hash alike; the log
            # keeps what the client sent.
            request=body.model_dump(mode="json"),
            at=at,
            target=target,
            idempotency_key=idempotency_key,
            logged_request=logged_request
            if logged_request is not None
            else body.model_dump(mode="json", exclude_unset=True),
        )
        outcome = perform(self.conn, operation, lambda: action(at))
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return outcome.response


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def _forbidden(reason: str) -> HTTPException:
    return HTTPException(status_code=403, detail=reason)


def _merchant_acted_for(account: user_sessions.SessionAccount, merchant_code: str | None) -> int:
    """A merchant account acts for its own merchant; a platform admin, who has none, names one."""
    if account.role != ADMIN_ROLE:
        if merchant_code is not None:
            raise _forbidden(
                f"an account of role {account.role} acts only for its own merchant: leave out {MERCHANT_HEADER}"
            )
        return account.merchant_id
    if merchant_code is None:
        raise HTTPException(
            status_code=422,
            detail=f"a platform admin's session belongs to no merchant: name the one it acts for in {MERCHANT_HEADER}",
        )
    if account.named_merchant_id is None:
        raise HTTPException(status_code=404, detail=f"no merchant with code {merchant_code!r}")
    return account.named_merchant_id


def _session_for_token(
    conn: psycopg.Connection, token: str, merchant_code: str | None, token_roles: frozenset[str]
) -> MerchantSession:
    account = user_sessions.account_for_token(conn, token, datetime.now(UTC), merchant_code)
    if account is None:
        raise _unauthorized(
            "the API key or session token is not valid: unknown, rotated, expired or ended by signing out"
        )
    if account.role not in token_roles:
        allowed = ", ".join(role for role in ROLES if role in token_roles)
        raise _forbidden(
            f"an account of role {account.role} may not do this with a dashboard session"
            + (f": only roles {allowed} may" if allowed else "; use the merchant's API key")
        )
    return MerchantSession(conn, _merchant_acted_for(account, merchant_code), actor=account.username)


def _resolve(
    request: Request, presented: str | None, merchant_code: str | None, token_roles: frozenset[str]
) -> Iterator[MerchantSession]:
    """An API key decides the merchant (any merchant header is ignored, as it always was); else a
    dashboard session token of an account whose role is in `token_roles`."""
    if not presented:
        raise _unauthorized("an API key is required: send it in the X-API-Key header or as Authorization: Bearer")
    with request.app.state.pool.connection() as conn:
        merchant_id = merchants.authenticate(conn, presented)
        if merchant_id is not None:
            yield MerchantSession(conn, merchant_id, actor=merchants.key_prefix(presented))
            return
        yield _session_for_token(conn, presented, merchant_code, token_roles)


def _presented(api_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> str | None:
    return api_key or (bearer.credentials if bearer else None)


def merchant_session(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Iterator[MerchantSession]:
    yield from _resolve(request, _presented(api_key, bearer), None, frozenset())


def purchasing_session(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    merchant_code: Annotated[
        str | None,
        Header(
            alias=MERCHANT_HEADER,
            min_length=1,
            max_length=64,
            description="With a platform admin's dashboard session: the merchant it acts for. "
            "Not allowed with other accounts' sessions; ignored with an API key.",
        ),
    ] = None,
) -> Iterator[MerchantSession]:
    yield from _resolve(request, _presented(api_key, bearer), merchant_code, PURCHASING_ROLES)


Session = Annotated[MerchantSession, Depends(merchant_session)]
# Dashboard accounts that buy: the roles that see the replenishment suggestions.
PurchasingSession = Annotated[MerchantSession, Depends(purchasing_session)]


def _not_blank(key: str | None) -> str | None:
    if key is not None and not key.strip():
        raise ValueError("is blank: send a key that names the request, or leave the header out")
    return key


# A blank key would guard nothing a client could name again, so it is refused rather than ignored.
IdempotencyKey = Annotated[
    str | None,
    AfterValidator(_not_blank),
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retrying with the same key returns the first response instead of writing again; "
        "reusing it for a different request is refused (422).",
    ),
]
