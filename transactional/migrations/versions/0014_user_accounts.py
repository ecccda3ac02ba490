"""Dashboard accounts: users, their sign-in state and the account log.

Revision ID: 0014
Revises: 0013

Who may read what. Accounts are created and reset from the command line, which runs as the
owner. The dashboard signs users in as `coopcast_app`, which is subject to row security, and it
does not know the merchant before the password is checked, so it cannot name one with
`coopcast.merchant_id` the way the API does after checking a key. Two SECURITY DEFINER functions
are its only door, as `core.authenticate_api_key` is the API's:

- `core.account_for_sign_in(username)` returns the one account with that name (case-insensitive)
  and locks its row until the caller's transaction ends, so concurrent wrong passwords queue and
  every one of them counts. It returns the password hash, because argon2id is checked in Python
  (PostgreSQL has no argon2); the caller must already know the name, and there is no way to list
  accounts.
- `core.record_sign_in(...)` stores the outcome the lock-out rule (transactional/users.py)
  decided, for that one account, and appends it to the account log. It accepts only sign-in
  outcomes, so the application role cannot create accounts or change passwords.

Otherwise `coopcast_app` reads the accounts and the account log of the merchant named for its
transaction (policy `merchant_isolation`, as every merchant-owned table has), never a password
hash (column privileges), and writes neither directly. Platform admins belong to no merchant
(merchant_id NULL), so no merchant sees them. The ingestion role reads neither table: neither is
copied to the warehouse, and password hashes must not leave PostgreSQL.

The account log is a table of the same kind as `core.operation_log` (append-only, occurred_at
is the action's own time) rather than that table itself, because operation_log rows belong to a
merchant and admin accounts have none.
"""

from alembic import op

revision = "0014"
down_revision = "0013"

UPGRADE = """
CREATE TABLE core.users (
    user_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$'),
    merchant_id         bigint REFERENCES core.merchants,
    role                text NOT NULL CHECK (role IN ('owner', 'procurement', 'sales', 'finance', 'admin')),
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- Consecutive wrong passwords since the last success or the end of the last lock.
    failed_attempts     smallint NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    last_signed_in_at   timestamptz,
    CONSTRAINT users_only_admins_have_no_merchant CHECK ((role = 'admin') = (merchant_id IS NULL))
);
CREATE UNIQUE INDEX users_username_case_insensitive ON core.users (lower(username));
CREATE INDEX users_merchant_idx ON core.users (merchant_id);

CREATE TABLE core.account_log (
    account_log_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for a sign-in attempt under a name no account has.
    user_id         bigint REFERENCES core.users,
    username        text NOT NULL CHECK (length(username) BETWEEN 1 AND 200),
    merchant_id     bigint REFERENCES core.merchants,
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    operation       text NOT NULL CHECK (operation IN (
        'account.create', 'account.reset_password', 'account.sign_in', 'account.sign_in_failed',
        'account.lock', 'account.sign_in_refused_locked')),
    detail          jsonb NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_log_user_occurred_idx ON core.account_log (user_id, occurred_at);
CREATE INDEX account_log_unknown_name_idx ON core.account_log (lower(username), occurred_at) WHERE user_id IS NULL;

CREATE TRIGGER account_log_append_only
    BEFORE UPDATE OR DELETE ON core.account_log
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_append_only_rewrite();
CREATE TRIGGER account_log_no_truncate
    BEFORE TRUNCATE ON core.account_log
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_append_only_rewrite();

-- The default privileges of revision 0009 granted SELECT on every new core table.
REVOKE ALL ON core.users, core.account_log FROM coopcast_app, coopcast_ingest;
GRANT SELECT (user_id, username, merchant_id, role, created_at, updated_at, last_signed_in_at, locked_until)
    ON core.users TO coopcast_app;
GRANT SELECT ON core.account_log TO coopcast_app;
ALTER TABLE core.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.account_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY merchant_isolation ON core.users FOR SELECT TO coopcast_app
    USING (merchant_id = core.current_merchant_id());
CREATE POLICY merchant_isolation ON core.account_log FOR SELECT TO coopcast_app
    USING (merchant_id = core.current_merchant_id());

CREATE FUNCTION core.account_for_sign_in(presented_username text)
    RETURNS TABLE (user_id bigint, username text, role text, merchant_id bigint, merchant_code text,
                   password_hash text, failed_attempts smallint, locked_until timestamptz)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.user_id, u.username, u.role, u.merchant_id, m.merchant_code,
           u.password_hash, u.failed_attempts, u.locked_until
    FROM core.users u LEFT JOIN core.merchants m ON m.merchant_id = u.merchant_id
    WHERE lower(u.username) = lower(presented_username)
    FOR UPDATE OF u
$$;

-- A name no account has is logged too (user_id NULL): the lock-out rule counts its recent
-- failures from the log, so that probing names answers exactly as a real account would.
CREATE FUNCTION core.record_sign_in(
    signed_user_id bigint, presented_username text, outcome text, new_failed_attempts smallint,
    new_locked_until timestamptz, actor text, detail jsonb, at timestamptz
) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account_merchant bigint;
BEGIN
    IF outcome NOT IN ('account.sign_in', 'account.sign_in_failed', 'account.lock',
                       'account.sign_in_refused_locked') THEN
        RAISE EXCEPTION '% is not a sign-in outcome', outcome USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF signed_user_id IS NOT NULL THEN
        UPDATE core.users
           SET failed_attempts = new_failed_attempts,
               locked_until = new_locked_until,
               last_signed_in_at = CASE WHEN outcome = 'account.sign_in' THEN at ELSE last_signed_in_at END,
               updated_at = at
         WHERE users.user_id = signed_user_id
        RETURNING users.merchant_id INTO account_merchant;
    END IF;
    INSERT INTO core.account_log (user_id, username, merchant_id, actor, operation, detail, occurred_at)
    VALUES (signed_user_id, presented_username, account_merchant, actor, outcome, detail, at);
END $$;

CREATE FUNCTION core.recent_failed_sign_ins_of_unknown_name(presented_username text, since timestamptz)
    RETURNS TABLE (occurred_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.occurred_at FROM core.account_log l
    WHERE l.user_id IS NULL AND lower(l.username) = lower(presented_username)
      AND l.operation = 'account.sign_in_failed' AND l.occurred_at > since
    ORDER BY l.occurred_at
$$;

REVOKE ALL ON FUNCTION core.account_for_sign_in(text),
    core.record_sign_in(bigint, text, text, smallint, timestamptz, text, jsonb, timestamptz),
    core.recent_failed_sign_ins_of_unknown_name(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.account_for_sign_in(text),
    core.record_sign_in(bigint, text, text, smallint, timestamptz, text, jsonb, timestamptz),
    core.recent_failed_sign_ins_of_unknown_name(text, timestamptz) TO coopcast_app;
"""

DOWNGRADE = """
DROP FUNCTION core.recent_failed_sign_ins_of_unknown_name(text, timestamptz),
    core.record_sign_in(bigint, text, text, smallint, timestamptz, text, jsonb, timestamptz),
    core.account_for_sign_in(text);
DROP TABLE core.account_log, core.users;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
