"""Load a drawn merchant history into PostgreSQL in one transaction, with COPY and set-based
statements that the schema's own constraints and triggers guard: foreign keys and CHECKs on
every row, the stock ledger applied per statement and then checked over its whole history, order
events derived from the orders' timestamps, purchase orders and returns moved along their
lifecycles by UPDATEs the lifecycle triggers accept.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as arrow_csv

from transactional.errors import DomainError
from transactional.simulator.bulk.history import MerchantHistory
from transactional.simulator.bulk.money import TABLES as MONEY_TABLES

# Core tables with the identity column the simulator numbers itself.
ID_COLUMNS = {
    "merchants": "merchant_id",
    "warehouses": "warehouse_id",
    "suppliers": "supplier_id",
    "products": "product_id",
    "customers": "customer_id",
    "promotions": "promotion_id",
    "purchase_orders": "purchase_order_id",
    "purchase_order_lines": "purchase_order_line_id",
    "purchase_receipts": "receipt_id",
    "batches": "batch_id",
    "purchase_receipt_lines": "receipt_line_id",
    "orders": "order_id",
    "order_lines": "order_line_id",
    "order_discounts": "order_discount_id",
    "stock_movements": "movement_id",
    "returns": "return_id",
    "return_lines": "return_line_id",
    "journal_entries": "journal_entry_id",
    "payments": "payment_id",
    "refunds": "refund_id",
    "settlement_statements": "settlement_statement_id",
    "payouts": "payout_id",
}


# Per-row foreign-key checks would cost ten times the COPY itself on these tables (measured: 15x on
# funnel events); their keys are checked once, set-based, when the constraints are added back.
CHECKED_AT_THE_END = (
    "core.orders",
    "core.order_lines",
    "core.order_allocations",
    "core.order_discounts",
    "core.order_events",
    "core.stock_movements",
    "core.funnel_events",
    "core.journal_entries",
    "core.journal_lines",
    "core.payments",
    "core.sales",
    "core.sale_lines",
    "core.refunds",
    "core.refund_lines",
    "core.settlement_statement_entries",
    "core.payouts",
)


@contextmanager
def foreign_keys_checked_at_the_end(conn: psycopg.Connection) -> Iterator[None]:
    """Inside the caller's transaction: drop the big tables' foreign keys, and on the way out add
    every one back exactly as it was, which validates all rows in one join per key. Nothing is
    committed in between, so no other session ever sees the tables without their keys."""
    keys = conn.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2""",
        [list(CHECKED_AT_THE_END)],
    ).fetchall()
    for table, name, _ in keys:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    # A table with checks still deferred to the commit cannot be altered: run them now.
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    conn.execute("SET LOCAL work_mem = '256MB'")
    for table, name, definition in keys:
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# The ledger's sum rules are row-level constraint triggers deferred to the commit: right for the
# services, which post one entry over several statements, but at county scale tens of millions of
# queued calls (over half an hour for the county co-op alone). Inside the load's transaction they
# are switched off and the same rules run set-based, one query per rule and merchant.
LEDGER_CHECK_TRIGGERS = (
    ("core.journal_lines", "journal_entry_balances"),
    ("core.sales", "sale_gross_is_sum_of_lines"),
    ("core.refunds", "refund_amount_is_sum_of_lines"),
)


@contextmanager
def ledger_checked_per_merchant(conn: psycopg.Connection) -> Iterator[None]:
    """Inside the caller's transaction: the ledger's per-row sum checks off, and back on the way
    out; `load_history` checks each merchant's ledger in their stead."""
    for table, trigger in LEDGER_CHECK_TRIGGERS:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    yield
    for table, trigger in LEDGER_CHECK_TRIGGERS:
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def next_ids(conn: psycopg.Connection) -> dict[str, int]:
    """The first free id of every numbered table (and of funnel sessions)."""
    result = {}
    for table, column in ID_COLUMNS.items():
        row = conn.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM core.{table}").fetchone()
        assert row is not None
        result[table] = int(row[0])
    row = conn.execute("SELECT coalesce(max(session_id), 0) + 1 FROM core.funnel_events").fetchone()
    assert row is not None
    result["funnel_sessions"] = int(row[0])
    return result


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into `table` (columns by name) as CSV written by Arrow."""
    if frame.empty:
        return
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for position, column in enumerate(arrow.schema):
        if pa.types.is_timestamp(column.type):
            arrow = arrow.set_column(position, column.name, arrow.column(position).cast(pa.timestamp("us", tz="UTC")))
    buffer = io.BytesIO()
    arrow_csv.write_csv(arrow, buffer)
    columns = ", ".join(frame.columns)
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, HEADER true)") as copy:
        view = buffer.getbuffer()
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


def load_history(conn: psycopg.Connection, history: MerchantHistory) -> None:
    """Everything of one merchant, or nothing."""
    core, post_updates = history.core, history.updates
    with conn.transaction():
        for table in ("merchants", "warehouses", "suppliers", "products"):
            copy_frame(conn, f"core.{table}", core[table])
        for table in ("product_cost_history", "product_price_history"):
            _copy_changes_in_waves(conn, table, core[table])
        for table in (
            "customers",
            "promotions",
            "purchase_orders",
            "purchase_order_lines",
            "purchase_receipts",
            "batches",
            "purchase_receipt_lines",
        ):
            copy_frame(conn, f"core.{table}", core[table])
        _apply(conn, "purchase_orders", "purchase_order_id", post_updates["purchase_orders"])
        for table in ("orders", "order_lines", "order_discounts", "stock_movements", "order_allocations"):
            copy_frame(conn, f"core.{table}", core[table])
        copy_frame(conn, "core.returns", core["returns"])
        copy_frame(conn, "core.return_lines", core["return_lines"])
        returns = post_updates["returns"]
        approved = returns[returns["status"] != "requested"]
        _apply(conn, "returns", "return_id", approved.assign(status="approved", received_at=pd.NaT))
        _apply(conn, "returns", "return_id", returns[returns["status"] == "received"])
        copy_frame(conn, "core.stock_movements", post_updates["return_movements"])
        _post_money(conn, history)
        copy_frame(conn, "core.funnel_events", core["funnel_events"])
        for table, frame in history.truth.items():
            copy_frame(conn, f"sim.{table}", frame)
        _refuse_broken_ledger(conn, history)
        _advance_sequences(conn)


def _post_money(conn: psycopg.Connection, history: MerchantHistory) -> None:
    """Refunded returns, then the ledger in the order the services write it; the statements come
    last, so every sale and refund is in before its week closes."""
    updates = history.updates
    if "return_refunds" in updates:
        _apply(conn, "return_lines", "return_line_id", updates["return_refund_lines"])
        _apply(conn, "returns", "return_id", updates["return_refunds"])
    for table in MONEY_TABLES:
        if table in history.core:
            copy_frame(conn, f"core.{table}", history.core[table])
    refuse_broken_ledger_sums(conn, int(history.core["merchants"]["merchant_id"].iloc[0]))


# The rules of the constraint triggers LEDGER_CHECK_TRIGGERS stands in for, each as the first row
# of one merchant that breaks it and the message its trigger would raise.
LEDGER_SUM_RULES = (
    (
        """SELECT journal_entry_id, sum(debit_cents), sum(credit_cents) FROM core.journal_lines
            WHERE merchant_id = %(merchant_id)s
            GROUP BY journal_entry_id HAVING sum(debit_cents) <> sum(credit_cents)
            ORDER BY journal_entry_id LIMIT 1""",
        "journal entry {} does not balance: debits {} cents, credits {} cents",
    ),
    (
        """SELECT s.order_id, s.gross_cents, coalesce(l.gross_cents, 0) FROM core.sales s
             LEFT JOIN (SELECT order_id, sum(gross_cents) AS gross_cents FROM core.sale_lines
                         WHERE merchant_id = %(merchant_id)s GROUP BY order_id) l USING (order_id)
            WHERE s.merchant_id = %(merchant_id)s AND s.gross_cents <> coalesce(l.gross_cents, 0)
            ORDER BY s.order_id LIMIT 1""",
        "sale of order {}: gross {} cents but its lines add up to {} cents",
    ),
    (
        """SELECT r.refund_id, r.amount_cents, coalesce(l.amount_cents, 0) FROM core.refunds r
             LEFT JOIN (SELECT refund_id, sum(amount_cents) AS amount_cents FROM core.refund_lines
                         WHERE merchant_id = %(merchant_id)s GROUP BY refund_id) l USING (refund_id)
            WHERE r.merchant_id = %(merchant_id)s AND r.amount_cents <> coalesce(l.amount_cents, 0)
            ORDER BY r.refund_id LIMIT 1""",
        "refund {}: amount {} cents but its lines add up to {} cents",
    ),
)


def refuse_broken_ledger_sums(conn: psycopg.Connection, merchant_id: int) -> None:
    for query, message in LEDGER_SUM_RULES:
        broken = conn.execute(query, {"merchant_id": merchant_id}).fetchone()
        if broken is not None:
            raise DomainError(f"simulated ledger of merchant {merchant_id}: " + message.format(*broken))


def _copy_changes_in_waves(conn: psycopg.Connection, table: str, changes: pd.DataFrame) -> None:
    """Price and cost changes, the n-th change of every product in the n-th statement: the
    triggers that keep core.products in step with its newest change fire at the end of each
    statement, so one statement may hold only one change per product."""
    wave = changes.groupby("product_id").cumcount()
    for number in range(int(wave.max()) + 1 if len(changes) else 0):
        copy_frame(conn, f"core.{table}", changes[wave == number])


def _apply(conn: psycopg.Connection, table: str, key: str, changes: pd.DataFrame) -> None:
    """One UPDATE from a staged copy of `changes` (key plus the columns to set)."""
    if changes.empty:
        return
    staging = f"pg_temp.{table}_changes"
    columns = ", ".join(changes.columns)
    conn.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {columns} FROM core.{table} WITH NO DATA")
    copy_frame(conn, staging, changes)
    assignments = ", ".join(f"{column} = c.{column}" for column in changes.columns if column != key)
    conn.execute(f"UPDATE core.{table} t SET {assignments} FROM {staging} c WHERE t.{key} = c.{key}")
    conn.execute(f"DROP TABLE {staging}")


def _refuse_broken_ledger(conn: psycopg.Connection, history: MerchantHistory) -> None:
    merchant_id = int(history.core["merchants"]["merchant_id"].iloc[0])
    broken = conn.execute(
        "SELECT warehouse_id, batch_id, occurred_at FROM core.stock_history_violations(%s) LIMIT 1", [merchant_id]
    ).fetchone()
    if broken is not None:
        raise DomainError(
            f"simulated stock history of merchant {history.merchant_code} goes negative in warehouse {broken[0]}, "
            f"batch {broken[1]} at {broken[2]}: nothing of it was loaded"
        )


def _advance_sequences(conn: psycopg.Connection) -> None:
    """Identity sequences continue after the ids the simulator gave out."""
    for table, column in ID_COLUMNS.items():
        conn.execute(
            f"""SELECT setval(pg_get_serial_sequence('core.{table}', '{column}'), max({column}))
                FROM core.{table} HAVING max({column}) IS NOT NULL"""
        )
