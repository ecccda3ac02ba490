"""The weekly settlement statement run: every merchant's statement of every ended week
(Monday–Sunday) it has none of yet, last week's on a normal Monday.

The rules live in transactional.money.settlements; this job only calls them at a time ops chose
(the schedule's tick, in Asia/Shanghai). A week a missed Monday left unsettled is settled by the
next run; a rerun of the same tick finds nothing left to issue.
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
    description="Issue every merchant's weekly statement of each ended week it has none of (last week's on a Monday).",
)
def weekly_settlement_statements(
    context: dg.OpExecutionContext, config: SettlementConfig, postgres: PostgresResource
) -> None:
    at = statement_time(config.at, datetime.now(UTC))
    last_week = last_complete_period("weekly", business_date(at))
    with db.connect(postgres.uri()) as conn:
        statements = [
            settlements.generate_statement(conn, merchant_id, "weekly", week_start, at)
            for merchant_id, week_start in settlements.unsettled_weeks(conn, last_week)
        ]
    weeks = sorted({statement.period_start for statement in statements})
    if len(weeks) > 1:
        context.log.warning(f"settled {len(weeks)} weeks, from {weeks[0]}: the runs of earlier Mondays were missed")
    context.add_output_metadata(
        {
            "week_start": last_week.isoformat(),
            "statements": len(statements),
            "weeks_caught_up": [week.isoformat() for week in weeks if week != last_week],
            "net_payable_cny": sum(statement.net_payable_cents for statement in statements) / 100,
        }
    )


@dg.job(name=SETTLEMENT_JOB, description="Weekly settlement statements of every merchant (PostgreSQL core).")
def weekly_settlement_job() -> None:
    weekly_settlement_statements()


def settlement_run_config(at: datetime) -> dict:
    return {"ops": {"weekly_settlement_statements": {"config": {"at": at.isoformat()}}}}
