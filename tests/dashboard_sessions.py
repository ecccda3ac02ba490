"""Opening a page of the forecast, supplier, finance or customer area as an account of some role.

`open_as` is the one place that knows how a session becomes merchant M's account of role R: it
signs in through the form (tests/dashboard_signin.py), as a user does. A platform admin picks the
merchant in the sidebar (`open_as_admin`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PipelineRun
from tests.dashboard_signin import sign_in_as
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, use_home

Query = Mapping[str, str | list[str]]


@pytest.fixture
def serving(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published serving copy, read directly: what the pages show is checked against it."""
    conn = duckdb.connect(str(pipeline_run.home / "serving" / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


def _signed_in(
    pipeline: PipelineRun, monkeypatch: pytest.MonkeyPatch, role: str, merchant_id: int | None, language: str
) -> AppTest:
    use_home(monkeypatch, pipeline.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.session_state["language"] = language
    return sign_in_as(app.run(), monkeypatch, pipeline.database_url, role, merchant_id)


def _open(app: AppTest, page: str, query: Query | None) -> AppTest:
    app.query_params.update(query or {})
    return app.switch_page(f"app_pages/{page}.py").run()


def open_as(
    pipeline: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    merchant_id: int,
    role: str = "owner",
    language: str = "zh",
    query: Query | None = None,
) -> AppTest:
    """dashboards/app_pages/<page>.py as merchant `merchant_id`'s account of `role`, the URL carrying `query`."""
    return _open(_signed_in(pipeline, monkeypatch, role, merchant_id, language), page, query)


def open_as_admin(
    pipeline: PipelineRun, monkeypatch: pytest.MonkeyPatch, page: str, merchant_id: int, language: str = "zh"
) -> AppTest:
    """The page as a platform admin who picked merchant `merchant_id` in the sidebar."""
    app = _signed_in(pipeline, monkeypatch, "admin", None, language)
    app.sidebar.selectbox(key="merchant_id").set_value(merchant_id)
    return _open(app, page, None)
