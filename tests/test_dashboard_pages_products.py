"""The Products page (商品分析) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

import shutil
from datetime import date
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
from tests.test_dashboard_apptest import serving

__all__ = ["downloads", "formula_home", "serving"]

PAGE = "products"


def merchant_with_slow_movers(serving: duckdb.DuckDBPyConnection) -> tuple[int, date]:
    found = serving.execute(
        """SELECT m.merchant_id, m.as_of FROM marts.fct_slow_moving_products s
           JOIN marts.dim_merchants m ON m.merchant_id = s.merchant_id AND m.as_of = s.as_of
           GROUP BY m.merchant_id, m.as_of ORDER BY count(*) DESC, m.merchant_id LIMIT 1"""
    ).fetchone()
    assert found, "the pipeline found no slow-moving stock at any merchant"
    return found


def class_counts(serving: duckdb.DuckDBPyConnection, merchant_id: int, as_of: date) -> dict[tuple[str, str], int]:
    rows = serving.execute(
        """SELECT abc_class, xyz_class, count(*) FROM marts.fct_product_abc_xyz
           WHERE merchant_id = ? AND as_of = ? GROUP BY ALL""",
        [merchant_id, as_of],
    ).fetchall()
    return {(abc, xyz): count for abc, xyz, count in rows}


def first_class_with_skus(serving: duckdb.DuckDBPyConnection, merchant_id: int, as_of: date) -> str:
    """The first of AX, AY … CZ, in that order, holding at least one of the merchant's SKUs."""
    counts = class_counts(serving, merchant_id, as_of)
    return next(abc + xyz for abc in "ABC" for xyz in "XYZ" if counts.get((abc, xyz)))


def home_without_class(pipeline_run: PipelineRun, tmp_path: Path, merchant_id: int, abc_xyz_class: str) -> Path:
    """A copy of the published home in which no SKU of merchant `merchant_id` is in `abc_xyz_class`."""
    home = tmp_path / "home"
    shutil.copytree(pipeline_run.home, home)
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb")) as conn:
        conn.execute(
            "DELETE FROM marts.fct_product_abc_xyz WHERE merchant_id = ? AND abc_xyz_class = ?",
            [merchant_id, abc_xyz_class],
        )
    return home


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize(
    ("language", "title", "headings", "abc_labels"),
    [
        ("zh", "商品分析", {"ABC-XYZ 矩阵", "热销商品", "滞销商品"}, ["A 高贡献", "B 中贡献", "C 低贡献"]),
        (
            "en",
            "Product analysis",
            {"ABC-XYZ matrix", "Hot sellers", "Slow movers"},
            ["A high revenue", "B medium revenue", "C low revenue"],
        ),
    ],
)
def test_the_matrix_counts_each_class_and_slow_movers_are_listed(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    title: str,
    headings: set[str],
    abc_labels: list[str],
    role: str,
) -> None:
    merchant_id, as_of = merchant_with_slow_movers(serving)
    counts = class_counts(serving, merchant_id, as_of)
    slow = {
        row[0]
        for row in serving.execute(
            "SELECT sku_code FROM marts.fct_slow_moving_products WHERE merchant_id = ? AND as_of = ?",
            [merchant_id, as_of],
        ).fetchall()
    }

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, language, role=role)

    assert not app.exception
    assert [heading.value for heading in app.title] == [title]
    assert headings <= {heading.value for heading in app.subheader}
    grid = table_of(app, "abc_class").value
    assert list(grid["abc_class"]) == abc_labels
    shown = {(abc, xyz): grid[xyz].iloc[row] for row, abc in enumerate("ABC") for xyz in "XYZ"}
    assert shown == {cell: counts.get(cell, 0) for cell in shown}
    assert set(table_of(app, "slow_moving_value").value["sku_code"]) == slow


def test_the_url_picks_the_measure_and_class_and_bad_values_are_ignored(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = merchant_with_slow_movers(serving)
    shares = dict(
        serving.execute(
            """SELECT abc_class || xyz_class, sum(revenue) / sum(sum(revenue)) OVER ()
               FROM marts.fct_product_abc_xyz WHERE merchant_id = ? AND as_of = ? GROUP BY ALL""",
            [merchant_id, as_of],
        ).fetchall()
    )
    (biggest_class,) = serving.execute(
        """SELECT abc_xyz_class FROM marts.fct_product_abc_xyz WHERE merchant_id = ? AND as_of = ?
           GROUP BY ALL ORDER BY count(*) DESC, abc_xyz_class LIMIT 1""",
        [merchant_id, as_of],
    ).fetchone()
    members = {
        row[0]
        for row in serving.execute(
            "SELECT sku_code FROM marts.fct_product_abc_xyz WHERE merchant_id = ? AND as_of = ? AND abc_xyz_class = ?",
            [merchant_id, as_of, biggest_class],
        ).fetchall()
    }

    query = {"products_measure": "revenue_share", "products_class": biggest_class}
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, query=query)

    assert not app.exception
    grid = table_of(app, "abc_class").value
    shown = {abc + xyz: grid[xyz].iloc[row] for row, abc in enumerate("ABC") for xyz in "XYZ"}
    assert shown == pytest.approx({cell: shares.get(cell, 0.0) for cell in shown})
    assert set(table_of(app, "abc_xyz_class").value["sku_code"]) == members

    app = open_page(
        pipeline_run, monkeypatch, PAGE, merchant_id, query={"products_class": "QQ", "products_measure": "x"}
    )

    assert not app.exception
    assert app.selectbox(key="products_class").value == first_class_with_skus(serving, merchant_id, as_of)
    assert table_of(app, "abc_class").value["X"].dtype.kind in "iu"


def test_the_class_list_opens_on_the_first_class_that_has_products(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    downloads,
) -> None:
    merchant_id, as_of = merchant_with_slow_movers(serving)
    home = home_without_class(pipeline_run, tmp_path, merchant_id, "AX")
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb"), read_only=True) as changed:
        first = first_class_with_skus(changed, merchant_id, as_of)
        members = changed.execute(
            """SELECT sku_code FROM marts.fct_product_abc_xyz
               WHERE merchant_id = ? AND as_of = ? AND abc_xyz_class = ?""",
            [merchant_id, as_of, first],
        ).fetchall()

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=home)

    assert not app.exception
    assert app.selectbox(key="products_class").value == first != "AX"
    assert set(table_of(app, "abc_xyz_class").value["sku_code"]) == {code for (code,) in members}
    assert len(sheet_rows(downloaded_sheet(app, downloads, "download_abc_xyz_skus"))) == len(members)


def test_switching_to_english_then_to_another_page_raises_nothing(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchant_with_slow_movers(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id)

    app.sidebar.radio(key="language").set_value("en").run()
    assert not app.exception
    assert [heading.value for heading in app.title] == ["Product analysis"]
    app.switch_page("app_pages/inventory.py").run()

    assert not app.exception
    assert [heading.value for heading in app.title] == ["Inventory"]


def test_the_class_table_downloads_as_a_formula_safe_workbook(
    pipeline_run: PipelineRun,
    formula_home: Path,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    merchant_id, _ = merchant_with_slow_movers(serving)
    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=formula_home)
    assert not app.exception

    slow = downloaded_sheet(app, downloads, "download_slow_movers")
    assert header(slow)[:2] == ["商品编码", "商品名称"]
    assert len(sheet_rows(slow)) == len(table_of(app, "slow_moving_value").value)
    assert assert_formula_safe(slow) == len(sheet_rows(slow))
    matrix = downloaded_sheet(app, downloads, "download_abc_xyz_matrix")
    assert [row[0] for row in sheet_rows(matrix)] == ["A 高贡献", "B 中贡献", "C 低贡献"]


def test_a_merchant_without_rows_is_told_so(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    merchant_id, _ = merchant_with_slow_movers(serving)
    home = home_without_rows(pipeline_run, tmp_path, merchant_id)

    app = open_page(pipeline_run, monkeypatch, PAGE, merchant_id, home=home)

    assert_empty_state(app, "该商户还没有商品。")


def test_the_page_is_for_its_roles() -> None:
    assert roles_seeing(PAGE) == {"owner", "sales", "procurement", "admin"}
