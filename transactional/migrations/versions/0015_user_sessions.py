"""Dashboard sessions the API accepts: a signed-in account acting through the HTTP API.

Revision ID: 0015
Revises: 0014

The dashboard writes (approving replenishment suggestions) through the API, as the account that
signed in, not with the merchant's API key. At sign-in the dashboard mints a random token for
the account; only its SHA-256 is stored here, so a copy of this table grants nothing. A token
lives 12 hours and is revoked at sign-out.

`coopcast_app` neither reads nor writes the table; three SECURITY DEFINER functions are its
only door, as for the accounts of revision 0014:

- `core.open_user_session(user_id, token_hash, at)` mints a token only for an account whose
  last successful sign-in happened at `at` (recorded by `core.record_sign_in` after the
  password was checked), and only once per sign-in: the application role cannot mint a token
  for an account whose password it did not just verify, nor mint a second one later.
- `core.user_session_for_token(token_hash, merchant_code, at)` returns the account of a live
  token (not expired, not revoked) with its role and merchant, for the API to authorize the
  request; for a platform admin's token also the merchant named by `merchant_code` (merchants
  are hidden from `coopcast_app` by row security, and an admin acts for the one it names).
- `core.revoke_user_session(token_hash, at)` ends a token at sign-out.
"""

from alembic import op

revision = "0015"
down_revision = "0014"

UPGRADE = """
CREATE TABLE core.user_sessions (
    user_session_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES core.users,
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at > issued_at),
    revoked_at      timestamptz CHECK (revoked_at >= issued_at),
    CONSTRAINT user_sessions_one_per_sign_in UNIQUE (user_id, issued_at)
);

-- The default privileges of revision 0009 granted SELECT on every new core table.
REVOKE ALL ON core.user_sessions FROM coopcast_app, coopcast_ingest;

CREATE FUNCTION core.open_user_session(signed_user_id bigint, new_token_hash bytea, at timestamptz)
    RETURNS timestamptz
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expires timestamptz := at + interval '12 hours';
BEGIN
    IF NOT EXISTS (SELECT FROM core.users u WHERE u.user_id = signed_user_id AND u.last_signed_in_at = at) THEN
        RAISE EXCEPTION 'account % did not sign in at %', signed_user_id, at USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO core.user_sessions (user_id, token_hash, issued_at, expires_at)
    VALUES (signed_user_id, new_token_hash, at, expires);
    RETURN expires;
END $$;

CREATE FUNCTION core.user_session_for_token(presented_token_hash bytea, named_merchant_code text, at timestamptz)
    RETURNS TABLE (user_id bigint, username text, role text, merchant_id bigint, named_merchant_id bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.user_id, u.username, u.role, u.merchant_id,
           CASE WHEN u.role = 'admin' THEN
               (SELECT m.merchant_id FROM core.merchants m WHERE m.merchant_code = named_merchant_code) END
    FROM core.user_sessions s JOIN core.users u ON u.user_id = s.user_id
    WHERE s.token_hash = presented_token_hash AND s.revoked_at IS NULL AND s.expires_at > at
$$;

CREATE FUNCTION core.revoke_user_session(presented_token_hash bytea, at timestamptz) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE core.user_sessions SET revoked_at = greatest(at, issued_at)
    WHERE token_hash = presented_token_hash AND revoked_at IS NULL
$$;

REVOKE ALL ON FUNCTION core.open_user_session(bigint, bytea, timestamptz),
    core.user_session_for_token(bytea, text, timestamptz), core.revoke_user_session(bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.open_user_session(bigint, bytea, timestamptz),
    core.user_session_for_token(bytea, text, timestamptz), core.revoke_user_session(bytea, timestamptz) TO coopcast_app;
"""

DOWNGRADE = """
DROP FUNCTION core.revoke_user_session(bytea, timestamptz), core.user_session_for_token(bytea, text, timestamptz),
    core.open_user_session(bigint, bytea, timestamptz);
DROP TABLE core.user_sessions;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
