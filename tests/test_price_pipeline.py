"""Price trends through the real pipeline on the tiny simulated network."""

from __future__ import annotations

from tests.conftest import PipelineRun, warehouse_rows


def test_every_sku_gets_cost_and_shelf_price_signals(pipeline_run: PipelineRun) -> None:
    warehouse = pipeline_run.home / "warehouse.duckdb"
    skus = warehouse_rows(warehouse, "SELECT count(*) FROM marts.dim_products")[0][0]
    signals = warehouse_rows(
        warehouse,
        "SELECT price_kind, count(*), count(*) FILTER (WHERE hint IN ('buy_ahead', 'wait', 'neutral')"
        " AND reason_zh <> '') FROM ml.price_signals WHERE level = 'sku' GROUP BY price_kind ORDER BY price_kind",
    )
    assert signals == [("cost", skus, skus), ("selling", skus, skus)]


def test_outlook_months_follow_history_with_nested_positive_bounds(pipeline_run: PipelineRun) -> None:
    warehouse = pipeline_run.home / "warehouse.duckdb"
    (bad_bounds, outlook_rows, first_outlook, last_history) = warehouse_rows(
        warehouse,
        "SELECT count(*) FILTER (WHERE is_outlook AND NOT (0 < lower_95 AND lower_95 <= lower_80"
        " AND lower_80 <= outlook AND outlook <= upper_80 AND upper_80 <= upper_95)),"
        " count(*) FILTER (WHERE is_outlook),"
        " min(month) FILTER (WHERE is_outlook), max(month) FILTER (WHERE NOT is_outlook)"
        " FROM ml.price_trends",
    )[0]
    assert outlook_rows > 0 and bad_bounds == 0
    assert first_outlook > last_history


def test_the_evaluation_scores_the_outlook_and_the_injected_shocks(pipeline_run: PipelineRun) -> None:
    metrics = dict(
        warehouse_rows(
            pipeline_run.home / "warehouse.duckdb",
            "SELECT metric, count(*) FROM ml.price_evaluation GROUP BY metric",
        )
    )
    assert metrics["outlook_vs_no_change"] >= 1
    assert metrics["change_point_recall"] == 1
