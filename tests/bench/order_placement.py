"""Order placement throughput and latency at 1, 8 and 32 concurrent clients.

    python -m tests.bench.order_placement [--seconds 3] [--repeats 3] [--output bench/order_placement.json]

Two workloads: *contended* (every client orders the same SKU, so reservations queue on its
batch rows) and *uncontended* (each client its own SKU). The baseline, measured in the same run
with the same clients, is the cheapest durable write transaction: one INSERT and a COMMIT. The
ratio order rate ÷ baseline rate is what to compare across machines and runs; raw rates move
with whatever else the (shared) machine is doing.

The server is DATABASE_URL's, else TEST_DATABASE_URL's, else an embedded one; the benchmark
creates its own database there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg

from transactional import catalogue, stock
from transactional.db import with_database
from transactional.migrate import upgrade
from transactional.orders import OrderLineRequest, place_order

CLIENT_COUNTS = (1, 8, 32)
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
UNITS_PER_BATCH = 1_000_000


@dataclass(frozen=True)
class Shop:
    merchant_id: int
    warehouse_id: int
    contended_sku: int
    own_skus: list[int]
    customers: list[int]


@dataclass(frozen=True)
class Measurement:
    transactions: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds

    def percentile(self, share: float) -> float:
        return float(np.percentile(self.latencies_ms, share * 100, method="inverted_cdf"))


@dataclass(frozen=True)
class Figure:
    workload: str
    clients: int
    repeats: int
    orders_per_s_median: float
    orders_per_s_min: float
    orders_per_s_max: float
    p50_ms: float
    p99_ms: float
    baseline_tx_per_s_median: float
    ratio_to_baseline: float


@contextmanager
def server_url() -> Iterator[str]:
    explicit = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    import pgserver

    data_dir = Path(tempfile.mkdtemp(prefix="coopcast-bench-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def bench_database(server: str) -> Iterator[str]:
    name = f"coopcast_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(server, name)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_shop(url: str, clients: int) -> Shop:
    with psycopg.connect(url) as conn:
        merchant = catalogue.create_merchant(conn, "BENCH", "压测供销社", AT)
        warehouse = catalogue.create_warehouse(conn, merchant, "WH01", "主仓", AT)
        top = catalogue.create_category(conn, "B1", "农资", 1, AT)
        middle = catalogue.create_category(conn, "B1-1", "化肥", 2, AT, top)
        leaf = catalogue.create_category(conn, "B1-1-1", "复合肥", 3, AT, middle)

        def stocked_product(code: str) -> int:
            product = catalogue.create_product(
                conn, merchant, code, f"复合肥 {code}", leaf, Decimal("80.00"), Decimal("98.00"), AT
            )
            for _ in range(3):
                stock.receive_stock(conn, warehouse_id=warehouse, product_id=product, quantity=UNITS_PER_BATCH, at=AT)
            return product

        contended = stocked_product("HOT")
        own = [stocked_product(f"OWN-{index:02d}") for index in range(clients)]
        customers = [catalogue.create_customer(conn, merchant, f"C{index:04d}", "客户", AT) for index in range(clients)]
        conn.execute("CREATE TABLE public.bench_probe (probe_id bigserial PRIMARY KEY, client int, at timestamptz)")
        conn.commit()
    return Shop(merchant, warehouse, contended, own, customers)


def run_clients(url: str, clients: int, seconds: float, transaction: Callable[[psycopg.Connection, int, int], None]):
    """`clients` threads, each on its own connection, running `transaction` until time is up."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start_line = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        try:
            with psycopg.connect(url) as conn:
                start_line.wait()
                step = 0
                while time.perf_counter() < stop_at[0]:
                    began = time.perf_counter()
                    transaction(conn, index, step)
                    latencies[index].append((time.perf_counter() - began) * 1000)
                    step += 1
        except BaseException as error:  # surfaced to the caller after the run
            errors.append(error)
            start_line.abort()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.perf_counter() + seconds + 0.5)
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    flat = [latency for per_client in latencies for latency in per_client]
    return Measurement(len(flat), elapsed, flat)


def order_transaction(shop: Shop, contended: bool) -> Callable[[psycopg.Connection, int, int], None]:
    def place(conn: psycopg.Connection, index: int, step: int) -> None:
        product = shop.contended_sku if contended else shop.own_skus[index]
        place_order(
            conn,
            merchant_id=shop.merchant_id,
            customer_id=shop.customers[index],
            warehouse_id=shop.warehouse_id,
            lines=[OrderLineRequest(product, 1)],
            at=AT + timedelta(seconds=step),
        )

    return place


def probe_transaction(conn: psycopg.Connection, index: int, step: int) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO public.bench_probe (client, at) VALUES (%s, %s)", [index, AT])


def measure(url: str, shop: Shop, seconds: float, repeats: int) -> list[Figure]:
    figures = []
    for workload in ("uncontended", "contended"):
        transaction = order_transaction(shop, contended=workload == "contended")
        for clients in CLIENT_COUNTS:
            orders, baselines = [], []
            for _ in range(repeats):
                baselines.append(run_clients(url, clients, seconds, probe_transaction))
                orders.append(run_clients(url, clients, seconds, transaction))
            rates = [m.rate for m in orders]
            baseline = statistics.median(m.rate for m in baselines)
            all_orders = Measurement(
                sum(m.transactions for m in orders),
                sum(m.seconds for m in orders),
                [latency for m in orders for latency in m.latencies_ms],
            )
            figure = Figure(
                workload=workload,
                clients=clients,
                repeats=repeats,
                orders_per_s_median=round(statistics.median(rates), 1),
                orders_per_s_min=round(min(rates), 1),
                orders_per_s_max=round(max(rates), 1),
                p50_ms=round(all_orders.percentile(0.50), 2),
                p99_ms=round(all_orders.percentile(0.99), 2),
                baseline_tx_per_s_median=round(baseline, 1),
                ratio_to_baseline=round(statistics.median(rates) / baseline, 3),
            )
            print(
                f"{workload:12s} {clients:3d} clients  {figure.orders_per_s_median:8.1f} orders/s "
                f"(baseline {baseline:8.1f} tx/s, ratio {figure.ratio_to_baseline:.3f})  "
                f"p50 {figure.p50_ms:7.2f} ms  p99 {figure.p99_ms:7.2f} ms",
                flush=True,
            )
            figures.append(figure)
    return figures


def run(server: str, seconds: float, repeats: int) -> dict:
    """Both workloads at every client count, in a database of their own on `server`."""
    with bench_database(server) as url:
        shop = open_shop(url, max(CLIENT_COUNTS))
        figures = measure(url, shop, seconds, repeats)
    return {
        "seconds_per_run": seconds,
        "baseline": "one INSERT + COMMIT per transaction, same clients, same run",
        "figures": [asdict(figure) for figure in figures],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measured run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median, min, max)")
    parser.add_argument("--output", type=Path, default=Path("bench/order_placement.json"))
    arguments = parser.parse_args()

    with server_url() as server:
        with psycopg.connect(server) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()[0]
        figures = run(server, arguments.seconds, arguments.repeats)

    result = {
        "benchmark": "order_placement",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"postgresql": server_version, "psycopg": psycopg.__version__},
        **figures,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
