"""The Forecast & replenishment page (预测与补货) as a merchant sees it, in both languages."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import REPO_ROOT, PipelineRun
from tests.dashboard_pages import table_of
from tests.dashboard_sessions import open_as, serving
from tests.test_dashboard_apptest import money_metric_amount, yuan

__all__ = ["serving"]

PAGE = "forecast"
MODEL_NAMES_ZH = {
    name
    for key, name in json.loads((REPO_ROOT / "dashboards/locales/zh/forecast.json").read_text(encoding="utf-8")).items()
    if key.startswith("fc_model_")
}


def suggestions(serving: duckdb.DuckDBPyConnection) -> dict[int, tuple[set[tuple[str, str]], int, Decimal]]:
    """Per merchant: the (SKU, warehouse) pairs to order, how many suppliers they go to, their value."""
    rows = serving.execute(
        """SELECT m.merchant_id, list((s.sku_code, s.warehouse_code)) FILTER (WHERE s.suggested_qty > 0),
                  count(DISTINCT s.supplier_code) FILTER (WHERE s.suggested_qty > 0),
                  coalesce(sum(s.suggested_value) FILTER (WHERE s.suggested_qty > 0), 0)
           FROM marts.dim_merchants m LEFT JOIN marts.fct_replenishment_suggestions s USING (merchant_id)
           GROUP BY m.merchant_id"""
    ).fetchall()
    return {
        merchant_id: ({tuple(pair) for pair in pairs or ()}, suppliers, value)
        for merchant_id, pairs, suppliers, value in rows
    }


def test_the_suggestions_are_grouped_by_supplier_with_their_value(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = suggestions(serving)
    assert any(pairs for pairs, _, _ in expected.values()), "the pipeline suggested no order at all"

    for merchant_id, (pairs, supplier_count, value) in expected.items():
        app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id)

        assert not app.exception
        assert [title.value for title in app.title] == ["预测与补货"]
        editors = [
            table.value
            for table in app.dataframe
            if "order_qty" in table.value.columns and "supplier_name" not in table.value.columns
        ]
        if not pairs:
            assert not editors
            assert any("没有需要补货的商品" in message.value for message in app.success)
            continue
        assert len(editors) == supplier_count
        shown = {(row.sku_code, row.warehouse_code) for editor in editors for row in editor.itertuples()}
        assert shown == pairs
        for editor in editors:
            assert list(editor["order_qty"]) == list(editor["suggested_qty"])
        assert money_metric_amount(app, "订货金额合计") == yuan(value)


def test_the_chosen_skus_backtest_and_accuracy_match_the_model_outputs(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of, sku_code, accuracy = serving.execute(
        """SELECT a.merchant_id, a.as_of, a.sku_code, a.sku_accuracy FROM marts.fct_forecast_accuracy a
           JOIN marts.dim_merchants m ON m.merchant_id = a.merchant_id AND m.as_of = a.as_of
           WHERE a.sku_accuracy IS NOT NULL ORDER BY a.actual_units DESC LIMIT 1"""
    ).fetchone()
    coverage = dict(
        serving.execute(
            """SELECT horizon_bucket, coverage_80 FROM ml.forecast_backtests
               WHERE merchant_id = ? AND sku_code = ? AND as_of = ? AND chosen
                 AND origin = (SELECT max(origin) FROM ml.forecast_backtests WHERE merchant_id = ? AND as_of = ?)""",
            [merchant_id, sku_code, as_of, merchant_id, as_of],
        ).fetchall()
    )
    assert coverage, "the SKU has no backtest"

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, query={"fc_sku": sku_code})

    assert not app.exception
    assert app.selectbox(key="fc_sku").value == sku_code
    backtest = table_of(app, "coverage_80").value
    buckets = {"1-7": "第1–7天", "8-14": "第8–14天", "15-28": "第15–28天", "all": "全部28天"}
    assert dict(zip(backtest["horizon_bucket"], backtest["coverage_80"], strict=True)) == pytest.approx(
        {buckets[bucket]: value for bucket, value in coverage.items()}
    )
    per_sku = table_of(app, "sku_accuracy").value.set_index("sku_code")
    assert per_sku.loc[sku_code, "sku_accuracy"] == pytest.approx(accuracy)
    # Models by the names a merchant reads, not the pipeline's codes.
    chosen_models = {
        code for (code,) in serving.execute("SELECT DISTINCT model FROM marts.fct_forecast_accuracy").fetchall()
    }
    assert not set(per_sku["model"].dropna()) & chosen_models
    assert set(per_sku["model"].dropna()) <= MODEL_NAMES_ZH
    assert any("80%" in caption.value for caption in app.caption)
    [chart_caption] = [caption.value for caption in app.caption if "模型：" in caption.value]
    assert chart_caption.split("模型：")[1] in MODEL_NAMES_ZH
    assert "下载补货表" in [button.label for button in app.download_button]


def test_an_sku_of_another_merchant_in_the_url_is_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    skus: dict[int, set[str]] = {}
    for merchant_id, sku_code in serving.execute("SELECT merchant_id, sku_code FROM marts.dim_products").fetchall():
        skus.setdefault(merchant_id, set()).add(sku_code)
    own = min(skus)
    other = min(
        set().union(*(codes for merchant_id, codes in skus.items() if merchant_id != own)) - skus[own], default=None
    )
    assert other, "every SKU of the other merchants is also sold by the first"

    app = open_as(pipeline_run, monkeypatch, PAGE, own, query={"fc_sku": other})

    assert not app.exception
    assert app.selectbox(key="fc_sku").value != other


def test_the_page_speaks_english_when_asked(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id = next(merchant_id for merchant_id, (pairs, _, _) in suggestions(serving).items() if pairs)

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, role="procurement", language="en")

    assert not app.exception
    assert [title.value for title in app.title] == ["Forecast & replenishment"]
    assert {"Demand forecast", "Forecast accuracy by product", "Replenishment suggestions"} <= {
        header.value for header in app.subheader
    }
    plan = table_of(app, "supplier_name").value
    assert set(plan["reason"]) <= {"Below reorder point", "Capped by shelf life", "Shelf-life cap below minimum order"}


@pytest.mark.parametrize(("role", "links"), [("procurement", 1), ("sales", 0), ("finance", 0)])
def test_the_overview_links_to_the_forecast_page_only_for_roles_that_may_open_it(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    links: int,
) -> None:
    merchant_id = serving.execute("SELECT min(merchant_id) FROM marts.dim_merchants").fetchone()[0]

    app = open_as(pipeline_run, monkeypatch, "overview", merchant_id, role=role)

    assert not app.exception
    assert [title.value for title in app.title] == ["经营概览"]
    assert len(app.page_link) == links
