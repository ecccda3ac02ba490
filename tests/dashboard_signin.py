"""Signing in to the dashboard in AppTest, as a user does: through the form, with a real account.

Accounts are created in the pipeline's PostgreSQL database (the one whose data the serving copy
holds), one per database, role and merchant, and reused; a test that locks an account creates its
own with `create_account`.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from transactional import users

PASSWORD = "fields4harvest2026"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str
    merchant_id: int | None


def create_account(database_url: str, role: str, merchant_id: int | None = None) -> Account:
    """A new account of `role` (belonging to merchant `merchant_id` unless an admin), under a fresh name."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url) as conn:
        merchant_code = None
        if merchant_id is not None:
            (merchant_code,) = conn.execute(
                "SELECT merchant_code FROM core.merchants WHERE merchant_id = %s", [merchant_id]
            ).fetchone()
        users.create_user(conn, username, merchant_code, role, PASSWORD, datetime.now(UTC), actor="test")
    return Account(username, PASSWORD, role, merchant_id)


@functools.cache
def account(database_url: str, role: str, merchant_id: int | None = None) -> Account:
    return create_account(database_url, role, merchant_id)


def use_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """The dashboard signs in against this database (as the application role, like in production)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("COOPCAST_APP_DATABASE_URL", raising=False)


def submit_sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input(key="sign_in_username").input(username)
    app.text_input(key="sign_in_password").input(password)
    [submit] = [button for button in app.button if button.proto.is_form_submitter]
    return submit.click().run()


def sign_in_as(
    app: AppTest,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    role: str,
    merchant_id: int | None = None,
) -> AppTest:
    """Sign the session in as an account of `role` (of merchant `merchant_id`; none for admin)."""
    use_database(monkeypatch, database_url)
    signed = account(database_url, role, merchant_id)
    submit_sign_in(app, signed.username, signed.password)
    assert not app.exception, app.exception
    assert not [error.value for error in app.error], [error.value for error in app.error]
    return app
