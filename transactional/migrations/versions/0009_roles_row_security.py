"""PostgreSQL roles and row-level security for merchant isolation.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from transactional.roles import CREATE_ROLES_SQL

revision = "0009"
down_revision = "0008"

# Three roles, as DESIGN fixes them: the owner (whoever runs migrations) owns every table and is
# not subject to row security; coopcast_app (the API, the dashboards' write path) is, and sees
# only the merchant named by `SET LOCAL coopcast.merchant_id`; coopcast_ingest reads everything
# for the warehouse and may bypass row security. Roles are cluster-wide, so several databases
# on one server (tests, staging) share them; creating them tolerates a concurrent creator.
UPGRADE = """
-- An unset or empty setting is NULL, which matches no row: a connection that forgot to name
-- its merchant sees nothing rather than everything.
CREATE FUNCTION core.current_merchant_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('coopcast.merchant_id', true), '')::bigint $$;

-- One policy shape for every merchant-owned table; later revisions call this for new tables
-- (tests/test_row_security.py fails when a table with merchant_id is left out). Only these
-- tables are writable by the application: network-wide ones (categories, commission rates)
-- are the platform's, read-only to merchants.
CREATE FUNCTION core.isolate_by_merchant(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT INSERT, UPDATE ON %s TO coopcast_app', target);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY merchant_isolation ON %s TO coopcast_app '
        'USING (merchant_id = core.current_merchant_id()) '
        'WITH CHECK (merchant_id = core.current_merchant_id())',
        target);
END $$;

GRANT USAGE ON SCHEMA core TO coopcast_app, coopcast_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA core TO coopcast_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA core TO coopcast_app;
GRANT SELECT ON ALL TABLES IN SCHEMA core TO coopcast_ingest;
GRANT USAGE ON SCHEMA sim TO coopcast_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA sim TO coopcast_ingest;
ALTER DEFAULT PRIVILEGES IN SCHEMA core GRANT SELECT ON TABLES TO coopcast_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA core GRANT USAGE, SELECT ON SEQUENCES TO coopcast_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA core GRANT SELECT ON TABLES TO coopcast_ingest;
ALTER DEFAULT PRIVILEGES IN SCHEMA sim GRANT SELECT ON TABLES TO coopcast_ingest;

SELECT core.isolate_by_merchant(format('%I.%I', c.table_schema, c.table_name)::regclass)
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'core' AND c.column_name = 'merchant_id' AND t.table_type = 'BASE TABLE';
"""

DOWNGRADE = """
ALTER DEFAULT PRIVILEGES IN SCHEMA core REVOKE ALL ON TABLES FROM coopcast_app, coopcast_ingest;
ALTER DEFAULT PRIVILEGES IN SCHEMA core REVOKE ALL ON SEQUENCES FROM coopcast_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA sim REVOKE ALL ON TABLES FROM coopcast_ingest;
REVOKE ALL ON ALL TABLES IN SCHEMA core FROM coopcast_app, coopcast_ingest;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA core FROM coopcast_app;
REVOKE ALL ON ALL TABLES IN SCHEMA sim FROM coopcast_ingest;
REVOKE USAGE ON SCHEMA core FROM coopcast_app, coopcast_ingest;
REVOKE USAGE ON SCHEMA sim FROM coopcast_ingest;

DO $$
DECLARE
    isolated record;
BEGIN
    FOR isolated IN
        SELECT schemaname, tablename FROM pg_policies
        WHERE schemaname = 'core' AND policyname = 'merchant_isolation'
    LOOP
        EXECUTE format('DROP POLICY merchant_isolation ON %I.%I', isolated.schemaname, isolated.tablename);
        EXECUTE format('ALTER TABLE %I.%I DISABLE ROW LEVEL SECURITY', isolated.schemaname, isolated.tablename);
    END LOOP;
END $$;

DROP FUNCTION core.isolate_by_merchant(regclass);
DROP FUNCTION core.current_merchant_id();
"""


def upgrade() -> None:
    op.execute(CREATE_ROLES_SQL)
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
