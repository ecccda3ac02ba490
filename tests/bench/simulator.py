"""Simulator generation rate: rows written per second, per scale.

    python -m tests.bench.simulator [--scales tiny small] [--repeats 3] [--output bench/simulator.json]

Each repeat simulates the scale into a fresh database. The baseline, measured in the same run on
the same server, is the cheapest bulk write there is: a COPY of as many narrow rows (funnel-event
shaped; up to 5 M of them) into an unlogged table without keys or indexes. The ratio simulator
rate ÷ baseline rate says how close the simulator comes to the server's raw loading speed, and is
what to compare across machines and runs; raw rates move with whatever else the (shared) machine
is doing.
`county` takes tens of minutes: run it with `--scales county --repeats 1`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from tests.bench.figures import machine
from tests.bench.order_placement import bench_database, server_url
from transactional.simulator import simulate
from transactional.simulator.bulk.load import copy_frame

SEED = 1
# The baseline's rate is measured on at most this many rows: at county scale a frame of all
# 164 M rows would not fit beside PostgreSQL in memory, and the rate is flat well before.
BASELINE_ROWS_AT_MOST = 5_000_000


def simulate_once(server: str, scale: str) -> dict:
    with bench_database(server) as url:
        return simulate_into(url, scale)


def simulate_into(url: str, scale: str) -> dict:
    """One repeat into the empty, migrated database at `url`, which keeps the simulated network."""
    with psycopg.connect(url) as conn:
        summary = simulate(conn, scale, SEED)
        sample = min(summary.rows, BASELINE_ROWS_AT_MOST)
        baseline_rate = sample / plain_copy_seconds(conn, sample)
    return {
        "rows": summary.rows,
        "seconds": summary.seconds,
        "rows_per_second": summary.rows / summary.seconds,
        "baseline_rows_per_second": baseline_rate,
        "order_lines": summary.order_lines,
        "funnel_events": summary.funnel_events,
    }


def plain_copy_seconds(conn: psycopg.Connection, rows: int) -> float:
    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(
        {
            "merchant_id": rng.integers(1, 200, rows),
            "occurred_at": pd.to_datetime(rng.integers(1.7e15, 1.8e15, rows), unit="us", utc=True),
            "session_id": np.arange(rows),
            "event_type": rng.integers(1, 6, rows).astype(np.int16),
        }
    )
    with conn.transaction():
        conn.execute(
            """CREATE UNLOGGED TABLE bench_plain_copy (merchant_id bigint, occurred_at timestamptz,
                   session_id bigint, event_type smallint)"""
        )
        started = time.perf_counter()
        copy_frame(conn, "bench_plain_copy", frame)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_plain_copy")
    return seconds


def summarise(runs: list[dict]) -> dict:
    rates = [run["rows_per_second"] for run in runs]
    ratios = [run["rows_per_second"] / run["baseline_rows_per_second"] for run in runs]
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": len(runs),
        "rows": runs[0]["rows"],
        "order_lines": runs[0]["order_lines"],
        "funnel_events": runs[0]["funnel_events"],
        "seconds_median": statistics.median(run["seconds"] for run in runs),
        "rows_per_second": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
        "ratio_to_plain_copy": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
    }


def measure(server: str, scale: str, repeats: int, first_database: str | None = None) -> dict:
    """`repeats` simulations of `scale`, each into a fresh database on `server`, summarised.

    With `first_database` (empty and migrated), the first repeat simulates into it and leaves the
    network there, so a caller that needs the network anyway does not simulate it once more."""
    runs = [simulate_into(first_database, scale)] if first_database else []
    runs += [simulate_once(server, scale) for _ in range(repeats - len(runs))]
    return summarise(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["tiny", "small"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("bench/simulator.json"))
    arguments = parser.parse_args()
    figures = {}
    with server_url() as server:
        with psycopg.connect(server) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()[0]
        for scale in arguments.scales:
            figures[scale] = measure(server, scale, arguments.repeats)
            rate = figures[scale]["rows_per_second"]["median"]
            ratio = figures[scale]["ratio_to_plain_copy"]["median"]
            print(f"{scale}: {rate:,.0f} rows/s, {ratio:.2f}x a plain COPY of as many rows")
    result = {
        "machine": machine(),
        "versions": {"postgresql": server_version, "psycopg": psycopg.__version__, "numpy": np.__version__},
        "seed": SEED,
        "scales": figures,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    # Scales measured in an earlier run (county takes long) are kept, each with its own date.
    earlier = json.loads(arguments.output.read_text()).get("scales", {}) if arguments.output.exists() else {}
    result["scales"] = {**earlier, **figures}
    arguments.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
