"""Emailing each merchant's daily alert digest (`coopcast alerts send`, and the daily Dagster job).

The digest is read from the serving copy (read-only, so sending never waits on a pipeline run);
what was sent is recorded in $COOPCAST_HOME/alerts.sqlite beside the ops alerts, one row per
merchant × as_of, claimed by a send before it emails, so a digest is not emailed twice, even by
two sends at once (the schedule and a manual send). Recipients per merchant come from
COOPCAST_DIGEST_TO (see .env.example): a configuration, like the SMTP server, rather than a table,
so it works before merchants have accounts with email addresses.
"""

import html
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dashboards import formatting
from dashboards.digest import DIGEST_SUMMARY_SQL, NEW_ITEMS_SQL, label, sections
from pipelines import settings, warehouse
from pipelines.ops.alerts import (
    COMPOSING_POLICY,
    MailSettingError,
    SmtpServer,
    connect_alerts_db,
    email_addresses,
    refusals_line,
)
from transactional.merchants import MERCHANT_CODE

RECIPIENTS_VARIABLE = "COOPCAST_DIGEST_TO"
EMAIL_LANGUAGES = ("zh", "en")
DIGEST_EMAIL_JOB = "coopcast_alert_digest_email"
NOT_CONFIGURED = "SMTP is not configured: set COOPCAST_SMTP_HOST (see .env.example) to email the digests"

SENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_emails (
    merchant_code TEXT NOT NULL,
    as_of TEXT NOT NULL,
    run_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    recipients TEXT NOT NULL,
    new_items INTEGER NOT NULL,
    PRIMARY KEY (merchant_code, as_of)
)
"""
# Columns added to the table's first version (whose rows were all sent): the claim of a send under
# way, and the recipients a send did not reach, whom the next send retries without re-sending to
# those it reached.
ADDED_COLUMNS = {
    "status": "TEXT NOT NULL DEFAULT 'sent'",
    "claimed_at": "TEXT",
    "undelivered": "TEXT NOT NULL DEFAULT ''",
}
# A killed send leaves its claim: one older than this is taken over. Far longer than a send takes
# (each SMTP step times out after SMTP_TIMEOUT_SECONDS), so a live send is never doubled; a send
# killed after the server took the email but before recording it is sent again, twice rather than never.
CLAIM_LEASE = timedelta(minutes=15)
MERCHANTS_SQL = "SELECT merchant_id, merchant_code, merchant_name FROM marts.dim_merchants ORDER BY merchant_code"


class DigestError(Exception):
    """A digest cannot be sent as asked; the message says why in one line."""


@dataclass(frozen=True)
class Digest:
    merchant_code: str
    merchant_name: str
    as_of: date
    run_id: str
    items: pd.DataFrame

    @property
    def merchant(self) -> str:
        return f"{self.merchant_code} · {self.merchant_name}"


@dataclass(frozen=True)
class Digests:
    merchant_codes: list[str]  # every merchant's, to check COOPCAST_DIGEST_TO against
    chosen: list[Digest | str]  # the code of a chosen merchant without a digest


@dataclass(frozen=True)
class Outcome:
    merchant_code: str
    as_of: date | None
    # sent | nothing_new | already_sent | sending | no_recipient | no_digest | failed | not_a_merchant
    status: str
    detail: str = ""


def parse_recipients(text: str) -> dict[str, tuple[str, ...]]:
    """`M001=owner@example.com,shop@example.com;M002=boss@example.com` → merchant code → addresses.

    Strict, as a slip mails a wrong mailbox or none: each address is one local@domain, so a ','
    typed for ';' (`M001=a@example.com,M002=b@example.com`) or a space between two addresses is
    refused rather than sent; a code listed twice is refused rather than one entry dropped."""
    recipients: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        code, separator, addresses = (part.strip() for part in entry.partition("="))
        if not separator or not MERCHANT_CODE.fullmatch(code):
            raise DigestError(
                f"{RECIPIENTS_VARIABLE}: expected CODE=address[,address] entries separated by ';', got {entry!r}"
            )
        if code in recipients:
            raise DigestError(f"{RECIPIENTS_VARIABLE}: {code} is listed twice: give all its addresses in one entry")
        try:
            recipients[code] = email_addresses(f"{RECIPIENTS_VARIABLE} entry {entry!r}", addresses)
        except MailSettingError as error:
            raise DigestError(str(error)) from error
    return recipients


def unlisted_merchants(recipients: dict[str, tuple[str, ...]], merchant_codes: list[str]) -> list[Outcome]:
    """A warning for each code of COOPCAST_DIGEST_TO that is no merchant's: a typo sends nothing."""
    by_folded_case = {code.casefold(): code for code in merchant_codes}
    warnings = []
    for code in sorted(recipients.keys() - set(merchant_codes)):
        detail = f"{RECIPIENTS_VARIABLE} lists {code}, which is no merchant's code"
        if code.casefold() in by_folded_case:
            detail += f" (codes are case-sensitive: {by_folded_case[code.casefold()]}?)"
        warnings.append(Outcome(code, None, "not_a_merchant", detail))
    return warnings


def recipients_from_environment() -> dict[str, tuple[str, ...]]:
    return parse_recipients(os.environ.get(RECIPIENTS_VARIABLE, ""))


def load_digests(serving_path: Path, merchant_code: str | None, as_of: date | None) -> Digests:
    """Each chosen merchant's digest (its latest, or that of `as_of`), or its code when it has none."""
    if not serving_path.is_file():
        raise DigestError(f"no serving copy at {serving_path}: run `coopcast run` first")
    with warehouse.connect(serving_path, read_only=True) as conn:
        if not conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ml' AND table_name = 'alert_digests'"
        ).fetchone()[0]:
            raise DigestError("the serving copy has no alert digest yet: run `coopcast run` first")
        merchants = conn.execute(MERCHANTS_SQL).df()
        chosen = merchants
        if merchant_code is not None:
            chosen = merchants[merchants["merchant_code"] == merchant_code]
            if chosen.empty:
                raise DigestError(f"no merchant {merchant_code!r} in the serving copy")
        return Digests(
            merchant_codes=merchants["merchant_code"].tolist(),
            chosen=[_digest(conn, merchant, as_of) for _, merchant in chosen.iterrows()],
        )


def _digest(conn: duckdb.DuckDBPyConnection, merchant: pd.Series, as_of: date | None) -> Digest | str:
    merchant_id = int(merchant["merchant_id"])
    summary = conn.execute(DIGEST_SUMMARY_SQL, [merchant_id, as_of, merchant_id]).df()
    if summary.empty:
        return str(merchant["merchant_code"])
    digest_as_of = pd.Timestamp(summary["as_of"].iloc[0]).date()
    return Digest(
        merchant_code=str(merchant["merchant_code"]),
        merchant_name=str(merchant["merchant_name"]),
        as_of=digest_as_of,
        run_id=str(summary["run_id"].iloc[0]),
        items=conn.execute(NEW_ITEMS_SQL, [merchant_id, digest_as_of]).df(),
    )


def compose(digest: Digest) -> EmailMessage:
    """Plain text and HTML, each Chinese first with English below."""
    values = {"merchant": digest.merchant, "as_of": formatting.day(digest.as_of), "count": len(digest.items)}
    message = EmailMessage(policy=COMPOSING_POLICY)
    message["Subject"] = " / ".join(label(language, "digest_email_subject", **values) for language in EMAIL_LANGUAGES)
    message.set_content("\n\n----\n\n".join(_text_part(language, digest, values) for language in EMAIL_LANGUAGES))
    body = "<hr>".join(_html_part(language, digest, values) for language in EMAIL_LANGUAGES)
    message.add_alternative(f'<!DOCTYPE html><html><body style="font-family: sans-serif">{body}</body></html>', "html")
    return message


def _text_part(language: str, digest: Digest, values: dict) -> str:
    lines = [label(language, "digest_email_heading", **values)]
    for section in sections(language, digest.items):
        lines += ["", section.heading, *(f"  - {line}" for line in section.lines)]
    return "\n".join([*lines, "", label(language, "digest_email_footer")])


def _html_part(language: str, digest: Digest, values: dict) -> str:
    parts = [f'<h2 lang="{language}">{html.escape(label(language, "digest_email_heading", **values))}</h2>']
    for section in sections(language, digest.items):
        items = "".join(f"<li>{html.escape(line)}</li>" for line in section.lines)
        parts.append(f"<h3>{html.escape(section.heading)}</h3><ul>{items}</ul>")
    parts.append(f"<p>{html.escape(label(language, 'digest_email_footer'))}</p>")
    return "".join(parts)


@contextmanager
def _sent_table() -> Iterator[sqlite3.Connection]:
    """digest_emails in a transaction that takes SQLite's write lock at once (BEGIN IMMEDIATE), so
    a sender reads a digest's row and claims it before any other sender can read it."""
    conn = connect_alerts_db(SENT_SCHEMA)
    try:
        conn.execute("BEGIN IMMEDIATE")
        columns = {row[1] for row in conn.execute("PRAGMA table_info(digest_emails)")}
        for name, definition in ADDED_COLUMNS.items():
            if name not in columns:
                conn.execute(f"ALTER TABLE digest_emails ADD COLUMN {name} {definition}")
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


@dataclass(frozen=True)
class Claim:
    """A digest this sender alone emails now, to `to_send`; `delivered` have it from an earlier send."""

    to_send: tuple[str, ...]
    delivered: tuple[str, ...]


def claim(digest: Digest, recipients: tuple[str, ...], now: datetime) -> Claim | Outcome:
    """Claim the digest's row for sending (status `sending`), or say why not: sent already, or
    claimed by another send within the lease. Only recipients it did not reach before are sent to."""
    key = (digest.merchant_code, digest.as_of.isoformat())
    with _sent_table() as conn:
        row = conn.execute(
            "SELECT status, recipients, claimed_at FROM digest_emails WHERE merchant_code = ? AND as_of = ?", key
        ).fetchone()
        delivered: tuple[str, ...] = ()
        if row is not None:
            status, delivered_text, claimed_at = row
            if status == "sent":
                return Outcome(digest.merchant_code, digest.as_of, "already_sent")
            if status == "sending" and now - datetime.fromisoformat(claimed_at) < CLAIM_LEASE:
                return Outcome(
                    digest.merchant_code,
                    digest.as_of,
                    "sending",
                    f"another send claimed it at {claimed_at}"
                    f" (a claim is taken over after {CLAIM_LEASE.seconds // 60} minutes)",
                )
            delivered = tuple(filter(None, delivered_text.split(", ")))
        to_send = tuple(address for address in recipients if address not in delivered)
        if not to_send:
            # The addresses once refused are no longer listed: everyone listed has it.
            conn.execute(
                "UPDATE digest_emails SET status = 'sent', claimed_at = NULL, undelivered = ''"
                " WHERE merchant_code = ? AND as_of = ?",
                key,
            )
            return Outcome(digest.merchant_code, digest.as_of, "already_sent")
        conn.execute(
            "INSERT INTO digest_emails"
            " (merchant_code, as_of, run_id, sent_at, recipients, new_items, status, claimed_at)"
            " VALUES (?, ?, ?, '', '', ?, 'sending', ?)"
            " ON CONFLICT (merchant_code, as_of) DO UPDATE SET status = 'sending', claimed_at = excluded.claimed_at",
            (*key, digest.run_id, len(digest.items), now.isoformat(timespec="seconds")),
        )
    return Claim(to_send=to_send, delivered=delivered)


def settle(digest: Digest, claimed: Claim, accepted: tuple[str, ...], undelivered: str, at: datetime) -> None:
    """End the claim: the row lists every address that has the digest (`sent` when no other is
    left, else `refused`, what was not delivered and why in `undelivered`). With no address
    reached the row goes, so the next send tries them all again."""
    key = (digest.merchant_code, digest.as_of.isoformat())
    delivered = claimed.delivered + accepted
    with _sent_table() as conn:
        if not delivered:
            conn.execute("DELETE FROM digest_emails WHERE merchant_code = ? AND as_of = ?", key)
            return
        conn.execute(
            "UPDATE digest_emails SET run_id = ?, sent_at = coalesce(?, sent_at), recipients = ?, new_items = ?,"
            " status = ?, claimed_at = NULL, undelivered = ? WHERE merchant_code = ? AND as_of = ?",
            (
                digest.run_id,
                at.isoformat() if accepted else None,
                ", ".join(delivered),
                len(digest.items),
                "refused" if undelivered else "sent",
                undelivered,
                *key,
            ),
        )


def sent_digests() -> list[dict]:
    """Every digest email recorded, newest first. `status`: sent; refused (`recipients` have it,
    `undelivered` say who does not and why); sending (a send under way claimed it at `claimed_at`)."""
    with _sent_table() as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM digest_emails ORDER BY sent_at DESC, merchant_code")]


def send_one(server: SmtpServer, digest: Digest, recipients: tuple[str, ...] | None, at: datetime) -> Outcome:
    if digest.items.empty:
        return Outcome(digest.merchant_code, digest.as_of, "nothing_new")
    if not recipients:
        return Outcome(digest.merchant_code, digest.as_of, "no_recipient", f"no address in {RECIPIENTS_VARIABLE}")
    claimed = claim(digest, recipients, datetime.now(UTC))
    if isinstance(claimed, Outcome):
        return claimed
    try:
        refused = server.send(compose(digest), claimed.to_send)
    except BaseException as error:
        # Whatever stopped the email, the claim goes, so the next send retries; an interrupt still stops the run.
        settle(digest, claimed, (), f"{server.host}: {error}", at)
        if not isinstance(error, Exception):
            raise
        return Outcome(digest.merchant_code, digest.as_of, "failed", f"{server.host}: {error}")
    accepted = tuple(address for address in claimed.to_send if address not in refused)
    if not refused:
        settle(digest, claimed, accepted, "", at)
        return Outcome(digest.merchant_code, digest.as_of, "sent", ", ".join(accepted))
    failure = f"{server.host} refused {refusals_line(refused)}"
    settle(digest, claimed, accepted, failure, at)
    if accepted:
        failure = f"sent to {', '.join(accepted)}; {failure}"
    return Outcome(digest.merchant_code, digest.as_of, "failed", failure)


def send_digests(
    merchant_code: str | None = None, as_of: date | None = None, at: datetime | None = None
) -> list[Outcome]:
    """Email every chosen merchant's digest that has new items and was not sent before."""
    server = SmtpServer.from_environment()
    if server is None:
        raise DigestError(NOT_CONFIGURED)
    recipients = recipients_from_environment()
    sent_at = at or datetime.now(UTC)
    digests = load_digests(settings.serving_path(), merchant_code, as_of)
    outcomes = unlisted_merchants(recipients, digests.merchant_codes)
    for digest in digests.chosen:
        if isinstance(digest, str):
            outcomes.append(Outcome(digest, as_of, "no_digest"))
        else:
            outcomes.append(send_one(server, digest, recipients.get(digest.merchant_code), sent_at))
    return outcomes


@dg.op(out=dg.Out(dg.Nothing), description="Email each merchant's latest alert digest with new items, once.")
def email_alert_digests(context: dg.OpExecutionContext) -> None:
    outcomes = send_digests()
    context.add_output_metadata(
        {"outcomes": dg.MetadataValue.json({outcome.merchant_code: outcome.status for outcome in outcomes})}
    )
    for outcome in outcomes:
        if outcome.status == "not_a_merchant":
            context.log.warning(outcome.detail)
    failed = [f"{outcome.merchant_code} ({outcome.detail})" for outcome in outcomes if outcome.status == "failed"]
    if failed:
        raise dg.Failure(f"digest emails failed for {', '.join(failed)}")


@dg.job(name=DIGEST_EMAIL_JOB, description="Email the merchants' daily alert digests (coopcast alerts send).")
def alert_digest_email_job() -> None:
    email_alert_digests()
