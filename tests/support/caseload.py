"""Caseload files for the import tests: rows as the API's fields, written as .csv or .xlsx
under the template's Chinese headers (or any others)."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from corrections.persons import importer
from tests.factories import person_payload

ZH = {c.field: c.header_zh for c in importer.spec().columns}
EN = {c.field: c.field for c in importer.spec().columns}


def caseload_row(**overrides: Any) -> dict[str, Any]:
    """A valid row: :func:`tests.factories.person_payload` (a probation from 2026-11-01) at
    office 32990101, pending intake. ``None`` removes a field (an empty cell)."""
    row = person_payload(**{k: v for k, v in overrides.items() if k.startswith("_")})
    row["office_code"] = "32990101"
    row.update({k: v for k, v in overrides.items() if not k.startswith("_")})
    return {k: v for k, v in row.items() if v is not None}


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every field some row has, in template order."""
    present = {k for row in rows for k in row}
    return [c.field for c in importer.spec().columns if c.field in present]


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def write_csv(
    path: Path,
    rows: list[Mapping[str, Any]],
    *,
    headers: Mapping[str, str] = ZH,
    fields: list[str] | None = None,
    encoding: str = "utf-8-sig",
    above: list[list[str]] | None = None,
) -> Path:
    """``rows`` under ``headers`` (field -> header text); ``above``: rows before the header
    (a title)."""
    fields = fields or columns_of(rows)
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        for line in above or []:
            writer.writerow(line)
        writer.writerow([headers[f] for f in fields])
        for row in rows:
            writer.writerow([_cell(row.get(f, "")) for f in fields])
    return path


def write_xlsx(
    path: Path,
    rows: list[Mapping[str, Any]],
    *,
    headers: Mapping[str, str] = ZH,
    fields: list[str] | None = None,
    native: bool = True,
) -> Path:
    """``rows`` in a workbook; ``native``: dates as Excel dates, as a spreadsheet holds them."""
    from datetime import date

    import openpyxl

    fields = fields or columns_of(rows)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = importer.SHEET
    sheet.append([headers[f] for f in fields])
    for row in rows:
        cells = []
        for f in fields:
            value = row.get(f)
            if native and isinstance(value, str) and f in importer.DATE_FIELDS:
                with contextlib.suppress(ValueError):  # a bad date stays the text it is
                    value = date.fromisoformat(value)
            cells.append(_cell(value))
        sheet.append(cells)
    book.save(path)
    return path
