"""The transactional core: PostgreSQL schema, migrations and the domain services that write it."""
