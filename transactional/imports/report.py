"""What an import did, row by row: bad rows, rows left out with them, rows already present."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Status(StrEnum):
    BAD = "bad"
    NOT_IMPORTED = "not imported"
    ALREADY_PRESENT = "already present"


@dataclass(frozen=True)
class RowNote:
    """One finding about one row; row numbers are the spreadsheet's (header = 1)."""

    row: int
    column: str | None
    status: Status
    reason: str

    def line(self, file_name: str) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{file_name}: {where}: {self.reason}"


@dataclass
class ImportReport:
    kind: str
    file: Path
    merchant_code: str
    rows_read: int = 0
    notes: list[RowNote] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)
    ignored_columns: tuple[str, ...] = ()
    written: bool = False

    def add(self, row: int, column: str | None, status: Status, reason: str) -> None:
        self.notes.append(RowNote(row, column, status, reason))

    def with_status(self, status: Status) -> list[RowNote]:
        return sorted((note for note in self.notes if note.status is status), key=lambda note: note.row)

    def rows_with(self, status: Status) -> set[int]:
        return {note.row for note in self.notes if note.status is status}

    def failure_summary(self) -> str:
        bad = self.with_status(Status.BAD)
        first = f" First: {bad[0].line(self.file.name).removeprefix(self.file.name + ': ')}" if bad else ""
        return (
            f"{self.file.name}: {_counted(len(self.rows_with(Status.BAD)), 'bad row')} of {self.rows_read:,} "
            f"({_counted(len(bad), 'problem')}); nothing was imported.{first}"
        )

    def summary(self) -> str:
        made = ", ".join(_counted(count, what) for what, count in self.created.items() if count) or "nothing new"
        parts = [f"{self.file.name}: {_counted(self.rows_read, 'row')} read; created {made}"]
        present = len(self.rows_with(Status.ALREADY_PRESENT))
        if present:
            parts.append(f"{_counted(present, 'row')} already present, skipped")
        bad = len(self.rows_with(Status.BAD))
        if bad:
            parts.append(f"{_counted(bad, 'bad row')} skipped")
        left_out = len(self.rows_with(Status.NOT_IMPORTED))
        if left_out:
            parts.append(f"{_counted(left_out, 'row')} left out with them")
        return "; ".join(parts)


IRREGULAR_SINGULARS = {"batches": "batch"}


def _counted(count: int, noun: str) -> str:
    """'1 bad row', '3 bad rows'; the created counters are named in the plural ('orders', 'batches')."""
    if noun.endswith("s"):
        singular, plural = IRREGULAR_SINGULARS.get(noun, noun[:-1]), noun
    else:
        singular, plural = noun, noun + "s"
    return f"{count:,} {singular if count == 1 else plural}"


def _neutralised(text: str) -> str:
    """The report is opened in spreadsheets too: never let a quoted value run as a formula there."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_report(report: ImportReport, path: Path) -> Path:
    """Every note as CSV (UTF-8 with BOM so Excel shows Chinese correctly), ordered by row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "status", "reason"])
        for note in sorted(report.notes, key=lambda note: (note.row, note.status)):
            writer.writerow(
                [report.file.name, note.row, note.column or "", note.status.value, _neutralised(note.reason)]
            )
    return path
