"""Set-based writes: one statement per table for a whole batch of postings."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql


def reserve_ids(conn: psycopg.Connection, table: str, column: str, count: int) -> list[int]:
    """Draw `count` ids from an identity column's sequence, so that rows written in bulk can
    reference each other without a round trip per row."""
    if count == 0:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [f"core.{table}", column, count],
    ).fetchall()
    return [int(row[0]) for row in rows]


def insert_rows(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[object]],
    *,
    with_identity: bool = False,
) -> None:
    """INSERT ... SELECT FROM unnest(one array per column): `columns` are (name, SQL type) pairs;
    `with_identity` when the rows carry ids drawn by `reserve_ids`."""
    if not rows:
        return
    query = sql.SQL("INSERT INTO core.{table} ({names}) {overriding} SELECT * FROM unnest({arrays})").format(
        table=sql.Identifier(table),
        names=sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
        overriding=sql.SQL("OVERRIDING SYSTEM VALUE" if with_identity else ""),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(sql_type)) for _, sql_type in columns),
    )
    conn.execute(query, [list(column) for column in zip(*rows, strict=True)])
