"""The Finance page (财务) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import PipelineRun
from tests.dashboard_pages import table_of
from tests.dashboard_sessions import open_as, serving
from tests.test_dashboard_apptest import money_metric_amount, yuan

__all__ = ["serving"]

PAGE = "finance"
DEFAULT_MONTHS = 3


def merchants(serving: duckdb.DuckDBPyConnection) -> list[tuple[int, date]]:
    return serving.execute("SELECT merchant_id, as_of FROM marts.dim_merchants ORDER BY merchant_id").fetchall()


def window_start(as_of: date, months: int) -> date:
    month_index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(month_index // 12, month_index % 12 + 1, 1)


def sales_since(serving: duckdb.DuckDBPyConnection, merchant_id: int, first: date) -> tuple[Decimal, Decimal]:
    """Revenue and gross profit from the per-SKU daily sales, not the monthly category mart the page reads."""
    return serving.execute(
        """SELECT coalesce(sum(revenue), 0), coalesce(sum(gross_profit), 0) FROM marts.fct_daily_sales
           WHERE merchant_id = ? AND sales_date >= ?""",
        [merchant_id, first],
    ).fetchone()


def open_amounts(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> tuple[Decimal, Decimal]:
    """What customers owe from the order-level receivables, not the ageing mart the page sums."""
    return serving.execute(
        """SELECT coalesce(sum(open_amount), 0), coalesce(sum(open_amount) FILTER (WHERE days_overdue > 0), 0)
           FROM marts.fct_open_receivables WHERE merchant_id = ?""",
        [merchant_id],
    ).fetchone()


def test_revenue_profit_and_receivables_are_each_merchants_own_in_chinese(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = 0
    for merchant_id, as_of in merchants(serving):
        revenue, gross_profit = sales_since(serving, merchant_id, window_start(as_of, DEFAULT_MONTHS))
        owed, overdue = open_amounts(serving, merchant_id)

        app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id)

        assert not app.exception
        assert [title.value for title in app.title] == ["财务"]
        assert money_metric_amount(app, "营业额") == yuan(revenue), merchant_id
        assert money_metric_amount(app, "毛利") == yuan(gross_profit), merchant_id
        assert money_metric_amount(app, "应收账款") == yuan(owed), merchant_id
        assert f"其中逾期 {yuan(overdue)}" in [caption.value for caption in app.caption]
        checked += bool(revenue) and bool(owed)
    assert checked, "no merchant both sold in the window and is owed money"


@pytest.mark.parametrize(
    ("in_url", "months"),
    [("12", 12), ("1; DROP TABLE x", DEFAULT_MONTHS), ("7", DEFAULT_MONTHS)],
    ids=["a year", "not a number", "not offered"],
)
def test_the_window_in_the_url_sets_the_months_counted_when_the_page_offers_it(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    in_url: str,
    months: int,
) -> None:
    merchant_id, as_of = merchants(serving)[0]
    year, _ = sales_since(serving, merchant_id, window_start(as_of, 12))
    quarter, _ = sales_since(serving, merchant_id, window_start(as_of, DEFAULT_MONTHS))
    assert year != quarter, "the tiny network sold nothing before the default window"
    revenue, _ = sales_since(serving, merchant_id, window_start(as_of, months))

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, query={"fin_months": in_url})

    assert not app.exception
    assert money_metric_amount(app, "营业额") == yuan(revenue)


def test_receivables_by_credit_term_add_up_to_the_unpaid_orders(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, _ = merchants(serving)[0]
    per_term = dict(
        serving.execute(
            """SELECT credit_term, sum(open_amount) FROM marts.fct_open_receivables WHERE merchant_id = ?
               GROUP BY credit_term""",
            [merchant_id],
        ).fetchall()
    )
    assert per_term, "the merchant is owed nothing"

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id)

    ageing = table_of(app, "overdue_61_plus").value
    labels = {"credit_7d": "7天账期", "credit_15d": "15天账期", "credit_30d": "30天账期", "cod": "货到付款"}
    shown = dict(zip(ageing["credit_term"], ageing["total"].round(2), strict=True))
    assert shown == {labels.get(term, term): round(float(amount), 2) for term, amount in per_term.items()}
    orders = table_of(app, "order_no").value
    assert (
        len(orders)
        == serving.execute(
            "SELECT count(*) FROM marts.fct_open_receivables WHERE merchant_id = ?", [merchant_id]
        ).fetchone()[0]
    )
    assert list(orders["days_overdue"]) == sorted(orders["days_overdue"], reverse=True)


def test_the_page_speaks_english_when_asked(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, as_of = merchants(serving)[0]
    revenue, _ = sales_since(serving, merchant_id, window_start(as_of, DEFAULT_MONTHS))

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, role="finance", language="en")

    assert not app.exception
    assert [title.value for title in app.title] == ["Finance"]
    assert money_metric_amount(app, "Revenue") == yuan(revenue)
    assert {"Profit", "Platform commission", "Settlement statements", "Cash flow"} <= {
        header.value for header in app.subheader
    }
    statements = table_of(app, "net_payable").value
    assert set(statements["payout_status"]) <= {
        "Paid on time",
        "Paid late",
        "Paid with other statements",
        "Nothing to pay",
        "Not due",
        "Overdue",
    }
