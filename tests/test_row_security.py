"""Merchant isolation by PostgreSQL row security: the application role sees and writes only the
merchant named for its transaction, in every merchant-owned table."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import PipelineRun
from transactional import db

AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def merchant_owned_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT c.table_name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'core' AND c.column_name = 'merchant_id' AND t.table_type = 'BASE TABLE'
           ORDER BY 1"""
    ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture(scope="module")
def owner_url(pipeline_run: PipelineRun) -> str:
    """The simulated tiny network (two merchants trading) as its owner sees it."""
    return pipeline_run.database_url


@pytest.fixture(scope="module")
def merchant_ids(owner_url: str) -> list[int]:
    with psycopg.connect(owner_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT merchant_id FROM core.merchants ORDER BY 1")]
    assert len(ids) >= 2, "isolation needs at least two merchants with data"
    return ids


def test_every_merchant_owned_table_has_row_security(owner_url: str) -> None:
    with psycopg.connect(owner_url) as conn:
        tables = merchant_owned_tables(conn)
        unprotected = conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'core' AND c.relname = ANY(%s)
                 AND (NOT c.relrowsecurity OR NOT EXISTS (
                     SELECT 1 FROM pg_policies p
                     WHERE p.schemaname = 'core' AND p.tablename = c.relname
                       AND p.policyname = 'merchant_isolation'))""",
            [tables],
        ).fetchall()
    assert "orders" in tables and "stock_movements" in tables
    assert unprotected == []


def test_application_role_neither_owns_tables_nor_bypasses_row_security(owner_url: str) -> None:
    with psycopg.connect(owner_url) as conn:
        role = conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [db.APP_ROLE]).fetchone()
        owned = conn.execute(
            """SELECT count(*) FROM pg_tables WHERE schemaname = 'core' AND tableowner = %s""", [db.APP_ROLE]
        ).fetchone()
    assert role == (False, False)
    assert owned == (0,)
    # With row_security off, PostgreSQL refuses a query that policies would filter rather than
    # return unfiltered rows, unless the role may bypass them.
    with (
        psycopg.connect(db.as_role(owner_url, db.APP_ROLE)) as app,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
    ):
        app.execute("SET row_security = off")
        app.execute("SELECT count(*) FROM core.orders").fetchone()


def test_a_merchant_reads_zero_rows_of_another_in_every_table(owner_url: str, merchant_ids: list[int]) -> None:
    with psycopg.connect(owner_url) as owner:
        tables = merchant_owned_tables(owner)
        owner_counts = {
            table: dict(owner.execute(f"SELECT merchant_id, count(*) FROM core.{table} GROUP BY 1").fetchall())
            for table in tables
        }
    populated = [table for table in tables if len(owner_counts[table]) >= 2]
    # The simulated network fills the trading tables for both merchants; isolation is only
    # proven where the other merchant has rows to hide.
    assert {"orders", "order_lines", "stock", "stock_movements", "products", "customers"} <= set(populated)

    with psycopg.connect(db.as_role(owner_url, db.APP_ROLE)) as app:
        for merchant_id in merchant_ids:
            with app.transaction():
                db.act_for_merchant(app, merchant_id)
                for table in tables:
                    seen = dict(app.execute(f"SELECT merchant_id, count(*) FROM core.{table} GROUP BY 1").fetchall())
                    own_rows = owner_counts[table].get(merchant_id)
                    expected = {merchant_id: own_rows} if own_rows else {}
                    assert seen == expected, f"core.{table} as merchant {merchant_id}"


def test_without_a_merchant_the_application_sees_nothing(owner_url: str) -> None:
    with psycopg.connect(db.as_role(owner_url, db.APP_ROLE)) as app:
        for table in merchant_owned_tables(app):
            assert app.execute(f"SELECT count(*) FROM core.{table}").fetchone() == (0,), f"core.{table}"


def test_a_merchant_cannot_write_another_merchants_rows(owner_url: str, merchant_ids: list[int]) -> None:
    own, other = merchant_ids[0], merchant_ids[1]
    with psycopg.connect(db.as_role(owner_url, db.APP_ROLE)) as app:
        with app.transaction(force_rollback=True):
            db.act_for_merchant(app, own)
            renamed = app.execute("UPDATE core.customers SET name = 'x' WHERE merchant_id = %s", [other])
            assert renamed.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"), app.transaction():
            db.act_for_merchant(app, own)
            app.execute(
                """INSERT INTO core.customers (merchant_id, customer_code, name, created_at, updated_at)
                       VALUES (%s, 'INTRUDER', '外人', %s, %s)""",
                [other, AT, AT],
            )


def test_the_ingest_role_reads_every_merchant_but_writes_nothing(owner_url: str, merchant_ids: list[int]) -> None:
    with psycopg.connect(db.as_role(owner_url, db.INGEST_ROLE)) as ingest:
        seen = [row[0] for row in ingest.execute("SELECT DISTINCT merchant_id FROM core.orders ORDER BY 1")]
        assert seen == merchant_ids
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ingest.execute("UPDATE core.customers SET name = name")


def test_network_wide_tables_are_read_only_to_merchants(owner_url: str, merchant_ids: list[int]) -> None:
    with psycopg.connect(db.as_role(owner_url, db.APP_ROLE)) as app:
        db.act_for_merchant(app, merchant_ids[0])
        assert app.execute("SELECT count(*) FROM core.categories").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("UPDATE core.categories SET name = name")


def test_views_apply_the_callers_row_security(owner_url: str) -> None:
    """A view runs as its owner unless told otherwise, which would bypass the policies."""
    with psycopg.connect(owner_url) as conn:
        definer_views = conn.execute(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'core' AND c.relkind = 'v'
                 AND NOT coalesce('security_invoker=true' = ANY(c.reloptions), false)"""
        ).fetchall()
    assert definer_views == []
