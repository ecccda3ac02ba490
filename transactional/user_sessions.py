"""Dashboard sessions the API accepts: a token minted at sign-in for the signed-in account.

The token is random and shown only to the dashboard; PostgreSQL keeps its SHA-256 (revision
0015). It lives `SESSION_LIFETIME` and is revoked at sign-out. All three functions work as
`coopcast_app`, through SECURITY DEFINER functions; minting needs the time of the account's
successful sign-in, so a token is only ever issued right after a password was checked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from transactional.users import SignedInUser

SESSION_LIFETIME = timedelta(hours=12)
TOKEN_MARK = "cus"


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionAccount:
    user_id: int
    username: str
    role: str
    merchant_id: int | None
    # For a platform admin's token: the merchant it named, if that code exists.
    named_merchant_id: int | None


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(conn: psycopg.Connection, user: SignedInUser, signed_in_at: datetime) -> IssuedSession:
    """A new token for `user`, who signed in successfully at `signed_in_at`."""
    token = f"{TOKEN_MARK}_{secrets.token_urlsafe(32)}"
    (expires_at,) = conn.execute(
        "SELECT core.open_user_session(%s, %s, %s)", [user.user_id, _token_hash(token), signed_in_at]
    ).fetchone()
    return IssuedSession(token, expires_at)


def account_for_token(
    conn: psycopg.Connection, token: str, at: datetime, merchant_code: str | None = None
) -> SessionAccount | None:
    """The account of a token that is live at `at`, or None (unknown, expired or revoked); for
    a platform admin, with the id of the merchant `merchant_code` names."""
    row = conn.execute(
        """SELECT user_id, username, role, merchant_id, named_merchant_id
           FROM core.user_session_for_token(%s, %s, %s)""",
        [_token_hash(token), merchant_code, at],
    ).fetchone()
    return None if row is None else SessionAccount(*row)


def revoke_session(conn: psycopg.Connection, token: str, at: datetime) -> None:
    conn.execute("SELECT core.revoke_user_session(%s, %s)", [_token_hash(token), at])
