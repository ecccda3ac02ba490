"""The dashboard in a real headless Chromium: `streamlit run` as a user starts it, then a browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 60
# The first render reads the serving copy and draws two charts; generous for a 2-core CI machine.
RENDER_MS = 60_000


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        message = f"no Chromium at {path} (apt-get install chromium, or set CHROMIUM_PATH)"
        if os.environ.get("COOPCAST_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"streamlit did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def dashboard_url(serving_home: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "COOPCAST_HOME": str(serving_home),
        "COOPCAST_WAREHOUSE": str(serving_home / "warehouse.duckdb"),
    }
    log = tmp_path / "streamlit.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "streamlit", "run", "dashboards/streamlit_app.py"),
                *("--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"),
                *("--browser.gatherUsageStats", "false"),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def page(dashboard_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.goto(dashboard_url)
            yield page
        finally:
            browser.close()


def wait_for_the_whole_page(page: Page, revenue_label: str, last_header: str) -> None:
    expect(page.get_by_test_id("stMetricLabel").filter(has_text=revenue_label)).to_be_visible(timeout=RENDER_MS)
    expect(page.get_by_role("heading", name=last_header)).to_be_visible(timeout=RENDER_MS)
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2, timeout=RENDER_MS)


def test_a_merchant_reads_the_overview_in_chinese_then_english(page: Page) -> None:
    wait_for_the_whole_page(page, "营业额", "补货建议")
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text("¥")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "overview_zh.png", full_page=True)

    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()

    wait_for_the_whole_page(page, "Revenue", "Replenishment")
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="营业额")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "overview_en.png", full_page=True)
    expect(page.get_by_test_id("stException")).to_have_count(0)
