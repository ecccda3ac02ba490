"""数据脱敏: customer names and phone numbers are masked for procurement and finance, on pages and in downloads.

Unit tests of dashboards/masking.py, then AppTest sessions of a masked and an unmasked role on the
pages that show customers, against the real pipeline's serving copy.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dashboards.masking import mask_customers, mask_name, mask_phone, sees_personal_data
from tests.conftest import PipelineRun
from tests.dashboard_pages import downloaded_sheet, downloads, sheet_rows, table_of
from tests.dashboard_sessions import open_as, open_as_admin, serving

__all__ = ["downloads", "serving"]

MASKED_ROLES = ("finance", "procurement")
UNMASKED_ROLES = ("owner", "sales", "admin")


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("138-1234-5678", "138****5678"), ("+86 13812345678", "861******5678")],
)
def test_a_phone_keeps_its_prefix_and_last_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_a_phone_too_short_to_keep_anything_is_masked_whole() -> None:
    assert mask_phone("5678123") == "*******"


@pytest.mark.parametrize(
    ("name", "masked"), [("张伟强", "张**"), ("王芳", "王*"), ("李", "李*"), ("Li Wei", "L*****"), ("  ", "")]
)
def test_a_name_keeps_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_procurement_and_finance_do_not_see_personal_data(role: str) -> None:
    assert not sees_personal_data(role)


@pytest.mark.parametrize("role", UNMASKED_ROLES)
def test_owner_sales_and_admin_see_personal_data(role: str) -> None:
    assert sees_personal_data(role)


def test_an_unknown_role_is_an_error_not_a_view_of_everything() -> None:
    with pytest.raises(ValueError, match="unknown role 'guest'"):
        sees_personal_data("guest")


def test_a_masked_frame_hides_names_and_phones_and_keeps_the_rest() -> None:
    customers = pd.DataFrame(
        {
            "customer_code": ["C1", "C2"],
            "customer_name": ["张伟强", None],
            "phone": ["13812345678", "13987654321"],
        }
    )

    masked = mask_customers(customers, "finance", phone_columns=("phone",))

    assert masked.to_dict("list") == {
        "customer_code": ["C1", "C2"],
        "customer_name": ["张**", None],
        "phone": ["138****5678", "139****4321"],
    }
    assert mask_customers(customers, "sales", phone_columns=("phone",)) is customers


def open_receivable_names(serving: duckdb.DuckDBPyConnection) -> tuple[int, set[str]]:
    """The merchant with the most customers owing money, and those customers' full names."""
    merchant_id, names = serving.execute(
        """SELECT merchant_id, list(DISTINCT customer_name) FROM marts.fct_open_receivables
           GROUP BY merchant_id ORDER BY count(DISTINCT customer_name) DESC LIMIT 1"""
    ).fetchone()
    assert names, "no customer owes any merchant money"
    return merchant_id, set(names)


def cells(rows: list[tuple]) -> set[object]:
    return {cell for row in rows for cell in row}


def test_finance_sees_who_owes_money_by_code_with_masked_names_in_page_and_download(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, downloads
) -> None:
    merchant_id, names = open_receivable_names(serving)

    app = open_as(pipeline_run, monkeypatch, "finance", merchant_id, role="finance")

    assert not app.exception
    shown = table_of(app, "order_no").value
    assert not set(shown["customer_name"]) & names
    assert set(shown["customer_name"]) == {mask_name(name) for name in names}
    downloaded = cells(sheet_rows(downloaded_sheet(app, downloads, "fin_open_download")))
    assert not downloaded & names
    assert {mask_name(name) for name in names} <= downloaded


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_owner_and_the_platform_admin_see_the_names_in_page_and_download(
    pipeline_run: PipelineRun,
    serving: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
    role: str,
) -> None:
    merchant_id, names = open_receivable_names(serving)

    if role == "admin":
        app = open_as_admin(pipeline_run, monkeypatch, "finance", merchant_id)
    else:
        app = open_as(pipeline_run, monkeypatch, "finance", merchant_id, role=role)

    assert not app.exception
    assert set(table_of(app, "order_no").value["customer_name"]) == names
    assert names <= cells(sheet_rows(downloaded_sheet(app, downloads, "fin_open_download")))


def test_sales_calls_customers_back_from_a_contact_list_with_their_names(
    pipeline_run: PipelineRun, serving: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, downloads
) -> None:
    merchant_id = serving.execute("SELECT min(merchant_id) FROM marts.dim_customers").fetchone()[0]
    names = {
        name
        for (name,) in serving.execute(
            "SELECT customer_name FROM marts.dim_customers WHERE merchant_id = ?", [merchant_id]
        ).fetchall()
    }

    app = open_as(pipeline_run, monkeypatch, "customer_insight", merchant_id, role="sales")

    assert not app.exception
    contacts = [table.value for table in app.dataframe if "is_sleeping" in table.value.columns][-1]
    assert set(contacts["customer_name"]) == names
    assert names <= cells(sheet_rows(downloaded_sheet(app, downloads, "cust_contacts_download")))
