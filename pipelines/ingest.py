"""Copy PostgreSQL `core` into DuckDB `raw` incrementally, exactly once (and `sim` into `sim`).

Every core row carries `change_txid`, the id of the transaction that last wrote it (migration
0012). A run reads PostgreSQL in one REPEATABLE READ snapshot (the postgres scanner keeps one
PostgreSQL transaction for the whole DuckDB transaction) and stores that snapshot. The next run
copies exactly the row versions its predecessor could not see: those whose transaction is at or
above the stored snapshot's xmax or was still running at it (its xip list). A row whose
transaction committed late is in that list, so it is never skipped; one the previous run saw is
never copied twice. No clock is involved.

Mutable tables are merged by primary key (the changed keys are deleted and their new versions
inserted); keyless tables are append-only in PostgreSQL (funnel_events refuses updates and
deletes) and are appended. Deletes come from core.deleted_rows: a key logged as deleted after the
stored snapshot and absent from the current one is deleted from raw.

The data, the new snapshot and the reconciliation numbers of PostgreSQL (row count and column
sums, taken inside the same snapshot) are written in one DuckDB transaction: a run killed at any
point leaves the warehouse as it was or fully advanced, and the next run starts from whichever
state is there. A table the warehouse has no state for (first run, `--full`, a new table) is
copied whole through the postgres scanner, the fast path for bulk loads (DESIGN).

The state also names the source: its database and the object ids of its core tables. A restored
backup (`coopcast restore`, which recreates the tables) brings rows back with change_txid values
older than the stored snapshot, and another database behind DATABASE_URL has its own transaction
ids: in both the stored snapshot says nothing, and the run copies every table whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg

from pipelines import warehouse

# Every core table is either copied or named in NOT_INGESTED with its reason
# (tests/test_ingest.py fails when a new table is in neither).
CORE_TABLES = (
    "merchants",
    "warehouses",
    "categories",
    "suppliers",
    "products",
    "customers",
    "batches",
    "stock",
    "stock_movements",
    "orders",
    "order_lines",
    "order_allocations",
    "purchase_orders",
    "purchase_order_lines",
    "product_groups",
    "product_tags",
    "product_price_history",
    "product_promotion_prices",
    "product_cost_history",
    "supplier_agreements",
    "supplier_agreement_prices",
    "purchase_approval_rules",
    "purchase_order_approvals",
    "purchase_receipts",
    "purchase_receipt_lines",
    "stock_transfers",
    "stocktakes",
    "stocktake_lines",
    "order_events",
    "order_transitions",
    "order_sla_policy",
    "order_discounts",
    "promotions",
    "coupons",
    "coupon_redemptions",
    "returns",
    "return_lines",
    "payments",
    "commission_rates",
    "sales",
    "sale_lines",
    "refunds",
    "refund_lines",
    "journal_entries",
    "journal_lines",
    "settlement_statements",
    "settlement_statement_entries",
    "payouts",
    "funnel_event_types",
    "funnel_events",
    "operation_log",
)
NOT_INGESTED = {
    "alembic_version": "migration bookkeeping",
    "api_keys": "credentials (hashes), not analytics",
    "users": "dashboard accounts: password hashes and lock-out state, not analytics",
    "account_log": "sign-ins and account changes, kept with the accounts in PostgreSQL",
    "user_sessions": "the dashboard's API session tokens (hashes), credentials like api_keys",
    "idempotency_keys": "the API's replay cache of responses",
    "deleted_rows": "the delete log ingestion applies to raw.*; raw shows its result",
}

STATE_TABLE = "raw._ingest_state"
STATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    table_name    VARCHAR NOT NULL,
    snapshot      VARCHAR NOT NULL,   -- pg_current_snapshot() the table was copied at
    low_txid      BIGINT NOT NULL,    -- that snapshot's xmin, for people reading the state
    ingested_at   TIMESTAMPTZ NOT NULL,
    mode          VARCHAR NOT NULL,   -- 'full' or 'incremental'
    rows_merged   BIGINT NOT NULL,
    rows_deleted  BIGINT NOT NULL,
    pg_row_count  BIGINT NOT NULL,
    pg_checksum   VARCHAR NOT NULL,   -- JSON {{column: sum}} over key, id and amount columns
    -- Append-only tables: count and sums of the rows below a transaction id all of whose
    -- writers had finished, which never change again; later runs add the rows since.
    settled_below_txid  BIGINT,
    settled_row_count   BIGINT,
    settled_checksum    VARCHAR,
    source_identity     VARCHAR NOT NULL  -- the database's oid : its core tables' oids (SOURCE_IDENTITY)
)
"""
# Restoring a backup drops and recreates the tables, so their object ids change.
SOURCE_IDENTITY = f"""
SELECT (SELECT oid FROM pg_database WHERE datname = current_database())::text || ':'
       || string_agg(c.oid::text, ',' ORDER BY c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'core' AND c.relname IN ({", ".join(f"'{table}'" for table in (*CORE_TABLES, "deleted_rows"))})
"""

# Tables PostgreSQL refuses to UPDATE or DELETE (tests/test_ingest.py checks that it does). Their
# reconciliation numbers are kept up to date from the recent rows alone, read through the
# change_txid index, so an incremental run never scans a whole ledger or the funnel events.
APPEND_ONLY_TABLES = (
    "stock_movements",
    "product_price_history",
    "product_promotion_prices",
    "product_cost_history",
    "purchase_order_approvals",
    "purchase_receipts",
    "purchase_receipt_lines",
    "order_events",
    "order_discounts",
    "coupon_redemptions",
    "commission_rates",
    "journal_entries",
    "journal_lines",
    "payments",
    "sales",
    "refunds",
    "refund_lines",
    "settlement_statements",
    "settlement_statement_entries",
    "payouts",
    "funnel_events",
    "operation_log",
)

# Columns whose sums make the reconciliation checksum: keys, ids, quantities and amounts.
SUMMED_TYPES = ("smallint", "integer", "bigint", "numeric")


@dataclass(frozen=True)
class Snapshot:
    """A PostgreSQL snapshot: transactions below xmin are finished, from xmax on not yet started,
    and those in `running` were in progress; the rest in between had finished."""

    xmin: int
    xmax: int
    running: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        xmin, xmax, running = text.split(":")
        return cls(int(xmin), int(xmax), tuple(int(txid) for txid in running.split(",") if txid))

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(txid) for txid in self.running)}"

    def unseen_filter(self, column: str = "change_txid") -> str:
        """PostgreSQL condition: the row version was written by a transaction this snapshot did not see."""
        running = ",".join(str(txid) for txid in self.running)
        return f"({column} >= '{self.xmax}'::xid8 OR {column} = ANY('{{{running}}}'::xid8[]))"


@dataclass(frozen=True)
class Aggregates:
    """Row count and per-column sums (exact decimal text; None over no rows)."""

    rows: int
    sums: dict[str, str | None]

    def __add__(self, other: Aggregates) -> Aggregates:
        return Aggregates(
            self.rows + other.rows,
            {column: _sum_text(self.sums[column], other.sums[column]) for column in self.sums},
        )

    def to_json(self) -> str:
        return json.dumps(self.sums)


@dataclass(frozen=True)
class Settled:
    """Aggregates of an append-only table's rows with change_txid below `below_txid`."""

    below_txid: int
    aggregates: Aggregates


@dataclass(frozen=True)
class Reconciliation:
    total: Aggregates
    settled: Settled | None


@dataclass(frozen=True)
class TableIngest:
    mode: str
    rows_merged: int
    rows_deleted: int
    row_count: int


@dataclass(frozen=True)
class IngestResult:
    snapshot: Snapshot
    tables: dict[str, TableIngest]
    sim_row_counts: dict[str, int]

    @property
    def row_counts(self) -> dict[str, int]:
        return {table: ingested.row_count for table, ingested in self.tables.items()}


@dataclass(frozen=True)
class SourceTable:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    summed: tuple[str, ...]

    def select_list(self) -> str:
        """PostgreSQL select list; xid8 has no DuckDB type, and a bigint holds it for ever."""
        return ", ".join(
            f"{_quoted(column)}::text::bigint AS change_txid" if column == "change_txid" else _quoted(column)
            for column in self.columns
        )


def ingest(pg_uri: str, warehouse_path: Path, full: bool = False) -> IngestResult:
    """Bring raw.* (and sim.*) up to one snapshot of PostgreSQL; `full` copies every table whole."""
    conn = warehouse.connect(warehouse_path)
    try:
        warehouse.attach_postgres(conn, pg_uri)
        with warehouse.transaction(conn):
            warehouse.create_schemas(conn)
            _create_state_table(conn)
            snapshot = Snapshot.parse(_postgres_value(conn, "SELECT pg_current_snapshot()::text"))
            sources = _source_tables(conn)
            missing = sorted(set(CORE_TABLES) - set(sources))
            if missing:
                raise RuntimeError(f"PostgreSQL schema core lacks tables {missing}: run `coopcast init`")
            identity = _postgres_value(conn, SOURCE_IDENTITY)
            previous = {} if full else _stored_snapshots(conn, identity)
            settled = _stored_settled(conn, previous)
            deleted_in = _tables_with_deletes(conn, previous)
            tables = {
                table: _ingest_table(
                    conn, sources[table], snapshot, previous.get(table), settled.get(table), table in deleted_in
                )
                for table in CORE_TABLES
            }
            _write_state(conn, snapshot, identity, tables)
            sim_row_counts = _refresh_simulation_truth(conn, force=not previous)
    finally:
        conn.close()
    return IngestResult(snapshot, {table: result for table, (result, _) in tables.items()}, sim_row_counts)


def ingest_full(pg_uri: str, warehouse_path: Path) -> IngestResult:
    return ingest(pg_uri, warehouse_path, full=True)


def forget_state(warehouse_path: Path) -> None:
    """Make the next ingestion copy every table whole; the data stays until then."""
    if not warehouse_path.exists():
        return
    with warehouse.connect(warehouse_path) as conn:
        if "_ingest_state" in _warehouse_tables(conn, "raw"):
            conn.execute(f"DELETE FROM {STATE_TABLE}")


def source_has_changes(pg_uri: str, warehouse_path: Path) -> bool:
    """True when PostgreSQL holds committed changes the warehouse has not ingested.

    Two index probes per table on change_txid. False while another process writes the warehouse
    (its lock keeps readers out): that run takes the changes, or the next poll sees them.
    """
    if not warehouse_path.exists():
        return True
    with psycopg.connect(pg_uri) as pg:
        identity = pg.execute(SOURCE_IDENTITY).fetchone()[0]
    try:
        with warehouse.connect(warehouse_path, read_only=True) as conn:
            stored = _stored_snapshots(conn, identity)
    except duckdb.IOException:
        return False
    if set(stored) != set(CORE_TABLES) or len(set(stored.values())) != 1:
        return True
    snapshot = next(iter(stored.values()))
    probes = [f'EXISTS (SELECT FROM core."{table}" WHERE {{}})' for table in (*CORE_TABLES, "deleted_rows")]
    conditions = [f"change_txid >= '{snapshot.xmax}'::xid8"]
    if snapshot.running:
        conditions.append(f"change_txid = ANY('{{{','.join(map(str, snapshot.running))}}}'::xid8[])")
    query = "SELECT " + " OR ".join(probe.format(condition) for probe in probes for condition in conditions)
    with psycopg.connect(pg_uri) as pg:
        row = pg.execute(query).fetchone()
    return bool(row and row[0])


def reconcile(conn: duckdb.DuckDBPyConnection, table: str) -> tuple[bool, dict]:
    """Compare raw.<table> now with PostgreSQL's count and sums stored at the ingested snapshot."""
    stored = conn.execute(
        f"SELECT pg_row_count, pg_checksum, snapshot FROM {STATE_TABLE} WHERE table_name = ?", [table]
    ).fetchone()
    if stored is None:
        return False, {"reason": f"raw.{table} has no ingestion state: it was never ingested"}
    pg_row_count, pg_checksum, snapshot = stored
    pg_sums = json.loads(pg_checksum)
    duck_row_count, duck_sums = _duckdb_aggregates(conn, table, tuple(pg_sums))
    differing = sorted(column for column in pg_sums if _as_decimal(pg_sums[column]) != _as_decimal(duck_sums[column]))
    details = {
        "snapshot": snapshot,
        "postgres_rows": int(pg_row_count),
        "duckdb_rows": duck_row_count,
        "columns_summed": len(pg_sums),
        "differing_sums": {column: {"postgres": pg_sums[column], "duckdb": duck_sums[column]} for column in differing},
    }
    return duck_row_count == pg_row_count and not differing, details


def _ingest_table(
    conn: duckdb.DuckDBPyConnection,
    source: SourceTable,
    snapshot: Snapshot,
    previous: Snapshot | None,
    settled: Settled | None,
    has_deletes: bool,
) -> tuple[TableIngest, Reconciliation]:
    if previous is None:
        ingested = _copy_whole(conn, source)
    else:
        deleted = _apply_deletes(conn, source, previous) if has_deletes else 0
        ingested = _merge_changes(conn, source, previous, deleted)
    return ingested, _reconciliation(conn, source, snapshot, settled)


def _reconciliation(
    conn: duckdb.DuckDBPyConnection, source: SourceTable, snapshot: Snapshot, settled: Settled | None
) -> Reconciliation:
    """PostgreSQL's count and sums at `snapshot`. For an append-only table, rows written by
    transactions below the snapshot's xmin are settled for good: their aggregates are added to
    the settled ones of the previous run, so only the rows since are read."""
    if source.name not in APPEND_ONLY_TABLES:
        return Reconciliation(_postgres_aggregates(conn, source, "true"), None)
    bound = f"'{snapshot.xmin}'::xid8"
    if settled is None:
        newly_settled = _postgres_aggregates(conn, source, f"change_txid < {bound}")
    else:
        newly_settled = settled.aggregates + _postgres_aggregates(
            conn, source, f"change_txid >= '{settled.below_txid}'::xid8 AND change_txid < {bound}"
        )
    recent = _postgres_aggregates(conn, source, f"change_txid >= {bound}")
    return Reconciliation(newly_settled + recent, Settled(snapshot.xmin, newly_settled))


def _copy_whole(conn: duckdb.DuckDBPyConnection, source: SourceTable) -> TableIngest:
    conn.execute(
        f'CREATE OR REPLACE TABLE raw."{source.name}" AS '
        f'SELECT * REPLACE (CAST(change_txid AS BIGINT) AS change_txid) FROM pg.core."{source.name}"'
    )
    row_count = _duckdb_row_count(conn, source.name)
    return TableIngest("full", row_count, 0, row_count)


def _merge_changes(
    conn: duckdb.DuckDBPyConnection, source: SourceTable, previous: Snapshot, deleted: int
) -> TableIngest:
    """Changed rows, read through one index-backed query (the scanner's parallel ctid scan would
    rerun the filter on every page range), replace their keys' rows; keyless tables append."""
    changed = f'SELECT {source.select_list()} FROM core."{source.name}" WHERE {previous.unseen_filter()}'
    conn.execute(f"CREATE OR REPLACE TEMP TABLE ingest_changes AS {_postgres_query(changed)}")
    merged = int(_scalar(conn, "SELECT count(*) FROM ingest_changes"))
    if merged and source.key:
        matches = " AND ".join(f'target."{column}" = changes."{column}"' for column in source.key)
        conn.execute(f'DELETE FROM raw."{source.name}" AS target USING ingest_changes AS changes WHERE {matches}')
    if merged:
        conn.execute(f'INSERT INTO raw."{source.name}" BY NAME SELECT * FROM ingest_changes')
    conn.execute("DROP TABLE ingest_changes")
    return TableIngest("incremental", merged, deleted, _duckdb_row_count(conn, source.name))


def _apply_deletes(conn: duckdb.DuckDBPyConnection, source: SourceTable, previous: Snapshot) -> int:
    """Keys deleted since `previous` and absent now; a key deleted and inserted again stays, and
    its new row arrives with the changes."""
    if not source.key:
        return 0
    key_list = ", ".join(f"deleted_key.{_quoted(column)}" for column in source.key)
    still_there = " AND ".join(f"live.{_quoted(column)} = deleted_key.{_quoted(column)}" for column in source.key)
    gone = (
        f"SELECT DISTINCT {key_list} FROM core.deleted_rows AS logged"
        f" CROSS JOIN LATERAL jsonb_populate_record(NULL::core.{_quoted(source.name)}, logged.key) AS deleted_key"
        f" WHERE logged.table_name = '{source.name}' AND {previous.unseen_filter('logged.change_txid')}"
        f" AND NOT EXISTS (SELECT FROM core.{_quoted(source.name)} AS live WHERE {still_there})"
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE ingest_deleted AS {_postgres_query(gone)}")
    matches = " AND ".join(f'target."{column}" = gone."{column}"' for column in source.key)
    deleted = conn.execute(
        f'DELETE FROM raw."{source.name}" AS target USING ingest_deleted AS gone WHERE {matches}'
    ).fetchone()
    conn.execute("DROP TABLE ingest_deleted")
    return int(deleted[0]) if deleted else 0


def _tables_with_deletes(conn: duckdb.DuckDBPyConnection, previous: dict[str, Snapshot]) -> set[str]:
    snapshots = set(previous.values())
    if not snapshots:
        return set()
    conditions = " OR ".join(snapshot.unseen_filter() for snapshot in snapshots)
    rows = conn.execute(_postgres_query(f"SELECT DISTINCT table_name FROM core.deleted_rows WHERE {conditions}"))
    return {row[0] for row in rows.fetchall()}


def _source_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, SourceTable]:
    rows = conn.execute(
        _postgres_query(
            """SELECT c.relname::text, a.attname::text, format_type(a.atttypid, NULL),
                      coalesce((SELECT key_column.position FROM unnest(k.indkey::int2[]) WITH ORDINALITY
                                AS key_column(attnum, position) WHERE key_column.attnum = a.attnum), 0)
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               LEFT JOIN pg_index k ON k.indrelid = c.oid AND k.indisprimary
               WHERE n.nspname = 'core' AND c.relkind IN ('r', 'p')
               ORDER BY c.relname, a.attnum"""
        )
    ).fetchall()
    columns: dict[str, list[tuple[str, str, int]]] = {}
    for table, column, data_type, key_position in rows:
        columns.setdefault(table, []).append((column, data_type, key_position))
    return {
        table: SourceTable(
            name=table,
            columns=tuple(column for column, _, _ in described),
            key=tuple(column for column, _, position in sorted(described, key=lambda c: c[2]) if position),
            summed=tuple(column for column, data_type, _ in described if data_type in SUMMED_TYPES),
        )
        for table, described in columns.items()
    }


def _postgres_aggregates(conn: duckdb.DuckDBPyConnection, source: SourceTable, condition: str) -> Aggregates:
    sums = "".join(f", sum({_quoted(column)})::text AS sum_{number}" for number, column in enumerate(source.summed))
    row = conn.execute(
        _postgres_query(f"SELECT count(*){sums} FROM core.{_quoted(source.name)} WHERE {condition}")
    ).fetchone()
    assert row is not None
    return Aggregates(int(row[0]), dict(zip(source.summed, row[1:], strict=True)))


def _duckdb_aggregates(
    conn: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]
) -> tuple[int, dict[str, str | None]]:
    sums = "".join(f', CAST(sum("{column}") AS VARCHAR)' for column in columns)
    row = conn.execute(f'SELECT count(*){sums} FROM raw."{table}"').fetchone()
    assert row is not None
    return int(row[0]), dict(zip(columns, row[1:], strict=True))


def _write_state(
    conn: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    identity: str,
    tables: dict[str, tuple[TableIngest, Reconciliation]],
) -> None:
    conn.execute(f"DELETE FROM {STATE_TABLE}")
    conn.executemany(
        f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                table,
                str(snapshot),
                snapshot.xmin,
                ingested.mode,
                ingested.rows_merged,
                ingested.rows_deleted,
                reconciliation.total.rows,
                reconciliation.total.to_json(),
                reconciliation.settled.below_txid if reconciliation.settled else None,
                reconciliation.settled.aggregates.rows if reconciliation.settled else None,
                reconciliation.settled.aggregates.to_json() if reconciliation.settled else None,
                identity,
            ]
            for table, (ingested, reconciliation) in tables.items()
        ],
    )


def _create_state_table(conn: duckdb.DuckDBPyConnection) -> None:
    """A state table of an older shape is dropped: the run then copies every table whole."""
    conn.execute(STATE_DDL)
    if "source_identity" not in _state_columns(conn):
        conn.execute(f"DROP TABLE {STATE_TABLE}")
        conn.execute(STATE_DDL)


def _stored_settled(conn: duckdb.DuckDBPyConnection, previous: dict[str, Snapshot]) -> dict[str, Settled]:
    if not previous:
        return {}
    rows = conn.execute(
        f"SELECT table_name, settled_below_txid, settled_row_count, settled_checksum FROM {STATE_TABLE}"
        " WHERE settled_below_txid IS NOT NULL"
    ).fetchall()
    return {
        table: Settled(below_txid, Aggregates(row_count, json.loads(checksum)))
        for table, below_txid, row_count, checksum in rows
        if table in previous
    }


def _stored_snapshots(conn: duckdb.DuckDBPyConnection, identity: str) -> dict[str, Snapshot]:
    """Each table's snapshot, for tables whose raw copy still exists, taken of the source as it is
    now (`identity`); none after a restore or of another database."""
    copied = _warehouse_tables(conn, "raw")
    if "_ingest_state" not in copied or "source_identity" not in _state_columns(conn):
        return {}
    rows = conn.execute(
        f"SELECT table_name, snapshot FROM {STATE_TABLE} WHERE source_identity = ?", [identity]
    ).fetchall()
    return {table: Snapshot.parse(snapshot) for table, snapshot in rows if table in copied}


def _state_columns(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """A warehouse written before the state named its source has no such column (until the next run)."""
    rows = conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'raw' AND table_name = '_ingest_state'"
    ).fetchall()
    return {row[0] for row in rows}


def _warehouse_tables(conn: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Tables of the warehouse file itself, not of the attached PostgreSQL catalog."""
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?",
        [schema],
    ).fetchall()
    return [row[0] for row in rows]


def _refresh_simulation_truth(conn: duckdb.DuckDBPyConnection, force: bool) -> dict[str, int]:
    """sim.* is replaced whole, and only when a simulation has run since the last copy (or on
    --full): it changes only when the simulator writes a network, which records itself in sim.runs."""
    source_tables = [
        row[0]
        for row in conn.execute(
            _postgres_query(
                "SELECT table_name::text FROM information_schema.tables"
                " WHERE table_schema = 'sim' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ).fetchall()
    ]
    copied = set(_warehouse_tables(conn, "sim"))
    unchanged = (
        not force
        and set(source_tables) <= copied
        and "runs" in copied
        and conn.execute(
            _postgres_query("SELECT coalesce(array_agg(run_id ORDER BY run_id), '{}') FROM sim.runs")
        ).fetchone()[0]
        == conn.execute("SELECT coalesce(list(run_id ORDER BY run_id), []) FROM sim.runs").fetchone()[0]
    )
    if not unchanged:
        for table in source_tables:
            conn.execute(f'CREATE OR REPLACE TABLE sim."{table}" AS SELECT * FROM pg.sim."{table}"')
    return {table: _duckdb_row_count(conn, table, schema="sim") for table in source_tables}


def _postgres_query(sql: str) -> str:
    """A DuckDB query running `sql` verbatim in the attached database's transaction (and snapshot)."""
    return f"SELECT * FROM postgres_query('pg', '{sql.replace(chr(39), chr(39) * 2)}')"


def _postgres_value(conn: duckdb.DuckDBPyConnection, sql: str):
    return _scalar(conn, _postgres_query(sql))


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str):
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def _duckdb_row_count(conn: duckdb.DuckDBPyConnection, table: str, schema: str = "raw") -> int:
    return int(_scalar(conn, f'SELECT count(*) FROM {schema}."{table}"'))


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _as_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _sum_text(left: str | None, right: str | None) -> str | None:
    """SQL's sum over two parts: None (no rows) adds nothing."""
    if left is None or right is None:
        return right if left is None else left
    return str(Decimal(left) + Decimal(right))
