"""Alerts for ops: a log line, a row in $COOPCAST_HOME/alerts.sqlite, and an email when SMTP is
configured (COOPCAST_SMTP_HOST and COOPCAST_SMTP_TO; see .env.example).

SQLite rather than the warehouse: DuckDB takes one writer, and an alert is raised exactly when a
run may still hold it; SQLite lets the failure sensor write while the dashboard reads.
"""

from __future__ import annotations

import logging
import os
import smtplib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
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
        host = os.environ.get("COOPCAST_SMTP_HOST", "").strip()
        if not host:
            return None
        starttls = os.environ.get("COOPCAST_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes")
        return cls(
            host=host,
            port=int(os.environ.get("COOPCAST_SMTP_PORT") or (587 if starttls else 25)),
            sender=os.environ.get("COOPCAST_SMTP_FROM") or "coopcast@localhost",
            user=os.environ.get("COOPCAST_SMTP_USER") or None,
            password=os.environ.get("COOPCAST_SMTP_PASSWORD") or None,
            starttls=starttls,
        )

    def send(self, message: EmailMessage, recipients: tuple[str, ...]) -> None:
        """Send `message` (its Subject and body set) from the configured sender to `recipients`."""
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        with smtplib.SMTP(self.host, self.port, timeout=30) as client:
            if self.starttls:
                client.starttls()
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)


@dataclass(frozen=True)
class SmtpSettings:
    """Where ops alerts go: the server and COOPCAST_SMTP_TO."""

    server: SmtpServer
    recipients: tuple[str, ...]

    @classmethod
    def from_environment(cls) -> SmtpSettings | None:
        server = SmtpServer.from_environment()
        recipients = tuple(
            address.strip() for address in os.environ.get("COOPCAST_SMTP_TO", "").split(",") if address.strip()
        )
        if server is None or not recipients:
            return None
        return cls(server=server, recipients=recipients)


def alerts_path() -> Path:
    return coopcast_home() / "alerts.sqlite"


def raise_alert(alert: Alert, at: datetime | None = None) -> None:
    """Log the alert, store it, and email it when SMTP is configured. A failing mail server is
    logged and stored with the alert, never lost: the row is written first."""
    raised_at = (at or datetime.now(UTC)).isoformat()
    logger.error("%s", f"{alert.subject()} run={alert.run_id} {alert.message}")
    smtp = SmtpSettings.from_environment()
    emailed_to = None
    if smtp is not None:
        try:
            send_email(smtp, alert)
            emailed_to = ", ".join(smtp.recipients)
        except (OSError, smtplib.SMTPException) as error:
            logger.error("alert email to %s failed: %s", smtp.server.host, error)
            emailed_to = f"failed: {error}"
    _store(alert, raised_at, emailed_to)


def _store(alert: Alert, raised_at: str, emailed_to: str | None) -> None:
    path = alerts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute(ALERTS_SCHEMA)
        conn.execute(
            "INSERT INTO alerts (raised_at, kind, job_name, run_id, message, emailed_to) VALUES (?, ?, ?, ?, ?, ?)",
            (raised_at, alert.kind, alert.job_name, alert.run_id, alert.message, emailed_to),
        )
    conn.close()


def send_email(smtp: SmtpSettings, alert: Alert) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject()
    message.set_content(alert.body())
    smtp.server.send(message, smtp.recipients)


def recent_alerts(limit: int = 20) -> list[dict]:
    """Newest first; empty when no alert was ever raised."""
    path = alerts_path()
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute(ALERTS_SCHEMA)
        rows = [dict(row) for row in conn.execute("SELECT * FROM alerts ORDER BY alert_id DESC LIMIT ?", (limit,))]
    conn.close()
    return rows
