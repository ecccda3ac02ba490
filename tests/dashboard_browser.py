"""The dashboard as a user runs it: `streamlit run` in its own process, then headless Chromium.

Shared by the browser test and the render benchmark (tests/bench/dashboard_render.py), so both sign
in, navigate and decide that a page has rendered the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect

from dashboards.i18n import load_locale
from tests.api_support import free_port, stop_server

REPO_ROOT = Path(__file__).resolve().parents[1]
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
VIEWPORT = {"width": 1440, "height": 2200}
STARTUP_SECONDS = 60
# A cold page reads the serving copy and draws several charts; generous for a loaded 2-core machine.
RENDER_MS = 90_000

# Rendered: the page's title is shown, the script run is over, no element of the previous run is
# left (stale), and every visible chart and table has been drawn by the frontend (Vega charts and
# the data grid draw after the run ends; a table in a collapsed expander is never drawn). Checked
# on every animation frame, so a measured render is not rounded up to a polling interval.
RENDERED_JS = """(heading) => {
  const titles = [...document.querySelectorAll('h1')].map((title) => title.textContent.trim());
  if (!titles.includes(heading)) return false;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const drawn = (selector, inner) =>
    [...document.querySelectorAll(selector)]
      .filter((element) => element.checkVisibility())
      .every((element) => element.querySelector(inner));
  return drawn('[data-testid="stVegaLiteChart"]', 'canvas, svg')
    && drawn('[data-testid="stDataFrame"]', 'canvas');
}"""


def configured_chromium() -> str:
    """Chromium's executable: CHROMIUM_PATH, else Debian's."""
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def label(key: str, language: str = "zh") -> str:
    return load_locale(language)[key]


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@contextmanager
def streamlit_server(script: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """`streamlit run script` on a free local port, with the options `coopcast serve` gives it; its
    URL while it runs, its output in `log`."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "streamlit", "run", str(script)),
                *("--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"),
                *("--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        stop_server(server, grace_seconds=10)


def dashboard_env(home: Path, database_url: str) -> dict[str, str]:
    """The dashboard's environment: the home's serving copy, sign-in against `database_url`."""
    env = {
        **os.environ,
        "COOPCAST_HOME": str(home),
        "COOPCAST_WAREHOUSE": str(home / "warehouse.duckdb"),
        "DATABASE_URL": database_url,
    }
    env.pop("COOPCAST_APP_DATABASE_URL", None)
    return env


def wait_until_rendered(page: Page, heading: str) -> None:
    """Wait until the page titled `heading` has finished its run and drawn everything."""
    page.wait_for_function(RENDERED_JS, arg=heading, timeout=RENDER_MS, polling="raf")


def submit_sign_in(page: Page, username: str, password: str) -> None:
    form = page.get_by_test_id("stForm")
    expect(form).to_be_visible(timeout=RENDER_MS)
    form.get_by_label(label("auth_username")).fill(username)
    form.get_by_label(label("auth_password"), exact=True).fill(password)
    form.get_by_role("button", name=label("auth_submit")).click()


def sign_in(page: Page, username: str, password: str) -> None:
    """Sign in through the form; the landing page (the overview) has rendered on return."""
    submit_sign_in(page, username, password)
    wait_until_rendered(page, label("overview_title"))


def open_from_menu(page: Page, title: str) -> None:
    """Click the menu entry `title` (same session) and wait until the page it opens, whose title is
    the same, has rendered."""
    entry = page.get_by_test_id("stSidebarNavLink").filter(has=page.get_by_text(title, exact=True))
    entry.click(timeout=RENDER_MS)
    wait_until_rendered(page, title)
