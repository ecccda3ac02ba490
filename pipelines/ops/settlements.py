"""The weekly settlement statement run: every merchant's statement of last week (Monday–Sunday).

The rules live in transactional.money.settlements; this job only calls them at a time ops chose
(the schedule's tick, in Asia/Shanghai), so a rerun of the same tick returns the statements
already issued instead of issuing twice.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.resources import PostgresResource
from transactional import db
from transactional.money import settlements
from transactional.money.periods import last_complete_period
from transactional.stock import BUSINESS_TIMEZONE, business_date

SETTLEMENT_JOB = "coopcast_weekly_settlement"
# As the HTTP API allows a client's clock: a statement dated further ahead would close days that
# are still trading (the UI's "Test schedule" offers the next tick, days away).
AHEAD_OF_THE_CLOCK = timedelta(minutes=5)


class SettlementConfig(dg.Config):
    """`at`: ISO 8601 time the statements are generated at (a naive one in Asia/Shanghai, as the
    schedule's ticks); empty means now."""

    at: str = ""


def statement_time(text: str, now: datetime) -> datetime:
    """The run's `at`, refused in one line when it does not parse or lies ahead of the clock."""
    if not text:
        return now
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise dg.Failure(f"at must be an ISO 8601 time such as 2026-12-14T06:00:00+08:00, not {text!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=BUSINESS_TIMEZONE)
    if at > now + AHEAD_OF_THE_CLOCK:
        raise dg.Failure(
            f"at {at.isoformat()} is ahead of the clock ({now.astimezone(BUSINESS_TIMEZONE).isoformat()}): "
            "statements issued ahead would close days still trading; run it at its tick"
        )
    return at


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Issue (or return, if already issued) every merchant's weekly statement of last week.",
)
def weekly_settlement_statements(
    context: dg.OpExecutionContext, config: SettlementConfig, postgres: PostgresResource
) -> None:
    at = statement_time(config.at, datetime.now(UTC))
    week_start = last_complete_period("weekly", business_date(at))
    with db.connect(postgres.uri()) as conn:
        # A merchant registered after the week has nothing to settle in it.
        merchant_ids = [
            row[0]
            for row in conn.execute(
                "SELECT merchant_id FROM core.merchants WHERE created_at < %s ORDER BY 1",
                [datetime.combine(week_start + timedelta(days=7), datetime.min.time(), BUSINESS_TIMEZONE)],
            )
        ]
        statements = [
            settlements.generate_statement(conn, merchant_id, "weekly", week_start, at) for merchant_id in merchant_ids
        ]
    context.add_output_metadata(
        {
            "week_start": week_start.isoformat(),
            "statements": len(statements),
            "net_payable_cny": sum(statement.net_payable_cents for statement in statements) / 100,
        }
    )


@dg.job(name=SETTLEMENT_JOB, description="Weekly settlement statements of every merchant (PostgreSQL core).")
def weekly_settlement_job() -> None:
    weekly_settlement_statements()


def settlement_run_config(at: datetime) -> dict:
    return {"ops": {"weekly_settlement_statements": {"config": {"at": at.isoformat()}}}}
