"""Alembic environment: plain SQL migrations of the `core` schema, run as the schema owner."""

import psycopg
from alembic import context
from sqlalchemy import create_engine, text

from transactional.db import database_url

uri = context.config.attributes.get("database_url") or database_url()
engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(uri))

with engine.begin() as connection:
    connection.execute(text("CREATE SCHEMA IF NOT EXISTS core"))
    context.configure(connection=connection, version_table_schema="core", transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
