"""The columns each kind of import reads, and how a file's header maps onto them (`--map`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.utils import get_column_letter

from transactional.errors import ImportRefused
from transactional.imports.files import CellValue
from transactional.imports.values import CellProblem, is_blank, refuse_formula


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[CellValue], Any]
    required: bool
    meaning: str
    # The template's notes speak to Chinese-reading merchants first.
    meaning_zh: str
    example: CellValue


@dataclass(frozen=True)
class Layout:
    """Where each of our columns sits in the file, and how to name it in a message."""

    positions: dict[str, int]
    labels: dict[str, str]
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class CellNote:
    column: str
    reason: str


def parse_column_map(pairs: Iterable[str], columns: Sequence[Column]) -> dict[str, str]:
    """`ours=theirs` pairs (from --map) as {our column: their header}."""
    known = {column.name for column in columns}
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, separator, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not separator or not ours or not theirs:
            raise ImportRefused(f'--map {pair!r}: write it as ours=theirs, e.g. --map "customer_code=Customer ID"')
        if ours not in known:
            raise ImportRefused(f"--map {pair!r}: {ours!r} is not a column here; the columns are {', '.join(known)}")
        if ours in mapping:
            raise ImportRefused(f"--map names {ours!r} twice")
        mapping[ours] = theirs
    return mapping


def _header_key(value: CellValue) -> str:
    return "" if is_blank(value) else " ".join(str(value).split()).casefold()


def resolve_layout(
    file_name: str, header: Sequence[CellValue], columns: Sequence[Column], column_map: dict[str, str]
) -> Layout:
    """Match the header row to our columns (case and surrounding blanks ignored); refuse a header
    that lacks a required column, names one of ours twice, or lacks a column --map refers to."""
    positions_by_key: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        if key:
            positions_by_key.setdefault(key, []).append(index)

    def only_position(key: str, shown: str) -> int | None:
        found = positions_by_key.get(key, [])
        if len(found) > 1:
            letters = " and ".join(get_column_letter(index + 1) for index in found)
            raise ImportRefused(f"{file_name}: row 1 names column {shown!r} twice ({letters})")
        return found[0] if found else None

    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    for column in columns:
        theirs = column_map.get(column.name)
        position = only_position(_header_key(theirs or column.name), theirs or column.name)
        if theirs is not None and position is None:
            raise ImportRefused(f"{file_name}: --map {column.name}={theirs}: row 1 has no column {theirs!r}")
        if position is None:
            continue
        positions[column.name] = position
        letter = get_column_letter(position + 1)
        labels[column.name] = f"{column.name} ({theirs!r}, {letter})" if theirs else f"{column.name} ({letter})"
    missing = [column.name for column in columns if column.required and column.name not in positions]
    if missing:
        found = ", ".join(repr(str(cell)) for cell in header if not is_blank(cell)) or "nothing"
        raise ImportRefused(
            f"{file_name}: row 1 lacks the required column(s) {', '.join(missing)}; it has {found} "
            '(rename with --map ours=theirs, e.g. --map "customer_code=Customer ID")'
        )
    used = set(positions.values())
    ignored = tuple(str(cell) for index, cell in enumerate(header) if index not in used and not is_blank(cell))
    return Layout(positions, labels, ignored)


def parse_cells(
    cells: Sequence[CellValue], layout: Layout, columns: Sequence[Column]
) -> tuple[dict[str, Any], list[CellNote]]:
    """Every column of one row parsed independently, so one bad cell does not hide another."""
    values: dict[str, Any] = {}
    notes: list[CellNote] = []
    for column in columns:
        position = layout.positions.get(column.name)
        raw = cells[position] if position is not None and position < len(cells) else None
        if isinstance(raw, str):
            raw = raw.strip() or None
        try:
            refuse_formula(raw)
            value = column.parse(raw)
        except CellProblem as problem:
            notes.append(CellNote(column.name, str(problem)))
            values[column.name] = None
            continue
        if value is None and column.required:
            notes.append(CellNote(column.name, "is empty; it is required"))
        values[column.name] = value
    return values, notes
