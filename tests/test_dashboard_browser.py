"""The dashboard in a real headless Chromium: `streamlit run` as a user starts it beside the API
(`coopcast api`), then a browser signs in through the form, opens every page of an owner's menu,
approves suggestions as draft purchase orders and downloads the replenishment workbook.

Screenshots of each page go to tests/artifacts/screenshots/ (git-ignored), named `<url_path>_zh.png`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openpyxl
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dashboards.navigation import pages_for
from pipelines.exports import NO_SUPPLIER, SUMMARY_SHEET
from pipelines.settings import API_URL_SETTING
from tests.api_support import running_api
from tests.conftest import PipelineRun
from tests.dashboard_browser import (
    CHROMIUM_ARGS,
    RENDER_MS,
    REPO_ROOT,
    VIEWPORT,
    configured_chromium,
    dashboard_env,
    label,
    open_from_menu,
    sign_in,
    streamlit_server,
    submit_sign_in,
    wait_until_rendered,
)
from tests.dashboard_signin import Account, account, create_account
from transactional import users

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = REPO_ROOT / "tests" / "artifacts" / "screenshots"


def chromium_path() -> str:
    path = configured_chromium()
    if not os.access(path, os.X_OK):
        message = f"no Chromium at {path} (apt-get install chromium, or set CHROMIUM_PATH)"
        if os.environ.get("COOPCAST_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def supplier_titles(serving_home: Path, merchant_id: int) -> set[str]:
    """The suppliers the merchant's workbook has a sheet for, as each sheet's title ("code name")."""
    with duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            """SELECT DISTINCT coalesce(supplier_code, ?), coalesce(supplier_name, ?)
               FROM marts.fct_replenishment_suggestions WHERE merchant_id = ? AND suggested_qty > 0""",
            [*NO_SUPPLIER, merchant_id],
        ).fetchall()
    return {f"{code} {name}" for code, name in rows}


@pytest.fixture(scope="module")
def merchant_id(serving_home: Path) -> int:
    """The merchant whose replenishment suggestions name the most suppliers."""
    with duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True) as conn:
        (chosen,) = conn.execute(
            """SELECT merchant_id FROM marts.fct_replenishment_suggestions WHERE suggested_qty > 0
               GROUP BY merchant_id ORDER BY count(DISTINCT supplier_code) DESC, merchant_id LIMIT 1"""
        ).fetchone()
    return chosen


@pytest.fixture(scope="module")
def owner(pipeline_run: PipelineRun, merchant_id: int) -> Account:
    return account(pipeline_run.database_url, "owner", merchant_id)


@pytest.fixture(scope="module")
def dashboard_url(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = dashboard_env(pipeline_run.home, pipeline_run.database_url)
    with running_api(pipeline_run.database_url, tmp_path_factory.mktemp("api_home")) as api_url:
        env[API_URL_SETTING] = api_url
        with streamlit_server(REPO_ROOT / "dashboards" / "streamlit_app.py", env, log) as url:
            yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, dashboard_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(dashboard_url)
        yield page
    finally:
        context.close()


def assert_no_python_error(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Traceback")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_a_wrong_password_says_how_many_attempts_are_left(
    page: Page, pipeline_run: PipelineRun, merchant_id: int
) -> None:
    fresh = create_account(pipeline_run.database_url, "owner", merchant_id)

    submit_sign_in(page, fresh.username, fresh.password + "x")

    minutes = int(users.LOCK_DURATION.total_seconds() // 60)
    message = label("auth_wrong_password").format(attempts=users.MAX_FAILED_ATTEMPTS - 1, minutes=minutes)
    expect(page.get_by_test_id("stAlertContentError")).to_have_text(message, timeout=RENDER_MS)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    assert_no_python_error(page)


def test_an_owner_opens_every_page_of_the_menu_without_a_python_error(page: Page, owner: Account) -> None:
    sign_in(page, owner.username, owner.password)
    menu = page.get_by_test_id("stSidebarNav").locator("a")
    expect(menu).to_have_count(len(pages_for("owner")))

    for spec in pages_for("owner"):
        open_from_menu(page, label(spec.title_key))
        assert_no_python_error(page)
        screenshot(page, f"{spec.url_path}_zh")


def test_the_overview_reads_in_english_after_the_toggle(page: Page, owner: Account) -> None:
    sign_in(page, owner.username, owner.password)
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text("¥", timeout=RENDER_MS)

    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()

    wait_until_rendered(page, label("overview_title", "en"))
    expect(page.get_by_role("heading", name=label("overview_title"), exact=True)).to_have_count(0)
    assert_no_python_error(page)
    screenshot(page, "overview_en")


def assert_no_page_not_found(page: Page) -> None:
    """Streamlit's own dialog for a URL that names no page (in English whatever the language)."""
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Page not found")


def test_the_overview_opens_at_its_own_path_too(page: Page, owner: Account, dashboard_url: str) -> None:
    page.goto(f"{dashboard_url}overview")
    expect(page.get_by_test_id("stForm")).to_be_visible(timeout=RENDER_MS)
    assert_no_page_not_found(page)

    sign_in(page, owner.username, owner.password)

    assert_no_page_not_found(page)
    assert page.url == f"{dashboard_url}overview"
    assert_no_python_error(page)


def test_a_page_the_role_may_not_open_leaves_its_filters_behind(
    page: Page, pipeline_run: PipelineRun, merchant_id: int, dashboard_url: str
) -> None:
    seller = account(pipeline_run.database_url, "sales", merchant_id)
    page.goto(f"{dashboard_url}finance?fin_months=12")

    sign_in(page, seller.username, seller.password)

    expect(page).to_have_url(dashboard_url)
    assert_no_page_not_found(page)
    assert_no_python_error(page)


def test_an_admin_signs_in_and_reads_a_merchant_overview(page: Page, pipeline_run: PipelineRun) -> None:
    admin = account(pipeline_run.database_url, "admin")

    sign_in(page, admin.username, admin.password)

    expect(page.get_by_test_id("stMetricValue").first).to_contain_text("¥", timeout=RENDER_MS)
    assert_no_python_error(page)
    screenshot(page, "overview_admin_zh")


def test_the_replenishment_workbook_downloads_with_a_sheet_per_supplier(
    page: Page, owner: Account, serving_home: Path, merchant_id: int, tmp_path: Path
) -> None:
    sign_in(page, owner.username, owner.password)
    forecast = next(spec for spec in pages_for("owner") if spec.script == "forecast.py")
    open_from_menu(page, label(forecast.title_key))

    with page.expect_download(timeout=RENDER_MS) as download:
        page.get_by_role("button", name=label("download_replenishment")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)

    book = openpyxl.load_workbook(saved)
    summary, *supplier_sheets = book.sheetnames
    assert summary == SUMMARY_SHEET
    titles = {book[name]["A1"].value for name in supplier_sheets}
    assert titles == supplier_titles(serving_home, merchant_id)
    assert len(supplier_sheets) == len(titles)


def least_suggested_merchant(serving_home: Path) -> int:
    """The merchant with the fewest supplier-backed suggestions: not the one the AppTest approval
    test orders for, so the two never share an idempotency key when they share a pipeline."""
    with duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True) as conn:
        (chosen,) = conn.execute(
            """SELECT merchant_id FROM marts.fct_replenishment_suggestions
               WHERE suggested_qty > 0 AND supplier_code IS NOT NULL
               GROUP BY merchant_id ORDER BY count(*), merchant_id LIMIT 1"""
        ).fetchone()
    return chosen


def draft_numbers_by(database_url: str, merchant_id: int, actor: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT po.po_no FROM core.purchase_orders po
               JOIN core.operation_log log ON log.merchant_id = po.merchant_id AND log.target = po.po_no
                                          AND log.operation = 'purchase_order.create' AND log.actor = %s
               WHERE po.merchant_id = %s AND po.status = 'draft'""",
            [actor, merchant_id],
        ).fetchall()
    return {po_no for (po_no,) in rows}


def test_procurement_approves_the_suggestions_as_draft_purchase_orders(
    page: Page, pipeline_run: PipelineRun, serving_home: Path
) -> None:
    merchant_id = least_suggested_merchant(serving_home)
    buyer = create_account(pipeline_run.database_url, "procurement", merchant_id)
    sign_in(page, buyer.username, buyer.password)
    forecast = next(spec for spec in pages_for("procurement") if spec.script == "forecast.py")
    open_from_menu(page, label(forecast.title_key))

    page.get_by_role("button", name=label("fc_approve")).click()

    done = page.get_by_test_id("stAlertContentSuccess")
    expect(done).to_have_count(1, timeout=RENDER_MS)
    drafts = draft_numbers_by(pipeline_run.database_url, merchant_id, buyer.username)
    assert drafts, "approving made no draft purchase order"
    expect(done).to_contain_text(sorted(drafts)[0])
    assert all(po_no in done.inner_text() for po_no in drafts)
    assert_no_python_error(page)
    screenshot(page, "forecast_approved_zh")
