"""`coopcast replenish [--approve] [--merchant CODE]`: suggestions → draft purchase orders."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from pipelines import replenish as drafting
from pipelines import settings
from pipelines import warehouse as duck
from pipelines.cli_common import CommandFailed, console, one_line_errors, prepare
from transactional import db


@one_line_errors
def replenish(
    approve: Annotated[
        bool, typer.Option("--approve", help="Write the draft purchase orders (without it, only show them)")
    ] = False,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's suggestions (its code)")] = None,
) -> None:
    """Turn the published replenishment suggestions into draft purchase orders, one per supplier and warehouse."""
    uri = prepare()
    serving = settings.serving_path()
    if not serving.exists():
        raise CommandFailed(f"no published warehouse at {serving}: run coopcast run first")
    with contextlib.closing(duck.connect(serving, read_only=True)) as conn:
        suggestions = drafting.read_suggestions(conn, merchant)
    if suggestions.empty:
        console.print("Nothing to order: no suggestion above zero" + (f" for {merchant}." if merchant else "."))
        return
    if not approve:
        _show_suggestions(suggestions)
        console.print("Run again with --approve to write them as draft purchase orders.")
        return
    with db.connect(uri) as pg:
        approval = drafting.draft_purchase_orders(pg, suggestions, datetime.now(UTC))
    _show_drafts(approval)


def _show_suggestions(suggestions) -> None:
    table = Table(title="Suggested purchases (draft purchase orders to be)", box=box.SIMPLE_HEAD)
    for header in ("merchant", "supplier", "warehouse", "SKUs", "units"):
        table.add_column(header, justify="right" if header in ("SKUs", "units") else "left")
    grouped = suggestions.groupby(["merchant_code", "supplier_code", "warehouse_code"], dropna=False)
    for (merchant_code, supplier_code, warehouse_code), group in grouped:
        table.add_row(
            merchant_code,
            supplier_code if isinstance(supplier_code, str) else "(no supplier)",
            warehouse_code,
            str(len(group)),
            f"{int(group['suggested_qty'].sum()):,}",
        )
    console.print(table)


def _show_drafts(approval: drafting.Approval) -> None:
    table = Table(title="Draft purchase orders written (status draft: submit to send)", box=box.SIMPLE_HEAD)
    for header in ("merchant", "supplier", "warehouse", "PO", "lines", "units", "amount ¥"):
        table.add_column(header, justify="right" if header in ("lines", "units", "amount ¥") else "left")
    for draft in approval.drafts:
        table.add_row(
            draft.merchant_code,
            draft.supplier_code,
            draft.warehouse_code,
            draft.po_no,
            str(draft.lines),
            f"{draft.units:,}",
            f"{draft.amount:,.2f}",
        )
    console.print(table)
    for skipped in approval.skipped:
        where = f"{skipped.merchant_code} {skipped.sku_code} at {skipped.warehouse_code}"
        console.print(f"  skipped {escape(where)}: {escape(skipped.reason)}")
