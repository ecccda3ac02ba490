"""Example workbooks (`coopcast import template KIND`): the columns, an example row, and notes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from transactional.imports.loading import KindImporter

GENERAL_NOTES = (
    (
        "读取第一个工作表；第 1 行是表头，数据从第 2 行开始（报告中的行号与此一致）。",
        "The first sheet is read; row 1 is the header and data starts on row 2 (reports number rows the same way).",
    ),
    (
        '列名不区分大小写；其他列名可以映射：--map "customer_code=客户编号"。',
        'Column names are matched ignoring case; other names can be mapped: --map "customer_code=Customer ID".',
    ),
    (
        "文件：.xlsx，或 UTF-8（带或不带 BOM）、GB18030 编码的 .csv。",
        "Files: .xlsx, or .csv in UTF-8 (with or without BOM) or GB18030.",
    ),
    (
        "金额以元为单位，最多两位小数，不带货币符号或千位分隔符。",
        "Amounts are CNY with at most two decimals, without currency signs or thousands separators.",
    ),
    (
        "未注明时区的时间按北京时间；只写日期表示当天零点。",
        "Times without a zone are Asia/Shanghai; a date alone means its midnight.",
    ),
    (
        "编码列请设为“文本”格式，以免长编码丢失位数。",
        "Format code columns as Text, so long codes keep every digit.",
    ),
    (
        "不接受公式，也不接受以 = 或 @ 开头的文本（以 + 或 - 开头且不是数字的文本同样不接受）。",
        "Formulas are refused, and so is text starting with = or @ (or + or - when it is not a plain number).",
    ),
    (
        "全部导入或全部不导入：有一行错误就不导入任何数据；--skip-bad-rows 只导入正确的行。",
        "All or nothing: one bad row and nothing is imported; --skip-bad-rows imports the good rows.",
    ),
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
    notes.append(["列名 column", "必填 required", "说明", "meaning", "示例 example"])
    for cell in notes[1]:
        cell.font = bold
    for column in importer_class.columns:
        required = "是 yes" if column.required else "否 no"
        notes.append([column.name, required, column.meaning_zh, column.meaning, str(column.example)])
    notes.append([])
    for chinese, english in (*importer_class.template_notes, *GENERAL_NOTES):
        notes.append([chinese])
        notes.append([english])
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["C"].width = 60
    notes.column_dimensions["D"].width = 80
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
