"""Two merchants with API keys, a warehouse, SKUs, a customer and a supplier each, for the API tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from tests.builders import category_path
from transactional import catalogue, db, merchants

REPO_ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SKU = "FERT-001"
RICE = "RICE-5KG"


@dataclass(frozen=True)
class Merchant:
    merchant_id: int
    merchant_code: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


@dataclass(frozen=True)
class ApiShop:
    owner_url: str
    app_url: str
    merchant: Merchant
    other: Merchant


def _stock_merchant(conn: psycopg.Connection, code: str, name: str, leaf: int) -> Merchant:
    issued = merchants.register_merchant(conn, code, name, AT, actor="test")
    merchant_id = issued.merchant_id
    catalogue.create_warehouse(conn, merchant_id, "WH01", "主仓", AT)
    catalogue.create_warehouse(conn, merchant_id, "WH02", "二号仓", AT)
    supplier = catalogue.create_supplier(conn, merchant_id, "S01", "丰收化肥厂", 5, AT)
    catalogue.create_product(
        conn, merchant_id, SKU, "复合肥 50kg", leaf, Decimal("80.00"), Decimal("98.00"), AT, supplier_id=supplier
    )
    catalogue.create_product(
        conn, merchant_id, RICE, "大米 5kg", leaf, Decimal("20.00"), Decimal("32.50"), AT, shelf_life_days=365
    )
    catalogue.create_customer(conn, merchant_id, "C0001", "张三", AT)
    return Merchant(merchant_id, code, issued.api_key)


def _leaf_category(conn: psycopg.Connection) -> int:
    existing = conn.execute("SELECT category_id FROM core.categories WHERE category_code = 'T1-1-1'").fetchone()
    if existing:
        return int(existing[0])
    return category_path(conn, "T1", ("农资", "化肥", "复合肥"), AT).leaf


def build_shop(owner_url: str) -> ApiShop:
    """Two new merchants in the database at `owner_url`, so tests sharing a database stay apart."""
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(owner_url) as conn:
        leaf = _leaf_category(conn)
        merchant = _stock_merchant(conn, f"M{tag}A", "城关供销社", leaf)
        other = _stock_merchant(conn, f"M{tag}B", "河西批发部", leaf)
    return ApiShop(owner_url, db.as_role(owner_url, db.APP_ROLE), merchant, other)


def order_body(quantity: int = 3, sku_code: str = SKU, **extra) -> dict:
    return {
        "customer_code": "C0001",
        "warehouse_code": "WH01",
        "lines": [{"sku_code": sku_code, "quantity": quantity}],
        **extra,
    }


def receipt_body(quantity: int, sku_code: str = SKU, **extra) -> dict:
    return {"warehouse_code": "WH01", "sku_code": sku_code, "quantity": quantity, **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class ServedPorts:
    """Free ports for what `coopcast serve` and `coopcast demo` start, and the URL each answers on."""

    dashboard: int
    dagster_ui: int
    api: int

    @classmethod
    def free(cls) -> ServedPorts:
        return cls(free_port(), free_port(), free_port())

    def options(self) -> list[str]:
        return ["--port", str(self.dashboard), "--dagster-port", str(self.dagster_ui), "--api-port", str(self.api)]

    def urls(self) -> list[str]:
        return [
            f"http://127.0.0.1:{self.dashboard}/",
            f"http://127.0.0.1:{self.dagster_ui}/server_info",
            f"http://127.0.0.1:{self.api}/openapi.json",
        ]


def answers(url: str) -> bool:
    """Whether `url` answers 200 within two seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_api(owner_url: str, home: Path, pool_size: int = 10) -> Iterator[str]:
    """`coopcast api` as a user starts it, on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": owner_url, "COOPCAST_HOME": str(home)}
    env.pop("COOPCAST_APP_DATABASE_URL", None)
    # A file, not a pipe: the access log of many requests would fill a pipe nobody reads.
    log = home / "api.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "api", "--port", str(port), "--pool-size", str(pool_size)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, base_url, log)
        yield base_url
    finally:
        stop_server(server, grace_seconds=20)


def stop_server(server: subprocess.Popen, grace_seconds: float) -> None:
    """Ask the server to stop; kill it if it has not within `grace_seconds`."""
    server.terminate()
    try:
        server.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_until_serving(server: subprocess.Popen, base_url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"coopcast api exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"coopcast api did not answer on {base_url} within {timeout} s")


def merchant_rows(shop: ApiShop, table: str) -> int:
    """Rows of core.`table` (a name of the tests', never input) that belong to the shop's merchant."""
    with psycopg.connect(shop.owner_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM core.{table} WHERE merchant_id = %s", [shop.merchant.merchant_id])
        return int(row.fetchone()[0])
