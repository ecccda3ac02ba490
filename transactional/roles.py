"""The PostgreSQL roles the platform connects as (see DESIGN: owner, application, ingestion).

Roles belong to the server, not to one database, so they are created idempotently wherever a
database is migrated or restored; a concurrent creator (another migration on the same server)
is tolerated.
"""

CREATE_ROLES_SQL = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coopcast_app') THEN
        BEGIN
            CREATE ROLE coopcast_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coopcast_ingest') THEN
        BEGIN
            CREATE ROLE coopcast_ingest LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END $$;
"""
