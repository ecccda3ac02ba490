"""`coopcast alerts send`: email the merchants' daily alert digests."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from pipelines.cli_common import CommandFailed, configure_environment, console, one_line_errors
from pipelines.ops.digests import DigestError, Outcome, send_digests

alerts_app = typer.Typer(help="The merchants' daily alert digests.", no_args_is_help=True)

SHOWN = {
    "sent": "sent to {detail}",
    "nothing_new": "nothing new, no email",
    "already_sent": "already sent",
    "sending": "not sent now: {detail}",
    "no_recipient": "not sent: {detail}",
    "no_digest": "no digest",
    "failed": "failed: {detail}",
    "not_a_merchant": "warning: {detail}",
}


def _as_of(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as error:
        raise CommandFailed(f"--as-of must be a date like 2026-10-31, got {text!r}") from error


def _line(outcome: Outcome) -> str:
    as_of = outcome.as_of.isoformat() if outcome.as_of else "-"
    return f"{outcome.merchant_code}  {as_of}  {SHOWN[outcome.status].format(detail=outcome.detail)}"


@alerts_app.command("send")
@one_line_errors
def send(
    merchant: Annotated[str | None, typer.Option("--merchant", help="Only this merchant's digest (its code)")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The digest of this day YYYY-MM-DD, not the latest")
    ] = None,
) -> None:
    """Email each merchant's latest digest of new alerts to its COOPCAST_DIGEST_TO addresses, once."""
    configure_environment()
    try:
        outcomes = send_digests(merchant, _as_of(as_of))
    except DigestError as error:
        raise CommandFailed(str(error)) from error
    for outcome in outcomes:
        # One line per merchant whatever its length, for cron mails and logs that grep by code;
        # not markup: addresses and server answers may hold brackets.
        console.print(_line(outcome), highlight=False, markup=False, soft_wrap=True)
    unsent = [outcome.merchant_code for outcome in outcomes if outcome.status == "failed"]
    if merchant is not None:
        unsent += [outcome.merchant_code for outcome in outcomes if outcome.status in ("no_recipient", "no_digest")]
    if unsent:
        raise CommandFailed(f"digest not sent for {', '.join(unsent)}")
