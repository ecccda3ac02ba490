"""`coopcast user create|reset-password`: dashboard accounts (run as the owner).

A password is shown once, on stdout alone (so `PASSWORD=$(coopcast user create …)` captures
exactly it); only its argon2id hash is kept.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import psycopg
import typer

from pipelines.cli_common import CommandFailed, error_console, one_line_errors, prepare
from pipelines.commands.merchant import cli_actor
from transactional import db, users

user_app = typer.Typer(help="Dashboard accounts: create them and reset their passwords.", no_args_is_help=True)

DEMO_USERNAME = "demo"


class Role(StrEnum):
    owner = "owner"
    procurement = "procurement"
    sales = "sales"
    finance = "finance"
    admin = "admin"


def _password(from_stdin: bool) -> str:
    """The password read from stdin (first line), or a generated one."""
    if not from_stdin:
        return users.generate_password()
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandFailed("--password-stdin: no password on standard input")
    return password


def _show_password(what: str, password: str, generated: bool) -> None:
    if generated:
        error_console.print(f"{what}; its password is shown only now:")
        print(password)
    else:
        error_console.print(f"{what} with the password read from standard input.")


@user_app.command("create")
@one_line_errors
def create(
    username: Annotated[str, typer.Argument(help="3 to 64 letters, digits, '.', '_' or '-'; unique ignoring case")],
    role: Annotated[Role, typer.Option(help="What the account sees; admin sees every merchant")],
    merchant: Annotated[
        str | None, typer.Option(help="Code of the merchant the account belongs to (not for admin)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of generating one")
    ] = False,
) -> None:
    """Create a dashboard account and print its password once."""
    password = _password(password_stdin)
    with db.connect(prepare()) as conn:
        users.create_user(conn, username, merchant, role.value, password, datetime.now(UTC), actor=cli_actor())
    belongs = f"of merchant {merchant}" if merchant else "of the platform"
    _show_password(f"Account {username} ({role.value} {belongs}) created", password, not password_stdin)


@user_app.command("reset-password")
@one_line_errors
def reset_password(
    username: Annotated[str, typer.Argument(help="The account's name (any case)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of generating one")
    ] = False,
) -> None:
    """Give the account a new password (printed once) and unlock it."""
    password = _password(password_stdin)
    with db.connect(prepare()) as conn:
        users.reset_password(conn, username, password, datetime.now(UTC), actor=cli_actor())
    _show_password(f"Account {username} has a new password and is unlocked", password, not password_stdin)


def first_admin_password(conn: psycopg.Connection) -> str | None:
    """Create the platform's first admin (`admin`) and return its password, or None when an admin exists."""
    if users.admin_exists(conn):
        return None
    password = users.generate_password()
    users.create_user(
        conn, users.FIRST_ADMIN_USERNAME, None, users.ADMIN_ROLE, password, datetime.now(UTC), actor=cli_actor()
    )
    return password


def demo_login(conn: psycopg.Connection) -> tuple[str, str, str]:
    """The demo account with a fresh password: (username, password, its merchant's code).

    Created the first time as the owner of the first merchant by code; later demos keep it and
    only give it a new password, which is printed with the URLs."""
    row = conn.execute("SELECT merchant_code FROM core.merchants ORDER BY merchant_code LIMIT 1").fetchone()
    if row is None:
        raise CommandFailed("no merchant to sign in as: the demo network was not simulated")
    password = users.generate_password()
    now = datetime.now(UTC)
    try:
        users.reset_password(conn, DEMO_USERNAME, password, now, actor=cli_actor())
    except users.NotFound:
        users.create_user(conn, DEMO_USERNAME, row[0], "owner", password, now, actor=cli_actor())
    (merchant_code,) = conn.execute(
        """SELECT coalesce(m.merchant_code, 'every merchant') FROM core.users u
           LEFT JOIN core.merchants m ON m.merchant_id = u.merchant_id WHERE lower(u.username) = %s""",
        [DEMO_USERNAME],
    ).fetchone()
    return DEMO_USERNAME, password, merchant_code
