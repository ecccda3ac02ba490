"""The Inventory page (库存管理) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

from datetime import date
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
)
from tests.test_dashboard_apptest import money_metric_amount, serving, yuan

__all__ = ["downloads", "formula_home", "serving"]

PAGE = "inventory"
EXPIRY_LABELS = {
    "expired": "已过期",
    "within_30_days": "30天内到期",
    "within_90_days": "90天内到期",
    "within_180_days": "180天内到期",
}


def merchant_with_expiring_stock(serving: duckdb.DuckDBPyConnection) -> tuple[int, date]:
    found = serving.execute(
        """SELECT m.merchant_id, m.as_of FROM marts.fct_near_expiry_batches b
           JOIN marts.dim_merchants m ON m.merchant_id = b.merchant_id AND m.as_of = b.as_of
           GROUP BY m.merchant_id, m.as_of ORDER BY count(DISTINCT b.expiry_class) DESC, count(*) DESC LIMIT 1"""
    ).fetchone()
    assert found, "the pipeline found no near-expiry batch at any merchant"
    return found


def one_value(serving: duckdb.DuckDBPyConnection, sql: str, params: list) -> Decimal:
    (value,) = serving.execute(sql, params).fetchone()
    return Decimal(value or 0)


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize(
    ("language", "title", "stock_value", "headings"),
    [
        ("zh", "库存管理", "库存金额", {"低库存", "临期商品", "滞销商品", "库龄", "库存周转"}),
        (
            "en",
            "Inventory",
            "Stock value",
            {"Low stock", "Near expiry", "Slow movers", "Stock ageing", "Inventory turnover"},
        ),
    ],
)
def test_stock_value_and_low_stock_are_the_merchants(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    title: str,
    stock_value: str,
    headings: set[str],
    role: str,
) -> None:
    merchant_id, as_of = merchant_with_expiring_stock(serving)
    value = one_value(
        serving,
        "SELECT sum(stock_value) FROM marts.fct_stock_positions WHERE merchant_id = ? AND as_of = ?",
        [merchant_id, as_of],
    )
    low = serving.execute(
        """SELECT sku_code, warehouse_code FROM marts.fct_low_stock_days
           WHERE merchant_id = ? AND as_of = ? AND window_days = 90 AND (is_low_stock OR is_stocked_out)""",
        [merchant_id, as_of],
    ).fetchall()

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, language, role=role)

    assert not app.exception
    assert [heading.value for heading in app.title] == [title]
    assert headings <= {heading.value for heading in app.subheader}
    assert money_metric_amount(app, stock_value) == yuan(value)
    if low:
        shown = table_of(app, "low_stock_threshold").value
        assert set(zip(shown["sku_code"], shown["warehouse_code"], strict=True)) == set(low)
    else:
        assert not [table for table in app.dataframe if "low_stock_threshold" in table.value.columns]
        assert len(app.success) >= 1


def test_value_at_risk_per_expiry_level(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = merchant_with_expiring_stock(serving)
    at_risk = {
        expiry_class: Decimal(value)
        for expiry_class, value in serving.execute(
            """SELECT expiry_class, sum(value_at_risk) FROM marts.fct_near_expiry_batches
               WHERE merchant_id = ? AND as_of = ? GROUP BY expiry_class""",
            [merchant_id, as_of],
        ).fetchall()
    }

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    assert not app.exception
    for expiry_class, label in EXPIRY_LABELS.items():
        assert money_metric_amount(app, label) == yuan(at_risk.get(expiry_class, Decimal(0))), expiry_class
    assert (
        len(table_of(app, "lot_code").value)
        == serving.execute(
            "SELECT count(*) FROM marts.fct_near_expiry_batches WHERE merchant_id = ? AND as_of = ?",
            [merchant_id, as_of],
        ).fetchone()[0]
    )


def test_the_url_filters_expiry_and_turnover_window_and_bad_values_are_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = merchant_with_expiring_stock(serving)
    (expiry_class,) = serving.execute(
        """SELECT expiry_class FROM marts.fct_near_expiry_batches WHERE merchant_id = ? AND as_of = ?
           GROUP BY expiry_class ORDER BY count(*) LIMIT 1""",
        [merchant_id, as_of],
    ).fetchone()
    (turnover_skus,) = serving.execute(
        "SELECT count(*) FROM marts.fct_inventory_turnover WHERE merchant_id = ? AND as_of = ? AND window_days = 365",
        [merchant_id, as_of],
    ).fetchone()

    query = {"inventory_expiry": [expiry_class, "next_year"], "inventory_turnover_window": "365"}
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query=query)

    assert not app.exception
    assert set(table_of(app, "lot_code").value["expiry_class"]) == {EXPIRY_LABELS[expiry_class]}
    assert len(table_of(app, "turnover_days").value) == turnover_skus
    # The value the page ignored leaves the URL, so a shared link says what the page shows.
    assert app.query_params["inventory_expiry"] == expiry_class

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query={"inventory_expiry": "soon"})

    assert not app.exception
    assert set(table_of(app, "lot_code").value["expiry_class"]) == {
        EXPIRY_LABELS[row[0]]
        for row in serving.execute(
            "SELECT DISTINCT expiry_class FROM marts.fct_near_expiry_batches WHERE merchant_id = ? AND as_of = ?",
            [merchant_id, as_of],
        ).fetchall()
    }


def test_the_near_expiry_table_downloads_as_a_formula_safe_workbook(
    pipeline_run: PipelineRun,
    formula_home: Path,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    merchant_id, _ = merchant_with_expiring_stock(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=formula_home)
    assert not app.exception

    sheet = downloaded_sheet(app, downloads, "download_near_expiry")
    columns = header(sheet)
    assert columns[:3] == ["到期范围", "商品编码", "商品名称"]
    assert sheet.freeze_panes == "A2"
    rows = sheet_rows(sheet)
    assert len(rows) == len(table_of(app, "lot_code").value)
    expiry = columns.index("到期日") + 1
    assert sheet.cell(row=2, column=expiry).number_format == "yyyy-mm-dd"
    at_risk = columns.index("风险金额") + 1
    assert sheet.cell(row=2, column=at_risk).number_format == '"¥"#,##0.00'
    assert assert_formula_safe(sheet) == len(rows)


def test_a_merchant_without_rows_is_told_so(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    merchant_id, _ = merchant_with_expiring_stock(serving)
    home = home_without_rows(pipeline_run, tmp_path, merchant_id)

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=home)

    assert_empty_state(app, "该商户还没有库存。")


def test_the_page_is_for_its_roles() -> None:
    assert roles_seeing(PAGE) == {"owner", "procurement", "admin"}
