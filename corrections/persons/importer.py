"""Reading a caseload file (名单导入): a .csv or .xlsx table of persons, its columns (Chinese
or English headers), its cells as the intake API's fields, the template, and the problems of
each row in Chinese and English.

Nothing here checks a person: every row goes through the intake's own schema and service
checks (``supervision.caseload``). This module only turns a spreadsheet into what the API
would have been sent, and the API's messages into a report a bureau can act on. The column
names, the Chinese values no rules file labels and the Chinese of every message are data:
``import_columns.yaml`` beside this file.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml

from corrections.core.errors import RuleViolation
from corrections.core.i18n import ZH, Message, _
from corrections.grading import rules as grading_rules
from corrections.persons import rules as person_rules
from corrections.persons.schemas import CaseloadRowSchema

# A caseload is thousands of rows, not millions: larger files are refused before parsing.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# Columns read from a workbook: the template has about thirty; more are not ours.
MAX_COLUMNS = 100
# This many empty rows in a row end a workbook's sheet (what follows is not read).
EMPTY_RUN = 10_000
# The header is the first row, or the first of these rows that names two known columns (a
# title row above the header, as bureaus' lists often have, is skipped).
HEADER_SEARCH_ROWS = 10
FORMATS = ("csv", "xlsx")
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the columns and messages (import_columns.yaml) ---------------------------------------


@dataclass(frozen=True)
class Column:
    field: str
    header_zh: str
    aliases: tuple[str, ...]
    format_zh: str
    values: Mapping[str, Any]  # Chinese value -> the API's


@dataclass(frozen=True)
class Spec:
    columns: tuple[Column, ...]
    booleans: Mapping[str, bool]
    messages: tuple[tuple[re.Pattern[str], str], ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)


@functools.cache
def spec() -> Spec:
    """The columns and message translations, read once from the package."""
    text = resources.files("corrections.persons").joinpath("import_columns.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    columns = tuple(
        Column(
            field=c["field"],
            header_zh=c["header_zh"],
            aliases=tuple(c.get("aliases", ())),
            format_zh=c.get("format_zh", ""),
            values=dict(c.get("values", {})),
        )
        for c in data["columns"]
    )
    fields = set(CaseloadRowSchema._declared_fields)
    named = {c.field for c in columns}
    if named != fields:  # a schema field without a column, or a column of no field
        raise ValueError(f"import_columns.yaml: columns differ from the schema: {named ^ fields}")
    return Spec(
        columns=columns,
        booleans=dict(data["booleans"]),
        messages=tuple((re.compile(m["en"]), m["zh"]) for m in data["messages"]),
    )


def _key(text: str) -> str:
    """A header or value as compared: NFKC, no white space, no required-marker star."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).strip("*").lower()


@functools.cache
def _header_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for column in spec().columns:
        for name in (column.field, column.header_zh, *column.aliases):
            index[_key(name)] = column.field
    return index


def value_labels(field_name: str) -> dict[str, Any]:
    """The Chinese values a column accepts, each with the API's value (from the rules files
    where they label it, else from import_columns.yaml)."""
    labels: Mapping[str, str] = {}
    r = person_rules.current()
    if field_name == "gender":
        labels = r.labels["genders"]
    elif field_name == "category":
        labels = {k: c.label_zh for k, c in r.categories.items()}
    elif field_name in ("crime_type", "employment", "housing"):
        labels = r.labels["crime_types" if field_name == "crime_type" else field_name]
    elif field_name == "grade":
        labels = {g.id: g.label_zh for g in grading_rules.current().grades}
    elif field_name == "has_guarantor":
        return dict(spec().booleans)
    out = {label: key for key, label in labels.items()}
    out.update(spec().column(field_name).values)
    return out


# --- reading a file ----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A file as read: its sha256 (of the bytes), its header row (number and cells) and its
    data rows (file row number, cells); blank rows are left out."""

    format: str
    sha256: str
    header_row: int
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]


def _refuse(message: Message) -> RuleViolation:
    return RuleViolation(message, field="file")


def read(path: Path | str) -> Table:
    """Read a .csv (UTF-8, with or without BOM, or GB18030 as Excel saves it in Chinese) or
    .xlsx file. An unreadable file raises :class:`RuleViolation` naming ``file``."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise _refuse(_("only .csv and .xlsx files can be imported (save an .xls file as .xlsx)"))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _refuse(_("the file is larger than {mb} MB", mb=MAX_FILE_BYTES // (1024 * 1024)))
    return parse(path.read_bytes(), fmt)


def parse(data: bytes, fmt: str) -> Table:
    """A file's bytes as a :class:`Table` (``fmt``: csv or xlsx)."""
    sha256 = hashlib.sha256(data).hexdigest()
    raw = _csv_rows(data) if fmt == "csv" else _xlsx_rows(data)
    rows: list[tuple[int, tuple[Any, ...]]] = []
    for number, cells in raw:
        if any(not _blank(c) for c in cells):
            rows.append((number, tuple(cells)))
        if len(rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise _refuse(_("more than {limit} rows", limit=MAX_ROWS))
    if not rows:
        raise _refuse(_("the file holds no rows"))
    header_at = _header_position(rows)
    header_row, header = rows[header_at]
    if header_at + 1 == len(rows):
        raise _refuse(_("the file holds no rows"))
    return Table(
        format=fmt,
        sha256=sha256,
        header_row=header_row,
        headers=tuple("" if _blank(c) else str(c).strip() for c in header),
        rows=tuple(rows[header_at + 1 :]),
    )


def _header_position(rows: list[tuple[int, tuple[Any, ...]]]) -> int:
    index = _header_index()
    for i, (_number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        known = sum(1 for c in cells if isinstance(c, str) and _key(c) in index)
        if known >= 2:
            return i
    return 0


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _csv_rows(data: bytes) -> Iterable[tuple[int, list[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise _refuse(_("the file is neither UTF-8 nor GBK/GB18030 text")) from None
    try:
        return list(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))
    except csv.Error as exc:
        raise _refuse(_("not a readable CSV file ({error})", error=str(exc))) from None


def _bounded_rows(sheet) -> list[tuple[int, list[Any]]]:
    """The sheet's non-empty rows, bounded while reading: a sheet may declare a cell at
    XFD1048576 in a few KB, and openpyxl pads every row to the declared width (hostile
    review: 2.9 GB). At most ``MAX_COLUMNS`` columns are read; empty rows are not kept (Excel
    declares formatted empty rows too), and ``EMPTY_RUN`` empty rows in a row end the sheet;
    one row more than the limit is refused at once."""
    kept: list[tuple[int, list[Any]]] = []
    empty = 0
    for number, cells in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
        if all(value is None or value == "" for value in cells):
            empty += 1
            if empty >= EMPTY_RUN:
                break
            continue
        empty = 0
        kept.append((number, list(cells)))
        if len(kept) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise _refuse(_("more than {limit} rows", limit=MAX_ROWS))
    return kept


def _xlsx_rows(data: bytes) -> Iterable[tuple[int, list[Any]]]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions other writers leave: not our concern.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
                return _bounded_rows(sheet)
            finally:
                book.close()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _refuse(_("not a readable .xlsx file ({error})", error=type(exc).__name__)) from None


# --- rows as the API's fields ------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the file row, the column as its header reads in the file (or the
    template's, for a column the file lacks; empty for the whole row), and what, in Chinese
    and in English."""

    row: int
    column: str
    zh: str
    en: str


@dataclass
class Columns:
    """Which file column holds which field, and each field's header as the file spells it."""

    positions: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, field_name: str | None) -> str:
        if field_name is None:
            return ""
        if field_name in self.headers:
            return self.headers[field_name]
        names = {c.field: c.header_zh for c in spec().columns}
        return names.get(field_name, field_name)


def map_columns(table: Table, required: Iterable[str]) -> tuple[Columns, list[Problem]]:
    """Match the header row to fields; problems for unknown, repeated, missing required and
    unnamed columns (named by the header row's number)."""
    index = _header_index()
    columns, problems = Columns(), []
    row = table.header_row

    def bad(column: str, message: str) -> None:
        problems.append(Problem(row, column, *translate(message)))

    for position, header in enumerate(table.headers):
        if not header:
            if any(
                position < len(cells) and not _blank(cells[position]) for _n, cells in table.rows
            ):
                bad(f"#{position + 1}", "a column with data but no header")
            continue
        name = index.get(_key(header))
        if name is None:
            bad(header, "unknown column")
        elif name in columns.positions:
            bad(header, f"the same column as column {columns.positions[name] + 1}")
        else:
            columns.positions[name] = position
            columns.headers[name] = header
    for name in required:
        if name not in columns.positions:
            bad(columns.header(name), "required column missing")
    return columns, problems


def required_fields() -> list[str]:
    """The fields every row needs (the schema's required ones)."""
    return [name for name, f in CaseloadRowSchema._declared_fields.items() if f.required]


DATE_FIELDS = frozenset(
    name for name, f in CaseloadRowSchema._declared_fields.items() if isinstance(f, ma.fields.Date)
)


def row_data(columns: Columns, cells: tuple[Any, ...]) -> dict[str, Any]:
    """One row as the API's request body: blank cells left out (as a client leaves a field
    out), Excel dates as ISO dates, numbers as text, Chinese values as the API's."""
    data: dict[str, Any] = {}
    for name, position in columns.positions.items():
        cell = cells[position] if position < len(cells) else None
        if _blank(cell):
            continue
        data[name] = _value(name, cell)
    return data


def _value(name: str, cell: Any) -> Any:
    if isinstance(cell, datetime):
        cell = cell.date() if name in DATE_FIELDS else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, bool):
        return cell if name == "has_guarantor" else str(cell)
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, int):
        return str(cell)
    text = str(cell).strip()
    labels = _labels_of(name)
    return labels.get(_key(text), text) if labels else text


@functools.cache
def _labels_cache(field_name: str, persons_version: str, grading_version: str) -> dict[str, Any]:
    return {_key(k): v for k, v in value_labels(field_name).items()}


def _labels_of(field_name: str) -> dict[str, Any]:
    if field_name not in _LABELLED:
        return {}
    return _labels_cache(
        field_name, person_rules.current().version, grading_rules.current().combined_version
    )


_LABELLED = frozenset(
    {
        "gender",
        "category",
        "crime_type",
        "employment",
        "housing",
        "intake_risk",
        "grade",
        "has_guarantor",
    }
)


# --- messages ----------------------------------------------------------------------------


def translate(message: str, field_name: str | None = None) -> tuple[str, str]:
    """(Chinese, English) of one of the checks' messages. An English one is translated by
    import_columns.yaml (in the words of a file's columns); a message (core/i18n.py) it does
    not know by the catalogue; one given in both languages ("中文 (English)") is split; any
    other keeps its English under a general Chinese heading."""
    original, message = message, str(message)
    for pattern, zh in spec().messages:
        match = pattern.fullmatch(message)
        if match:
            groups = match.groupdict()
            choices = " / ".join(value_labels(field_name)) if field_name in _LABELLED else ""
            return zh.format(**groups, choices=choices or groups.get("raw", "")), message
    if isinstance(original, Message):
        zh = original.render(ZH)
        if zh != message:
            return zh, message
    if _CJK.search(message) and message.endswith(")") and " (" in message:
        zh, _sep, en = message.partition(" (")
        return zh.strip(), en[:-1]
    return "不符合要求", message


def problems_of(row: int, errors: Mapping[str, Any], columns: Columns) -> list[Problem]:
    """The problems of one row from an error dictionary (the schema's or the service's); an
    error of no field (the schema's ``_schema``) names no column."""
    out = []
    for name, messages in errors.items():
        if isinstance(messages, Mapping):  # nested: not in these schemas, but never lost
            messages = [f"{k}: {v}" for k, v in messages.items()]
        elif isinstance(messages, str):
            messages = [messages]
        target = name if name in CaseloadRowSchema._declared_fields else None
        for message in messages:
            out.append(Problem(row, columns.header(target), *translate(message, target)))
    return out


# --- the template ------------------------------------------------------------------------

SHEET = "名单"
HELP_SHEET = "填写说明"


def template_headers() -> list[str]:
    return [c.header_zh for c in spec().columns]


def template_csv() -> bytes:
    """The header row, UTF-8 with a BOM (so that Excel opens the Chinese headers right)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(template_headers())
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """A workbook: the sheet to fill (headers, required ones marked, text-formatted columns
    for numbers that must not lose digits) and a sheet that explains each column."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    required = set(required_fields())
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(template_headers())
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    text_columns = {"id_number", "phone", "family_contact_phone", "office_code"}
    dates = DATE_FIELDS
    for position, column in enumerate(spec().columns, start=1):
        cell = sheet.cell(row=1, column=position)
        cell.font = bold
        if column.field in required:
            cell.fill = fill
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = max(12, 2 * len(column.header_zh) + 4)
        if column.field in text_columns:
            # Text, so that Excel keeps all 18 digits of an ID number (a number keeps 15).
            sheet.column_dimensions[letter].number_format = "@"
            for row in range(2, 1002):
                sheet.cell(row=row, column=position).number_format = "@"
        elif column.field in dates:
            for row in range(2, 1002):
                sheet.cell(row=row, column=position).number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet(HELP_SHEET)
    help_sheet.append(["列名", "字段 (API)", "必填", "格式", "可选值"])
    for cell in help_sheet[1]:
        cell.font = bold
    for column in spec().columns:
        values = " / ".join(value_labels(column.field)) if column.field in _LABELLED else ""
        help_sheet.append(
            [
                column.header_zh,
                column.field,
                "是" if column.field in required else "",
                column.format_zh,
                values,
            ]
        )
    for letter, width in zip("ABCDE", (16, 26, 6, 60, 60), strict=True):
        help_sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
