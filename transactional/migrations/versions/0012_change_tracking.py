"""Change tracking for incremental ingestion: a transaction id per row and a log of deletes.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"

# The warehouse copies a table incrementally by asking for the rows whose change_txid is at or
# above the oldest transaction still running at its previous copy (pg_snapshot_xmin). A
# timestamp would not do: a row stamped before that copy but committed after it would be skipped
# for ever. Every insert stamps its transaction id by default and every update re-stamps it, so a
# row version written by a transaction older than that bound was already committed, and copied.
#
# Tables every session may read but that are not copied to the warehouse (migration bookkeeping,
# credentials, the API's replay cache, and the delete log itself) are left alone.

UPGRADE = """
-- Deletes leave no row behind to carry a transaction id, so they are logged: the key of each
-- deleted row with the deleting transaction's id. No service deletes today; the log is how a
-- delete, should one ever be allowed, reaches the warehouse.
CREATE TABLE core.deleted_rows (
    deleted_row_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name      text NOT NULL,
    key             jsonb NOT NULL,
    change_txid     xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX deleted_rows_change_txid ON core.deleted_rows (change_txid);

CREATE FUNCTION core.stamp_change_txid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_txid := pg_current_xact_id();
    RETURN NEW;
END $$;

-- Once per statement over its transition table; the trigger's arguments name the key columns.
-- SECURITY DEFINER: a role subject to row security that may delete a row need not be able to
-- write the log.
CREATE FUNCTION core.log_deleted_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO core.deleted_rows (table_name, key)
    SELECT TG_TABLE_NAME,
           (SELECT jsonb_object_agg(field.key, field.value)
              FROM jsonb_each(to_jsonb(gone)) AS field
             WHERE field.key = ANY (TG_ARGV))
    FROM deleted AS gone;
    RETURN NULL;
END $$;

-- Later revisions call this for each new table the warehouse copies (tests/test_ingest.py
-- fails when a copied table lacks it). The column is added with a constant default first, which
-- PostgreSQL stores once instead of rewriting the table; existing rows keep 0 and are copied by
-- the warehouse's first (full) load.
CREATE FUNCTION core.track_changes(target regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    table_name text := (SELECT relname FROM pg_class WHERE oid = target);
    key_columns text;
BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN change_txid xid8 NOT NULL DEFAULT %L', target, '0');
    EXECUTE format('ALTER TABLE %s ALTER COLUMN change_txid SET DEFAULT pg_current_xact_id()', target);
    EXECUTE format('CREATE INDEX %I ON %s (change_txid)', table_name || '_change_txid', target);
    EXECUTE format(
        'CREATE TRIGGER stamp_change_txid BEFORE UPDATE ON %s '
        'FOR EACH ROW EXECUTE FUNCTION core.stamp_change_txid()', target);
    SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum) INTO key_columns
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indrelid = target AND i.indisprimary;
    IF key_columns IS NOT NULL THEN
        EXECUTE format(
            'CREATE TRIGGER log_deleted_rows AFTER DELETE ON %s REFERENCING OLD TABLE AS deleted '
            'FOR EACH STATEMENT EXECUTE FUNCTION core.log_deleted_rows(%s)', target, key_columns);
    END IF;
END $$;

-- Funnel events have no key: the warehouse appends them by transaction id, which is exact only
-- while they are never changed, so the database now says so.
CREATE TRIGGER funnel_events_append_only
    BEFORE DELETE OR UPDATE ON core.funnel_events
    FOR EACH STATEMENT EXECUTE FUNCTION core.refuse_rewrite();

SELECT core.track_changes(format('core.%I', table_name)::regclass)
FROM information_schema.tables
WHERE table_schema = 'core' AND table_type = 'BASE TABLE'
  AND table_name NOT IN ('alembic_version', 'api_keys', 'idempotency_keys', 'deleted_rows')
ORDER BY table_name;
"""

DOWNGRADE = """
DO $$
DECLARE
    tracked record;
BEGIN
    FOR tracked IN
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'core' AND column_name = 'change_txid' AND table_name <> 'deleted_rows'
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS log_deleted_rows ON core.%I', tracked.table_name);
        EXECUTE format('DROP TRIGGER stamp_change_txid ON core.%I', tracked.table_name);
        EXECUTE format('ALTER TABLE core.%I DROP COLUMN change_txid', tracked.table_name);
    END LOOP;
END $$;
DROP TRIGGER funnel_events_append_only ON core.funnel_events;
DROP FUNCTION core.track_changes(regclass);
DROP FUNCTION core.log_deleted_rows();
DROP FUNCTION core.stamp_change_txid();
DROP TABLE core.deleted_rows;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
