"""The import pipeline every kind shares: read, validate, stage with COPY, check, load set-based.

One transaction: rows are validated in Python as the file streams and every row goes into a
temporary staging table through COPY (a cell that did not parse staged as NULL), so the checks
that need the database (unknown codes) report a row's problems with the problems of its cells.
Bad rows are then dropped, rows already present are skipped, and the load is INSERT … SELECT
under the same constraints as every other write. Unless bad rows may be skipped, one bad row
rolls it all back.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import psycopg

from transactional.db import act_for_merchant
from transactional.errors import ImportRefused, ImportRejected, NotFound
from transactional.imports.columns import CellNote, Column, Layout, parse_cells, parse_column_map, resolve_layout
from transactional.imports.files import CellValue, ImportLimits, open_sheet
from transactional.imports.report import ImportReport, Status
from transactional.operations import Operation, log_operation

# Imports of one merchant queue behind each other, so "already present" checks see every
# earlier import's rows and two concurrent imports of one file cannot both insert them.
IMPORT_LOCK_CLASS = 0x494D5054  # "IMPT"
IMPORT_ACTOR = "import"
PROGRESS_EVERY_ROWS = 10_000


@dataclass(frozen=True)
class ImportOptions:
    column_map: tuple[str, ...] = ()
    skip_bad_rows: bool = False
    create_products: bool = False
    limits: ImportLimits = field(default_factory=ImportLimits)


class KindImporter(ABC):
    """One kind of import file: its columns, its staging table, its checks and its load."""

    kind: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    # What the template's notes sheet says about this kind beyond its columns: (Chinese, English).
    template_notes: ClassVar[tuple[tuple[str, str], ...]]
    staging_table: ClassVar[str]
    # Column definitions of the staging table; the first is always `row_no integer`.
    staging_columns: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        conn: psycopg.Connection,
        merchant_id: int,
        at: datetime,
        options: ImportOptions,
        report: ImportReport,
        layout: Layout,
    ) -> None:
        self.conn = conn
        self.merchant_id = merchant_id
        self.at = at
        self.options = options
        self.report = report
        self.layout = layout

    def label(self, column: str) -> str:
        return self.layout.labels.get(column, column)

    def bad(self, row: int, column: str | None, reason: str) -> None:
        self.report.add(row, self.label(column) if column else None, Status.BAD, reason)

    def create_staging(self) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {self.staging_table}")
        self.conn.execute(f"CREATE TEMP TABLE {self.staging_table} ({', '.join(self.staging_columns)}) ON COMMIT DROP")

    def staging_names(self) -> list[str]:
        return [definition.split()[0] for definition in self.staging_columns]

    def after_staging(self) -> None:
        """Temporary tables are never analysed automatically; the set-based checks need statistics."""
        self.conn.execute(f"CREATE INDEX ON {self.staging_table} (row_no)")
        self.conn.execute(f"ANALYZE {self.staging_table}")

    def drop_rows(self, rows: Sequence[int]) -> None:
        if rows:
            self.conn.execute(f"DELETE FROM {self.staging_table} WHERE row_no = ANY(%s)", [list(rows)])

    def drop_bad_rows(self) -> None:
        """Once every rule has seen them: bad rows are never loaded, nor reported as already present."""
        self.drop_rows(sorted(self.report.rows_with(Status.BAD)))

    @abstractmethod
    def stage(self, row: int, values: dict[str, Any], notes: list[CellNote]) -> tuple:
        """Cross-column rules and in-file bookkeeping for one row, bad or not: its staging tuple."""

    def after_file(self) -> None:  # noqa: B027 (an optional hook)
        """Rules across rows of the file (duplicate keys), once every row has been staged."""

    @abstractmethod
    def check(self) -> None:
        """Rules that need the database: unknown codes are bad (on every row, NULL codes aside),
        then drop_bad_rows, then keys already present are skipped."""

    @abstractmethod
    def load(self) -> None:
        """Write the staged rows that are left; count what was created in report.created."""


def import_file(
    conn: psycopg.Connection,
    importer_class: type[KindImporter],
    path: Path,
    *,
    merchant_code: str,
    at: datetime,
    options: ImportOptions,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one file for one merchant; all or nothing unless options.skip_bad_rows.

    Raises ImportRefused for a file refused as a whole and ImportRejected (carrying the report)
    when rows are bad and may not be skipped; in both cases nothing is written.
    """
    report = ImportReport(kind=importer_class.kind, file=path, merchant_code=merchant_code)
    column_map = parse_column_map(options.column_map, importer_class.columns)
    with open_sheet(path, options.limits) as sheet:
        digest = _sha256(path)
        layout = resolve_layout(path.name, sheet.header, importer_class.columns, column_map)
        report.ignored_columns = layout.ignored
        with conn.transaction():
            merchant_id = _lock_merchant(conn, merchant_code)
            importer = importer_class(conn, merchant_id, at, options, report, layout)
            importer.create_staging()
            _stage_rows(conn, importer, sheet.rows, progress)
            if report.rows_read == 0:
                raise ImportRefused(f"{path.name}: no data rows below the header")
            importer.after_staging()
            importer.after_file()
            importer.check()
            if report.rows_with(Status.BAD) and not options.skip_bad_rows:
                raise ImportRejected(report.failure_summary(), report)
            importer.load()
            log_operation(conn, _operation(importer, path, digest))
            report.written = True
    return report


def _operation(importer: KindImporter, path: Path, digest: str) -> Operation:
    """The import as one entry of the operation log: the file (by content hash), options and outcome."""
    report, options = importer.report, importer.options
    request = {
        "file": path.name,
        "sha256": digest,
        "column_map": list(options.column_map),
        "skip_bad_rows": options.skip_bad_rows,
        "create_products": options.create_products,
        "rows_read": report.rows_read,
        "created": dict(report.created),
        "rows_already_present": len(report.rows_with(Status.ALREADY_PRESENT)),
        "bad_rows_skipped": len(report.rows_with(Status.BAD)),
    }
    return Operation(
        merchant_id=importer.merchant_id,
        actor=IMPORT_ACTOR,
        name=f"import.{importer.kind}",
        request=request,
        at=importer.at,
        target=path.name,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _stage_rows(
    conn: psycopg.Connection,
    importer: KindImporter,
    rows: Iterator[tuple[int, tuple[CellValue, ...]]],
    progress: Callable[[int], None] | None,
) -> None:
    report = importer.report
    columns = ", ".join(importer.staging_names())
    with conn.cursor() as cursor, cursor.copy(f"COPY {importer.staging_table} ({columns}) FROM STDIN") as copy:
        for row, cells in rows:
            if _is_blank_row(cells):
                continue
            report.rows_read += 1
            if progress is not None and report.rows_read % PROGRESS_EVERY_ROWS == 0:
                progress(report.rows_read)
            values, notes = parse_cells(cells, importer.layout, importer.columns)
            for note in notes:
                importer.bad(row, note.column, note.reason)
            copy.write_row(importer.stage(row, values, notes))


def _is_blank_row(cells: Sequence[CellValue]) -> bool:
    return not any(cell.strip() if isinstance(cell, str) else cell is not None for cell in cells)


def merchant_to_import_for(conn: psycopg.Connection, merchant_code: str) -> int:
    """The merchant's id; NotFound, saying how to register it, when there is none."""
    row = conn.execute("SELECT merchant_id FROM core.merchants WHERE merchant_code = %s", [merchant_code]).fetchone()
    if row is None:
        raise NotFound(
            f"merchant {merchant_code} does not exist; "
            f"register it first with `coopcast merchant create {merchant_code} NAME`"
        )
    return int(row[0])


def _lock_merchant(conn: psycopg.Connection, merchant_code: str) -> int:
    merchant_id = merchant_to_import_for(conn, merchant_code)
    # Row security (for the application role) sees and writes only this merchant's rows.
    act_for_merchant(conn, merchant_id)
    conn.execute("SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", [IMPORT_LOCK_CLASS, merchant_id])
    return merchant_id
