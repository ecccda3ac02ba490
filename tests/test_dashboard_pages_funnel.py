"""The Funnel page (转化漏斗) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun
from tests.dashboard_pages import (
    assert_empty_state,
    assert_formula_safe,
    downloaded_sheet,
    downloads,
    formula_home,
    header,
    home_without_rows,
    open_page,
    roles_seeing,
    sheet_rows,
    table_of,
)
from tests.test_dashboard_apptest import metric_value, serving

__all__ = ["downloads", "formula_home", "serving"]

PAGE = "funnel"
DEFAULT_DAYS = 90


def busiest_shop(serving: duckdb.DuckDBPyConnection) -> tuple[int, date]:
    return serving.execute(
        """SELECT f.merchant_id, m.as_of FROM marts.fct_funnel_daily f JOIN marts.dim_merchants m USING (merchant_id)
           GROUP BY f.merchant_id, m.as_of ORDER BY sum(f.visit_sessions) DESC LIMIT 1"""
    ).fetchone()


def stage_sessions(serving: duckdb.DuckDBPyConnection, merchant_id: int, first: date, last: date) -> tuple:
    return serving.execute(
        """SELECT sum(visit_sessions), sum(product_view_sessions), sum(cart_add_sessions), sum(purchase_sessions)
           FROM marts.fct_funnel_daily WHERE merchant_id = ? AND funnel_date BETWEEN ? AND ?""",
        [merchant_id, first, last],
    ).fetchone()


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize(
    ("language", "title", "stages", "conversion"),
    [
        ("zh", "转化漏斗", ("访问", "浏览商品", "加购", "下单"), "访问转化率"),
        ("en", "Conversion funnel", ("Visits", "Product views", "Cart adds", "Purchases"), "Visitor conversion"),
    ],
)
def test_the_stages_are_the_sessions_of_the_last_90_days(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    title: str,
    stages: tuple[str, ...],
    conversion: str,
    role: str,
) -> None:
    merchant_id, as_of = busiest_shop(serving)
    sessions = stage_sessions(serving, merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of)
    assert sessions[0] > 0

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, language, role=role)

    assert not app.exception
    assert [heading.value for heading in app.title] == [title]
    assert [metric_value(app, stage) for stage in stages] == [f"{count:,}" for count in sessions]
    assert metric_value(app, conversion) == f"{sessions[3] / sessions[0]:.1%}"


def test_the_url_sets_the_dates_and_grain_and_bad_values_are_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = busiest_shop(serving)
    first = as_of - timedelta(days=27)
    sessions = stage_sessions(serving, merchant_id, first, as_of)
    (months,) = serving.execute(
        """SELECT count(DISTINCT date_trunc('month', funnel_date)) FROM marts.fct_funnel_daily
           WHERE merchant_id = ? AND funnel_date BETWEEN ? AND ?""",
        [merchant_id, first, as_of],
    ).fetchone()

    query = {"funnel_dates": [first.isoformat(), as_of.isoformat()], "funnel_period": "month"}
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query=query)

    assert not app.exception
    assert metric_value(app, "访问") == f"{sessions[0]:,}"
    trend = table_of(app, "visit_to_view_rate").value
    assert len(trend) == months
    assert trend["purchase_sessions"].sum() == sessions[3]

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query={"funnel_period": "fortnight"})

    assert not app.exception
    (weeks,) = serving.execute(
        """SELECT count(DISTINCT date_trunc('week', funnel_date)) FROM marts.fct_funnel_daily
           WHERE merchant_id = ? AND funnel_date BETWEEN ? AND ?""",
        [merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of],
    ).fetchone()
    assert len(table_of(app, "visit_to_view_rate").value) == weeks


def test_sku_conversion_and_repurchase_match_the_marts(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = busiest_shop(serving)
    sku_views = dict(
        serving.execute(
            """SELECT sku_code, sum(product_view_sessions) FROM marts.fct_funnel_sku_daily
               WHERE merchant_id = ? AND funnel_date BETWEEN ? AND ? GROUP BY sku_code""",
            [merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of],
        ).fetchall()
    )
    repurchase = serving.execute(
        """SELECT repurchase_rate FROM marts.fct_funnel_repurchase
           WHERE merchant_id = ? AND period_grain = 'month' ORDER BY period_start""",
        [merchant_id],
    ).fetchall()

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    assert not app.exception
    skus = table_of(app, "view_to_purchase_rate").value
    assert dict(zip(skus["sku_code"], skus["product_view_sessions"], strict=True)) == sku_views
    months = table_of(app, "new_customer_repurchase_rate").value
    assert list(months["repurchase_rate"]) == pytest.approx([row[0] for row in repurchase], nan_ok=True)


def test_the_sku_table_downloads_as_a_formula_safe_workbook(
    pipeline_run: PipelineRun,
    formula_home: Path,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    merchant_id, _ = busiest_shop(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, "en", home=formula_home)
    assert not app.exception

    sheet = downloaded_sheet(app, downloads, "download_funnel_skus")
    assert header(sheet)[:3] == ["SKU", "Product", "Product views"]
    assert len(sheet_rows(sheet)) == len(table_of(app, "view_to_purchase_rate").value)
    assert assert_formula_safe(sheet) > 0


def test_a_merchant_without_rows_is_told_so(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    merchant_id, _ = busiest_shop(serving)
    home = home_without_rows(pipeline_run, tmp_path, merchant_id)

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=home)

    assert_empty_state(app, "该商户还没有店铺访问数据。")


def test_the_page_is_for_its_roles() -> None:
    assert roles_seeing(PAGE) == {"owner", "sales", "admin"}
