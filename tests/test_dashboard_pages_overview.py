"""The overview page (经营概览) as a merchant's owner sees it: the flagged stock's download and the
trend's grain kept in the URL, against the serving copy."""

from __future__ import annotations

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PipelineRun
from tests.dashboard_pages import downloaded_sheet, downloads, header, open_page, sheet_rows, table_of
from tests.dashboard_signin import sign_in_as
from tests.test_dashboard_apptest import ANY_FLAG, APP, RUN_TIMEOUT, serving, use_home

__all__ = ["downloads", "serving"]

PAGE = "overview"
NEAR_EXPIRY_WORDS = {"30天内到期", "90天内到期", "180天内到期"}


def most_flagged_merchant(serving: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The merchant with the most flagged stock rows, and how many it has."""
    found = serving.execute(
        f"""SELECT merchant_id, count(*) FROM marts.fct_inventory_flags f
            WHERE as_of = (SELECT max(as_of) FROM marts.fct_inventory_flags WHERE merchant_id = f.merchant_id)
              AND {ANY_FLAG}
            GROUP BY merchant_id ORDER BY count(*) DESC, merchant_id LIMIT 1"""
    ).fetchone()
    assert found, "the pipeline flagged no stock at all"
    return found


def landing_from_a_link(
    pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch, merchant_id: int, query: dict[str, str]
) -> AppTest:
    """The owner signing in from a link to the overview carrying `query`: the overview is the page a
    session lands on, so the link is read at sign-in, not on the way to another page."""
    use_home(monkeypatch, pipeline_run.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.query_params.update(query)
    return sign_in_as(app.run(), monkeypatch, pipeline_run.database_url, "owner", merchant_id)


def test_the_flagged_stock_downloads_as_the_table_shows_it(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, downloads
) -> None:
    merchant_id, flagged_rows = most_flagged_merchant(serving)

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    assert not app.exception
    shown = table_of(app, "is_slow_moving").value
    sheet = downloaded_sheet(app, downloads, "download_flagged_stock")
    columns = header(sheet)
    assert columns[:3] == ["商品编码", "商品名称", "品类"]
    assert {"滞销", "临期", "低库存", "缺货"} <= set(columns)
    rows = sheet_rows(sheet)
    assert len(rows) == len(shown) == flagged_rows
    assert [row[0] for row in rows] == list(shown["sku_code"])
    # The level in words, as the table shows it; no warning is an empty cell in both.
    levels = [row[columns.index("临期")] for row in rows]
    assert levels == list(shown["near_expiry_level"])
    assert set(levels) - {""} <= NEAR_EXPIRY_WORDS
    assert "" in levels, "every flagged row is near expiry: no empty cell to check"


@pytest.mark.parametrize(("in_url", "grain"), [("week", "week"), ("month", "month"), ("fortnight", "day")])
def test_the_trend_grain_comes_from_the_url_and_goes_back_to_it(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    in_url: str,
    grain: str,
) -> None:
    merchant_id, _ = most_flagged_merchant(serving)

    app = landing_from_a_link(pipeline_run, monkeypatch, merchant_id, {"overview_period": in_url})

    assert not app.exception
    assert app.radio(key="overview_period").value == grain
    # A value the radio does not offer leaves the URL.
    assert app.query_params.get("overview_period") == (in_url if in_url == grain else None)
    another = "week" if grain == "day" else "day"
    app.radio(key="overview_period").set_value(another).run()
    assert not app.exception
    assert app.query_params["overview_period"] == another
