"""Merchants and their API keys.

A key is shown once, when it is issued; the database keeps only its SHA-256 and its prefix
(`ck_` and 8 hex digits, the start of the key itself), which names the key in listings and as the
actor in the operation log. A merchant has one live key; rotating revokes the old one at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

from transactional import catalogue
from transactional.db import act_for_merchant
from transactional.errors import DomainError, NotFound
from transactional.operations import Operation, Performed, log_operation, perform

MERCHANT_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEY_PREFIX_MARK = "ck_"
KEY_PREFIX_LENGTH = len(KEY_PREFIX_MARK) + 8


@dataclass(frozen=True)
class IssuedKey:
    merchant_id: int
    merchant_code: str
    api_key: str
    key_prefix: str


@dataclass(frozen=True)
class MerchantListing:
    merchant_code: str
    name: str
    merchant_type: str
    region: str | None
    key_prefix: str | None
    key_issued_at: datetime | None


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def _new_api_key() -> tuple[str, str]:
    """A fresh key and its prefix: 8 hex digits to name it, 256 random bits to make it secret."""
    prefix = f"{KEY_PREFIX_MARK}{secrets.token_hex(4)}"
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_prefix(api_key: str) -> str:
    """The prefix that names a key (its first part), for the operation log."""
    return api_key[:KEY_PREFIX_LENGTH]


def _store_key(conn: psycopg.Connection, merchant_id: int, api_key: str, at: datetime) -> None:
    conn.execute(
        "INSERT INTO core.api_keys (merchant_id, key_prefix, key_hash, created_at) VALUES (%s, %s, %s, %s)",
        [merchant_id, key_prefix(api_key), hash_api_key(api_key), at],
    )


def register_merchant(
    conn: psycopg.Connection,
    merchant_code: str,
    name: str,
    at: datetime,
    *,
    actor: str,
    merchant_type: str = "retailer",
    region: str | None = None,
) -> IssuedKey:
    """Create a merchant with its first API key, logged as one operation."""
    if not MERCHANT_CODE.fullmatch(merchant_code):
        raise DomainError(f"merchant code {merchant_code!r} must be 1 to 32 letters, digits, _ or -")
    with conn.transaction():
        if conn.execute("SELECT 1 FROM core.merchants WHERE merchant_code = %s", [merchant_code]).fetchone():
            raise DomainError(f"merchant {merchant_code} already exists")
        merchant_id = catalogue.create_merchant(conn, merchant_code, name, at, merchant_type, region)
        act_for_merchant(conn, merchant_id)
        api_key, prefix = _new_api_key()
        _store_key(conn, merchant_id, api_key, at)
        request = {"merchant_code": merchant_code, "name": name, "merchant_type": merchant_type, "region": region}
        logged = {**request, "key_prefix": prefix}
        log_operation(conn, Operation(merchant_id, actor, "merchant.create", request, at, merchant_code, None, logged))
    return IssuedKey(merchant_id, merchant_code, api_key, prefix)


def rotate_api_key(conn: psycopg.Connection, merchant_code: str, at: datetime, *, actor: str) -> IssuedKey:
    """Revoke the merchant's live key and issue a new one."""
    merchant_id = merchant_id_for_code(conn, merchant_code)
    api_key, prefix = _new_api_key()

    def rotate() -> Performed:
        conn.execute(
            "UPDATE core.api_keys SET revoked_at = %s WHERE merchant_id = %s AND revoked_at IS NULL",
            [at, merchant_id],
        )
        _store_key(conn, merchant_id, api_key, at)
        return Performed({"key_prefix": prefix})

    operation = Operation(
        merchant_id, actor, "merchant.rotate_key", {}, at, target=merchant_code, logged_request={"key_prefix": prefix}
    )
    perform(conn, operation, rotate)
    return IssuedKey(merchant_id, merchant_code, api_key, prefix)


def merchant_id_for_code(conn: psycopg.Connection, merchant_code: str) -> int:
    row = conn.execute("SELECT merchant_id FROM core.merchants WHERE merchant_code = %s", [merchant_code]).fetchone()
    if row is None:
        raise NotFound(f"merchant {merchant_code} does not exist")
    return int(row[0])


def list_merchants(conn: psycopg.Connection) -> list[MerchantListing]:
    rows = conn.execute(
        """SELECT m.merchant_code, m.name, m.merchant_type, m.region, k.key_prefix, k.created_at
           FROM core.merchants m
           LEFT JOIN core.api_keys k ON k.merchant_id = m.merchant_id AND k.revoked_at IS NULL
           ORDER BY m.merchant_code"""
    ).fetchall()
    return [MerchantListing(*row) for row in rows]


def authenticate(conn: psycopg.Connection, api_key: str) -> int | None:
    """The merchant a live key belongs to, or None. Runs through a SECURITY DEFINER function, so
    a connection that may not read core.api_keys (row security) can still check a key."""
    row = conn.execute("SELECT core.authenticate_api_key(%s)", [hash_api_key(api_key)]).fetchone()
    return None if row is None or row[0] is None else int(row[0])
