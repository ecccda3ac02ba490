"""The Sales page (销售分析) as a merchant sees it, in both languages, against the serving copy.

Expected numbers are queried from the serving file here, independently of the page's own queries.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
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
    table_with,
)
from tests.test_dashboard_apptest import metric_value, money_metric_amount, serving, yuan

__all__ = ["downloads", "formula_home", "serving"]

PAGE = "sales"
DEFAULT_DAYS = 365


def busiest_merchant(serving: duckdb.DuckDBPyConnection) -> tuple[int, date]:
    return serving.execute(
        """SELECT m.merchant_id, m.as_of FROM marts.dim_merchants m
           JOIN marts.fct_merchant_daily_sales s USING (merchant_id)
           GROUP BY m.merchant_id, m.as_of ORDER BY sum(s.revenue) DESC LIMIT 1"""
    ).fetchone()


def totals(serving: duckdb.DuckDBPyConnection, merchant_id: int, first: date, last: date) -> tuple[Decimal, int]:
    revenue, orders = serving.execute(
        """SELECT coalesce(sum(revenue), 0), coalesce(sum(orders), 0) FROM marts.fct_merchant_daily_sales
           WHERE merchant_id = ? AND sales_date BETWEEN ? AND ?""",
        [merchant_id, first, last],
    ).fetchone()
    return Decimal(revenue), int(orders)


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize(
    ("language", "title", "labels", "foreign"),
    [
        ("zh", "销售分析", {"销售趋势", "品类分析", "区域分布", "商品排行"}, "Revenue"),
        ("en", "Sales analysis", {"Sales trend", "Categories", "Regions", "Product ranking"}, "营业额"),
    ],
)
def test_the_page_shows_the_last_year_of_the_merchants_sales(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    title: str,
    labels: set[str],
    foreign: str,
    role: str,
) -> None:
    merchant_id, as_of = busiest_merchant(serving)
    revenue, orders = totals(serving, merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of)
    assert revenue > 0

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, language, role=role)

    assert not app.exception
    assert [heading.value for heading in app.title] == [title]
    assert labels <= {heading.value for heading in app.subheader}
    metric_labels = [metric.label for metric in app.metric]
    assert foreign not in metric_labels
    assert money_metric_amount(app, metric_labels[0]) == yuan(revenue)
    assert metric_value(app, metric_labels[1]) == f"{orders:,}"


def test_category_names_stay_chinese_in_english(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = busiest_merchant(serving)
    names = {
        row[0]
        for row in serving.execute(
            """SELECT DISTINCT category_name FROM marts.fct_category_period_sales
               WHERE merchant_id = ? AND category_level = 1 AND period = 'day' AND period_start BETWEEN ? AND ?""",
            [merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of],
        ).fetchall()
    }

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, "en")

    assert not app.exception
    shown = set(table_of(app, "category_name").value["category_name"])
    assert shown == names


def test_channels_split_the_revenue_by_price_tier_and_by_order_source(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = busiest_merchant(serving)
    revenue, _ = totals(serving, merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of)
    labels = {"retail": "零售", "wholesale": "批发", "member": "会员", "platform": "平台订单", "import": "导入的历史"}
    expected = dict(
        serving.execute(
            """SELECT channel, sum(revenue) FROM marts.fct_channel_period_sales
               WHERE merchant_id = ? AND period = 'day' AND period_start BETWEEN ? AND ? GROUP BY channel""",
            [merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of],
        ).fetchall()
    )

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    assert not app.exception
    channels = table_with(app, "渠道").value
    shown = dict(zip(channels["channel"], channels["revenue"], strict=True))
    assert shown == pytest.approx({labels[channel]: float(value) for channel, value in expected.items()})
    for dimension in ("价格类型", "订单来源"):
        assert channels.loc[channels["channel_type"] == dimension, "revenue"].sum() == pytest.approx(float(revenue))


def test_the_url_sets_the_dates_grain_and_drill_down_and_bad_values_are_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = busiest_merchant(serving)
    first, last = as_of - timedelta(days=59), as_of - timedelta(days=30)
    revenue, _ = totals(serving, merchant_id, first, last)
    category, skus = serving.execute(
        """SELECT p.category_l1, list(DISTINCT p.sku_code ORDER BY p.sku_code) FROM marts.fct_daily_sales s
           JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.product_id = s.product_id
           WHERE s.merchant_id = ? AND s.sales_date BETWEEN ? AND ?
           GROUP BY p.category_l1 ORDER BY sum(s.revenue) ASC LIMIT 1""",
        [merchant_id, first, last],
    ).fetchone()
    (weeks,) = serving.execute(
        """SELECT count(*) FROM marts.fct_merchant_period_sales
           WHERE merchant_id = ? AND period = 'week' AND period_end >= ? AND period_start <= ?""",
        [merchant_id, first, last],
    ).fetchone()

    query = {"sales_dates": [first.isoformat(), last.isoformat()], "sales_period": "week", "sales_category_1": category}
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query=query)

    assert not app.exception
    assert money_metric_amount(app, "营业额") == yuan(revenue)
    assert len(table_with(app, "周期开始").value) == weeks
    assert sorted(table_with(app, "三级品类").value["sku_code"]) == list(skus)

    bad = {"sales_dates": ["2000-01-01", "not a day"], "sales_period": "'; DROP TABLE x; --", "merchant_id": "0"}
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query=bad)

    assert not app.exception
    default_revenue, _ = totals(serving, merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of)
    assert money_metric_amount(app, "营业额") == yuan(default_revenue)
    (months,) = serving.execute(
        """SELECT count(*) FROM marts.fct_merchant_period_sales
           WHERE merchant_id = ? AND period = 'month' AND period_end >= ? AND period_start <= ?""",
        [merchant_id, as_of - timedelta(days=DEFAULT_DAYS - 1), as_of],
    ).fetchone()
    assert len(table_with(app, "周期开始").value) == months
    assert "sales_period" not in app.query_params


def test_choosing_a_grain_writes_it_to_the_url(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = busiest_merchant(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    app.button_group(key="sales_period").set_value("quarter").run()

    assert not app.exception
    assert app.query_params["sales_period"] == "quarter"
    assert "merchant_id" not in app.query_params


def test_the_tables_download_as_formula_safe_workbooks(
    pipeline_run: PipelineRun,
    formula_home: Path,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    merchant_id, _ = busiest_merchant(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=formula_home)
    assert not app.exception

    trend = downloaded_sheet(app, downloads, "download_sales_trend")
    assert header(trend)[:3] == ["周期开始", "周期结束", "订单数"]
    assert trend.freeze_panes == "A2"
    shown = table_with(app, "周期开始").value
    assert [row[0].date() for row in sheet_rows(trend)] == [day.date() for day in shown["period_start"]]
    assert trend["A2"].number_format == "yyyy-mm-dd"
    assert trend["F2"].number_format == '"¥"#,##0.00'
    assert [row[5] for row in sheet_rows(trend)] == pytest.approx([float(value) for value in shown["revenue"]])

    ranking = downloaded_sheet(app, downloads, "download_sales_ranking")
    assert "商品名称" in header(ranking)
    assert assert_formula_safe(ranking) == len(sheet_rows(ranking)) > 0


def test_a_merchant_without_rows_is_told_so(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    merchant_id, _ = busiest_merchant(serving)
    home = home_without_rows(pipeline_run, tmp_path, merchant_id)

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=home)

    assert_empty_state(app, "该商户还没有销售记录。")


def test_the_page_is_for_its_roles() -> None:
    assert roles_seeing(PAGE) == {"owner", "sales", "admin"}
