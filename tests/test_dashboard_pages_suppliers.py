"""The Suppliers page (供应商) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import PipelineRun
from tests.dashboard_pages import table_of
from tests.dashboard_sessions import open_as, serving
from tests.test_dashboard_apptest import metric_value

__all__ = ["serving"]

PAGE = "suppliers"


def merchant_ids(serving: duckdb.DuckDBPyConnection) -> list[int]:
    return [row[0] for row in serving.execute("SELECT merchant_id FROM marts.dim_merchants ORDER BY 1").fetchall()]


def on_time_rates(serving: duckdb.DuckDBPyConnection, merchant_id: int, window: str) -> dict[str, float]:
    return dict(
        serving.execute(
            """SELECT supplier_code, on_time_deliveries / deliveries FROM marts.fct_supplier_performance
               WHERE merchant_id = ? AND performance_window = ? AND deliveries > 0""",
            [merchant_id, window],
        ).fetchall()
    )


def test_on_time_rates_and_risks_are_each_merchants_own(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    for merchant_id in merchant_ids(serving):
        expected = on_time_rates(serving, merchant_id, "trailing")
        levels = dict(
            serving.execute(
                "SELECT risk_level, count(*) FROM marts.fct_risk_register WHERE merchant_id = ? GROUP BY 1",
                [merchant_id],
            ).fetchall()
        )
        prices = serving.execute(
            "SELECT count(*) FROM marts.fct_supplier_price_comparison WHERE merchant_id = ?", [merchant_id]
        ).fetchone()[0]
        assert expected, f"merchant {merchant_id} had no delivery in the last 90 days"

        app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id)

        assert not app.exception
        assert [title.value for title in app.title] == ["供应商"]
        shown = table_of(app, "on_time_rate").value
        delivered = shown[shown["deliveries"] > 0]
        assert dict(zip(delivered["supplier_code"], delivered["on_time_rate"], strict=True)) == pytest.approx(expected)
        for level, label in (("high", "高风险"), ("medium", "中风险"), ("low", "低风险")):
            assert metric_value(app, label) == str(levels.get(level, 0))
        assert len(table_of(app, "pct_above_network_cheapest").value) == prices
        # A missing value (a SKU without an agreed price) shows a dash, not Streamlit's "None".
        assert all(table.proto.placeholder == "—" for table in app.dataframe)
        if levels:
            risks = table_of(app, "risk_level").value
            reasons = serving.execute(
                "SELECT reason_zh FROM marts.fct_risk_register WHERE merchant_id = ?", [merchant_id]
            ).fetchall()
            assert set(risks["reason"]) == {reason for (reason,) in reasons}


def test_the_network_price_never_shows_one_other_merchants_cost(serving: duckdb.DuckDBPyConnection) -> None:
    """The tiny network has two merchants, so a product's network-lowest price would be the other
    one's cost: none is shown, and the rule is the only reason (every product has a price)."""
    shown = serving.execute(
        """SELECT network_merchants, count(*), count(network_min_last_unit_cost), count(network_cheapest_supplier_name),
                  count(pct_above_network_cheapest), count(last_unit_cost)
           FROM marts.fct_supplier_price_comparison GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert [merchants for merchants, *_ in shown] == [1, 2]
    for _, rows, network_lowest, cheapest_supplier, above_lowest, priced in shown:
        assert (network_lowest, cheapest_supplier, above_lowest, priced) == (0, 0, 0, rows), shown


def test_the_period_in_the_url_switches_to_all_deliveries(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id = merchant_ids(serving)[0]
    deliveries = serving.execute(
        """SELECT sum(deliveries) FROM marts.fct_supplier_performance
           WHERE merchant_id = ? AND performance_window = 'all_time'""",
        [merchant_id],
    ).fetchone()[0]

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, query={"sup_window": "all_time"})

    assert not app.exception
    assert table_of(app, "on_time_rate").value["deliveries"].sum() == deliveries


def test_the_lead_time_spread_is_the_chosen_suppliers(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id, supplier_code = serving.execute(
        """SELECT merchant_id, supplier_code FROM marts.fct_supplier_lead_times
           GROUP BY ALL ORDER BY count(*) DESC, merchant_id, supplier_code LIMIT 1"""
    ).fetchone()
    spread = dict(
        serving.execute(
            """SELECT lead_time_days, deliveries FROM marts.fct_supplier_lead_times
               WHERE merchant_id = ? AND supplier_code = ?""",
            [merchant_id, supplier_code],
        ).fetchall()
    )

    app = open_as(
        pipeline_run, monkeypatch, PAGE, merchant_id, query={"sup_window": "all_time", "sup_supplier": supplier_code}
    )

    assert not app.exception
    shown = table_of(app, "cumulative_share").value
    assert dict(zip(shown["lead_time_days"], shown["deliveries"], strict=True)) == spread


def test_the_page_speaks_english_when_asked(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_ids(serving)[0], role="procurement", language="en")

    assert not app.exception
    assert [title.value for title in app.title] == ["Suppliers"]
    assert {"Delivery performance", "Price comparison", "Risks"} <= {header.value for header in app.subheader}
    assert {"High", "Medium", "Low"} <= {metric.label for metric in app.metric}
