"""`coopcast simulate --live`: keep the simulated network trading through the HTTP API, and say
how it went."""

from __future__ import annotations

from pipelines.cli_common import console, error_console, prepare
from pipelines.commands.merchant import cli_actor
from transactional import db
from transactional.simulator.live import LiveSettings, LiveSummary, Tally, trade_live


def trade_live_until_stopped(settings: LiveSettings, api_url: str | None) -> None:
    """Trade for `settings.duration` seconds or until Ctrl+C, then print the summary."""
    uri = prepare()
    until = f"for {settings.duration:g} s" if settings.duration is not None else "until Ctrl+C"
    where = api_url or "an in-process API"
    with console.status(f"Live trading at {settings.rate:g} orders/s through {where}, {until}…") as status:

        def report(tally: Tally, elapsed: float) -> None:
            status.update(
                f"Live trading: {tally.orders_placed:,} orders in {elapsed:,.0f} s "
                f"({tally.orders_placed / elapsed:.2f}/s of {settings.rate:g}), "
                f"{sum(tally.errors.values()):,} errors ({tally.server_errors:,} server) — Ctrl+C stops"
            )

        summary = trade_live(
            uri,
            settings,
            actor=cli_actor(),
            api_url=api_url,
            app_database_url=db.app_database_url(),
            report=report,
        )
    for line in summary_lines(summary):
        console.print(line, highlight=False, soft_wrap=True)
    if summary.server_errors:
        error_console.print(
            f"[bold red]{summary.server_errors:,} requests failed on the server side or did not connect[/]"
        )


def summary_lines(summary: LiveSummary) -> list[str]:
    lines = [
        f"Traded {summary.seconds:,.1f} s: {summary.orders_launched:,} orders launched, "
        f"{summary.orders_placed:,} placed ({summary.achieved_rate:.2f}/s of {summary.target_rate:g} targeted), "
        f"{summary.orders_paid:,} paid online, {summary.orders_shipped:,} shipped, "
        f"{summary.orders_cancelled:,} cancelled, {summary.orders_dropped:,} still queued at the stop",
        f"Also      {summary.funnel_events:,} funnel events, {summary.purchase_orders:,} purchase orders "
        f"({summary.purchase_receipts:,} received); {summary.requests:,} requests, {summary.retries:,} retried",
    ]
    if summary.latency_p50 is None:
        lines.append("Latency   no orders answered")
    else:
        lines.append(
            f"Latency   order placement from its scheduled start: p50 {_ms(summary.latency_p50)}, "
            f"p95 {_ms(summary.latency_p95)}, p99 {_ms(summary.latency_p99)}"
        )
    if not summary.errors:
        lines.append("Errors    none")
    for kind, count in sorted(summary.errors.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"Errors    {kind} ×{count:,}, e.g. {summary.error_examples[kind]}")
    return lines


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds is not None else "-"
