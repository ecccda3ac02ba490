"""The alert inbox on the Overview page, through AppTest, in both languages, signed in as a
merchant's owner, on the next-day digest of tests/alert_digest_support.py (three new items at the
first merchant, none at the others)."""

from __future__ import annotations

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests import alert_digest_support
from tests.conftest import PipelineRun
from tests.dashboard_signin import sign_in_as
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, use_home

next_day = alert_digest_support.next_day


@pytest.fixture
def open_as_owner(next_day: alert_digest_support.NextDay, pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch):
    """The Overview page as the owner of `merchant_id` sees it."""

    def open_page(merchant_id: int) -> AppTest:
        use_home(monkeypatch, next_day.home)
        app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
        return sign_in_as(app, monkeypatch, pipeline_run.database_url, "owner", merchant_id)

    return open_page


def inbox(app: AppTest, title: str):
    [found] = [expander for expander in app.expander if expander.label.startswith(title)]
    return found


def markdown_text(element) -> str:
    return "\n".join(markdown.value for markdown in element.markdown)


def test_the_inbox_lists_the_new_items_grouped_by_kind_in_chinese(
    open_as_owner, next_day: alert_digest_support.NextDay
) -> None:
    app = open_as_owner(next_day.low_stock[0])
    assert not app.exception
    box = inbox(app, "预警收件箱")
    assert box.label == f"预警收件箱 · {next_day.as_of.isoformat()} 新增预警 3 项"
    text = markdown_text(box)
    for heading in ("**低库存（1 项）**", "**临期批次（1 项）**", "**流失风险客户（1 项）**"):
        assert heading in text
    assert next_day.churn_risk[2] in text and "购买次数减少" in text
    assert f"与 {next_day.first_as_of.isoformat()} 的摘要相比" in box.caption[0].value


def test_the_inbox_speaks_english_after_the_toggle(open_as_owner, next_day: alert_digest_support.NextDay) -> None:
    app = open_as_owner(next_day.low_stock[0])
    app.sidebar.radio(key="language").set_value("en").run()
    assert not app.exception
    box = inbox(app, "Alert inbox")
    assert box.label == f"Alert inbox · 3 new alerts on {next_day.as_of.isoformat()}"
    text = markdown_text(box)
    for heading in ("**Low stock (1)**", "**Near-expiry batches (1)**", "**Customers at risk of churning (1)**"):
        assert heading in text
    assert "buying less often" in text and "低库存" not in text


def test_a_merchant_with_nothing_new_sees_an_empty_inbox(open_as_owner, next_day: alert_digest_support.NextDay) -> None:
    with duckdb.connect(str(next_day.serving), read_only=True) as conn:
        merchant_ids = [row[0] for row in conn.execute("SELECT merchant_id FROM marts.dim_merchants").fetchall()]
    others = [merchant_id for merchant_id in merchant_ids if merchant_id != next_day.low_stock[0]]
    assert others, "the tiny network has one merchant only"
    app = open_as_owner(others[0])
    assert not app.exception
    box = inbox(app, "预警收件箱")
    assert box.label == f"预警收件箱 · {next_day.as_of.isoformat()} 没有新增预警"
    assert markdown_text(box) == ""
