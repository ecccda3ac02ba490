"""The merchants' daily alert digest: ml.alert_digests (items) and ml.alert_digest_summaries (one row
per merchant × as_of). The rule of what is new is in models/alerts/digest.py.

Its own group, "alerts", outside the weekly ML groups, so the nightly job builds it from the marts
it has just rebuilt and the churn scores of the last weekly run; `coopcast alerts send` and the
dashboard's inbox read it from the serving copy.
"""

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from models.alerts.digest import DIGEST_COLUMNS, flagged_items, mark_new, summarize
from pipelines import warehouse as duck
from pipelines.assets.churn import CHURN_SCORES
from pipelines.ops import freshness
from pipelines.resources import DUCKDB_WRITER_POOL, WarehouseResource

ALERT_DIGESTS = dg.AssetKey(["ml", "alert_digests"])
ALERT_DIGEST_SUMMARIES = dg.AssetKey(["ml", "alert_digest_summaries"])
DIGEST_VERSION = "alert-digest-1"
PREVIEW_ROWS = 10
DIGEST_INPUTS = [
    dg.AssetKey(["marts", "dim_merchants"]),
    dg.AssetKey(["marts", "dim_products"]),
    dg.AssetKey(["marts", "fct_inventory_flags"]),
    dg.AssetKey(["marts", "fct_near_expiry_batches"]),
    CHURN_SCORES,
]

DIGEST_TABLE_COLUMNS = ", ".join(["as_of", *DIGEST_COLUMNS, "model_version", "run_id"])
SUMMARY_TABLE_COLUMNS = (
    "merchant_id, merchant_code, as_of, previous_as_of, flagged_items, new_items, model_version, run_id"
)

# The previous digest is the merchant's latest one before this as_of, even one that flagged nothing.
MERCHANTS_SQL = """
SELECT m.merchant_id, m.merchant_code, m.as_of,
       (SELECT max(d.as_of) FROM ml.alert_digest_summaries d
        WHERE d.merchant_id = m.merchant_id AND d.as_of < m.as_of) AS previous_as_of
FROM marts.dim_merchants m
WHERE m.as_of IS NOT NULL
"""
PREVIOUS_ITEMS_SQL = """
SELECT d.merchant_id, d.kind, d.item_key, d.near_expiry_level
FROM ml.alert_digests d
JOIN digest_merchants m ON m.merchant_id = d.merchant_id AND d.as_of = m.previous_as_of
"""
FLAGS_SQL = """
SELECT f.merchant_id, f.merchant_code, f.sku_code, p.sku_name, f.warehouse_code, f.available,
       p.low_stock_threshold, f.is_low_stock, p.is_active
FROM marts.fct_inventory_flags f
JOIN marts.dim_products p ON p.product_id = f.product_id
"""
BATCHES_SQL = """
SELECT merchant_id, merchant_code, sku_code, sku_name, warehouse_code, batch_id, lot_code, expiry_date,
       days_to_expiry, near_expiry_level, on_hand, value_at_risk
FROM marts.fct_near_expiry_batches
"""
# Churn is scored weekly: the digest reads each merchant's latest scores up to its as_of.
SCORES_SQL = """
SELECT s.merchant_id, s.merchant_code, s.customer_code, s.churn_risk, s.reasons, s.status
FROM ml.churn_scores s
JOIN marts.dim_merchants m ON m.merchant_id = s.merchant_id
WHERE s.as_of = (SELECT max(l.as_of) FROM ml.churn_scores l WHERE l.merchant_id = s.merchant_id AND l.as_of <= m.as_of)
"""


def compute_digests(conn: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every merchant's digest at its as_of against its previous digest: (items, summaries)."""
    merchants = conn.execute(MERCHANTS_SQL).df()
    conn.register("digest_merchants", merchants)
    try:
        previous = conn.execute(PREVIOUS_ITEMS_SQL).df()
    finally:
        conn.unregister("digest_merchants")
    current = flagged_items(conn.execute(FLAGS_SQL).df(), conn.execute(BATCHES_SQL).df(), conn.execute(SCORES_SQL).df())
    current = current[current["merchant_id"].isin(merchants["merchant_id"])]
    digest = mark_new(current, previous).merge(merchants[["merchant_id", "as_of"]], on="merchant_id")
    return digest, summarize(merchants, digest)


def write_digests(conn: duckdb.DuckDBPyConnection, digest: pd.DataFrame, summaries: pd.DataFrame, run_id: str) -> None:
    """Replace each merchant's digest of this as_of; its earlier digests stay."""
    with duck.transaction(conn):
        conn.register("replaced_as_of", summaries[["merchant_id", "as_of"]])
        for table in ("ml.alert_digests", "ml.alert_digest_summaries"):
            conn.execute(
                f"DELETE FROM {table} t USING replaced_as_of r"
                " WHERE t.merchant_id = r.merchant_id AND t.as_of = r.as_of"
            )
        conn.unregister("replaced_as_of")
        for table, columns, rows in (
            ("ml.alert_digests", DIGEST_TABLE_COLUMNS, digest),
            ("ml.alert_digest_summaries", SUMMARY_TABLE_COLUMNS, summaries),
        ):
            duck.insert_rows(conn, table, columns, rows.assign(model_version=DIGEST_VERSION, run_id=run_id))


def build_alert_digests(warehouse_path: Path, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    conn = duck.connect(warehouse_path)
    try:
        duck.create_ml_tables(conn)
        digest, summaries = compute_digests(conn)
        write_digests(conn, digest, summaries, run_id)
    finally:
        conn.close()
    return digest, summaries


def _digest_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        group_name="alerts",
        kinds={"python", "duckdb"},
        freshness_policy=freshness.NIGHTLY,
        deps=DIGEST_INPUTS,
        description=description,
    )


@dg.multi_asset(
    specs=[
        _digest_spec(
            ALERT_DIGESTS,
            "Per merchant × as_of: every low-stock SKU × warehouse, near-expiry batch (180/90/30 days)"
            " and at-risk customer, is_new when the merchant's previous digest did not flag it (or the batch"
            " reached a nearer level).",
        ),
        _digest_spec(
            ALERT_DIGEST_SUMMARIES,
            "One row per merchant × as_of digest: the previous digest's as_of, items flagged, items new.",
        ),
    ],
    pool=DUCKDB_WRITER_POOL,
)
def alert_digests(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    digest, summaries = build_alert_digests(warehouse.warehouse_path(), context.run.run_id)
    new = digest[digest["is_new"]]
    yield dg.MaterializeResult(
        asset_key=ALERT_DIGESTS,
        metadata={
            "dagster/row_count": len(digest),
            "new_items": dg.MetadataValue.json({str(k): int(v) for k, v in new["kind"].value_counts().items()}),
            "preview": dg.MetadataValue.md(new.head(PREVIEW_ROWS).to_markdown(index=False)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=ALERT_DIGEST_SUMMARIES,
        metadata={
            "dagster/row_count": len(summaries),
            "preview": dg.MetadataValue.md(summaries.to_markdown(index=False)),
        },
    )
