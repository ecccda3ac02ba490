"""`coopcast import products|stock|orders FILE --merchant CODE` and `coopcast import template KIND`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipelines import settings
from pipelines.cli_common import (
    CommandFailed,
    configure_environment,
    console,
    error_console,
    one_line_errors,
    progress,
)
from transactional import db
from transactional.errors import ImportRejected
from transactional.imports import (
    ImportLimits,
    ImportOptions,
    ImportReport,
    Status,
    import_file,
    write_report,
    write_template,
)
from transactional.imports.loading import merchant_to_import_for
from transactional.migrate import upgrade

import_app = typer.Typer(
    help="Import products, stock or order history from .xlsx or .csv files (all or nothing by default).",
    no_args_is_help=True,
)
# The terminal shows this many problems; the report file under $COOPCAST_HOME/imports has them all.
SHOWN_PROBLEMS = 20


class Kind(StrEnum):
    products = "products"
    stock = "stock"
    orders = "orders"


FileArgument = Annotated[
    Path, typer.Argument(help=".xlsx workbook (first sheet) or .csv (UTF-8, UTF-8 with BOM or GB18030)")
]
MerchantOption = Annotated[str, typer.Option("--merchant", help="Code of the merchant the rows belong to")]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help='Read our column from theirs: ours=theirs, repeatable; quote spaces: --map "customer_code=Customer ID"',
    ),
]
SkipBadRowsOption = Annotated[
    bool, typer.Option("--skip-bad-rows", help="Import the good rows and report the bad ones instead of refusing all")
]


@import_app.command("products")
@one_line_errors
def import_products(
    file: FileArgument, merchant: MerchantOption, map_: MapOption = None, skip_bad_rows: SkipBadRowsOption = False
) -> None:
    """New SKUs of the merchant; a SKU already present is skipped, never changed.

    Required columns: sku_code, name, category_code (a level-3 category), unit_cost, price.

    Optional: spec, brand, origin, unit, shelf_life_days, supplier_code, lead_time_days, min_order_qty,
    order_multiple, low_stock_threshold.
    """
    _import(Kind.products, file, merchant, map_, skip_bad_rows)


@import_app.command("stock")
@one_line_errors
def import_stock(
    file: FileArgument, merchant: MerchantOption, map_: MapOption = None, skip_bad_rows: SkipBadRowsOption = False
) -> None:
    """Opening stock: each row is a batch received through the stock ledger.

    Required columns: sku_code, warehouse_code, quantity.

    Optional: lot_code, expiry_date, unit_cost, received_at.

    A lot_code already recorded for the SKU is skipped.
    """
    _import(Kind.stock, file, merchant, map_, skip_bad_rows)


@import_app.command("orders")
@one_line_errors
def import_orders(
    file: FileArgument,
    merchant: MerchantOption,
    map_: MapOption = None,
    skip_bad_rows: SkipBadRowsOption = False,
    create_products: Annotated[
        bool, typer.Option("--create-products", help="Register unknown SKU codes in the 'imported / 未分类' category")
    ] = False,
) -> None:
    """Order history from another system; it never reserves or moves stock.

    Required columns: customer_code, ordered_at, amount.

    Optional: order_code, sku_code, quantity, unit_price, customer_name, product_name.

    Each row is an order line; rows sharing an order_code are one order.

    A row without sku_code is amount-only history; an order_code imported before is skipped.
    """
    _import(Kind.orders, file, merchant, map_, skip_bad_rows, create_products)


@import_app.command("template")
@one_line_errors
def template(
    kind: Annotated[Kind, typer.Argument(help="Which import the workbook is for")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Where to write it (default: $COOPCAST_HOME/exports/)")
    ] = None,
) -> None:
    """Write an example workbook: the columns, an example row, and a notes sheet."""
    path = output or settings.exports_dir() / f"import_template_{kind.value}.xlsx"
    console.print(f"Template for `coopcast import {kind.value}`: {write_template(kind.value, path)}")


def _import(
    kind: Kind,
    file: Path,
    merchant: str,
    column_map: list[str] | None,
    skip_bad_rows: bool,
    create_products: bool = False,
) -> None:
    options = ImportOptions(tuple(column_map or ()), skip_bad_rows, create_products, ImportLimits.from_environment())
    uri = _prepared_postgres()
    at = datetime.now(UTC)
    report_path = _report_path(kind, merchant, file, at)
    # Refused before the progress bar shows: an unknown merchant is not an import that started.
    with db.connect(uri) as conn:
        merchant_to_import_for(conn, merchant)
    try:
        with progress() as bar, db.connect(uri) as conn:
            task = bar.add_task(f"Importing {kind.value} from {file.name}", total=None)
            report = import_file(
                conn,
                kind.value,
                file,
                merchant_code=merchant,
                at=at,
                options=options,
                progress=lambda rows: bar.update(task, completed=rows),
            )
            bar.update(task, completed=report.rows_read, total=report.rows_read)
    except ImportRejected as rejected:
        _show_problems(rejected.report, write_report(rejected.report, report_path))
        raise CommandFailed(f"{rejected} (every problem: {report_path})") from rejected
    _show_problems(report, write_report(report, report_path))
    if report.ignored_columns:
        console.print(f"Ignored columns: {escape(', '.join(report.ignored_columns))}")
    console.print(f"Imported {kind.value} for merchant {merchant}. {report.summary()}")
    console.print(f"Report: {report_path}")


def _prepared_postgres() -> str:
    """PostgreSQL, migrated; unlike `prepare`, the DuckDB warehouse is left alone, so an import
    never waits for (or fails on) a pipeline run holding the warehouse's write lock."""
    configure_environment()
    uri = db.database_url()
    upgrade(uri)
    return uri


def _report_path(kind: Kind, merchant: str, file: Path, at: datetime) -> Path:
    stem = re.sub(r"[^\w.-]+", "_", file.stem)[:60]
    return db.coopcast_home() / "imports" / f"{at:%Y%m%dT%H%M%S}_{merchant}_{kind.value}_{stem}.csv"


def _show_problems(report: ImportReport, report_path: Path) -> None:
    bad = report.with_status(Status.BAD)
    for note in bad[:SHOWN_PROBLEMS]:
        error_console.print(note.line(report.file.name), highlight=False, markup=False, soft_wrap=True)
    if len(bad) > SHOWN_PROBLEMS:
        error_console.print(f"… and {len(bad) - SHOWN_PROBLEMS:,} more problems in {report_path}", highlight=False)
