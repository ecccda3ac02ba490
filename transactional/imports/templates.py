"""Example workbooks (`coopcast import template KIND`): the columns, an example row, and notes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from transactional.imports.loading import KindImporter

GENERAL_NOTES = (
    "The first sheet is read; row 1 is the header and data starts on row 2 (reports number rows the same way).",
    'Column names are matched ignoring case; other names can be mapped: --map "customer_code=Customer ID".',
    "Files: .xlsx, or .csv in UTF-8 (with or without BOM) or GB18030.",
    "Amounts are CNY with at most two decimals, without currency signs or thousands separators.",
    "Times without a zone are Asia/Shanghai; a date alone means its midnight.",
    "Format code columns as Text, so long codes keep every digit.",
    "Formulas are refused, and so is text starting with = or @ (or + or - when it is not a plain number).",
    "All or nothing: one bad row and nothing is imported; --skip-bad-rows imports the good rows.",
)
NUMBER_FORMATS = {datetime: "yyyy-mm-dd hh:mm", date: "yyyy-mm-dd", Decimal: "0.00"}


def write_template(importer_class: type[KindImporter], path: Path) -> Path:
    workbook = Workbook()
    data = workbook.active
    data.title = importer_class.kind
    bold = Font(bold=True)
    data.append([column.name for column in importer_class.columns])
    data.append([column.example for column in importer_class.columns])
    for cell in data[1]:
        cell.font = bold
    for cell, column in zip(data[2], importer_class.columns, strict=True):
        number_format = NUMBER_FORMATS.get(type(column.example))
        if number_format:
            cell.number_format = number_format
        data.column_dimensions[cell.column_letter].width = max(12, len(column.name) + 4)

    notes = workbook.create_sheet("notes")
    notes.append(["column", "required", "meaning", "example"])
    for cell in notes[1]:
        cell.font = bold
    for column in importer_class.columns:
        notes.append([column.name, "yes" if column.required else "no", column.meaning, str(column.example)])
    notes.append([])
    for line in (*importer_class.template_notes, *GENERAL_NOTES):
        notes.append([line])
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["C"].width = 80
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
