"""The churn-warning and price-trend pages as a merchant sees them, driven through Streamlit's AppTest.

The serving copy comes from the real pipeline (fixture `serving_home`); expected values are
queried from that same file here, independently of the dashboard's own query code.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Dataframe

from tests.conftest import PipelineRun
from tests.dashboard_pages import downloaded_sheet, downloads, header, sheet_rows, table_of
from tests.dashboard_sessions import open_as
from tests.dashboard_signin import sign_in_as
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, column_labels, metric_value, show_merchant, use_home, yuan

__all__ = ["downloads"]

CHURN_PAGE = "app_pages/customers.py"
PRICES_PAGE = "app_pages/prices.py"
STATUS_LABELS = {"active": "正常", "at_risk": "有流失风险", "sleeping": "沉睡", "lost": "已流失"}
CHINESE_STATUSES = set(STATUS_LABELS.values())
CHINESE_REASONS = {"久未购买", "购买次数减少", "购买金额减少", "购买品类变少"}
REASON_CODES = {"long_silence", "falling_frequency", "falling_amount", "fewer_categories"}


@pytest.fixture
def serving(serving_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(serving_home / "serving" / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


@pytest.fixture
def app(pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    use_home(monkeypatch, pipeline_run.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    return sign_in_as(app, monkeypatch, pipeline_run.database_url, "admin")


def open_page(app: AppTest, page: str, language: str = "zh") -> AppTest:
    app.switch_page(page)
    app.sidebar.radio(key="language").set_value(language)
    return app.run()


def merchants(serving: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, object]]:
    rows = serving.execute("SELECT merchant_code, merchant_id, as_of FROM marts.dim_merchants").fetchall()
    return {code: (merchant_id, as_of) for code, merchant_id, as_of in rows}


def warned_customers(serving: duckdb.DuckDBPyConnection, merchant_id: int, as_of: object) -> set[tuple[str, str]]:
    rows = serving.execute(
        """SELECT s.customer_code, c.customer_name FROM ml.churn_scores s
           JOIN marts.dim_customers c ON c.merchant_id = s.merchant_id AND c.customer_code = s.customer_code
           WHERE s.merchant_id = ? AND s.as_of = ? AND s.status <> 'active'""",
        [merchant_id, as_of],
    ).fetchall()
    return set(rows)


def statuses_of(serving: duckdb.DuckDBPyConnection, merchant_id: int, as_of: object) -> set[str]:
    """The statuses the merchant's warned customers are in."""
    rows = serving.execute(
        "SELECT DISTINCT status FROM ml.churn_scores WHERE merchant_id = ? AND as_of = ? AND status <> 'active'",
        [merchant_id, as_of],
    ).fetchall()
    return {status for (status,) in rows}


def customer_table(app: AppTest, code_label: str) -> Dataframe:
    tables = [table for table in app.dataframe if code_label in column_labels(table)]
    assert len(tables) == 1, f"expected one customer table, found {[column_labels(t) for t in app.dataframe]}"
    return tables[0]


def test_the_churn_page_speaks_chinese_with_counts_validation_and_reasons(
    app: AppTest, serving: duckdb.DuckDBPyConnection
) -> None:
    merchant_id, as_of = merchants(serving)["M001"]
    show_merchant(app, merchant_id)
    open_page(app, CHURN_PAGE)

    assert not app.exception
    assert [title.value for title in app.title] == ["客户预警"]
    counts = dict(
        serving.execute(
            "SELECT status, count(*) FROM ml.churn_scores WHERE merchant_id = ? AND as_of = ? GROUP BY status",
            [merchant_id, as_of],
        ).fetchall()
    )
    for status, label in (("active", "正常"), ("at_risk", "有流失风险"), ("sleeping", "沉睡"), ("lost", "已流失")):
        assert metric_value(app, label) == f"{counts.get(status, 0):,}"

    table = customer_table(app, "客户编码")
    assert {"客户名称", "价值等级", "未购买天数", "流失风险", "预计购买次数", "原因"} <= column_labels(table)
    shown = table.value
    assert list(shown["churn_risk"]) == sorted(shown["churn_risk"], reverse=True)
    assert set(shown["status"]) <= CHINESE_STATUSES - {"正常"}
    reasons = {reason for cell in shown["reasons"] if cell for reason in cell.split("、")}
    assert reasons, "no warned customer has a reason"
    assert reasons <= CHINESE_REASONS

    (auc,) = serving.execute(
        """SELECT auc FROM ml.churn_evaluation
           WHERE merchant_id = ? AND as_of = ? AND truth = 'observed' AND model = 'chosen'""",
        [merchant_id, as_of],
    ).fetchone()
    assert any(f"验证AUC {auc:.2f}" in caption.value for caption in app.caption)
    assert [button.label for button in app.get("download_button")] == ["下载 Excel"]


def test_the_churn_page_in_english_has_no_chinese_labels(app: AppTest) -> None:
    open_page(app, CHURN_PAGE, "en")

    assert not app.exception
    assert [title.value for title in app.title] == ["Churn warnings"]
    labels = {metric.label for metric in app.metric}
    assert labels == {"Active", "At risk", "Sleeping", "Lost"}
    shown = customer_table(app, "Customer code").value
    reasons = {reason for cell in shown["reasons"] if cell for reason in cell.split(", ")}
    assert reasons
    assert not reasons & (CHINESE_REASONS | REASON_CODES)
    assert not set(shown["status"]) & CHINESE_STATUSES


def test_each_merchant_sees_only_its_own_customers(app: AppTest, serving: duckdb.DuckDBPyConnection) -> None:
    expected = {code: warned_customers(serving, *ids) for code, ids in merchants(serving).items()}
    assert len(expected) >= 2
    assert len({frozenset(customers) for customers in expected.values()}) == len(expected), "merchants look alike"
    open_page(app, CHURN_PAGE)

    for code, (merchant_id, _) in merchants(serving).items():
        show_merchant(app, merchant_id)
        assert not app.exception
        shown = customer_table(app, "客户编码").value
        assert set(zip(shown["customer_code"], shown["customer_name"], strict=True)) == expected[code], code


def test_the_status_filter_keeps_only_the_chosen_status(app: AppTest, serving: duckdb.DuckDBPyConnection) -> None:
    merchant_id, as_of = merchants(serving)["M001"]
    show_merchant(app, merchant_id)
    open_page(app, CHURN_PAGE)
    (lost,) = serving.execute(
        "SELECT count(*) FROM ml.churn_scores WHERE merchant_id = ? AND as_of = ? AND status = 'lost'",
        [merchant_id, as_of],
    ).fetchone()
    assert lost, "the tiny network has no lost customer to filter on"

    app.multiselect(key="churn_statuses").set_value(["lost"]).run()

    assert not app.exception
    shown = customer_table(app, "客户编码").value
    assert len(shown) == lost
    assert set(shown["status"]) == {"已流失"}


@pytest.mark.parametrize(
    ("in_url", "statuses"),
    [(["lost"], {"已流失"}), (["sleeping", "lost"], {"沉睡", "已流失"}), (["gone", "active"], None)],
    ids=["one", "two", "unknown or not warned"],
)
def test_the_status_filter_comes_from_the_url(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    in_url: list[str],
    statuses: set[str] | None,
) -> None:
    merchant_id, as_of = merchants(serving)["M001"]
    warned = {STATUS_LABELS[status] for status in statuses_of(serving, merchant_id, as_of)}

    app = open_as(pipeline_run, monkeypatch, "customers", merchant_id, query={"churn_statuses": in_url})

    assert not app.exception
    assert set(customer_table(app, "客户编码").value["status"]) == (warned & statuses if statuses else warned)
    assert ("churn_statuses" in app.query_params) is bool(statuses)


def test_a_new_status_choice_is_written_to_the_url(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    app = open_as(pipeline_run, monkeypatch, "customers", merchant_id)

    app.multiselect(key="churn_statuses").set_value(["sleeping", "lost"]).run()

    assert not app.exception
    assert app.query_params["churn_statuses"] == ["sleeping", "lost"]


def selected_signal(app: AppTest, serving: duckdb.DuckDBPyConnection, merchant_id: int, price_kind: str) -> tuple:
    sku_code = app.selectbox(key="price_sku").value
    return serving.execute(
        """SELECT last_price, reason_zh, reason FROM ml.price_signals
           WHERE merchant_id = ? AND level = 'sku' AND sku_code = ? AND price_kind = ?
           ORDER BY as_of DESC LIMIT 1""",
        [merchant_id, sku_code, price_kind],
    ).fetchone()


def test_the_price_page_shows_the_chosen_products_cost_trend_in_chinese(
    app: AppTest, serving: duckdb.DuckDBPyConnection
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    show_merchant(app, merchant_id)
    open_page(app, PRICES_PAGE)

    assert not app.exception
    assert [title.value for title in app.title] == ["价格趋势"]
    assert app.radio(key="price_kind").value == "cost"
    last_price, reason_zh, _ = selected_signal(app, serving, merchant_id, "cost")
    assert metric_value(app, "最新价格") == yuan(Decimal(str(last_price)))
    assert {"环比", "同比"} <= {metric.label for metric in app.metric}
    assert any(label.startswith("未来") and label.endswith("天预计变化") for label in (m.label for m in app.metric))
    assert any(reason_zh in info.value for info in app.info)
    assert any(caption.value.startswith("全网「") and "进价指数" in caption.value for caption in app.caption)
    assert len(app.get("vega_lite_chart")) == 1
    assert "采购时机提示" in [header.value for header in app.subheader]


def test_switching_to_the_selling_price_in_english(app: AppTest, serving: duckdb.DuckDBPyConnection) -> None:
    merchant_id, _ = merchants(serving)["M002"]
    show_merchant(app, merchant_id)
    open_page(app, PRICES_PAGE, "en")
    app.radio(key="price_kind").set_value("selling").run()

    assert not app.exception
    assert [title.value for title in app.title] == ["Price trends"]
    last_price, _, reason = selected_signal(app, serving, merchant_id, "selling")
    assert metric_value(app, "Latest price") == yuan(Decimal(str(last_price)))
    assert any(reason in info.value for info in app.info)
    assert "Buying-time hints" in [header.value for header in app.subheader]


def test_the_hint_list_names_the_products_to_buy_ahead_or_wait_for(
    app: AppTest, serving: duckdb.DuckDBPyConnection
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    (hinted,) = serving.execute(
        """SELECT list(DISTINCT sku_code) FROM ml.price_signals
           WHERE merchant_id = ? AND level = 'sku' AND hint IN ('buy_ahead', 'wait')
             AND as_of = (SELECT max(as_of) FROM ml.price_signals WHERE merchant_id = ?)""",
        [merchant_id, merchant_id],
    ).fetchone()
    show_merchant(app, merchant_id)
    open_page(app, PRICES_PAGE)

    assert not app.exception
    tables = [table for table in app.dataframe if "提示" in column_labels(table)]
    if hinted:
        assert len(tables) == 1
        assert set(tables[0].value["sku_code"]) == set(hinted)
    else:
        assert not tables
        assert any("没有建议提前采购或暂缓采购" in info.value for info in app.info)


def price_skus_by_name(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> list[str]:
    """The SKUs of the merchant's newest price signals, by name, as the SKU picker lists them."""
    rows = serving.execute(
        """SELECT DISTINCT s.sku_code, coalesce(p.sku_name, s.sku_code) AS sku_name FROM ml.price_signals s
           LEFT JOIN marts.dim_products p ON p.merchant_id = s.merchant_id AND p.sku_code = s.sku_code
           WHERE s.merchant_id = ? AND s.level = 'sku'
             AND s.as_of = (SELECT max(as_of) FROM ml.price_signals WHERE merchant_id = ? AND level = 'sku')
           ORDER BY sku_name, s.sku_code""",
        [merchant_id, merchant_id],
    ).fetchall()
    return [code for code, _ in rows]


def test_the_product_and_price_kind_come_from_the_url(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    skus = price_skus_by_name(serving, merchant_id)
    assert len(skus) >= 2, "the merchant has one priced SKU: the URL could not choose another"

    app = open_as(
        pipeline_run, monkeypatch, "prices", merchant_id, query={"price_sku": skus[-1], "price_kind": "selling"}
    )

    assert not app.exception
    assert app.selectbox(key="price_sku").value == skus[-1]
    assert app.radio(key="price_kind").value == "selling"
    last_price, _, _ = selected_signal(app, serving, merchant_id, "selling")
    assert metric_value(app, "最新价格") == yuan(Decimal(str(last_price)))


def test_a_product_of_another_merchant_or_an_unknown_price_kind_in_the_url_is_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    other_id, _ = merchants(serving)["M002"]
    own = price_skus_by_name(serving, merchant_id)
    foreign = sorted(set(price_skus_by_name(serving, other_id)) - set(own))
    assert foreign, "the merchants price the same SKUs"

    query = {"price_sku": foreign[0], "price_kind": "wholesale"}
    app = open_as(pipeline_run, monkeypatch, "prices", merchant_id, query=query)

    assert not app.exception
    assert app.selectbox(key="price_sku").value == own[0]
    assert app.radio(key="price_kind").value == "cost"
    assert not {"price_sku", "price_kind"} & set(app.query_params)


def test_a_new_product_and_price_kind_are_written_to_the_url(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    skus = price_skus_by_name(serving, merchant_id)
    app = open_as(pipeline_run, monkeypatch, "prices", merchant_id)

    app.selectbox(key="price_sku").set_value(skus[-1]).run()
    app.radio(key="price_kind").set_value("selling").run()

    assert not app.exception
    assert (app.query_params["price_sku"], app.query_params["price_kind"]) == (skus[-1], "selling")


def app_on_a_changed_copy(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str
) -> AppTest:
    """An admin's session on a copy of the serving file changed by `sql`, as an older or emptier publication."""
    home = tmp_path / "home"
    (home / "serving").mkdir(parents=True)
    copy = home / "serving" / "warehouse.duckdb"
    shutil.copyfile(pipeline_run.home / "serving" / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute(sql)
    use_home(monkeypatch, home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    return sign_in_as(app, monkeypatch, pipeline_run.database_url, "admin")


def test_the_hint_list_downloads_as_shown(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    merchant_id, _ = merchants(serving)["M001"]
    (signals,) = serving.execute(
        """SELECT count(*) FROM ml.price_signals WHERE merchant_id = ? AND level = 'sku'
             AND as_of = (SELECT max(as_of) FROM ml.price_signals WHERE merchant_id = ? AND level = 'sku')""",
        [merchant_id, merchant_id],
    ).fetchone()
    # The tiny network's prices barely move, so every hint is neutral: here a rising price says
    # buy ahead and a falling one wait.
    app = app_on_a_changed_copy(
        pipeline_run,
        tmp_path,
        monkeypatch,
        f"""UPDATE ml.price_signals SET hint = CASE WHEN outlook_change > 0 THEN 'buy_ahead' ELSE 'wait' END
            WHERE level = 'sku' AND merchant_id = {merchant_id}""",
    )
    show_merchant(app, merchant_id)
    open_page(app, PRICES_PAGE)

    assert not app.exception
    shown = table_of(app, "hint").value
    sheet = downloaded_sheet(app, downloads, "download_price_hints")
    columns = header(sheet)
    assert columns == ["商品编码", "商品名称", "价格类型", "提示", "最新价格", "预计变化", "预测天数", "说明"]
    rows = sheet_rows(sheet)
    assert len(rows) == len(shown) == signals
    assert [(row[0], row[2], row[3], row[7]) for row in rows] == list(
        zip(shown["sku_code"], shown["price_kind"], shown["hint"], shown["reason"], strict=True)
    )
    assert {row[3] for row in rows} == {"建议提前采购", "建议暂缓采购"}


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM ml.churn_scores; DELETE FROM ml.churn_evaluation; "
        "DELETE FROM ml.price_signals; DELETE FROM ml.price_trends",
        # A serving copy published before churn and prices existed.
        "DROP TABLE ml.churn_scores; DROP TABLE ml.churn_evaluation; "
        "DROP TABLE ml.price_signals; DROP TABLE ml.price_trends",
    ],
    ids=["no rows", "no tables"],
)
def test_a_merchant_without_scores_or_prices_is_told_so(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    app = app_on_a_changed_copy(pipeline_run, tmp_path, monkeypatch, sql)

    open_page(app, CHURN_PAGE)
    assert not app.exception
    assert any("还没有" in info.value and "客户流失评分" in info.value for info in app.info)
    assert not app.dataframe

    open_page(app, PRICES_PAGE)
    assert not app.exception
    assert any("还没有该商户的价格分析" in info.value for info in app.info)
    assert not app.metric
