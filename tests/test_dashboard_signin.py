"""Sign-in, lock-out messages, role pages and per-merchant isolation, driven through AppTest on
the tiny pipeline's serving copy and its PostgreSQL database (fixture `pipeline_run`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import auth
from dashboards.auth import SESSION_TOKEN_KEY
from tests.conftest import PipelineRun
from tests.dashboard_signin import create_account, sign_in_as, submit_sign_in, use_database
from tests.test_dashboard_apptest import APP, RUN_TIMEOUT, use_home
from transactional import users
from transactional.users import MAX_FAILED_ATTEMPTS

CUSTOMERS_PAGE = "app_pages/customers.py"
PRICES_PAGE = "app_pages/prices.py"
FINANCE_PAGE = "app_pages/finance.py"
OVERVIEW_PAGE = "app_pages/overview.py"
PRODUCTS_PAGE = "app_pages/products.py"
FORECAST_PAGE = "app_pages/forecast.py"
BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def serving(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(pipeline_run.home / "serving" / "warehouse.duckdb"), read_only=True)
    yield conn
    conn.close()


@pytest.fixture
def signed_out(pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    use_home(monkeypatch, pipeline_run.home)
    use_database(monkeypatch, pipeline_run.database_url)
    return AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()


@pytest.fixture
def merchant_pair(serving: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Two merchants, the one whose session is tested first."""
    ids = [
        row[0]
        for row in serving.execute("SELECT merchant_id FROM marts.dim_merchants ORDER BY merchant_code").fetchall()
    ]
    assert len(ids) >= 2, "isolation needs two merchants with published data"
    return ids[0], ids[1]


def in_language(app: AppTest, language: str) -> AppTest:
    return app.sidebar.radio(key="language").set_value(language).run()


def errors(app: AppTest) -> list[str]:
    return [error.value for error in app.error]


def titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


def open_page(app: AppTest, page: str) -> AppTest:
    return app.switch_page(page).run()


def opens(app: AppTest, page: str) -> bool:
    """Whether the session's navigation has `page`; AppTest refuses to switch to one it has not."""
    try:
        app.switch_page(page).run()
    except ValueError as error:
        assert "Could not find a navigation page" in str(error)
        return False
    assert not app.exception
    assert titles(app) != ["经营概览"]
    return True


def test_a_signed_out_session_sees_only_the_sign_in_form(signed_out: AppTest) -> None:
    assert not signed_out.exception
    assert [field.label for field in signed_out.text_input] == ["用户名", "密码"]
    assert not signed_out.metric and not signed_out.dataframe and not signed_out.title
    assert not [box for box in signed_out.sidebar.selectbox if box.key == "merchant_id"]


@pytest.mark.parametrize(
    ("language", "first_message", "locked_words"),
    [
        ("zh", "用户名或密码错误。再输错 4 次，账号将被锁定 30 分钟。", "账号已锁定至"),
        ("en", "Wrong username or password. Attempts left before the account locks for 30 minutes: 4.", "locked until"),
    ],
)
def test_wrong_passwords_say_how_many_attempts_are_left_then_until_when_it_is_locked(
    signed_out: AppTest,
    pipeline_run: PipelineRun,
    merchant_pair: tuple[int, int],
    language: str,
    first_message: str,
    locked_words: str,
) -> None:
    victim = create_account(pipeline_run.database_url, "owner", merchant_pair[0])
    app = in_language(signed_out, language)

    shown = [errors(submit_sign_in(app, victim.username, "wrong-guess-1")) for _ in range(MAX_FAILED_ATTEMPTS)]

    assert shown[0] == [first_message]
    assert [len(message) for message in shown] == [1] * MAX_FAILED_ATTEMPTS
    assert [message[0] for message in shown[1:4]] == [first_message.replace("4", str(left)) for left in (3, 2, 1)]
    with psycopg.connect(pipeline_run.database_url) as conn:
        (locked_until,) = conn.execute(
            "SELECT locked_until FROM core.users WHERE username = %s", [victim.username]
        ).fetchone()
    until = locked_until.astimezone(BUSINESS_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    assert locked_words in shown[4][0] and until in shown[4][0]
    # Even the right password is refused while the account is locked.
    refused = submit_sign_in(app, victim.username, victim.password)
    assert [message for message in errors(refused) if until in message]
    assert SESSION_TOKEN_KEY not in refused.session_state
    assert not refused.metric


def test_an_unknown_name_gets_the_wrong_password_message_counting_down_like_an_account(signed_out: AppTest) -> None:
    name = f"nobody-{datetime.now().timestamp():.0f}"
    shown = [errors(submit_sign_in(signed_out, name, f"whatever-{attempt}")) for attempt in range(2)]
    assert shown == [
        ["用户名或密码错误。再输错 4 次，账号将被锁定 30 分钟。"],
        ["用户名或密码错误。再输错 3 次，账号将被锁定 30 分钟。"],
    ]


@pytest.mark.parametrize(
    ("role", "role_name", "opens_prices", "opens_customers", "opens_finance"),
    [
        ("owner", "商户负责人", True, True, True),
        ("sales", "销售", False, True, False),
        ("procurement", "采购", True, False, False),
        ("finance", "财务", False, False, True),
    ],
)
def test_each_role_opens_only_its_pages(
    signed_out: AppTest,
    pipeline_run: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    merchant_pair: tuple[int, int],
    role: str,
    role_name: str,
    opens_prices: bool,
    opens_customers: bool,
    opens_finance: bool,
) -> None:
    app = sign_in_as(signed_out, monkeypatch, pipeline_run.database_url, role, merchant_pair[0])
    assert titles(app) == ["经营概览"]
    assert any(caption.value.endswith(f"（{role_name}）") for caption in app.sidebar.caption)

    # A page the role may not open is not in its navigation at all.
    assert opens(app, PRICES_PAGE) is opens_prices
    assert opens(app, CUSTOMERS_PAGE) is opens_customers
    assert opens(app, FINANCE_PAGE) is opens_finance
    assert not app.exception


@pytest.mark.parametrize(
    ("role", "shown", "query"),
    [("sales", ["经营概览"], {}), ("owner", ["财务"], {"fin_months": "12"})],
)
def test_a_role_sent_to_the_overview_leaves_the_filters_of_the_page_in_the_url_behind(
    signed_out: AppTest,
    pipeline_run: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    merchant_pair: tuple[int, int],
    role: str,
    shown: list[str],
    query: dict[str, str],
) -> None:
    # A bookmarked /finance?fin_months=12 opened in a new session: signed out, every page resolves.
    signed_out.query_params["fin_months"] = "12"
    app = open_page(signed_out, FINANCE_PAGE)

    sign_in_as(app, monkeypatch, pipeline_run.database_url, role, merchant_pair[0])

    assert titles(app) == shown
    assert app.query_params == query


def test_signing_out_forgets_the_account(
    signed_out: AppTest, pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch, merchant_pair: tuple[int, int]
) -> None:
    app = sign_in_as(signed_out, monkeypatch, pipeline_run.database_url, "owner", merchant_pair[0])
    assert app.metric
    app.sidebar.button(key="sign_out").click().run()
    assert not app.metric and not app.title
    assert [field.label for field in app.text_input] == ["用户名", "密码"]


def test_a_session_ends_when_its_api_token_expires(
    signed_out: AppTest, pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch, merchant_pair: tuple[int, int]
) -> None:
    app = sign_in_as(signed_out, monkeypatch, pipeline_run.database_url, "owner", merchant_pair[0])
    assert app.metric
    token = app.session_state[SESSION_TOKEN_KEY]
    sessions = auth._api_sessions()
    sessions[token] = replace(sessions[token], expires_at=datetime.now(UTC) - timedelta(seconds=1))

    app.run()

    assert not app.metric and not app.title
    assert [field.label for field in app.text_input] == ["用户名", "密码"]
    assert token not in sessions


def test_a_password_reset_ends_the_accounts_open_sessions(
    signed_out: AppTest, pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch, merchant_pair: tuple[int, int]
) -> None:
    # An account of its own: the other tests sign in with the shared ones' passwords.
    owner = create_account(pipeline_run.database_url, "owner", merchant_pair[0])
    app = submit_sign_in(signed_out, owner.username, owner.password)
    token = app.session_state[SESSION_TOKEN_KEY]
    with psycopg.connect(pipeline_run.database_url) as conn:
        users.reset_password(conn, owner.username, "a-new-password-42", datetime.now(UTC))

    assert app.run().metric  # the revocation is seen at the next check, not on every click
    auth._last_revocation_checks()[token] -= auth.REVOCATION_CHECK

    app.run()

    assert not app.metric and not app.title
    assert [field.label for field in app.text_input] == ["用户名", "密码"]


def merchant_label(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> str:
    code, name = serving.execute(
        "SELECT merchant_code, merchant_name FROM marts.dim_merchants WHERE merchant_id = ?", [merchant_id]
    ).fetchone()
    return f"{code} · {name}"


def customers_of(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> set[tuple[str, str]]:
    rows = serving.execute(
        "SELECT customer_code, customer_name FROM marts.dim_customers WHERE merchant_id = ?", [merchant_id]
    ).fetchall()
    return set(rows)


def skus_of(serving: duckdb.DuckDBPyConnection, merchant_id: int) -> set[str]:
    rows = serving.execute("SELECT sku_code FROM marts.dim_products WHERE merchant_id = ?", [merchant_id]).fetchall()
    return {row[0] for row in rows}


def shown_customers(app: AppTest) -> set[tuple[str, str]]:
    shown: set[tuple[str, str]] = set()
    for table in app.dataframe:
        frame = table.value
        if {"customer_code", "customer_name"} <= set(frame.columns):
            shown |= set(zip(frame["customer_code"], frame["customer_name"], strict=True))
    return shown


def shown_skus(app: AppTest) -> set[str]:
    return {code for table in app.dataframe if "sku_code" in table.value.columns for code in table.value["sku_code"]}


def assert_only_own_merchant(
    app: AppTest, serving: duckdb.DuckDBPyConnection, own: int, other: int, context: str
) -> None:
    assert not app.exception, context
    captions = " ".join(caption.value for caption in app.caption)
    if titles(app) == ["经营概览"]:
        assert merchant_label(serving, own) in captions, context
    assert merchant_label(serving, other) not in captions, context
    assert shown_customers(app) <= customers_of(serving, own), context
    assert shown_skus(app) <= skus_of(serving, own), context


def attempts_to_see_another_merchant(
    app: AppTest, page: str, other: int, other_code: str, other_sku: str
) -> Iterator[str]:
    """Each way a session could try to switch merchant, applied one after the other; yields what it did."""
    app.session_state["merchant_id"] = other
    app.run()
    yield "merchant_id written into session state"
    app.query_params["merchant_id"] = str(other)
    app.query_params["merchant"] = other_code
    app.query_params["merchant_code"] = other_code
    app.run()
    yield "merchant in the query string"
    keys = [box.key for box in app.selectbox if box.key]
    if keys:
        # Away and back, so the page's widgets start again from the URL, which names the other
        # merchant's SKU. (AppTest cannot set a value a selectbox does not offer directly.)
        app.switch_page(OVERVIEW_PAGE).run()
        app.query_params.update(dict.fromkeys(keys, other_sku))
        app.switch_page(page).run()
        yield f"widgets {', '.join(keys)} given the other merchant's SKU {other_sku} in the URL"
    app.session_state[SESSION_TOKEN_KEY] = "forged-token"
    app.run()
    yield "a forged session token"


@pytest.mark.parametrize("page", [OVERVIEW_PAGE, CUSTOMERS_PAGE, PRODUCTS_PAGE, FORECAST_PAGE])
def test_a_merchant_session_never_shows_another_merchants_rows(
    signed_out: AppTest,
    pipeline_run: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    serving: duckdb.DuckDBPyConnection,
    merchant_pair: tuple[int, int],
    page: str,
) -> None:
    own, other = merchant_pair
    assert customers_of(serving, other) - customers_of(serving, own), "the merchants' customers do not differ"
    assert skus_of(serving, other) - skus_of(serving, own), "the merchants' SKUs do not differ"
    (other_code,) = serving.execute(
        "SELECT merchant_code FROM marts.dim_merchants WHERE merchant_id = ?", [other]
    ).fetchone()
    app = open_page(sign_in_as(signed_out, monkeypatch, pipeline_run.database_url, "owner", own), page)

    assert_only_own_merchant(app, serving, own, other, f"{page} after sign-in")
    assert shown_customers(app) or shown_skus(app) or page == OVERVIEW_PAGE, f"{page} showed no row to compare"
    other_sku = sorted(skus_of(serving, other) - skus_of(serving, own))[0]
    for attempt in attempts_to_see_another_merchant(app, page, other, other_code, other_sku):
        assert_only_own_merchant(app, serving, own, other, f"{page}: {attempt}")
    # The forged token signed the session out rather than into anything.
    assert [field.label for field in app.text_input] == ["用户名", "密码"]


def test_an_admin_picks_any_merchant(
    signed_out: AppTest,
    pipeline_run: PipelineRun,
    monkeypatch: pytest.MonkeyPatch,
    serving: duckdb.DuckDBPyConnection,
    merchant_pair: tuple[int, int],
) -> None:
    app = sign_in_as(signed_out, monkeypatch, pipeline_run.database_url, "admin")
    for merchant_id in merchant_pair:
        app.sidebar.selectbox(key="merchant_id").set_value(merchant_id).run()
        assert merchant_label(serving, merchant_id) in " ".join(caption.value for caption in app.caption)
