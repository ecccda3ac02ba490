"""Dashboard page render time in headless Chromium, per page of an owner's menu.

    python -m tests.bench.dashboard_render [--repeats 5] [--home HOME --database URL [--merchant CODE]]
                                           [--output bench/dashboard_render.json]

A render is timed from the click on the page's menu entry (in a signed-in session) until the page
is fully rendered: its title shown, the script run over, nothing stale left, every chart and table
drawn (tests/dashboard_browser.py decides this, as the browser test does). Each page is rendered
`--repeats` times, going round the menu, so the first round is the cold one (query cache empty).

The baseline, measured in the same run and the same browser, is switching to a page holding only a
title (tests/bench/empty_app.py); each page's ratio p50 ÷ baseline p50 is what to compare across
machines and runs.

The data: by default a tiny pipeline the benchmark builds (`coopcast simulate --scale tiny` and
`coopcast run` in a database it creates on DATABASE_URL's or TEST_DATABASE_URL's server, dropped
afterwards). `--home` and `--database` use an existing COOPCAST_HOME with a published serving copy
and the PostgreSQL database of that pipeline (the county one, say); the benchmark adds one owner
account to it to sign in with. The merchant is `--merchant`, else the one with the most sales days.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb
import numpy as np
import streamlit
from playwright.sync_api import Page, sync_playwright

from dashboards.navigation import pages_for
from tests import dashboard_browser as browser_run
from tests.bench.empty_app import EMPTY_PATHS, EMPTY_TITLES
from tests.bench.figures import machine
from tests.bench.order_placement import bench_database, server_url
from tests.conftest import PIPELINE_SEED, PipelineRun, run_cli
from tests.dashboard_signin import create_account

MIN_REPEATS = 5
EMPTY_APP = browser_run.REPO_ROOT / "tests" / "bench" / "empty_app.py"
DASHBOARD_APP = browser_run.REPO_ROOT / "dashboards" / "streamlit_app.py"


@dataclass(frozen=True)
class Figure:
    page: str
    renders: int
    cold_ms: float
    p50_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float
    ratio_to_baseline: float


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: of 20 renders the p95 is the 19th fastest, not the slowest."""
    return float(np.percentile(samples, share * 100, method="inverted_cdf"))


def figure(page: str, samples: list[float], baseline_p50: float) -> Figure:
    p50 = statistics.median(samples)
    return Figure(
        page=page,
        renders=len(samples),
        cold_ms=round(samples[0], 1),
        p50_ms=round(p50, 1),
        p95_ms=round(percentile(samples, 0.95), 1),
        min_ms=round(min(samples), 1),
        max_ms=round(max(samples), 1),
        ratio_to_baseline=round(p50 / baseline_p50, 2),
    )


def timed_open(page: Page, title: str) -> float:
    """Milliseconds from the click on the menu entry to the page fully rendered."""
    started = time.perf_counter()
    browser_run.open_from_menu(page, title)
    return (time.perf_counter() - started) * 1000


def round_the_menu(page: Page, menu: list[tuple[str, str]], repeats: int) -> dict[str, list[float]]:
    """Each menu entry (url_path, title) rendered `repeats` times; the round starts on the second
    entry, so every click leaves the page shown (the first is the landing page)."""
    order = menu[1:] + menu[:1]
    samples: dict[str, list[float]] = {url_path: [] for url_path, _ in menu}
    for _ in range(repeats):
        for url_path, title in order:
            samples[url_path].append(timed_open(page, title))
    return samples


def measure_baseline(page: Page, url: str, repeats: int) -> list[float]:
    page.goto(url)
    page.wait_for_function("() => document.querySelector('h1')")
    return round_the_menu(page, list(zip(EMPTY_PATHS, EMPTY_TITLES, strict=True)), repeats)[EMPTY_PATHS[0]]


def measure_dashboard(page: Page, url: str, pipeline: PipelineRun, merchant_id: int, repeats: int) -> dict:
    owner = create_account(pipeline.database_url, "owner", merchant_id)
    page.goto(url)
    browser_run.sign_in(page, owner.username, owner.password)
    menu = [(spec.url_path, browser_run.label(spec.title_key)) for spec in pages_for("owner")]
    return round_the_menu(page, menu, repeats)


def busiest_merchant(home: Path, merchant_code: str | None) -> tuple[int, str]:
    """(merchant_id, merchant_code) of `merchant_code`, else of the merchant with the most sales days."""
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb"), read_only=True) as conn:
        found = conn.execute(
            """SELECT merchant_id, merchant_code FROM marts.fct_merchant_daily_sales
               WHERE merchant_code = coalesce(?, merchant_code)
               GROUP BY merchant_id, merchant_code ORDER BY count(*) DESC, merchant_id LIMIT 1""",
            [merchant_code],
        ).fetchone()
    if found is None:
        raise SystemExit(f"no sales for merchant {merchant_code!r} in {home}'s serving copy")
    return found


@contextmanager
def tiny_pipeline() -> Iterator[PipelineRun]:
    """`coopcast simulate --scale tiny` then `coopcast run`, in a scratch home and database."""
    with server_url() as server, bench_database(server) as url, tempfile.TemporaryDirectory() as home:
        pipeline = PipelineRun(home=Path(home), database_url=url)
        print("building the tiny pipeline (a few minutes)...", flush=True)
        run_cli(pipeline, "simulate", "--scale", "tiny", "--seed", str(PIPELINE_SEED))
        run_cli(pipeline, "run")
        yield pipeline


@contextmanager
def chosen_pipeline(home: Path | None, database: str | None) -> Iterator[PipelineRun]:
    if (home is None) != (database is None):
        raise SystemExit("--home and --database go together: the home's serving copy and its pipeline's database")
    if home is None:
        with tiny_pipeline() as pipeline:
            yield pipeline
        return
    if not (home / "serving" / "warehouse.duckdb").is_file():
        raise SystemExit(f"{home} has no published serving copy (serving/warehouse.duckdb): run `coopcast run`")
    yield PipelineRun(home=home, database_url=database)


def measure(pipeline: PipelineRun, merchant_id: int, repeats: int, logs: Path) -> tuple[list[float], dict]:
    env = browser_run.dashboard_env(pipeline.home, pipeline.database_url)
    with (
        sync_playwright() as driver,
        browser_run.streamlit_server(EMPTY_APP, env, logs / "empty.log") as empty_url,
        browser_run.streamlit_server(DASHBOARD_APP, env, logs / "dashboard.log") as url,
    ):
        chromium = browser_run.configured_chromium()
        browser = driver.chromium.launch(executable_path=chromium, args=browser_run.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=browser_run.VIEWPORT)
            baseline = measure_baseline(page, empty_url, repeats)
            pages = measure_dashboard(page, url, pipeline, merchant_id, repeats)
        finally:
            browser.close()
    return baseline, pages


def print_table(figures: list[Figure], baseline: Figure) -> None:
    print(f"{'page':<18} {'cold':>8} {'p50':>8} {'p95':>8} {'min':>8} {'max':>8} {'×base':>7}")
    for row in [baseline, *figures]:
        print(
            f"{row.page:<18} {row.cold_ms:>8.0f} {row.p50_ms:>8.0f} {row.p95_ms:>8.0f}"
            f" {row.min_ms:>8.0f} {row.max_ms:>8.0f} {row.ratio_to_baseline:>7.2f}"
        )
    print("(milliseconds from the menu click to the page fully rendered)")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help=f"renders per page (at least {MIN_REPEATS})")
    parser.add_argument("--home", type=Path, help="an existing COOPCAST_HOME with a published serving copy")
    parser.add_argument("--database", help="with --home: the PostgreSQL database of that pipeline (accounts)")
    parser.add_argument("--merchant", help="the merchant code to sign in as (default: most sales days)")
    parser.add_argument("--output", type=Path, default=browser_run.REPO_ROOT / "bench" / "dashboard_render.json")
    arguments = parser.parse_args()
    if arguments.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}: a p95 of fewer renders says little")
    chromium = browser_run.configured_chromium()
    if not os.access(chromium, os.X_OK):
        parser.error(f"no Chromium at {chromium} (apt-get install chromium, or set CHROMIUM_PATH)")
    return arguments


def run(pipeline: PipelineRun, repeats: int, merchant: str | None = None) -> dict:
    """Every page of the owner's menu and the baseline page, `repeats` renders each, as one dict."""
    with tempfile.TemporaryDirectory() as logs:
        merchant_id, merchant_code = busiest_merchant(pipeline.home, merchant)
        baseline_samples, page_samples = measure(pipeline, merchant_id, repeats, Path(logs))
    baseline_p50 = statistics.median(baseline_samples)
    return {
        "merchant": merchant_code,
        "repeats": repeats,
        "measured": "menu click to page fully rendered (title shown, run over, charts and tables drawn)",
        "baseline": "switching to a page holding only a title, same browser, same run",
        "baseline_figure": asdict(figure("(empty page)", baseline_samples, baseline_p50)),
        "figures": [asdict(figure(url_path, samples, baseline_p50)) for url_path, samples in page_samples.items()],
    }


def main() -> None:
    arguments = parse_arguments()
    with chosen_pipeline(arguments.home, arguments.database) as pipeline:
        figures = run(pipeline, arguments.repeats, arguments.merchant)
    data = "tiny pipeline built by the benchmark" if arguments.home is None else f"home {arguments.home}"
    result = {
        "benchmark": "dashboard_render",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {"streamlit": streamlit.__version__, "playwright": version("playwright")},
        "data": data,
        **figures,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print_table([Figure(**row) for row in figures["figures"]], Figure(**figures["baseline_figure"]))
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
