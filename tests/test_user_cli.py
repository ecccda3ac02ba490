"""`coopcast init`'s first admin and `coopcast user create|reset-password`, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.conftest import REPO_ROOT, PipelineRun, run_cli
from transactional import merchants, users

pytestmark = pytest.mark.slow(minutes=2)

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def pipeline(tmp_path: Path, pg_database_url: str) -> PipelineRun:
    with psycopg.connect(pg_database_url) as conn:
        merchants.register_merchant(conn, "M001", "城关供销社", AT, actor="test")
    return PipelineRun(home=tmp_path / "home", database_url=pg_database_url)


def coopcast(pipeline: PipelineRun, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO_ROOT,
        env=pipeline.env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def signs_in(pipeline: PipelineRun, username: str, password: str) -> users.SignedInUser:
    with psycopg.connect(pipeline.database_url) as conn:
        return users.authenticate(conn, username, password, datetime.now(UTC))


def test_init_creates_the_first_admin_once_and_prints_its_password(pipeline: PipelineRun) -> None:
    first = run_cli(pipeline, "init")
    password = first.stdout.split("shown only now:")[1].split()[0]
    assert signs_in(pipeline, "admin", password).role == "admin"

    second = run_cli(pipeline, "init")
    assert "an admin account exists" in second.stdout
    assert password not in second.stdout


def test_user_create_prints_a_working_password_on_stdout_alone(pipeline: PipelineRun) -> None:
    created = run_cli(pipeline, "user", "create", "li.wei", "--merchant", "M001", "--role", "sales")
    password = created.stdout.strip()

    assert users.password_problem(password, "li.wei") is None
    signed_in = signs_in(pipeline, "LI.WEI", password)
    assert (signed_in.role, signed_in.merchant_code) == ("sales", "M001")
    assert "shown only now" in created.stderr


def test_user_create_reads_the_password_from_stdin(pipeline: PipelineRun) -> None:
    created = coopcast(
        pipeline, "user", "create", "root", "--role", "admin", "--password-stdin", stdin="fields4harvest\n"
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout == ""
    assert signs_in(pipeline, "root", "fields4harvest").merchant_id is None


@pytest.mark.parametrize(
    ("args", "stdin", "reason"),
    [
        (("li", "--merchant", "M001", "--role", "owner"), "", "username 'li'"),
        (("wang", "--merchant", "M404", "--role", "owner"), "", "no merchant with code 'M404'"),
        (("wang", "--role", "finance"), "", "a finance account belongs to a merchant"),
        (("wang", "--merchant", "M001", "--role", "admin"), "", "belongs to no merchant"),
        (("wang", "--merchant", "M001", "--role", "owner", "--password-stdin"), "short1\n", "at least 10 characters"),
    ],
)
def test_user_create_failures_exit_non_zero_with_one_line(
    pipeline: PipelineRun, args: tuple[str, ...], stdin: str, reason: str
) -> None:
    result = coopcast(pipeline, "user", "create", *args, stdin=stdin)
    assert result.returncode == 1
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_reset_password_prints_a_new_password_and_unlocks(pipeline: PipelineRun) -> None:
    old = run_cli(pipeline, "user", "create", "wang", "--merchant", "M001", "--role", "owner").stdout.strip()
    now = datetime.now(UTC)
    with psycopg.connect(pipeline.database_url) as conn:
        for _ in range(users.MAX_FAILED_ATTEMPTS):
            with pytest.raises((users.WrongPassword, users.AccountLocked)):
                users.authenticate(conn, "wang", "not-it-123", now)

    new = run_cli(pipeline, "user", "reset-password", "wang").stdout.strip()

    assert new != old
    assert signs_in(pipeline, "wang", new).username == "wang"
    with pytest.raises(users.WrongPassword):
        signs_in(pipeline, "wang", old)
    missing = coopcast(pipeline, "user", "reset-password", "nobody")
    assert missing.returncode == 1 and "no account named 'nobody'" in missing.stderr


def test_a_database_url_that_is_not_postgresql_is_refused_by_name(pipeline: PipelineRun) -> None:
    elsewhere = PipelineRun(home=pipeline.home, database_url="mysql://x@y/z")
    result = coopcast(elsewhere, "user", "create", "wang", "--merchant", "M001", "--role", "owner")
    assert result.returncode == 1
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr and "'mysql://x@y/z'" in result.stderr


def test_a_missing_database_is_named_in_one_line_without_library_links(pipeline: PipelineRun) -> None:
    missing = PipelineRun(home=pipeline.home, database_url=pipeline.database_url.rsplit("/", 1)[0] + "/no_such_db")
    result = coopcast(missing, "init")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert 'database "no_such_db" does not exist' in line and "sqlalche.me" not in line
    # `status` reports it and goes on to what it can still show.
    status = coopcast(missing, "status")
    assert status.returncode == 0, status.stderr
    assert "unreachable" in status.stdout and "Serving" in status.stdout


def test_status_on_a_new_home_reports_what_is_missing_and_writes_nothing(pipeline: PipelineRun, tmp_path: Path) -> None:
    fresh = PipelineRun(home=tmp_path / "home", database_url=pipeline.database_url)
    status = coopcast(fresh, "status")
    assert status.returncode == 0, status.stderr
    assert "not published yet" in status.stdout and "Last run    none yet" in status.stdout
    assert not fresh.home.exists()


def test_an_unknown_scale_is_refused_before_the_simulation_starts(pipeline: PipelineRun) -> None:
    result = coopcast(pipeline, "simulate", "--scale", "huge")
    assert result.returncode == 1
    assert "unknown scale 'huge'" in result.stderr and "Simulating" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("--rate", "3"), "--rate only applies with --live"),
        (("--clients", "2", "--api-url", "http://127.0.0.1:1"), "--api-url, --clients only apply with --live"),
        (("--live", "--scale", "small"), "--scale does not apply with --live"),
    ],
)
def test_simulate_options_that_would_be_ignored_are_refused(
    pipeline: PipelineRun, options: tuple[str, ...], reason: str
) -> None:
    result = coopcast(pipeline, "simulate", *options)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {reason}"
