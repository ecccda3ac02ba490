"""The merchants' daily alert digest: what is flagged at as_of, and what of it is new.

An item is one thing a merchant acts on: a SKU low on stock in one warehouse, one batch near its
expiry, one customer at risk of churning. A digest lists every flagged item of a merchant at its
as_of; an item is new when the merchant's previous digest did not flag it, or (near-expiry) when
the batch moved to a nearer level (180 → 90 → 30 days), since each level asks for a new action.
"""

from __future__ import annotations

import pandas as pd

LOW_STOCK = "low_stock"
NEAR_EXPIRY = "near_expiry"
CHURN_RISK = "churn_risk"
KINDS = (LOW_STOCK, NEAR_EXPIRY, CHURN_RISK)
AT_RISK = "at_risk"

ITEM_KEY = ["merchant_id", "kind", "item_key"]
ITEM_COLUMNS = [
    "merchant_id",
    "merchant_code",
    "kind",
    "item_key",
    "near_expiry_level",
    "sku_code",
    "sku_name",
    "warehouse_code",
    "lot_code",
    "expiry_date",
    "days_to_expiry",
    "quantity",
    "low_stock_threshold",
    "value_at_risk",
    "customer_code",
    "churn_risk",
    "reasons",
]
DIGEST_COLUMNS = [*ITEM_COLUMNS, "is_new"]
SUMMARY_COLUMNS = ["merchant_id", "merchant_code", "as_of", "previous_as_of", "flagged_items", "new_items"]


def _items(rows: pd.DataFrame, kind: str, item_key: pd.Series, **columns: pd.Series) -> pd.DataFrame:
    """`rows` with the item columns its kind has; flagged_items adds the others, empty."""
    items = rows.assign(kind=kind, item_key=item_key, **columns)
    return items[[column for column in ITEM_COLUMNS if column in items]]


def low_stock_items(flags: pd.DataFrame) -> pd.DataFrame:
    """SKU × warehouse rows of fct_inventory_flags below the SKU's low-stock threshold (预警库存).

    Delisted SKUs are left out: a merchant does not reorder what it stopped selling.
    """
    flagged = flags[flags["is_low_stock"].fillna(False).astype(bool) & flags["is_active"].fillna(True).astype(bool)]
    return _items(
        flagged,
        LOW_STOCK,
        flagged["warehouse_code"] + "/" + flagged["sku_code"],
        quantity=flagged["available"],
    )


def near_expiry_items(batches: pd.DataFrame) -> pd.DataFrame:
    """Batches of fct_near_expiry_batches within a near-expiry level; expired stock is not an alert
    to act on before the date but a write-off, which the inventory page lists."""
    flagged = batches[batches["near_expiry_level"].notna()]
    return _items(
        flagged,
        NEAR_EXPIRY,
        flagged["warehouse_code"] + "/" + flagged["batch_id"].astype("int64").astype(str),
        quantity=flagged["on_hand"],
    )


def churn_risk_items(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers ml.churn_scores calls at_risk: still buying, but less than before. Sleeping and
    lost customers are on the customers page; the digest is for those still worth a call."""
    flagged = scores[scores["status"] == AT_RISK]
    return _items(flagged, CHURN_RISK, flagged["customer_code"])


def flagged_items(flags: pd.DataFrame, batches: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    parts = [
        part for part in (low_stock_items(flags), near_expiry_items(batches), churn_risk_items(scores)) if len(part)
    ]
    # Concatenated before the missing columns are added: all-empty columns would blur the dtypes.
    return (
        pd.concat(parts, ignore_index=True).reindex(columns=ITEM_COLUMNS)
        if parts
        else pd.DataFrame(columns=ITEM_COLUMNS)
    )


def mark_new(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """`current` flagged items with is_new: not flagged in `previous` (the merchant's previous
    digest, every item of it), or a batch now at a nearer near-expiry level than it was then."""
    before = previous[[*ITEM_KEY, "near_expiry_level"]].rename(columns={"near_expiry_level": "previous_level"})
    merged = current.merge(before, on=ITEM_KEY, how="left", indicator="seen")
    unseen = merged["seen"] == "left_only"
    nearer = (
        merged["near_expiry_level"].notna()
        & merged["previous_level"].notna()
        & (merged["near_expiry_level"].astype("Float64") < merged["previous_level"].astype("Float64"))
    )
    return merged.assign(is_new=(unseen | nearer).astype(bool))[DIGEST_COLUMNS]


def summarize(merchants: pd.DataFrame, digest: pd.DataFrame) -> pd.DataFrame:
    """One row per merchant in `merchants` (merchant_id, merchant_code, as_of, previous_as_of): how
    many items its digest flags and how many are new, zero when none."""
    counts = digest.groupby("merchant_id").agg(flagged_items=("item_key", "size"), new_items=("is_new", "sum"))
    summary = merchants.merge(counts, left_on="merchant_id", right_index=True, how="left")
    summary[["flagged_items", "new_items"]] = summary[["flagged_items", "new_items"]].fillna(0).astype("int64")
    return summary[SUMMARY_COLUMNS]
