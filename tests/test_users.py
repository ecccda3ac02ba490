"""Accounts on real PostgreSQL: strong passwords, the lock-out rule, the account log, and the
application role's narrow view of accounts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from transactional import db, merchants, users

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
PASSWORD = "harvest2026a"
WRONG = "harvest2026b"


@pytest.fixture
def merchant_ids(conn: psycopg.Connection) -> dict[str, int]:
    return {
        code: merchants.register_merchant(conn, code, f"供销社 {code}", AT, actor="test").merchant_id
        for code in ("M001", "M002")
    }


@pytest.fixture
def app_conn(pg_database_url: str):
    """The dashboard's connection: the application role, subject to row security."""
    with psycopg.connect(db.as_role(pg_database_url, db.APP_ROLE), autocommit=True) as connection:
        yield connection


def wrong_attempts(conn: psycopg.Connection, username: str, count: int, at: datetime) -> list[Exception]:
    errors = []
    for _ in range(count):
        with pytest.raises((users.WrongPassword, users.AccountLocked)) as raised:
            users.authenticate(conn, username, WRONG, at)
        errors.append(raised.value)
    return errors


def log_operations(conn: psycopg.Connection, username: str) -> list[str]:
    rows = conn.execute(
        "SELECT operation FROM core.account_log WHERE lower(username) = lower(%s) ORDER BY account_log_id", [username]
    )
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1a", "at least 10 characters"),
        ("onlyletterslong", "letters and digits"),
        ("1234567890123", "letters and digits"),
        ("li.wei2026xx", "must not contain the username"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    conn: psycopg.Connection, merchant_ids: dict[str, int], password: str, problem: str
) -> None:
    with pytest.raises(users.WeakPassword, match=problem):
        users.create_user(conn, "Li.Wei", "M001", "owner", password, AT)
    assert conn.execute("SELECT count(*) FROM core.users").fetchone() == (0,)


def test_a_generated_password_meets_the_rule_and_differs_each_time() -> None:
    generated = {users.generate_password() for _ in range(20)}
    assert len(generated) == 20
    assert all(users.password_problem(password, "admin") is None for password in generated)


def test_usernames_are_unique_ignoring_case(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    with pytest.raises(users.InvalidRequest, match="taken"):
        users.create_user(conn, "WANG", "M002", "sales", PASSWORD, AT)
    signed_in = users.authenticate(conn, "Wang", PASSWORD, AT)
    assert (signed_in.username, signed_in.merchant_code, signed_in.role) == ("wang", "M001", "owner")


def test_only_the_admin_role_has_no_merchant(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    with pytest.raises(users.InvalidRequest, match="belongs to a merchant"):
        users.create_user(conn, "zhao", None, "sales", PASSWORD, AT)
    with pytest.raises(users.InvalidRequest, match="belongs to no merchant"):
        users.create_user(conn, "root2", "M001", "admin", PASSWORD, AT)
    with pytest.raises(users.InvalidRequest, match="unknown role"):
        users.create_user(conn, "zhao", "M001", "cashier", PASSWORD, AT)
    # The schema refuses it too, whatever the write path.
    with pytest.raises(psycopg.errors.CheckViolation, match="users_only_admins_have_no_merchant"):
        conn.execute(
            """INSERT INTO core.users (username, merchant_id, role, password_hash, created_at, updated_at,
                                       password_changed_at)
               VALUES ('zhao', NULL, 'sales', '$argon2id$x', %s, %s, %s)""",
            [AT, AT, AT],
        )
    conn.rollback()
    users.create_user(conn, "root", None, "admin", PASSWORD, AT)
    assert users.authenticate(conn, "root", PASSWORD, AT).merchant_id is None


def test_passwords_are_stored_as_argon2id_hashes(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    (stored,) = conn.execute("SELECT password_hash FROM core.users").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_passwords_count_down_then_lock_for_30_minutes(
    conn: psycopg.Connection, merchant_ids: dict[str, int]
) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    errors = wrong_attempts(conn, "wang", 5, AT)

    assert [error.attempts_left for error in errors[:4]] == [4, 3, 2, 1]
    assert isinstance(errors[4], users.AccountLocked)
    assert errors[4].locked_until == AT + timedelta(minutes=30)
    with pytest.raises(users.AccountLocked):
        users.authenticate(conn, "wang", PASSWORD, AT + timedelta(minutes=29, seconds=59))
    assert users.authenticate(conn, "wang", PASSWORD, AT + timedelta(minutes=30)).username == "wang"


def test_a_success_resets_the_count(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    wrong_attempts(conn, "wang", 4, AT)
    users.authenticate(conn, "wang", PASSWORD, AT)
    errors = wrong_attempts(conn, "wang", 4, AT)
    assert [error.attempts_left for error in errors] == [4, 3, 2, 1]


def test_after_a_lock_ends_the_count_starts_again(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    wrong_attempts(conn, "wang", 5, AT)
    (after_lock,) = wrong_attempts(conn, "wang", 1, AT + timedelta(minutes=31))
    assert isinstance(after_lock, users.WrongPassword) and after_lock.attempts_left == 4


def test_reset_password_unlocks_and_replaces_the_password(
    conn: psycopg.Connection, merchant_ids: dict[str, int]
) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    wrong_attempts(conn, "wang", 5, AT)
    users.reset_password(conn, "WANG", "newharvest99", AT + timedelta(minutes=1))

    with pytest.raises(users.WrongPassword, match="4 more"):
        users.authenticate(conn, "wang", PASSWORD, AT + timedelta(minutes=2))
    assert users.authenticate(conn, "wang", "newharvest99", AT + timedelta(minutes=2)).role == "owner"
    with pytest.raises(users.NotFound):
        users.reset_password(conn, "nobody", "newharvest99", AT)


def test_an_unknown_name_answers_exactly_like_a_wrong_password(
    conn: psycopg.Connection, merchant_ids: dict[str, int]
) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    known = wrong_attempts(conn, "wang", 5, AT)
    unknown = wrong_attempts(conn, "nobody", 5, AT)

    assert [str(error) for error in unknown] == [str(error) for error in known]
    with pytest.raises(users.AccountLocked, match="locked"):
        users.authenticate(conn, "nobody", WRONG, AT + timedelta(minutes=10))


def test_concurrent_wrong_passwords_all_count(pg_database_url: str, conn, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    barrier = threading.Barrier(4)
    outcomes: list[Exception] = []

    def attempt() -> None:
        with psycopg.connect(db.as_role(pg_database_url, db.APP_ROLE), autocommit=True) as own:
            barrier.wait()
            try:
                users.authenticate(own, "wang", WRONG, AT)
            except users.WrongPassword as error:
                outcomes.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(error.attempts_left for error in outcomes) == [1, 2, 3, 4]
    assert conn.execute("SELECT failed_attempts FROM core.users WHERE username = 'wang'").fetchone() == (4,)


def test_every_account_action_is_logged(conn: psycopg.Connection, merchant_ids: dict[str, int]) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT, actor="cli:ops")
    users.authenticate(conn, "wang", PASSWORD, AT)
    wrong_attempts(conn, "wang", 6, AT)
    users.reset_password(conn, "wang", "newharvest99", AT)

    assert log_operations(conn, "wang") == [
        "account.create",
        "account.sign_in",
        *["account.sign_in_failed"] * 5,
        "account.lock",
        "account.sign_in_refused_locked",
        "account.reset_password",
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("DELETE FROM core.account_log")


def test_the_application_role_signs_in_but_cannot_read_hashes_or_other_merchants(
    conn: psycopg.Connection, app_conn: psycopg.Connection, merchant_ids: dict[str, int]
) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    users.create_user(conn, "chen", "M002", "owner", PASSWORD, AT)

    assert users.authenticate(app_conn, "wang", PASSWORD, AT).merchant_id == merchant_ids["M001"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("SELECT password_hash FROM core.users")
    with app_conn.transaction():
        db.act_for_merchant(app_conn, merchant_ids["M001"])
        seen = [row[0] for row in app_conn.execute("SELECT username FROM core.users")]
    assert seen == ["wang"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("UPDATE core.users SET failed_attempts = 0")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not a sign-in outcome"):
        app_conn.execute("SELECT core.record_sign_in(NULL, 'x', 'account.create', 0::smallint, NULL, 'x', '{}', now())")


def test_sign_in_refuses_to_run_inside_a_transaction_that_could_forget_a_failure(
    conn: psycopg.Connection, merchant_ids: dict[str, int]
) -> None:
    users.create_user(conn, "wang", "M001", "owner", PASSWORD, AT)
    conn.execute("SELECT 1")
    with pytest.raises(ValueError, match="no transaction open"):
        users.authenticate(conn, "wang", WRONG, AT)
