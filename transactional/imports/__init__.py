"""Import products, stock and order history from .xlsx and .csv files, safely and in bulk.

`import_file(conn, "orders", path, merchant_code=..., at=...)` reads a file, validates every row,
and writes in one transaction; see loading.py for the pipeline, files.py for what is refused
before parsing, and orders.py, products.py and stock.py for each kind's columns and rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg

from transactional.errors import ImportRefused
from transactional.imports import loading, templates
from transactional.imports.files import ImportLimits
from transactional.imports.loading import ImportOptions, KindImporter
from transactional.imports.orders import OrderHistoryImporter
from transactional.imports.products import ProductListImporter
from transactional.imports.report import ImportReport, RowNote, Status, write_report
from transactional.imports.stock import StockListImporter

IMPORTERS: dict[str, type[KindImporter]] = {
    importer.kind: importer for importer in (ProductListImporter, StockListImporter, OrderHistoryImporter)
}

__all__ = [
    "IMPORTERS",
    "ImportLimits",
    "ImportOptions",
    "ImportReport",
    "RowNote",
    "Status",
    "import_file",
    "write_report",
    "write_template",
]


def _importer(kind: str) -> type[KindImporter]:
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ImportRefused(f"unknown import kind {kind!r}; one of {', '.join(IMPORTERS)}") from None


def import_file(
    conn: psycopg.Connection,
    kind: str,
    path: Path,
    *,
    merchant_code: str,
    at: datetime,
    options: ImportOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import `path` as `kind` (products, stock or orders) for one merchant; see loading.import_file."""
    return loading.import_file(
        conn,
        _importer(kind),
        path,
        merchant_code=merchant_code,
        at=at,
        options=options or ImportOptions(),
        progress=progress,
    )


def write_template(kind: str, path: Path) -> Path:
    return templates.write_template(_importer(kind), path)
