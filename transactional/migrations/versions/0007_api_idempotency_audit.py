"""API keys, idempotency keys, operation log, funnel events.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"

UPGRADE = """
-- Only a SHA-256 of each key is kept; the prefix (also part of the key) names it in listings and
-- in the operation log. A merchant has at most one live key: rotating revokes the old one.
CREATE TABLE core.api_keys (
    api_key_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    key_prefix      text NOT NULL UNIQUE CHECK (key_prefix ~ '^ck_[0-9a-f]{8}$'),
    key_hash        bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE UNIQUE INDEX api_keys_one_live_key_per_merchant ON core.api_keys (merchant_id) WHERE revoked_at IS NULL;

-- The API connects as a role that sees only the current merchant's rows, and it does not know
-- the merchant until the key is checked: this function (running as the owner) is the one door.
CREATE FUNCTION core.authenticate_api_key(presented_key_hash bytea) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT merchant_id FROM core.api_keys WHERE key_hash = presented_key_hash AND revoked_at IS NULL
$$;

-- An idempotency key is claimed (inserted) in the same transaction as the write it guards, so
-- a concurrent retry waits on the primary key and then reads the stored response.
CREATE TABLE core.idempotency_keys (
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation       text NOT NULL,
    request_hash    bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, key)
);

-- The response is written at the end of the guarded transaction; a key never commits without it.
CREATE FUNCTION core.require_idempotent_response() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM core.idempotency_keys
               WHERE merchant_id = NEW.merchant_id AND key = NEW.key AND response IS NULL) THEN
        RAISE EXCEPTION 'idempotency key % committed without a response', NEW.key
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER idempotency_keys_response_at_commit
    AFTER INSERT OR UPDATE ON core.idempotency_keys
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION core.require_idempotent_response();

-- Who did what, to what, when. occurred_at is the write's own (possibly simulated) time,
-- recorded_at the server's clock when it was written.
CREATE TABLE core.operation_log (
    operation_log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    operation       text NOT NULL CHECK (operation ~ '^[a-z_]+(\\.[a-z_]+)+$'),
    target          text,
    idempotency_key text,
    request         jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operation_log_merchant_occurred_idx ON core.operation_log (merchant_id, occurred_at);

CREATE FUNCTION core.refuse_append_only_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER operation_log_append_only
    BEFORE UPDATE OR DELETE ON core.operation_log
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_append_only_rewrite();
CREATE TRIGGER operation_log_no_truncate
    BEFORE TRUNCATE ON core.operation_log
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_append_only_rewrite();

-- Funnel stages in funnel order; events store the code, names live here once. Events check the
-- code with a CHECK, not a foreign key: a per-row key check would add about a third to the time of
-- every bulk load of the biggest table, for a set that never changes.
CREATE TABLE core.funnel_event_types (
    event_type      smallint PRIMARY KEY CHECK (event_type BETWEEN 1 AND 5),
    name            text NOT NULL UNIQUE
);
INSERT INTO core.funnel_event_types (event_type, name) VALUES
    (1, 'exposure'), (2, 'visit'), (3, 'product_view'), (4, 'cart_add'), (5, 'purchase');

-- The biggest table: fixed-width columns only (no text, no surrogate key), the smallint last so
-- it adds no alignment padding, and a BRIN index because events arrive in time order.
CREATE TABLE core.funnel_events (
    merchant_id     bigint NOT NULL REFERENCES core.merchants,
    occurred_at     timestamptz NOT NULL,
    session_id      bigint NOT NULL CHECK (session_id > 0),
    customer_id     bigint,
    product_id      bigint,
    order_id        bigint,
    event_type      smallint NOT NULL CHECK (event_type BETWEEN 1 AND 5),
    CONSTRAINT funnel_events_product_stage_names_product
        CHECK (event_type NOT IN (3, 4) OR product_id IS NOT NULL),
    CONSTRAINT funnel_events_purchase_names_order
        CHECK (event_type <> 5 OR order_id IS NOT NULL),
    FOREIGN KEY (customer_id, merchant_id) REFERENCES core.customers (customer_id, merchant_id),
    FOREIGN KEY (product_id, merchant_id) REFERENCES core.products (product_id, merchant_id),
    FOREIGN KEY (order_id, merchant_id) REFERENCES core.orders (order_id, merchant_id)
);
CREATE INDEX funnel_events_occurred_brin ON core.funnel_events USING brin (occurred_at);
"""

DOWNGRADE = """
DROP TABLE core.funnel_events, core.funnel_event_types, core.operation_log, core.idempotency_keys, core.api_keys;
DROP FUNCTION core.refuse_append_only_rewrite(), core.require_idempotent_response(),
    core.authenticate_api_key(bytea);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
