"""Dashboard accounts: create, reset a password, sign in under the platform's lock-out rule.

Passwords are hashed with argon2id and checked here (PostgreSQL has no argon2). The rule
(DOMAIN "Security rules"): a password has at least 10 characters with letters and digits and
does not contain the username; 5 consecutive wrong passwords lock the account for 30 minutes,
during which even the right password is refused; a success resets the count. Every account
action goes to `core.account_log`.

`create_user` and `reset_password` run as the database owner (the command line).
`authenticate` also works as `coopcast_app`, through the two SECURITY DEFINER functions of
revision 0014, which is how the dashboard signs users in. Every function takes the time `at` of
the action instead of reading a clock.
"""

from __future__ import annotations

import functools
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg.types.json import Jsonb

from transactional.errors import DomainError, InvalidRequest, NotFound

ROLES = ("owner", "procurement", "sales", "finance", "admin")
ADMIN_ROLE = "admin"
FIRST_ADMIN_USERNAME = "admin"
MAX_FAILED_ATTEMPTS = 5
LOCK_DURATION = timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
GENERATED_PASSWORD_LENGTH = 16
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,63}")
# No 0/O or 1/l/I: generated passwords are read off a terminal and typed.
GENERATED_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")

_hasher = PasswordHasher()


class WeakPassword(DomainError):
    pass


class WrongPassword(DomainError):
    """A wrong password, or a name no account has (the same answer, so names cannot be probed)."""

    def __init__(self, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        super().__init__(
            f"wrong username or password: {attempts_left} more wrong attempts lock the account "
            f"for {LOCK_DURATION.seconds // 60} minutes"
        )


class AccountLocked(DomainError):
    def __init__(self, locked_until: datetime) -> None:
        self.locked_until = locked_until
        super().__init__(f"the account is locked after {MAX_FAILED_ATTEMPTS} wrong passwords until {locked_until}")


@dataclass(frozen=True)
class SignedInUser:
    user_id: int
    username: str
    role: str
    merchant_id: int | None
    merchant_code: str | None


@dataclass(frozen=True)
class _SignInState:
    failed_attempts: int
    locked_until: datetime | None


def password_problem(password: str, username: str) -> str | None:
    """Why `password` is not strong enough for `username`, or None when it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters, this one has {len(password)}"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "a password needs both letters and digits"
    if username.lower() in password.lower():
        return "a password must not contain the username"
    return None


def generate_password() -> str:
    """A random password that meets the rule (about 90 bits)."""
    while True:
        password = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))
        if password_problem(password, "-") is None:
            return password


def _checked_hash(username: str, password: str) -> str:
    problem = password_problem(password, username)
    if problem:
        raise WeakPassword(problem)
    return _hasher.hash(password)


def _log(
    conn: psycopg.Connection,
    user_id: int | None,
    username: str,
    merchant_id: int | None,
    operation: str,
    actor: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        """INSERT INTO core.account_log (user_id, username, merchant_id, actor, operation, detail, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        [user_id, username, merchant_id, actor, operation, Jsonb(dict(detail or {})), at],
    )


def _merchant_id(conn: psycopg.Connection, merchant_code: str | None, role: str) -> int | None:
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if role == ADMIN_ROLE:
        if merchant_code is not None:
            raise InvalidRequest("a platform admin belongs to no merchant: leave out the merchant")
        return None
    if merchant_code is None:
        article = "an" if role[0] in "aeiou" else "a"
        raise InvalidRequest(f"{article} {role} account belongs to a merchant: name its code")
    row = conn.execute("SELECT merchant_id FROM core.merchants WHERE merchant_code = %s", [merchant_code]).fetchone()
    if row is None:
        raise NotFound(f"no merchant with code {merchant_code!r}")
    return row[0]


def create_user(
    conn: psycopg.Connection,
    username: str,
    merchant_code: str | None,
    role: str,
    password: str,
    at: datetime,
    *,
    actor: str = "cli",
) -> int:
    """Create an account and return its user_id. Runs as the database owner."""
    if not USERNAME.fullmatch(username):
        raise InvalidRequest(
            f"username {username!r}: 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    with conn.transaction():
        merchant_id = _merchant_id(conn, merchant_code, role)
        password_hash = _checked_hash(username, password)
        taken = conn.execute("SELECT username FROM core.users WHERE lower(username) = lower(%s)", [username]).fetchone()
        if taken:
            raise InvalidRequest(f"username {taken[0]!r} is taken (names are compared ignoring case)")
        (user_id,) = conn.execute(
            """INSERT INTO core.users (username, merchant_id, role, password_hash, created_at, updated_at,
                                       password_changed_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING user_id""",
            [username, merchant_id, role, password_hash, at, at, at],
        ).fetchone()
        _log(conn, user_id, username, merchant_id, "account.create", actor, at, {"role": role})
    return user_id


def reset_password(conn: psycopg.Connection, username: str, password: str, at: datetime, *, actor: str = "cli") -> None:
    """Give the account a new password, unlock it and revoke its API session tokens (whoever
    knew the old password may have signed in with it). Runs as the database owner."""
    with conn.transaction():
        row = conn.execute(
            "SELECT user_id, username, merchant_id FROM core.users WHERE lower(username) = lower(%s) FOR UPDATE",
            [username],
        ).fetchone()
        if row is None:
            raise NotFound(f"no account named {username!r}")
        user_id, stored_name, merchant_id = row
        conn.execute(
            """UPDATE core.users SET password_hash = %s, failed_attempts = 0, locked_until = NULL,
                      password_changed_at = %s, updated_at = %s
               WHERE user_id = %s""",
            [_checked_hash(stored_name, password), at, at, user_id],
        )
        conn.execute(
            """UPDATE core.user_sessions SET revoked_at = greatest(%s, issued_at)
               WHERE user_id = %s AND revoked_at IS NULL AND expires_at > %s""",
            [at, user_id, at],
        )
        _log(conn, user_id, stored_name, merchant_id, "account.reset_password", actor, at)


def admin_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT FROM core.users WHERE role = %s)", [ADMIN_ROLE]).fetchone()[0]


@functools.cache
def _decoy_hash() -> str:
    # Checked when the name is unknown, so that a wrong name takes as long as a wrong password.
    return _hasher.hash(generate_password())


def _verified(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _after_failure(state: _SignInState, at: datetime) -> _SignInState:
    """The state after one more wrong password; a lock that has ended starts the count again."""
    lock_ended = state.locked_until is not None and state.locked_until <= at
    failures = (0 if lock_ended else state.failed_attempts) + 1
    return _SignInState(failures, at + LOCK_DURATION if failures >= MAX_FAILED_ATTEMPTS else None)


def _unknown_name_state(conn: psycopg.Connection, username: str, at: datetime) -> _SignInState:
    """What a name no account has answers as: its failures of the last lock period, counted like
    an account's, so that wrong guesses look the same whether or not the name exists."""
    rows = conn.execute(
        "SELECT occurred_at FROM core.recent_failed_sign_ins_of_unknown_name(%s, %s)", [username, at - LOCK_DURATION]
    )
    failures = [row[0] for row in rows]
    locked = len(failures) >= MAX_FAILED_ATTEMPTS
    return _SignInState(len(failures), failures[MAX_FAILED_ATTEMPTS - 1] + LOCK_DURATION if locked else None)


def _record(
    conn: psycopg.Connection,
    user_id: int | None,
    username: str,
    outcome: str,
    state: _SignInState,
    actor: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        "SELECT core.record_sign_in(%s, %s, %s, %s::smallint, %s, %s, %s, %s)",
        [user_id, username, outcome, state.failed_attempts, state.locked_until, actor, Jsonb(dict(detail or {})), at],
    )


def authenticate(
    conn: psycopg.Connection, username: str, password: str, at: datetime, *, actor: str = "dashboard"
) -> SignedInUser:
    """The account `username` signs in with `password` at `at`, or WrongPassword / AccountLocked.

    The outcome is committed before the error is raised, so a failure counts even though the
    caller sees an exception; the account's row stays locked from the lookup to that commit, so
    concurrent wrong passwords are counted one after the other. The connection must have no
    transaction open: inside the caller's, a rollback would forget the failure.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("authenticate needs a connection with no transaction open, so that failures always count")
    with conn.transaction():
        row = conn.execute(
            """SELECT user_id, username, role, merchant_id, merchant_code, password_hash, failed_attempts, locked_until
               FROM core.account_for_sign_in(%s)""",
            [username],
        ).fetchone()
        refusal = _sign_in(conn, row, username, password, at, actor)
    if isinstance(refusal, DomainError):
        raise refusal
    return refusal


def _sign_in(
    conn: psycopg.Connection, row: tuple | None, username: str, password: str, at: datetime, actor: str
) -> SignedInUser | DomainError:
    if row is None:
        state = _unknown_name_state(conn, username, at)
        user_id = None
    else:
        user_id, username, role, merchant_id, merchant_code, password_hash, failed_attempts, locked_until = row
        state = _SignInState(failed_attempts, locked_until)
    if state.locked_until is not None and state.locked_until > at:
        _record(conn, user_id, username, "account.sign_in_refused_locked", state, actor, at)
        return AccountLocked(state.locked_until)
    if _verified(password_hash if row is not None else _decoy_hash(), password) and row is not None:
        _record(conn, user_id, username, "account.sign_in", _SignInState(0, None), actor, at)
        return SignedInUser(user_id, username, role, merchant_id, merchant_code)
    failed = _after_failure(state, at)
    _record(conn, user_id, username, "account.sign_in_failed", failed, actor, at, {"attempt": failed.failed_attempts})
    if failed.locked_until is None:
        return WrongPassword(MAX_FAILED_ATTEMPTS - failed.failed_attempts)
    if user_id is not None:
        _record(conn, user_id, username, "account.lock", failed, actor, at, {"until": failed.locked_until.isoformat()})
    return AccountLocked(failed.locked_until)
