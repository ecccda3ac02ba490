"""The overview page as a merchant sees it, driven through Streamlit's AppTest.

The serving copy comes from the real pipeline (fixture `serving_home`); expected numbers are
queried from that same file here, independently of the dashboard's own query code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Dataframe

from dashboards import formatting
from tests.conftest import PipelineRun
from tests.dashboard_signin import sign_in_as

APP = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
FORECAST_PAGE = "app_pages/forecast.py"
# The first run imports pandas, altair and DuckDB and reads the whole serving copy.
RUN_TIMEOUT = 60
ANY_FLAG = (
    "(is_slow_moving OR near_expiry_level IS NOT NULL OR expired_quantity > 0 OR is_low_stock OR is_out_of_stock)"
)


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("COOPCAST_HOME", str(home))
    monkeypatch.setenv("COOPCAST_WAREHOUSE", str(home / "warehouse.duckdb"))


@pytest.fixture
def serving(serving_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


@pytest.fixture
def app(pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """A platform admin's session, which picks the merchant in the sidebar."""
    use_home(monkeypatch, pipeline_run.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    return sign_in_as(app, monkeypatch, pipeline_run.database_url, "admin")


def show_merchant(app: AppTest, merchant_id: int) -> AppTest:
    return app.sidebar.selectbox(key="merchant_id").set_value(merchant_id).run()


def metric_value(app: AppTest, label: str) -> str:
    values = [metric.value for metric in app.metric if metric.label == label]
    assert len(values) == 1, f"expected one metric {label!r}, found {[m.label for m in app.metric]}"
    return values[0]


def money_metric_amount(app: AppTest, label: str) -> str:
    """A money card's exact amount, read from its tooltip, once the card is seen to show it in the
    short form that fits it (¥55.3万 / ¥553k)."""
    metrics = [metric for metric in app.metric if metric.label == label]
    assert len(metrics) == 1, f"expected one metric {label!r}, found {[m.label for m in app.metric]}"
    tooltip = metrics[0].proto.help
    exact = re.search(r"(精确金额：|Exact amount: )(-?)¥([\d,]+\.\d\d)$", tooltip)
    assert exact, tooltip
    language = "zh" if exact.group(1) == "精确金额：" else "en"
    amount = Decimal(exact.group(2) + exact.group(3).replace(",", ""))
    assert metrics[0].value == formatting.money_headline(amount, language)
    return yuan(amount)


def column_labels(table: Dataframe) -> set[str]:
    """The column headers the user sees (st.column_config labels)."""
    return {column.get("label") for column in json.loads(table.proto.columns or "{}").values()}


def yuan(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def last_30_days_revenue(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> Decimal:
    (as_of,) = serving.execute("SELECT as_of FROM marts.dim_merchants WHERE merchant_id = ?", [merchant_id]).fetchone()
    (revenue,) = serving.execute(
        "SELECT coalesce(sum(revenue), 0) FROM marts.fct_daily_sales"
        " WHERE merchant_id = ? AND sales_date > ? AND sales_date <= ?",
        [merchant_id, as_of - timedelta(days=30), as_of],
    ).fetchone()
    return Decimal(revenue)


def test_the_overview_speaks_chinese_by_default(app: AppTest) -> None:
    assert not app.exception
    assert {"营业额", "毛利率", "预警商品"} <= {metric.label for metric in app.metric}
    assert {"销售趋势", "库存预警", "需求预测"} <= {header.value for header in app.subheader}


def test_the_toggle_switches_every_label_to_english(app: AppTest) -> None:
    app.sidebar.radio(key="language").set_value("en").run()

    assert not app.exception
    labels = {metric.label for metric in app.metric}
    assert {"Revenue", "Gross margin", "Flagged products"} <= labels
    assert not labels & {"营业额", "毛利率", "预警商品"}
    assert {"Sales trend", "Stock alerts", "Demand forecast"} <= {header.value for header in app.subheader}


def test_revenue_is_the_chosen_merchants_sales_of_the_last_30_days(
    app: AppTest, serving: duckdb.DuckDBPyConnection
) -> None:
    merchant_ids = [row[0] for row in serving.execute("SELECT merchant_id FROM marts.dim_merchants").fetchall()]
    expected = {merchant_id: last_30_days_revenue(serving, merchant_id) for merchant_id in merchant_ids}
    assert any(expected.values()), "no merchant sold anything in its last 30 days"

    for merchant_id, revenue in expected.items():
        show_merchant(app, merchant_id)
        assert not app.exception
        assert money_metric_amount(app, "营业额") == yuan(revenue), f"merchant {merchant_id}"


def test_flagged_stock_lists_the_merchants_flagged_products(app: AppTest, serving: duckdb.DuckDBPyConnection) -> None:
    flagged = serving.execute(
        f"""SELECT merchant_id, list(DISTINCT sku_code) FROM marts.fct_inventory_flags f
            WHERE as_of = (SELECT max(as_of) FROM marts.fct_inventory_flags WHERE merchant_id = f.merchant_id)
              AND {ANY_FLAG}
            GROUP BY merchant_id ORDER BY count(*) DESC LIMIT 1"""
    ).fetchone()
    assert flagged, "the pipeline flagged no stock at all"
    merchant_id, skus = flagged
    show_merchant(app, merchant_id)

    assert not app.exception
    tables = [table for table in app.dataframe if "滞销" in column_labels(table)]
    assert len(tables) == 1
    assert {"商品编码", "商品名称", "临期", "低库存"} <= column_labels(tables[0])
    assert set(tables[0].value["sku_code"]) == set(skus)
    assert metric_value(app, "预警商品") == f"{len(skus):,}"


def test_the_replenishment_workbook_can_be_downloaded(app: AppTest, serving_home: Path, serving) -> None:
    codes = {path.name.split("_")[1] for path in (serving_home / "exports").glob("replenishment_*_*.xlsx")}
    merchants = dict(serving.execute("SELECT merchant_code, merchant_id FROM marts.dim_merchants").fetchall())
    assert codes & merchants.keys(), "the pipeline exported no workbook for any merchant"
    show_merchant(app, merchants[sorted(codes & merchants.keys())[0]])
    app.switch_page(FORECAST_PAGE).run()

    assert not app.exception
    assert "下载补货表" in [button.label for button in app.download_button]


def test_forecast_accuracy_is_one_minus_the_monthly_sku_wape_with_its_definition(
    app: AppTest, serving: duckdb.DuckDBPyConnection
) -> None:
    for merchant_id, as_of in serving.execute("SELECT merchant_id, as_of FROM marts.dim_merchants").fetchall():
        # Recomputed from the backtest rows themselves: the chosen option at the last origin.
        errors = serving.execute(
            """SELECT sum(abs(forecast_units - actual_units)), sum(actual_units) FROM ml.forecast_backtests
               WHERE merchant_id = ? AND as_of = ? AND chosen AND horizon_bucket = 'all'
                 AND origin = (SELECT max(origin) FROM ml.forecast_backtests WHERE merchant_id = ? AND as_of = ?)""",
            [merchant_id, as_of, merchant_id, as_of],
        ).fetchone()
        show_merchant(app, merchant_id)
        assert not app.exception
        if errors[1]:
            shown = [metric for metric in app.metric if metric.label == "预测准确率"]
            assert len(shown) == 1
            # From 0: a month's forecasts off by more than what sold read 0 %, the error itself in the help.
            wape = errors[0] / errors[1]
            assert shown[0].value == f"{max(1 - wape, 0):.1%}", f"merchant {merchant_id}"
            assert "1 − 月度商品级WAPE" in shown[0].proto.help
            assert f"实际销量的 {wape:.1%}" in shown[0].proto.help


def test_the_overview_leads_to_the_forecast_page_whose_default_product_has_a_forecast_chart(app: AppTest) -> None:
    assert not app.exception
    assert [link.proto.label for link in app.page_link] == ["各商品预测与补货建议"]

    app.switch_page(FORECAST_PAGE).run()

    assert not app.exception
    assert not [info.value for info in app.info if "预测结果" in info.value]
    assert any("80%" in caption.value for caption in app.caption)


def test_without_a_serving_copy_the_page_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(monkeypatch, tmp_path)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception
    assert any("coopcast run" in info.value for info in app.info)
    assert not app.metric


def test_the_kpi_window_ends_on_the_merchants_as_of(app: AppTest, serving: duckdb.DuckDBPyConnection) -> None:
    merchant_id = app.sidebar.selectbox(key="merchant_id").value
    (as_of,) = serving.execute("SELECT as_of FROM marts.dim_merchants WHERE merchant_id = ?", [merchant_id]).fetchone()
    first: date = as_of - timedelta(days=29)
    assert f"近30天：{first.isoformat()} 至 {as_of.isoformat()}" in [caption.value for caption in app.caption]
