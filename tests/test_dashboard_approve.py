"""Approving replenishment suggestions end to end: the real pipeline's serving copy, the real API
(`coopcast api`) over the pipeline's PostgreSQL, and the dashboard in AppTest signed in as the
merchant's owner; the edited quantity must arrive as a draft purchase order, once, and approving
again must leave out what the drafts already hold."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.settings import API_URL_SETTING
from tests.api_support import running_api
from tests.conftest import PipelineRun
from tests.dashboard_sessions import open_as, serving
from tests.dashboard_signin import account, create_account, submit_sign_in, use_database
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, use_home

__all__ = ["serving"]

NO_EDITS = {"added_rows": [], "deleted_rows": []}


@pytest.fixture(scope="module")
def api_url(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_api(pipeline_run.database_url, tmp_path_factory.mktemp("api_home")) as url:
        yield url


def merchant_with_suggestions(serving: duckdb.DuckDBPyConnection) -> int:
    row = serving.execute(
        """SELECT merchant_id FROM marts.fct_replenishment_suggestions
           WHERE suggested_qty > 0 AND supplier_code IS NOT NULL
           GROUP BY merchant_id ORDER BY count(*) DESC, merchant_id LIMIT 1"""
    ).fetchone()
    assert row is not None, "the pipeline suggested no order with a supplier"
    return int(row[0])


def orders_to_expect(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> set[tuple[str, str]]:
    """The (supplier, warehouse) pairs the newest suggestions order from."""
    rows = serving.execute(
        """SELECT DISTINCT supplier_code, warehouse_code FROM marts.fct_replenishment_suggestions
           WHERE merchant_id = ? AND suggested_qty > 0 AND supplier_code IS NOT NULL
             AND as_of = (SELECT max(as_of) FROM marts.fct_replenishment_suggestions WHERE merchant_id = ?)""",
        [merchant_id, merchant_id],
    ).fetchall()
    return {(supplier, warehouse) for supplier, warehouse in rows}


def drafts_by(database_url: str, merchant_id: int, actor: str) -> dict[str, dict]:
    """The merchant's draft purchase orders the account `actor` created: po_no → supplier,
    warehouse and {sku_code: quantity}."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT po.po_no, s.supplier_code, w.warehouse_code, p.sku_code, l.quantity
               FROM core.purchase_orders po
               JOIN core.operation_log log ON log.merchant_id = po.merchant_id AND log.target = po.po_no
                                          AND log.operation = 'purchase_order.create' AND log.actor = %s
               JOIN core.suppliers s ON s.supplier_id = po.supplier_id
               JOIN core.warehouses w ON w.warehouse_id = po.warehouse_id
               JOIN core.purchase_order_lines l ON l.purchase_order_id = po.purchase_order_id
               JOIN core.products p ON p.product_id = l.product_id
               WHERE po.merchant_id = %s AND po.status = 'draft'""",
            [actor, merchant_id],
        ).fetchall()
    drafts: dict[str, dict] = {}
    for po_no, supplier, warehouse, sku_code, quantity in rows:
        draft = drafts.setdefault(po_no, {"supplier": supplier, "warehouse": warehouse, "lines": {}})
        draft["lines"][sku_code] = quantity
    return drafts


def approve(app: AppTest, editor_key: str, edited_rows: dict) -> AppTest:
    app.session_state[editor_key] = {"edited_rows": edited_rows, **NO_EDITS}
    return app.button(key="fc_approve").click().run()


def test_the_owner_approves_an_edited_quantity_as_one_draft_and_a_second_click_orders_nothing_more(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(API_URL_SETTING, api_url)
    merchant_id = merchant_with_suggestions(serving)
    owner = account(pipeline_run.database_url, "owner", merchant_id).username
    app = open_as(pipeline_run, monkeypatch, "forecast", merchant_id)
    editor = next(table for table in app.data_editor if "order_qty" in table.value.columns)
    first_line = editor.value.iloc[0]
    edited_qty = int(first_line["suggested_qty"]) * 2
    assert drafts_by(pipeline_run.database_url, merchant_id, owner) == {}

    approved = approve(app, editor.key, {0: {"order_qty": edited_qty}})

    assert not approved.exception and not approved.error, [error.value for error in approved.error]
    drafts = drafts_by(pipeline_run.database_url, merchant_id, owner)
    assert {(draft["supplier"], draft["warehouse"]) for draft in drafts.values()} == orders_to_expect(
        serving, merchant_id
    )
    [edited_draft] = [
        draft
        for draft in drafts.values()
        if draft["warehouse"] == first_line["warehouse_code"] and first_line["sku_code"] in draft["lines"]
    ]
    assert edited_draft["lines"][first_line["sku_code"]] == edited_qty
    [done] = [message.value for message in approved.success]
    assert all(po_no in done for po_no in drafts)

    # Approving again, even with the quantity changed once more, orders nothing: every line is
    # already on a draft, which the page names.
    again = approve(app, editor.key, {0: {"order_qty": edited_qty + 1}})

    assert not again.error, [error.value for error in again.error]
    assert drafts_by(pipeline_run.database_url, merchant_id, owner) == drafts
    assert not again.success
    [edited_po_no] = [po_no for po_no, draft in drafts.items() if draft is edited_draft]
    [left_out] = [message.value for message in again.info if edited_po_no in message.value]
    assert f"{first_line['sku_code']} ({edited_po_no})" in left_out
    assert all(po_no in left_out for po_no in drafts)


def api_sessions_of(database_url: str, username: str) -> list[tuple[bool, bool]]:
    """(live, revoked) of each API session token issued to the account, oldest first."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            """SELECT s.expires_at > now() AND s.revoked_at IS NULL, s.revoked_at IS NOT NULL
               FROM core.user_sessions s JOIN core.users u USING (user_id)
               WHERE u.username = %s ORDER BY s.user_session_id""",
            [username],
        ).fetchall()


def test_signing_in_issues_one_api_token_and_signing_out_revokes_it(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant_id = merchant_with_suggestions(serving)
    procurement = create_account(pipeline_run.database_url, "procurement", merchant_id)
    use_database(monkeypatch, pipeline_run.database_url)
    use_home(monkeypatch, pipeline_run.home)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    assert api_sessions_of(pipeline_run.database_url, procurement.username) == []

    submit_sign_in(app, procurement.username, procurement.password)
    assert api_sessions_of(pipeline_run.database_url, procurement.username) == [(True, False)]

    app.sidebar.button(key="sign_out").click().run()
    assert api_sessions_of(pipeline_run.database_url, procurement.username) == [(False, True)]
