"""Sign-in: who this session is, decided only by a password checked in PostgreSQL.

The form calls `transactional.users.authenticate` as `coopcast_app` (a role subject to row
security), which applies the platform's lock-out rule. The signed-in account is kept server-side,
in a registry shared by the app's sessions; the session's state holds only a random token naming
it. So nothing a browser sends (widget values, the URL) and nothing written into session state
can make a session another account or another merchant: a forged token names no account.

At sign-in the account also gets a token for the HTTP API (`transactional.user_sessions`), kept
beside the account in the same server-side way; the dashboard writes (approving replenishment
suggestions) send it, and signing out revokes it. A dashboard session ends when that token
expires (`user_sessions.SESSION_LIFETIME`), or within REVOCATION_CHECK of its revocation by
another process (a password reset revokes every token of the account): the next run of the page
asks for the password again.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import psycopg
import streamlit as st

from dashboards.i18n import LANGUAGE_KEY, t
from dashboards.queries import BUSINESS_TIMEZONE
from transactional import db, user_sessions, users

# Not the key of any widget: only this module writes it.
SESSION_TOKEN_KEY = "_coopcast_session_token"
USERNAME_KEY = "sign_in_username"
PASSWORD_KEY = "sign_in_password"
# How stale a session's knowledge of its own revocation may be: asking PostgreSQL on every run of
# every page would put a round trip on each click.
REVOCATION_CHECK = timedelta(seconds=30)


@st.cache_resource
def _signed_in_accounts() -> dict[str, users.SignedInUser]:
    """Signed-in accounts by session token, for this server process."""
    return {}


@st.cache_resource
def _api_sessions() -> dict[str, user_sessions.IssuedSession]:
    """The signed-in accounts' API sessions, by the same session token."""
    return {}


@st.cache_resource
def _last_revocation_checks() -> dict[str, datetime]:
    """When each session's API token was last found live in PostgreSQL, by the same session token."""
    return {}


def _forget(session_token: str) -> None:
    _signed_in_accounts().pop(session_token, None)
    _api_sessions().pop(session_token, None)
    _last_revocation_checks().pop(session_token, None)


def _revoked(session_token: str, api_session: user_sessions.IssuedSession, now: datetime) -> bool:
    """Whether the account's API token was revoked elsewhere (sign-out in another process, a
    password reset); asked of PostgreSQL at most every REVOCATION_CHECK. A database that cannot be
    reached does not sign anyone out: the pages read the serving copy, not PostgreSQL."""
    checks = _last_revocation_checks()
    last_check = checks.get(session_token)
    if last_check is not None and now - last_check < REVOCATION_CHECK:
        return False
    try:
        with psycopg.connect(db.app_database_url(), autocommit=True) as conn:
            live = user_sessions.account_for_token(conn, api_session.token, now) is not None
    except psycopg.OperationalError:
        return False
    checks[session_token] = now
    return not live


def _forget_expired(now: datetime) -> None:
    """Drop the sessions whose time is up, those of closed browser tabs included."""
    for session_token, api_session in list(_api_sessions().items()):
        if api_session.expires_at <= now:
            _forget(session_token)


def signed_in_user() -> users.SignedInUser | None:
    token = st.session_state.get(SESSION_TOKEN_KEY)
    if not isinstance(token, str):
        return None
    api_session = _api_sessions().get(token)
    now = datetime.now(UTC)
    if api_session is None or api_session.expires_at <= now or _revoked(token, api_session, now):
        _forget(token)
        return None
    return _signed_in_accounts().get(token)


def api_token() -> str | None:
    """The token the signed-in account acts with in the HTTP API."""
    token = st.session_state.get(SESSION_TOKEN_KEY)
    api_session = _api_sessions().get(token) if isinstance(token, str) else None
    return api_session.token if api_session else None


def _remember(user: users.SignedInUser, api_session: user_sessions.IssuedSession) -> None:
    _forget_expired(datetime.now(UTC))
    token = secrets.token_urlsafe(32)
    _signed_in_accounts()[token] = user
    _api_sessions()[token] = api_session
    _last_revocation_checks()[token] = datetime.now(UTC)  # issued just now, so live
    st.session_state[SESSION_TOKEN_KEY] = token


def _revoke_api_token(session_token: object) -> None:
    api_session = _api_sessions().pop(session_token, None) if isinstance(session_token, str) else None
    if api_session is None:
        return
    try:
        with psycopg.connect(db.app_database_url(), autocommit=True) as conn:
            user_sessions.revoke_session(conn, api_session.token, datetime.now(UTC))
    except psycopg.OperationalError:
        # Signing out must not depend on the database; the token still expires on its own.
        return


def sign_out() -> None:
    """Forget the account and everything the session chose while signed in, except its language."""
    _revoke_api_token(st.session_state.get(SESSION_TOKEN_KEY))
    _signed_in_accounts().pop(st.session_state.get(SESSION_TOKEN_KEY), None)
    for key in list(st.session_state):
        if key != LANGUAGE_KEY:
            del st.session_state[key]


def locked_until_text(locked_until: datetime) -> str:
    return locked_until.astimezone(BUSINESS_TIMEZONE).strftime("%Y-%m-%d %H:%M")


def _refusal(error: users.WrongPassword | users.AccountLocked) -> str:
    if isinstance(error, users.AccountLocked):
        return t("auth_locked", attempts=users.MAX_FAILED_ATTEMPTS, until=locked_until_text(error.locked_until))
    minutes = int(users.LOCK_DURATION.total_seconds() // 60)
    return t("auth_wrong_password", attempts=error.attempts_left, minutes=minutes)


def _sign_in(username: str, password: str) -> None:
    if not username.strip() or not password:
        st.error(t("auth_missing"))
        return
    try:
        with psycopg.connect(db.app_database_url(), autocommit=True) as conn:
            signed_in_at = datetime.now(UTC)
            user = users.authenticate(conn, username.strip(), password, signed_in_at)
            api_session = user_sessions.open_session(conn, user, signed_in_at)
    except (users.WrongPassword, users.AccountLocked) as error:
        st.error(_refusal(error))
        return
    except psycopg.OperationalError:
        st.error(t("auth_unavailable"))
        return
    _remember(user, api_session)
    st.rerun()


def sign_in_form() -> None:
    with st.form("sign_in"):
        st.subheader(t("auth_title"))
        username = st.text_input(t("auth_username"), key=USERNAME_KEY)
        password = st.text_input(t("auth_password"), type="password", key=PASSWORD_KEY)
        submitted = st.form_submit_button(t("auth_submit"), type="primary")
    if submitted:
        _sign_in(username, password)


def account_sidebar(user: users.SignedInUser) -> None:
    st.sidebar.caption(t("auth_signed_in_as", username=user.username, role=t(f"role_{user.role}")))
    if st.sidebar.button(t("auth_sign_out"), key="sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()
