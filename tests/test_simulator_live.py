"""Live trading through the HTTP API, in-process, over a tiny simulated network."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipelines.commands.live import summary_lines
from transactional.errors import DomainError
from transactional.simulator import simulate
from transactional.simulator.live import NO_NETWORK, PLACE, LiveSettings, LiveSummary, trade_live

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = 11
RATE = 8.0
DURATION = 4.0


@pytest.fixture(scope="module")
def network_url(database_factory) -> str:
    url = database_factory()
    with psycopg.connect(url) as conn:
        simulate(conn, "tiny", SEED)
    return url


@pytest.fixture(scope="module")
def traded(network_url: str) -> tuple[LiveSummary, datetime]:
    started = datetime.now(UTC)
    summary = trade_live(
        network_url, LiveSettings(rate=RATE, clients=4, duration=DURATION, seed=SEED), actor="test:live"
    )
    return summary, started


def count(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(query, params).fetchone()[0])


def test_live_trading_places_orders_through_the_api(network_url: str, traded: tuple[LiveSummary, datetime]) -> None:
    summary, started = traded
    assert summary.server_errors == 0, summary.error_examples
    # The schedule launches one order every 1 / RATE seconds from the start, never more.
    assert 0 < summary.orders_placed <= summary.orders_launched <= RATE * DURATION + 1
    refused = sum(number for kind, number in summary.errors.items() if kind.startswith(PLACE))
    assert summary.orders_launched == summary.orders_placed + refused + summary.orders_dropped

    placed_by_api = count(
        network_url,
        """SELECT count(*) FROM core.operation_log
           WHERE operation = 'order.place' AND actor LIKE 'ck\\_%%' AND occurred_at >= %s""",
        started,
    )
    assert placed_by_api == summary.orders_placed
    assert (
        count(network_url, "SELECT count(*) FROM core.orders WHERE ordered_at >= %s", started) == summary.orders_placed
    )
    assert (
        count(network_url, "SELECT count(*) FROM core.orders WHERE shipped_at >= %s", started) == summary.orders_shipped
    )
    # Online orders are paid at checkout and cash-on-delivery ones settle at shipment: every paid
    # order and every shipped cash-on-delivery one has its sale, and no other order has one.
    assert summary.orders_paid > 0
    settled = count(
        network_url,
        """SELECT count(*) FROM core.sales s JOIN core.orders o USING (order_id) WHERE o.ordered_at >= %s""",
        started,
    )
    shipped_cod = count(
        network_url,
        "SELECT count(*) FROM core.orders WHERE ordered_at >= %s AND payment_method = 'cod' AND shipped_at IS NOT NULL",
        started,
    )
    assert settled == summary.orders_paid + shipped_cod
    assert (
        count(network_url, "SELECT count(*) FROM core.orders WHERE cancelled_at >= %s", started)
        == summary.orders_cancelled
    )
    assert (
        count(network_url, "SELECT count(*) FROM core.purchase_orders WHERE ordered_at >= %s", started)
        == summary.purchase_orders
    )


def test_every_order_has_its_shop_session(network_url: str, traded: tuple[LiveSummary, datetime]) -> None:
    summary, started = traded
    assert not any(kind.startswith("post funnel events") for kind in summary.errors), summary.error_examples
    # Sessions begin up to a quarter of an hour before their order; the simulated history ended long ago.
    since = started - timedelta(hours=1)
    assert count(network_url, "SELECT count(*) FROM core.funnel_events WHERE occurred_at >= %s", since) == (
        summary.funnel_events
    )
    purchases = count(
        network_url,
        "SELECT count(DISTINCT order_id) FROM core.funnel_events WHERE event_type = 5 AND occurred_at >= %s",
        since,
    )
    assert purchases == summary.orders_placed
    non_buying = count(
        network_url,
        """SELECT count(*) FROM (SELECT session_id FROM core.funnel_events WHERE occurred_at >= %s
           GROUP BY session_id HAVING bool_and(event_type <> 5)) s""",
        since,
    )
    assert non_buying > 0


def test_the_keys_live_trading_issued_are_revoked_when_it_stops(
    network_url: str, traded: tuple[LiveSummary, datetime]
) -> None:
    _, started = traded
    issued = count(network_url, "SELECT count(*) FROM core.api_keys WHERE created_at >= %s", started)
    assert issued == count(network_url, "SELECT count(*) FROM core.merchants")
    assert count(network_url, "SELECT count(*) FROM core.api_keys WHERE revoked_at IS NULL") == 0


def test_the_summary_names_rate_latency_and_errors(traded: tuple[LiveSummary, datetime]) -> None:
    summary, _ = traded
    assert summary.latency_p50 is not None and summary.latency_p95 is not None and summary.latency_p99 is not None
    assert summary.latency_p50 <= summary.latency_p95 <= summary.latency_p99
    text = "\n".join(summary_lines(summary))
    assert f"{summary.orders_placed:,} placed" in text
    assert "p50" in text and "p99" in text
    for kind in summary.errors:
        assert kind in text


def test_live_trading_needs_a_simulated_network(pg_database_url: str) -> None:
    with pytest.raises(DomainError, match="simulate a network first"):
        trade_live(pg_database_url, LiveSettings(duration=1), actor="test:live")


def test_the_command_says_so_in_one_line(pg_database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": pg_database_url, "COOPCAST_HOME": str(tmp_path)}
    env.pop("COOPCAST_APP_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "simulate", "--live", "--duration", "1"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {NO_NETWORK}"]
