"""Open an import file safely, then stream its rows as a spreadsheet numbers them.

Everything that could exhaust memory or time is refused before a parser sees the file: its size,
a zip bomb (the declared uncompressed sizes in the zip directory and each entry's compression
ratio), XML entity declarations (billion laughs) in any part of a workbook, and more rows than the
limit. openpyxl parses workbooks through defusedxml as a second line of defence.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from transactional.errors import ImportRefused

MIB = 1024 * 1024
CHUNK_BYTES = MIB
# A cell as a reader hands it over: text from CSV; typed values from a workbook.
CellValue = str | int | float | Decimal | datetime | date | time | bool | None

SUPPORTED_SUFFIXES = (".xlsx", ".csv")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls format, and encrypted workbooks
# Small parts (styles, relationships) compress far better than data without being dangerous.
RATIO_CHECK_MIN_BYTES = MIB
ENTITY_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
ROW_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
# The longest ENTITY_DECLARATION or ROW_ELEMENT match fits in this overlap between chunks.
SCAN_OVERLAP = 64
# Byte-order marks and the first character of UTF-16 XML: entity declarations would hide from the scan.
NOT_UTF8_XML = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"<\x00", b"\x00<")
CSV_DELIMITERS = (",", "\t", ";")


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what an import file may make the platform read; all configurable."""

    max_file_bytes: int = 100 * MIB
    max_uncompressed_bytes: int = 256 * MIB
    max_compression_ratio: int = 200
    max_zip_entries: int = 1000
    max_rows: int = 500_000
    max_columns: int = 64

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ImportLimits:
        """COOPCAST_IMPORT_MAX_FILE_MB, _MAX_UNCOMPRESSED_MB, _MAX_ROWS and _MAX_COLUMNS override the defaults."""
        defaults = cls()

        def number(name: str, default: int, scale: int = 1) -> int:
            text = environ.get(f"COOPCAST_IMPORT_{name}")
            if not text:
                return default
            try:
                value = int(text)
            except ValueError as error:
                raise ImportRefused(f"COOPCAST_IMPORT_{name} must be a whole number, got {text!r}") from error
            if value < 1:
                raise ImportRefused(f"COOPCAST_IMPORT_{name} must be at least 1, got {value}")
            return value * scale

        return cls(
            max_file_bytes=number("MAX_FILE_MB", defaults.max_file_bytes, MIB),
            max_uncompressed_bytes=number("MAX_UNCOMPRESSED_MB", defaults.max_uncompressed_bytes, MIB),
            max_compression_ratio=defaults.max_compression_ratio,
            max_zip_entries=defaults.max_zip_entries,
            max_rows=number("MAX_ROWS", defaults.max_rows),
            max_columns=number("MAX_COLUMNS", defaults.max_columns),
        )


@dataclass
class Sheet:
    """The first row (the header) and a stream of (spreadsheet row number, cells) for the rest."""

    header: tuple[CellValue, ...]
    rows: Iterator[tuple[int, tuple[CellValue, ...]]]


@contextmanager
def open_sheet(path: Path, limits: ImportLimits) -> Iterator[Sheet]:
    """Check the file, then yield its first sheet; refusals raise ImportRefused naming the file."""
    suffix = _checked_suffix(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ImportRefused(
            f"{path.name}: {size / MIB:.1f} MiB is over the import limit of {limits.max_file_bytes / MIB:.0f} MiB"
        )
    if size == 0:
        raise ImportRefused(f"{path.name}: the file is empty")
    if suffix == ".xlsx":
        with _open_workbook(path, limits) as sheet:
            yield sheet
    else:
        with _open_csv(path, limits) as sheet:
            yield sheet


def _checked_suffix(path: Path) -> str:
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportRefused(f"{path.name}: only .xlsx workbooks and .csv files are imported, not {suffix or 'this'}")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if suffix == ".xlsx" and magic != ZIP_MAGIC:
        if magic == OLE_MAGIC:
            raise ImportRefused(f"{path.name}: an old-format (.xls) or password-protected workbook; save it as .xlsx")
        raise ImportRefused(f"{path.name}: not an .xlsx workbook (it is not a zip archive)")
    return suffix


def _bounded_rows(
    path: Path, rows: Iterator[tuple[CellValue, ...]], limits: ImportLimits
) -> Iterator[tuple[int, tuple[CellValue, ...]]]:
    """Number rows as a spreadsheet does (the header is row 1) and stop at the row and column bounds."""
    last_allowed = limits.max_rows + 1
    for number, cells in enumerate(rows, start=2):
        if number > last_allowed:
            raise ImportRefused(f"{path.name}: more than {limits.max_rows:,} data rows; split the file")
        yield number, _within_column_bound(path, number, cells, limits)


def _within_column_bound(path: Path, number: int, cells: tuple[CellValue, ...], limits: ImportLimits) -> tuple:
    if len(cells) > limits.max_columns:
        while cells and cells[-1] in (None, ""):
            cells = cells[:-1]
        if len(cells) > limits.max_columns:
            raise ImportRefused(
                f"{path.name}: row {number} has {len(cells)} columns; at most {limits.max_columns} are read"
            )
    return cells


# --- workbooks --------------------------------------------------------------------------------


@contextmanager
def _open_workbook(path: Path, limits: ImportLimits) -> Iterator[Sheet]:
    _check_zip_directory(path, limits)
    _scan_workbook_parts(path, limits)
    import openpyxl

    if not openpyxl.DEFUSEDXML:
        raise ImportRefused("workbooks are read only when defusedxml is installed (and OPENPYXL_DEFUSEDXML is not off)")
    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it ignores; none of them matter for data.
        warnings.simplefilter("ignore")
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
        except Exception as error:  # openpyxl raises many types for a malformed workbook
            raise ImportRefused(f"{path.name}: not a readable .xlsx workbook ({error})") from error
    try:
        if not workbook.worksheets:
            raise ImportRefused(f"{path.name}: the workbook has no worksheet")
        worksheet = workbook.worksheets[0]
        # A declared dimension would make openpyxl pad every row to it; the real cells are enough.
        worksheet.reset_dimensions()
        values = (tuple(row) for row in worksheet.iter_rows(values_only=True))
        header = next(values, None)
        if header is None:
            raise ImportRefused(f"{path.name}: sheet {worksheet.title!r} is empty")
        header = _within_column_bound(path, 1, header, limits)
        yield Sheet(header, _bounded_rows(path, values, limits))
    finally:
        workbook.close()


def _check_zip_directory(path: Path, limits: ImportLimits) -> None:
    """Judge the archive by its central directory alone, before decompressing anything.

    zipfile stops decompressing an entry at its declared size (and then fails its CRC check), so
    the declared sizes bound what any later reader can get out of the archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportRefused(f"{path.name}: not a readable .xlsx workbook ({error})") from error
    if len(entries) > limits.max_zip_entries:
        raise ImportRefused(f"{path.name}: {len(entries)} parts in the workbook; at most {limits.max_zip_entries}")
    declared = sum(entry.file_size for entry in entries)
    if declared > limits.max_uncompressed_bytes:
        raise ImportRefused(
            f"{path.name}: the workbook declares {declared / MIB:,.0f} MiB uncompressed, over the limit of "
            f"{limits.max_uncompressed_bytes / MIB:,.0f} MiB (refused as a possible zip bomb)"
        )
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise ImportRefused(f"{path.name}: part {entry.filename} is encrypted")
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ImportRefused(f"{path.name}: part {entry.filename} uses an unsupported compression method")
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise ImportRefused(
                f"{path.name}: part {entry.filename} expands {ratio:,.0f}-fold (limit {limits.max_compression_ratio}), "
                "refused as a possible zip bomb"
            )


def _scan_workbook_parts(path: Path, limits: ImportLimits) -> None:
    """Stream every part once: no DOCTYPE or ENTITY anywhere, XML in UTF-8, rows within the bound."""
    with zipfile.ZipFile(path) as archive:
        for entry in archive.infolist():
            try:
                _scan_part(path, archive, entry, limits)
            except zipfile.BadZipFile as error:
                raise ImportRefused(f"{path.name}: part {entry.filename} is corrupt ({error})") from error


def _scan_part(path: Path, archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limits: ImportLimits) -> None:
    rows = 0
    tail = b""
    with archive.open(entry) as stream:
        first = True
        while chunk := stream.read(CHUNK_BYTES):
            if first and _is_xml(entry) and chunk.startswith(NOT_UTF8_XML):
                raise ImportRefused(f"{path.name}: part {entry.filename} is not UTF-8 XML")
            first = False
            window = tail + chunk
            if ENTITY_DECLARATION.search(window):
                raise ImportRefused(
                    f"{path.name}: part {entry.filename} declares a DOCTYPE or XML entities "
                    "(refused as a possible entity-expansion attack)"
                )
            # Matches wholly inside the carried-over tail were counted with the previous chunk.
            rows += len(ROW_ELEMENT.findall(window)) - len(ROW_ELEMENT.findall(tail))
            if rows > limits.max_rows + 1:
                raise ImportRefused(
                    f"{path.name}: more than {limits.max_rows:,} data rows in part {entry.filename}; split the file"
                )
            tail = window[-SCAN_OVERLAP:]


def _is_xml(entry: zipfile.ZipInfo) -> bool:
    return entry.filename.lower().endswith((".xml", ".rels", ".vml"))


# --- CSV --------------------------------------------------------------------------------------


@contextmanager
def _open_csv(path: Path, limits: ImportLimits) -> Iterator[Sheet]:
    encoding, newlines = _detect_encoding(path)
    with path.open(encoding=encoding, newline="") as handle:
        first_line = handle.readline()
        delimiter = max(CSV_DELIMITERS, key=first_line.count)
        if newlines > limits.max_rows + 1:
            # Quoted cells may span lines, so only an exact count may refuse the file.
            handle.seek(0)
            _refuse_too_many_records(path, handle, delimiter, limits)
        handle.seek(0)
        records = _csv_records(path, handle, delimiter)
        header = next(records, None)
        if header is None:
            raise ImportRefused(f"{path.name}: the file is empty")
        header = _within_column_bound(path, 1, header, limits)
        yield Sheet(header, _bounded_rows(path, records, limits))


def _detect_encoding(path: Path) -> tuple[str, int]:
    """UTF-8 (with or without BOM) when the bytes decode as UTF-8, else GB18030; also counts newlines."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRefused(f"{path.name}: UTF-16 text; save the CSV as UTF-8")
    if start.startswith(codecs.BOM_UTF8):
        newlines = _decode_all(path, "utf-8-sig")
        if newlines is None:
            raise ImportRefused(f"{path.name}: starts with a UTF-8 byte-order mark but is not valid UTF-8")
        return "utf-8-sig", newlines
    for encoding in ("utf-8", "gb18030"):
        newlines = _decode_all(path, encoding)
        if newlines is not None:
            return encoding, newlines
    raise ImportRefused(f"{path.name}: the text is neither UTF-8 nor GB18030")


def _decode_all(path: Path, encoding: str) -> int | None:
    """The number of newlines when the whole file decodes in `encoding`, else None."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines = 0
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(CHUNK_BYTES):
                if b"\x00" in chunk:
                    raise ImportRefused(f"{path.name}: contains NUL bytes, so it is not a CSV text file")
                decoder.decode(chunk)
                newlines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return None
    return newlines


def _refuse_too_many_records(path: Path, handle: TextIO, delimiter: str, limits: ImportLimits) -> None:
    for count, _ in enumerate(_csv_records(path, handle, delimiter), start=1):
        if count > limits.max_rows + 1:
            raise ImportRefused(f"{path.name}: more than {limits.max_rows:,} data rows; split the file")


def _csv_records(path: Path, handle: TextIO, delimiter: str) -> Iterator[tuple[CellValue, ...]]:
    reader = csv.reader(handle, delimiter=delimiter)
    records = 0
    try:
        for record in reader:
            records += 1
            yield tuple(record)
    except csv.Error as error:
        raise ImportRefused(f"{path.name}: row {records + 1} cannot be read as CSV ({error})") from error
