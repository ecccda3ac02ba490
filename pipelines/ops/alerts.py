"""Alerts for ops: a log line, a row in $COOPCAST_HOME/alerts.sqlite, and an email when SMTP is
configured (COOPCAST_SMTP_HOST and COOPCAST_SMTP_TO; see .env.example).

SQLite rather than the warehouse: DuckDB takes one writer, and an alert is raised exactly when a
run may still hold it; SQLite lets the failure sensor write while the dashboard reads.
"""

from __future__ import annotations

import email.policy
import logging
import os
import re
import smtplib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from transactional.db import coopcast_home

logger = logging.getLogger("coopcast.alerts")

ALERTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id INTEGER PRIMARY KEY,
    raised_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    job_name TEXT,
    run_id TEXT,
    message TEXT NOT NULL,
    emailed_to TEXT
)
"""


@dataclass(frozen=True)
class Alert:
    kind: str
    message: str
    job_name: str | None = None
    run_id: str | None = None

    def subject(self) -> str:
        return f"[coopcast] {self.kind}: {self.job_name or 'pipeline'}"

    def body(self) -> str:
        lines = [self.message]
        if self.run_id:
            lines.append(f"Dagster run {self.run_id}: open it in the Dagster UI under Runs.")
        return "\n\n".join(lines)


# One address, `local@domain`, in the forms mail servers take. '=' is refused though RFC 5322 lets a
# local part hold it: in COOPCAST_DIGEST_TO it means a ',' was typed where a ';' was meant.
ADDRESS_ATOM = r"[A-Za-z0-9!#$%&'*+/?^_`{|}~-]+"
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_ADDRESS = re.compile(rf"{ADDRESS_ATOM}(?:\.{ADDRESS_ATOM})*@{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})*")
SMTP_TIMEOUT_SECONDS = 30
# Headers are folded as a message is sent: at RFC 5322's limit of 998 columns rather than 78, since a
# fold between two encoded words of a non-ASCII subject loses the space there (readers drop the
# whitespace between encoded words). Bodies were encoded when set, under COMPOSING_POLICY.
SENDING_POLICY = email.policy.SMTP.clone(max_line_length=998)
# Bodies are composed 7-bit clean (quoted-printable or base64 where they are not ASCII): a server
# need not accept 8-bit data, and one without 8BITMIME may mangle or refuse it.
COMPOSING_POLICY = email.policy.default.clone(cte_type="7bit")
TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("", "0", "false", "no")


class MailSettingError(ValueError):
    """A mail setting in the environment is malformed; the message names the variable."""


def smtp_host() -> str:
    """COOPCAST_SMTP_HOST, or '' when SMTP is not configured."""
    return os.environ.get("COOPCAST_SMTP_HOST", "").strip()


def is_email_address(text: str) -> bool:
    return EMAIL_ADDRESS.fullmatch(text) is not None


def email_addresses(variable: str, text: str) -> tuple[str, ...]:
    """The comma-separated addresses of `text`, each checked; the error names `variable`."""
    addresses = tuple(address.strip() for address in text.split(","))
    for address in addresses:
        if not is_email_address(address):
            raise MailSettingError(
                f"{variable}: {address!r} is not an email address (addresses are local@domain, separated by ',')"
            )
    return addresses


def refusals_line(refused: dict[str, str]) -> str:
    return ", ".join(f"{address} ({answer})" for address, answer in refused.items())


@dataclass(frozen=True)
class SmtpServer:
    """The mail server (COOPCAST_SMTP_HOST and friends), shared by ops alerts and merchant digests."""

    host: str
    port: int
    sender: str
    user: str | None
    password: str | None
    starttls: bool

    @classmethod
    def from_environment(cls) -> SmtpServer | None:
        """None when COOPCAST_SMTP_HOST is not set; MailSettingError when a setting is malformed."""
        host = smtp_host()
        if not host:
            return None
        starttls = _flag("COOPCAST_SMTP_STARTTLS")
        return cls(
            host=host,
            port=_port("COOPCAST_SMTP_PORT", default=587 if starttls else 25),
            sender=_sender("COOPCAST_SMTP_FROM", default="coopcast@localhost"),
            user=os.environ.get("COOPCAST_SMTP_USER") or None,
            password=os.environ.get("COOPCAST_SMTP_PASSWORD") or None,
            starttls=starttls,
        )

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    def send(self, message: EmailMessage, recipients: tuple[str, ...]) -> dict[str, str]:
        """Send `message` (its Subject and body set) from the configured sender to `recipients`.
        Returns the recipients the server refused, each with its answer; raises when the server
        cannot be reached or refuses the message itself."""
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        # GMT rather than -0000, which RFC 5322 reads as "the sender's zone is unknown".
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.sender_address.rpartition("@")[2])
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as client:
            if self.starttls:
                client.starttls()
            if self.user:
                client.login(self.user, self.password or "")
            try:
                refused = client.sendmail(
                    self.sender_address, list(recipients), message.as_bytes(policy=SENDING_POLICY)
                )
            except smtplib.SMTPRecipientsRefused as error:
                refused = error.recipients
        return {
            address: " ".join(f"{code} {text.decode(errors='replace')}".split())
            for address, (code, text) in refused.items()
        }


def _flag(variable: str) -> bool:
    text = os.environ.get(variable, "").strip().lower()
    if text not in TRUE_WORDS + FALSE_WORDS:
        raise MailSettingError(f"{variable} must be 1 or 0 (true or false, yes or no), not {text!r}")
    return text in TRUE_WORDS


def _port(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise MailSettingError(f"{variable} must be a port number, not {text!r}")
    return int(text)


def _sender(variable: str, default: str) -> str:
    """`address` or `Name <address>`."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isprintable() or not is_email_address(parseaddr(text)[1]):
        raise MailSettingError(f"{variable} must be an address like coopcast@example.com, not {text!r}")
    return text


@dataclass(frozen=True)
class SmtpSettings:
    """Where ops alerts go: the server and COOPCAST_SMTP_TO."""

    server: SmtpServer
    recipients: tuple[str, ...]

    @classmethod
    def from_environment(cls) -> SmtpSettings | None:
        """None unless both COOPCAST_SMTP_HOST and COOPCAST_SMTP_TO are set; MailSettingError
        when a setting is malformed."""
        server = SmtpServer.from_environment()
        recipients_text = os.environ.get("COOPCAST_SMTP_TO", "").strip()
        if server is None or not recipients_text:
            return None
        return cls(server=server, recipients=email_addresses("COOPCAST_SMTP_TO", recipients_text))


def alerts_path() -> Path:
    return coopcast_home() / "alerts.sqlite"


def raise_alert(alert: Alert, at: datetime | None = None) -> None:
    """Log the alert, store it, then email it when SMTP is configured. The row is written first,
    so no failure of the email (a malformed setting, an unreachable or refusing server) loses the
    alert: the email's outcome is recorded on the row."""
    raised_at = (at or datetime.now(UTC)).isoformat()
    logger.error("%s", f"{alert.subject()} run={alert.run_id} {alert.message}")
    alert_id = _store(alert, raised_at)
    try:
        smtp = SmtpSettings.from_environment()
        if smtp is None:
            return
        emailed_to = send_email(smtp, alert)
    except Exception as error:  # whatever fails, the alert is stored and must not fail the sensor
        logger.error("alert email failed: %s", error)
        emailed_to = f"failed: {error}"
    _record_email(alert_id, emailed_to)


def connect_alerts_db(schema: str) -> sqlite3.Connection:
    """$COOPCAST_HOME/alerts.sqlite, with the table of `schema` created if need be."""
    path = alerts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.execute(schema)
    return conn


def _store(alert: Alert, raised_at: str) -> int:
    conn = connect_alerts_db(ALERTS_SCHEMA)
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO alerts (raised_at, kind, job_name, run_id, message) VALUES (?, ?, ?, ?, ?)",
                (raised_at, alert.kind, alert.job_name, alert.run_id, alert.message),
            )
    finally:
        conn.close()
    return cursor.lastrowid


def _record_email(alert_id: int, emailed_to: str) -> None:
    conn = connect_alerts_db(ALERTS_SCHEMA)
    try:
        with conn:
            conn.execute("UPDATE alerts SET emailed_to = ? WHERE alert_id = ?", (emailed_to, alert_id))
    finally:
        conn.close()


def send_email(smtp: SmtpSettings, alert: Alert) -> str:
    """The addresses the server accepted, then `failed: ` and those it refused, if any."""
    message = EmailMessage(policy=COMPOSING_POLICY)
    message["Subject"] = alert.subject()
    message.set_content(alert.body())
    refused = smtp.server.send(message, smtp.recipients)
    accepted = ", ".join(address for address in smtp.recipients if address not in refused)
    if not refused:
        return accepted
    failed = f"failed: {smtp.server.host} refused {refusals_line(refused)}"
    logger.error("alert email %s", failed)
    return f"{accepted}; {failed}" if accepted else failed


def recent_alerts(limit: int = 20) -> list[dict]:
    """Newest first; empty when no alert was ever raised."""
    path = alerts_path()
    if not path.exists():
        return []
    conn = connect_alerts_db(ALERTS_SCHEMA)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM alerts ORDER BY alert_id DESC LIMIT ?", (limit,))]
    finally:
        conn.close()
