"""The weekly settlement statement run: every merchant's statement of last week (Monday–Sunday).

The rules live in transactional.money.settlements; this job only calls them at a time ops chose
(the schedule's tick, in Asia/Shanghai), so a rerun of the same tick returns the statements
already issued instead of issuing twice.
"""

from datetime import UTC, datetime

import dagster as dg

from pipelines.resources import PostgresResource
from transactional import db
from transactional.money import settlements
from transactional.money.periods import last_complete_period
from transactional.stock import business_date

SETTLEMENT_JOB = "coopcast_weekly_settlement"


class SettlementConfig(dg.Config):
    """`at`: ISO 8601 time the statements are generated at; empty means now."""

    at: str = ""


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Issue (or return, if already issued) every merchant's weekly statement of last week.",
)
def weekly_settlement_statements(
    context: dg.OpExecutionContext, config: SettlementConfig, postgres: PostgresResource
) -> None:
    at = datetime.fromisoformat(config.at) if config.at else datetime.now(UTC)
    week_start = last_complete_period("weekly", business_date(at))
    with db.connect(postgres.uri()) as conn:
        merchant_ids = [row[0] for row in conn.execute("SELECT merchant_id FROM core.merchants ORDER BY 1")]
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
