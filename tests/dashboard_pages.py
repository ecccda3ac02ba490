"""Opening a dashboard page as a merchant in AppTest, reading its tables and downloads.

`open_page` is the one place that knows how a session comes to show a merchant: it signs in as
that merchant's owner, through the form.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path

import duckdb
import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test
from streamlit.testing.v1.element_tree import Dataframe

from dashboards.navigation import ROLES, pages_for
from tests.conftest import PipelineRun
from tests.dashboard_signin import sign_in_as
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, column_labels, use_home
from transactional.users import ADMIN_ROLE

FORMULA_TRIGGERS = ("=", "+", "-", "@")


class KeptMediaStorage(MemoryMediaFileStorage):
    """The media storage of AppTest's runs, kept so a test can read what a download button serves."""

    latest: KeptMediaStorage | None = None

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        KeptMediaStorage.latest = self


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> type[KeptMediaStorage]:
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", KeptMediaStorage)
    return KeptMediaStorage


@pytest.fixture
def formula_home(pipeline_run: PipelineRun, tmp_path: Path) -> Path:
    """A copy of the published home whose product names all start with "=", as a hostile import could."""
    home = tmp_path / "home"
    shutil.copytree(pipeline_run.home, home)
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb")) as conn:
        tables = conn.execute(
            """SELECT table_schema, table_name FROM information_schema.columns
               WHERE column_name = 'sku_name' AND table_schema = 'marts'"""
        ).fetchall()
        for schema, table in tables:
            conn.execute(f"UPDATE {schema}.{table} SET sku_name = '=HYPERLINK(\"x\",' || sku_name || ')'")
    return home


def roles_seeing(page: str) -> set[str]:
    """The account roles whose menu holds dashboards/app_pages/<page>.py."""
    return {role for role in ROLES if f"{page}.py" in {spec.script for spec in pages_for(role)}}


def home_without_rows(pipeline_run: PipelineRun, tmp_path: Path, merchant_id: int) -> Path:
    """A copy of the published home in which merchant `merchant_id` exists but has no rows in any mart."""
    home = tmp_path / "empty_home"
    shutil.copytree(pipeline_run.home, home)
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb")) as conn:
        tables = conn.execute(
            """SELECT c.table_schema, c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.column_name = 'merchant_id' AND t.table_type = 'BASE TABLE'
                 AND NOT (c.table_schema = 'marts' AND c.table_name = 'dim_merchants')"""
        ).fetchall()
        for schema, table in tables:
            conn.execute(f"DELETE FROM {schema}.{table} WHERE merchant_id = ?", [merchant_id])
    return home


def assert_empty_state(app: AppTest, message: str) -> None:
    """The page says there is nothing to show, and shows no table."""
    assert not app.exception
    assert message in [info.value for info in app.info]
    assert not app.dataframe


def open_page(
    pipeline_run: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    merchant_id: int,
    language: str = "zh",
    query: Mapping[str, str | list[str]] | None = None,
    home: Path | None = None,
    role: str = "owner",
) -> AppTest:
    """A fresh session on dashboards/app_pages/<page>.py showing merchant `merchant_id`, its URL carrying
    `query`: signed in as an account of that merchant with `role`, or as a platform admin who picks the
    merchant in the sidebar; `home` replaces the pipeline's published home."""
    use_home(monkeypatch, home or pipeline_run.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.session_state["language"] = language
    if role == ADMIN_ROLE:
        sign_in_as(app.run(), monkeypatch, pipeline_run.database_url, role)
        app.sidebar.selectbox(key="merchant_id").set_value(merchant_id).run()
    else:
        sign_in_as(app.run(), monkeypatch, pipeline_run.database_url, role, merchant_id)
    app.query_params.update(query or {})
    return app.switch_page(f"app_pages/{page}.py").run()


def table_with(app: AppTest, label: str) -> Dataframe:
    """The one table on the page with a column labelled `label`."""
    tables = [table for table in app.dataframe if label in column_labels(table)]
    assert len(tables) == 1, f"expected one table with {label!r}, found {[column_labels(t) for t in app.dataframe]}"
    return tables[0]


def table_of(app: AppTest, column: str) -> Dataframe:
    """The one table on the page holding the data column `column`."""
    tables = [table for table in app.dataframe if column in table.value.columns]
    assert len(tables) == 1, f"expected one table with {column!r}, found {len(tables)}"
    return tables[0]


def downloaded_sheet(app: AppTest, storage: type[KeptMediaStorage], key: str) -> Worksheet:
    """The first sheet of the workbook the download button `key` serves, as openpyxl reads it."""
    buttons = [button for button in app.download_button if button.key == key]
    assert len(buttons) == 1, f"expected one download {key!r}, found {[b.key for b in app.download_button]}"
    assert buttons[0].proto.url.endswith(".xlsx")
    assert storage.latest is not None
    content = storage.latest.get_file(Path(buttons[0].proto.url).name).content
    return openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]


def sheet_rows(sheet: Worksheet) -> list[tuple]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def header(sheet: Worksheet) -> list[str]:
    return [cell.value for cell in sheet[1]]


def assert_formula_safe(sheet: Worksheet) -> int:
    """No cell is a formula, and text that starts like one is marked as text; returns how many such cells."""
    risky = 0
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
                assert cell.quotePrefix, f"{cell.coordinate} {cell.value!r} is not kept as text"
                risky += 1
    return risky
