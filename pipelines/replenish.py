"""Replenishment suggestions → draft purchase orders, one per merchant × supplier × warehouse.

The suggestions are read from the published serving copy (what procurement sees in the workbook
and the dashboard); the drafts are written through the purchasing service
(`transactional.purchasing.create_purchase_order(draft=True)`), in one transaction: every draft
of the call is made, or none. A product already on a draft of the same merchant and warehouse is
left out and reported, so approving twice does not order twice; a draft is not on order until it
is submitted, so the next plan still suggests it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
import pandas as pd
import psycopg

from transactional import purchasing

SUGGESTIONS_SQL = """
SELECT merchant_id, merchant_code, as_of, supplier_code, warehouse_id, warehouse_code, product_id, sku_code,
       suggested_qty
FROM marts.fct_replenishment_suggestions
WHERE suggested_qty > 0 AND (? IS NULL OR merchant_code = ?)
ORDER BY merchant_code, supplier_code, warehouse_code, sku_code
"""
ON_DRAFT_SQL = """
SELECT po.warehouse_id, line.product_id, po.po_no
FROM core.purchase_orders po JOIN core.purchase_order_lines line USING (purchase_order_id)
WHERE po.merchant_id = %s AND po.status = 'draft'
"""
SUPPLIERS_SQL = "SELECT supplier_code, supplier_id FROM core.suppliers WHERE merchant_id = %s"


class UnknownMerchant(LookupError):
    def __init__(self, merchant_code: str) -> None:
        super().__init__(
            f"no merchant with code {merchant_code!r} in the published warehouse "
            "(coopcast merchant list shows the codes)"
        )


@dataclass(frozen=True)
class DraftOrder:
    merchant_code: str
    supplier_code: str
    warehouse_code: str
    po_no: str
    lines: int
    units: int
    amount: Decimal


@dataclass(frozen=True)
class SkippedSuggestion:
    merchant_code: str
    sku_code: str
    warehouse_code: str
    reason: str


@dataclass(frozen=True)
class Approval:
    drafts: list[DraftOrder]
    skipped: list[SkippedSuggestion]


def read_suggestions(serving: duckdb.DuckDBPyConnection, merchant_code: str | None = None) -> pd.DataFrame:
    """Suggestions with something to order, of one merchant or all. A merchant the published
    warehouse does not know is refused, so a mistyped code is not read as nothing to order."""
    if merchant_code is not None:
        known = serving.execute("SELECT 1 FROM marts.dim_merchants WHERE merchant_code = ?", [merchant_code]).fetchone()
        if known is None:
            raise UnknownMerchant(merchant_code)
    return serving.execute(SUGGESTIONS_SQL, [merchant_code, merchant_code]).df()


def draft_purchase_orders(conn: psycopg.Connection, suggestions: pd.DataFrame, at: datetime) -> Approval:
    """Draft one purchase order per merchant × supplier × warehouse of `suggestions` (read_suggestions)."""
    drafts: list[DraftOrder] = []
    skipped: list[SkippedSuggestion] = []
    with conn.transaction():
        for merchant_id, merchant_rows in suggestions.groupby("merchant_id", sort=False):
            suppliers = dict(conn.execute(SUPPLIERS_SQL, [int(merchant_id)]).fetchall())
            on_draft = {
                (warehouse_id, product_id): po_no
                for warehouse_id, product_id, po_no in conn.execute(ON_DRAFT_SQL, [int(merchant_id)]).fetchall()
            }
            for (supplier_code, warehouse_id), group in merchant_rows.groupby(
                ["supplier_code", "warehouse_id"], sort=False, dropna=False
            ):
                lines = []
                for row in group.itertuples():
                    draft = on_draft.get((int(row.warehouse_id), int(row.product_id)))
                    reason = (
                        "the product has no supplier"
                        if pd.isna(supplier_code)
                        else f"already on draft {draft}"
                        if draft
                        else None
                    )
                    if reason:
                        skipped.append(SkippedSuggestion(row.merchant_code, row.sku_code, row.warehouse_code, reason))
                    else:
                        lines.append(purchasing.PurchaseLineRequest(int(row.product_id), int(row.suggested_qty)))
                if not lines:
                    continue
                purchase_order_id = purchasing.create_purchase_order(
                    conn,
                    merchant_id=int(merchant_id),
                    supplier_id=suppliers[supplier_code],
                    warehouse_id=int(warehouse_id),
                    lines=lines,
                    at=at,
                    draft=True,
                )
                po_no, amount = conn.execute(
                    """SELECT po.po_no, sum(line.quantity * line.unit_cost)
                       FROM core.purchase_orders po JOIN core.purchase_order_lines line USING (purchase_order_id)
                       WHERE po.purchase_order_id = %s GROUP BY po.po_no""",
                    [purchase_order_id],
                ).fetchone()
                first = group.iloc[0]
                drafts.append(
                    DraftOrder(
                        merchant_code=first["merchant_code"],
                        supplier_code=supplier_code,
                        warehouse_code=first["warehouse_code"],
                        po_no=po_no,
                        lines=len(lines),
                        units=sum(line.quantity for line in lines),
                        amount=amount,
                    )
                )
    return Approval(drafts, skipped)
