"""A merchant without a single row yet: the forecast, supplier, finance and customer pages say so instead of failing."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun
from tests.dashboard_sessions import open_as_admin

NEW_MERCHANT_ID = 990001


@pytest.fixture
def new_merchant_run(pipeline_run: PipelineRun, tmp_path: Path) -> PipelineRun:
    """The pipeline's home copied, its serving copy holding one more merchant with nothing in any other table."""
    home = tmp_path / "home"
    shutil.copytree(pipeline_run.home, home)
    with duckdb.connect(str(home / "serving" / "warehouse.duckdb")) as conn:
        conn.execute(
            """INSERT INTO marts.dim_merchants
               SELECT * REPLACE (? AS merchant_id, 'M990' AS merchant_code, '新开商户' AS merchant_name)
               FROM marts.dim_merchants LIMIT 1""",
            [NEW_MERCHANT_ID],
        )
    return replace(pipeline_run, home=home)


@pytest.mark.parametrize(
    ("page", "messages"),
    [
        ("forecast", ("该商户还没有商品", "没有需要补货的商品")),
        ("suppliers", ("没有供应商交货记录", "还没有采购记录", "没有登记的风险")),
        ("finance", ("所选月份没有销售", "没有未收回的款项", "所选月份没有资金往来")),
        ("customer_insight", ("该商户还没有客户",)),
    ],
)
def test_a_merchant_without_rows_is_told_so_on_every_page(
    new_merchant_run: PipelineRun, monkeypatch: pytest.MonkeyPatch, page: str, messages: tuple[str, ...]
) -> None:
    app = open_as_admin(new_merchant_run, monkeypatch, page, NEW_MERCHANT_ID)

    assert not app.exception
    assert not app.dataframe
    shown = [element.value for element in (*app.info, *app.success)]
    for message in messages:
        assert any(message in text for text in shown), f"{message!r} not in {shown}"


def test_a_registered_merchant_not_yet_trading_is_told_so_instead_of_failing(
    new_merchant_run: PipelineRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    with duckdb.connect(str(new_merchant_run.home / "serving" / "warehouse.duckdb")) as conn:
        conn.execute("UPDATE marts.dim_merchants SET as_of = NULL WHERE merchant_id = ?", [NEW_MERCHANT_ID])

    app = open_as_admin(new_merchant_run, monkeypatch, "overview", NEW_MERCHANT_ID)

    assert not app.exception
    [message] = [element.value for element in app.info]
    assert message.startswith("商户 M990 还没有可展示的数据：它还没有交易")
