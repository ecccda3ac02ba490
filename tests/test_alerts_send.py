"""`coopcast alerts send` against a real SMTP server listening in the test (tests/smtp_support.py),
on the next-day digest of tests/alert_digest_support.py."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from dashboards.digest import label
from pipelines.cli import app as cli_app
from pipelines.ops.alerts import COMPOSING_POLICY, SmtpServer
from pipelines.ops.digests import CLAIM_LEASE, DigestError, alert_digest_email_job, parse_recipients, sent_digests
from pipelines.ops.schedules import alert_digest_email_schedule
from tests import alert_digest_support, smtp_support
from tests.conftest import REPO_ROOT, PipelineRun, run_cli

next_day = alert_digest_support.next_day
smtp_server = smtp_support.smtp_server


@pytest.fixture
def home(next_day: alert_digest_support.NextDay, pipeline_run: PipelineRun, tmp_path: Path) -> PipelineRun:
    """A home of its own holding the next day's serving copy, so no test sees another's sent emails."""
    (tmp_path / "serving").mkdir()
    shutil.copy(next_day.serving, tmp_path / "serving" / "warehouse.duckdb")
    return PipelineRun(home=tmp_path, database_url=pipeline_run.database_url)


@pytest.fixture
def merchant_codes(next_day: alert_digest_support.NextDay) -> dict[int, str]:
    with duckdb.connect(str(next_day.serving), read_only=True) as conn:
        return dict(conn.execute("SELECT merchant_id, merchant_code FROM marts.dim_merchants").fetchall())


@pytest.fixture
def smtp(smtp_server, monkeypatch: pytest.MonkeyPatch, merchant_codes: dict[int, str]):
    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(smtp_server.server_address[1]))
    monkeypatch.setenv("COOPCAST_SMTP_FROM", "alerts@coop.example")
    monkeypatch.setenv(
        "COOPCAST_DIGEST_TO", ";".join(f"{code}=owner-{code}@coop.example" for code in merchant_codes.values())
    )
    return smtp_server


def send_command(pipeline: PipelineRun, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`coopcast alerts send ARGS` run in this process: the command's own code, without the seconds
    a new process takes to import it. The environment it sets up is put back afterwards. The
    first test, and the first of two sends at once, start it as a process of its own, as cron does."""
    with mock.patch.dict(os.environ, pipeline.env()):
        result = CliRunner().invoke(cli_app, ["alerts", "send", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if check and result.exit_code != 0:
        raise AssertionError(f"coopcast alerts send {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return subprocess.CompletedProcess(["alerts", "send", *args], result.exit_code, result.stdout, result.stderr)


def received(smtp_server) -> list[EmailMessage]:
    return [email.message_from_string(sent["data"], policy=email.policy.default) for sent in smtp_server.messages]


def body(message: EmailMessage, kind: str) -> str:
    return message.get_body(preferencelist=(kind,)).get_content()


def new_items(next_day: alert_digest_support.NextDay, merchant_id: int) -> list[tuple]:
    with duckdb.connect(str(next_day.serving), read_only=True) as conn:
        return conn.execute(
            """SELECT kind, sku_code, customer_code, value_at_risk, expiry_date, low_stock_threshold
               FROM ml.alert_digests WHERE merchant_id = ? AND as_of = ? AND is_new""",
            [merchant_id, next_day.as_of],
        ).fetchall()


def test_without_smtp_it_says_so_in_one_line_and_fails(home: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOPCAST_SMTP_HOST", raising=False)
    result = run_cli(home, "alerts", "send", check=False)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "SMTP is not configured" in line and "COOPCAST_SMTP_HOST" in line


def test_a_malformed_smtp_setting_is_named_in_one_line_and_fails(home: PipelineRun, smtp, monkeypatch) -> None:
    monkeypatch.setenv("COOPCAST_SMTP_PORT", "abc")
    result = send_command(home, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: COOPCAST_SMTP_PORT must be a port number, not 'abc'"]
    assert smtp.messages == []


def test_each_merchant_with_new_items_gets_one_bilingual_email_and_the_others_none(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str]
) -> None:
    with duckdb.connect(str(next_day.serving), read_only=True) as conn:
        names = dict(conn.execute("SELECT merchant_code, merchant_name FROM marts.dim_merchants").fetchall())
    merchant_id = next_day.low_stock[0]
    code = merchant_codes[merchant_id]
    result = send_command(home)

    [message] = received(smtp)
    assert smtp.messages[0]["to"] == [f"<owner-{code}@coop.example>"]
    values = {"merchant": f"{code} · {names[code]}", "as_of": next_day.as_of.isoformat(), "count": 3}
    assert message["Subject"] == f"{label('zh', 'digest_email_subject', **values)} / " + label(
        "en", "digest_email_subject", **values
    )
    assert "每日预警" in message["Subject"] and "daily alerts" in message["Subject"]
    assert message["Date"].datetime.utcoffset() == timedelta(0)
    assert message["Message-ID"].endswith("@coop.example>")
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert part.index("每日预警摘要") < part.index("daily alert digest")
        assert next_day.as_of.isoformat() in part
    items = new_items(next_day, merchant_id)
    assert {kind for kind, *_ in items} == {"low_stock", "near_expiry", "churn_risk"}
    for kind, sku_code, customer_code, value, expiry, threshold in items:
        shown = [customer_code] if kind == "churn_risk" else [sku_code]
        if kind == "near_expiry":
            shown += [f"¥{value:,.2f}", expiry.isoformat()]
        if kind == "low_stock":
            shown.append(f"{threshold:,}")
        for part in (text, html):
            assert all(piece in part for piece in shown), (kind, shown)
    assert text.count("  - ") == len(items) * 2  # each item once in Chinese, once in English

    others = [other for other in merchant_codes.values() if other != code]
    lines = result.stdout.splitlines()
    assert any(line.startswith(code) and "sent to" in line for line in lines)
    assert all(any(line.startswith(other) and "nothing new" in line for line in lines) for other in others)


def test_a_digest_is_emailed_once_however_often_the_command_runs(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay
) -> None:
    send_command(home)
    again = send_command(home)
    assert len(smtp.messages) == 1
    assert "already sent" in again.stdout


def start_cli(pipeline: PipelineRun, *args: str) -> subprocess.Popen:
    """`coopcast` started, not waited for: run_cli's command, alongside another."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO_ROOT,
        env=pipeline.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_sends_at_once_email_a_digest_once(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str]
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    smtp.accepting.clear()  # the server holds the first email until the second send is done
    first = start_cli(home, "alerts", "send", "--merchant", code)
    try:
        assert smtp.data_arrived.wait(300), first.communicate()
        second = send_command(home, "--merchant", code)
    finally:
        smtp.accepting.set()
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert f"sent to owner-{code}@coop.example" in out
    [held] = second.stdout.splitlines()
    assert held.startswith(f"{code}  {next_day.as_of.isoformat()}  not sent now: another send claimed it at ")
    assert len(smtp.messages) == 1
    assert "already sent" in send_command(home, "--merchant", code).stdout
    [sent] = sent_digests_of(home)
    assert (sent["status"], sent["recipients"]) == ("sent", f"owner-{code}@coop.example")


def sent_digests_of(home: PipelineRun) -> list[dict]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COOPCAST_HOME", str(home.home))
        return sent_digests()


def test_a_claim_left_by_a_killed_send_is_taken_over_once_its_lease_is_over(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str]
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    assert sent_digests_of(home) == []  # creates the table
    claimed_at = datetime.now(UTC)
    with sqlite3.connect(home.home / "alerts.sqlite") as conn:
        conn.execute(
            "INSERT INTO digest_emails"
            " (merchant_code, as_of, run_id, sent_at, recipients, new_items, status, claimed_at)"
            " VALUES (?, ?, 'killed', '', '', 3, 'sending', ?)",
            (code, next_day.as_of.isoformat(), claimed_at.isoformat()),
        )
    conn.close()
    held = send_command(home, "--merchant", code)
    assert "not sent now" in held.stdout and smtp.messages == []

    with sqlite3.connect(home.home / "alerts.sqlite") as conn:
        conn.execute("UPDATE digest_emails SET claimed_at = ?", ((claimed_at - CLAIM_LEASE).isoformat(),))
    conn.close()
    taken_over = send_command(home, "--merchant", code)
    assert f"sent to owner-{code}@coop.example" in taken_over.stdout and len(smtp.messages) == 1
    [sent] = sent_digests_of(home)
    assert (sent["status"], sent["claimed_at"]) == ("sent", None)


def test_a_failed_send_leaves_no_claim_and_the_next_send_sends(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str], monkeypatch
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(closed_port))
    failed = send_command(home, "--merchant", code, check=False)
    assert failed.returncode != 0 and "failed: 127.0.0.1:" in failed.stdout
    assert sent_digests_of(home) == []

    monkeypatch.setenv("COOPCAST_SMTP_PORT", str(smtp.server_address[1]))
    assert "sent to" in send_command(home, "--merchant", code).stdout
    assert len(smtp.messages) == 1


def test_a_refused_recipient_fails_the_merchant_and_a_later_send_reaches_only_it(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str], monkeypatch
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    monkeypatch.setenv("COOPCAST_DIGEST_TO", f"{code}=owner@coop.example,nobody@coop.example")
    smtp.refusals["nobody@coop.example"] = "550 5.1.1 <nobody@coop.example>: no such mailbox"
    refused = send_command(home, check=False)
    assert refused.returncode != 0 and code in refused.stderr
    # A line of more than 80 columns, printed whole though the output is no terminal.
    assert (
        f"{code}  {next_day.as_of.isoformat()}  failed: sent to owner@coop.example; 127.0.0.1 refused"
        " nobody@coop.example (550 5.1.1 <nobody@coop.example>: no such mailbox)"
    ) in refused.stdout.splitlines()
    [first] = smtp.messages
    assert first["to"] == ["<owner@coop.example>"]
    [row] = sent_digests_of(home)
    assert (row["status"], row["recipients"]) == ("refused", "owner@coop.example")
    assert "nobody@coop.example (550" in row["undelivered"]

    smtp.refusals.clear()
    retried = send_command(home)
    assert "sent to nobody@coop.example" in retried.stdout
    assert [message["to"] for message in smtp.messages] == [["<owner@coop.example>"], ["<nobody@coop.example>"]]
    [row] = sent_digests_of(home)
    assert (row["status"], row["recipients"], row["undelivered"]) == (
        "sent",
        "owner@coop.example, nobody@coop.example",
        "",
    )
    assert "already sent" in send_command(home).stdout
    assert len(smtp.messages) == 2


def test_merchant_and_as_of_choose_an_earlier_digest(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str]
) -> None:
    merchant_id, code = max(merchant_codes.items())
    with duckdb.connect(str(next_day.serving), read_only=True) as conn:
        [(first_new,)] = conn.execute(
            "SELECT count(*) FROM ml.alert_digests WHERE merchant_id = ? AND as_of = ? AND is_new",
            [merchant_id, next_day.first_as_of],
        ).fetchall()
    assert first_new > 0, "the merchant's first digest has nothing new to send"

    send_command(home, "--merchant", code, "--as-of", next_day.first_as_of.isoformat())
    [message] = received(smtp)
    assert smtp.messages[0]["to"] == [f"<owner-{code}@coop.example>"]
    assert next_day.first_as_of.isoformat() in message["Subject"]
    assert body(message, "plain").count("  - ") == first_new * 2


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--merchant", "NOPE"), "no merchant 'NOPE'"),
        (("--as-of", "31/10/2026"), "--as-of must be a date"),
    ],
)
def test_bad_input_fails_with_a_clear_line(home: PipelineRun, smtp, args: tuple[str, ...], reason: str) -> None:
    result = send_command(home, *args, check=False)
    assert result.returncode != 0
    assert reason in result.stderr
    assert smtp.messages == []


def test_a_merchant_without_a_recipient_is_not_emailed_and_named(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str], monkeypatch
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    monkeypatch.setenv("COOPCAST_DIGEST_TO", "")
    result = send_command(home, "--merchant", code, check=False)
    assert result.returncode != 0
    assert "COOPCAST_DIGEST_TO" in result.stdout and code in result.stderr
    assert smtp.messages == []


def test_recipients_are_read_per_merchant_and_a_malformed_entry_is_refused() -> None:
    assert parse_recipients(" M001=a@coop.example, b@coop.example ;M002=c@coop.example;") == {
        "M001": ("a@coop.example", "b@coop.example"),
        "M002": ("c@coop.example",),
    }
    for malformed in ("M001", "M001=", "=a@coop.example", "M001=not-an-address", "M 1=a@coop.example"):
        with pytest.raises(DigestError, match="COOPCAST_DIGEST_TO"):
            parse_recipients(malformed)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("M001=a@coop.example,M002=b@coop.example", "'M002=b@coop.example' is not an email address"),
        ("M001=a@coop.example d@coop.example", "'a@coop.example d@coop.example' is not an email address"),
        ("M001=@", "'@' is not an email address"),
        ("M001=a@", "'a@' is not an email address"),
        ("M001=a@coop.example\nBcc: all@coop.example", "'a@coop.example\\nBcc: all@coop.example'"),
        ("M001=<a@coop.example>", "'<a@coop.example>' is not an email address"),
        ("M001=a@coop..example", "'a@coop..example' is not an email address"),
        ("M001=a@coop.example;M001=b@coop.example", "M001 is listed twice"),
    ],
)
def test_recipients_are_refused_with_the_entry_named_unless_each_is_one_address(text: str, named: str) -> None:
    with pytest.raises(DigestError) as refused:
        parse_recipients(text)
    assert str(refused.value).startswith("COOPCAST_DIGEST_TO")
    assert named in str(refused.value)
    assert "\n" not in str(refused.value)


def test_codes_that_are_no_merchants_are_warned_about_and_the_listed_merchants_emailed(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, merchant_codes: dict[int, str], monkeypatch
) -> None:
    code = merchant_codes[next_day.low_stock[0]]
    monkeypatch.setenv(
        "COOPCAST_DIGEST_TO", f"{code}=owner@coop.example;{code.lower()}=typo@coop.example;X999=nobody@coop.example"
    )
    result = send_command(home)
    warnings = [line for line in result.stdout.splitlines() if "warning:" in line]
    assert warnings == [
        "X999  -  warning: COOPCAST_DIGEST_TO lists X999, which is no merchant's code",
        f"{code.lower()}  -  warning: COOPCAST_DIGEST_TO lists {code.lower()}, which is no merchant's code"
        f" (codes are case-sensitive: {code}?)",
    ]
    [sent] = smtp.messages
    assert sent["to"] == ["<owner@coop.example>"]


def test_a_chinese_subject_decodes_exactly_as_composed(smtp_server) -> None:
    """A subject folded between two encoded words used to lose the space there."""
    subject = (
        "M002 · 惠农农资批发部 每日预警 2026-10-31：新增 3 项 / M002 · 惠农农资批发部 daily alerts 2026-10-31: 3 new"
    )
    message = EmailMessage(policy=COMPOSING_POLICY)
    message["Subject"] = subject
    message.set_content("正文")
    server = SmtpServer("127.0.0.1", smtp_server.server_address[1], "alerts@coop.example", None, None, False)
    assert server.send(message, ("owner@coop.example",)) == {}
    [sent] = received(smtp_server)
    assert sent["Subject"] == subject


def test_the_daily_job_sends_like_the_command_and_records_what_it_sent(
    home: PipelineRun, smtp, next_day: alert_digest_support.NextDay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOPCAST_HOME", str(home.home))
    monkeypatch.delenv("COOPCAST_WAREHOUSE", raising=False)
    assert alert_digest_email_job.execute_in_process().success
    assert len(smtp.messages) == 1
    [sent] = sent_digests()
    assert (sent["as_of"], sent["new_items"]) == (next_day.as_of.isoformat(), 3)


def test_the_daily_schedule_skips_its_tick_while_smtp_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    tick = datetime(2026, 11, 2, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    monkeypatch.delenv("COOPCAST_SMTP_HOST", raising=False)
    assert isinstance(alert_digest_email_schedule(context), dg.SkipReason)
    monkeypatch.setenv("COOPCAST_SMTP_HOST", "127.0.0.1")
    request = alert_digest_email_schedule(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == tick.isoformat()
