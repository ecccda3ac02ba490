"""Copy PostgreSQL `core` (and the simulator's `sim` ground truth) into DuckDB `raw` / `sim`.

This is a full refresh inside one DuckDB transaction: the postgres scanner reads every table in
one REPEATABLE READ snapshot, and either every `raw.*` table is replaced or none is, so a failed
or killed run leaves the previous warehouse as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    "idempotency_keys": "the API's replay cache of responses",
}


@dataclass(frozen=True)
class IngestResult:
    row_counts: dict[str, int]
    sim_row_counts: dict[str, int]


def _postgres_tables(conn, schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM pg.information_schema.tables"
        " WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
        [schema],
    ).fetchall()
    return [row[0] for row in rows]


def ingest_full(pg_uri: str, warehouse_path: Path) -> IngestResult:
    conn = warehouse.connect(warehouse_path)
    try:
        warehouse.attach_postgres(conn, pg_uri)
        missing = sorted(set(CORE_TABLES) - set(_postgres_tables(conn, "core")))
        if missing:
            raise RuntimeError(f"PostgreSQL schema core lacks tables {missing}: run `coopcast init`")
        sim_tables = _postgres_tables(conn, "sim")
        with warehouse.transaction(conn):
            warehouse.create_schemas(conn)
            row_counts = {table: _replace(conn, "core", "raw", table) for table in CORE_TABLES}
            sim_row_counts = {table: _replace(conn, "sim", "sim", table) for table in sim_tables}
    finally:
        conn.close()
    return IngestResult(row_counts, sim_row_counts)


def _replace(conn, source_schema: str, target_schema: str, table: str) -> int:
    conn.execute(f'CREATE OR REPLACE TABLE {target_schema}."{table}" AS SELECT * FROM pg.{source_schema}."{table}"')
    row = conn.execute(f'SELECT count(*) FROM {target_schema}."{table}"').fetchone()
    return int(row[0]) if row else 0
