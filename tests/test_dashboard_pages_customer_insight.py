"""The Customer insight page (客户分析) as a merchant sees it, in both languages, against the serving copy."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import PipelineRun
from tests.dashboard_pages import table_of
from tests.dashboard_sessions import open_as, serving

__all__ = ["serving"]

PAGE = "customer_insight"
TIERS_ZH = {"diamond": "钻石", "gold": "金牌", "silver": "银牌", "none": "普通"}


def merchant_ids(serving: duckdb.DuckDBPyConnection) -> list[int]:
    return [row[0] for row in serving.execute("SELECT merchant_id FROM marts.dim_merchants ORDER BY 1").fetchall()]


def codes(serving: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> set[str]:
    return {code for (code,) in serving.execute(sql, params).fetchall()}


def test_tiers_sleeping_customers_and_the_contact_list_are_each_merchants_own(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    for merchant_id in merchant_ids(serving):
        tiers = dict(
            serving.execute(
                "SELECT value_tier, count(*) FROM marts.dim_customers WHERE merchant_id = ? GROUP BY 1", [merchant_id]
            ).fetchall()
        )
        sleeping = codes(
            serving,
            "SELECT customer_code FROM marts.dim_customers WHERE merchant_id = ? AND is_sleeping",
            [merchant_id],
        )
        everyone = codes(serving, "SELECT customer_code FROM marts.dim_customers WHERE merchant_id = ?", [merchant_id])
        assert sleeping, f"merchant {merchant_id} has no sleeping customer"

        app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id)

        assert not app.exception
        assert [title.value for title in app.title] == ["客户分析"]
        shown_tiers = table_of(app, "tier_window_amount").value
        assert dict(zip(shown_tiers["value_tier"], shown_tiers["customers"], strict=True)) == {
            TIERS_ZH[tier]: count for tier, count in tiers.items()
        }
        lists = [table.value for table in app.dataframe if "is_sleeping" in table.value.columns]
        assert [set(frame["customer_code"]) for frame in lists] == [sleeping, everyone]
        rfm = table_of(app, "recency_days").value
        assert (
            rfm["customers"].sum()
            == serving.execute(
                "SELECT count(*) FROM marts.fct_customer_rfm WHERE merchant_id = ?", [merchant_id]
            ).fetchone()[0]
        )


def test_the_tier_filter_in_the_url_narrows_the_contact_list(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id = merchant_ids(serving)[0]
    diamonds = codes(
        serving,
        "SELECT customer_code FROM marts.dim_customers WHERE merchant_id = ? AND value_tier = 'diamond'",
        [merchant_id],
    )
    assert diamonds, "the merchant has no diamond customer"

    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_id, query={"cust_tiers": ["diamond", "platinum"]})

    assert not app.exception
    contacts = [table.value for table in app.dataframe if "is_sleeping" in table.value.columns][-1]
    assert set(contacts["customer_code"]) == diamonds
    assert app.multiselect(key="cust_tiers").value == ["diamond"]


def test_the_page_speaks_english_when_asked(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_as(pipeline_run, monkeypatch, PAGE, merchant_ids(serving)[0], role="sales", language="en")

    assert not app.exception
    assert [title.value for title in app.title] == ["Customer insight"]
    assert {"Value tiers", "RFM segments", "Sleeping customers", "Contact list"} <= {
        header.value for header in app.subheader
    }
    segments = set(table_of(app, "recency_days").value["rfm_segment"])
    assert segments and all(segment.isascii() for segment in segments)
