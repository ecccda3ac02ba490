"""`coopcast merchant create|rotate-key|list`: merchants and their API keys (run as the owner)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_common import console, error_console, one_line_errors, prepare
from transactional import db, merchants

merchant_app = typer.Typer(help="Register merchants and manage their API keys.", no_args_is_help=True)


class MerchantType(StrEnum):
    county_coop = "county_coop"
    grassroots_coop = "grassroots_coop"
    wholesaler = "wholesaler"
    retailer = "retailer"


def cli_actor() -> str:
    """Who the operation log names for a command typed at this machine."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _show_key(issued: merchants.IssuedKey, what: str) -> None:
    # The key alone goes to stdout, so `KEY=$(coopcast merchant create …)` captures exactly it.
    error_console.print(f"{what} for merchant {issued.merchant_code} ({issued.key_prefix}); it is shown only now:")
    print(issued.api_key)


@merchant_app.command("create")
@one_line_errors
def create(
    code: Annotated[str, typer.Argument(help="Merchant code: letters, digits, _ or -, at most 32")],
    name: Annotated[str, typer.Argument(help="Merchant name")],
    merchant_type: Annotated[MerchantType, typer.Option("--type", help="Kind of merchant")] = MerchantType.retailer,
    region: Annotated[str | None, typer.Option(help="Region, e.g. a county")] = None,
) -> None:
    """Register a merchant and print its API key (only a hash of it is kept)."""
    uri = prepare()
    with db.connect(uri) as conn:
        issued = merchants.register_merchant(
            conn,
            code,
            name,
            datetime.now(UTC),
            actor=cli_actor(),
            merchant_type=merchant_type.value,
            region=region,
        )
    _show_key(issued, "API key")


@merchant_app.command("rotate-key")
@one_line_errors
def rotate_key(code: Annotated[str, typer.Argument(help="Merchant code")]) -> None:
    """Replace the merchant's API key: the old one stops working at once; the new one is printed."""
    uri = prepare()
    with db.connect(uri) as conn:
        issued = merchants.rotate_api_key(conn, code, datetime.now(UTC), actor=cli_actor())
    _show_key(issued, "New API key")


@merchant_app.command("list")
@one_line_errors
def list_merchants() -> None:
    """Every merchant with the prefix of its live API key."""
    uri = prepare()
    with db.connect(uri) as conn:
        listing = merchants.list_merchants(conn)
    table = Table()
    for header in ("code", "name", "type", "region", "API key", "issued"):
        # Codes and key prefixes are copied from here: never wrapped, whatever the terminal width.
        table.add_column(header, no_wrap=header in ("code", "API key"))
    for merchant in listing:
        issued = merchant.key_issued_at.strftime("%Y-%m-%d %H:%M") if merchant.key_issued_at else "-"
        table.add_row(
            merchant.merchant_code,
            merchant.name,
            merchant.merchant_type,
            merchant.region or "-",
            f"{merchant.key_prefix}_…" if merchant.key_prefix else "none",
            issued,
        )
    console.print(table)
