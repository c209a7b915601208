"""Spreadsheets in and out: reading .xlsx and .ods like a CSV, writing templates Excel opens as is.

Reading turns the first sheet into the same records a CSV gives (line number, cell texts) and hands
them to ``csv_files.table_from_records``: the header is found, the columns matched and the file
refused exactly as a CSV would be, with the sheet's own row numbers in the messages. A cell is read
as a person sees it: a whole number without ``.0``, a date as ``jj/mm/aaaa`` (Excel turns
``10/2026`` into the date 1 October 2026, which ``parse_month`` reads back as October).

Writing gives a template in two forms: a CSV as French Excel writes it (Windows-1252, or UTF-8 with
a BOM when a character does not fit, ``;``, CRLF) and an .xlsx whose identifying cells are text, so
that Excel keeps a SIRET's 14 digits and a lot's leading zero.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflow.adapters.csv_files import (
    Column,
    CsvTable,
    ImportLimits,
    decode,
    read_csv_text,
    read_file_bytes,
    table_from_records,
)
from workflow.errors import FieldError, FileRefused

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
CSV_TYPE = "text/csv"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls), also old Word/OpenOffice binaries
#: Blank cells repeated at the end of an .ods row or sheet (LibreOffice writes a million): only
#: this many are kept, enough for any real column count.
_ODS_MAX_COLUMNS = 256

Records = list[tuple[int, list[str]]]


# --- reading ----------------------------------------------------------------------------------


def read_table(
    path: Path | str,
    columns: Sequence[Column],
    source: str | None = None,
    limits: ImportLimits | None = None,
) -> CsvTable:
    """A CSV, .xlsx or .ods file as one table; the content decides, not the file's name."""
    path = Path(path)
    name = source or path.name
    data = read_file_bytes(path, name, limits)
    return read_table_bytes(data, columns, name, limits)


def read_table_bytes(
    data: bytes,
    columns: Sequence[Column],
    source: str,
    limits: ImportLimits | None = None,
) -> CsvTable:
    if limits is not None:
        limits.check_size(len(data), source)
    kind = sniff_kind(data, source)
    if kind == "csv":
        text, encoding = decode(data, source)
        return read_csv_text(text, columns, source, encoding, limits)
    max_rows = None if limits is None else limits.max_rows
    records = (
        xlsx_records(data, source, max_rows) if kind == "xlsx" else ods_records(data, max_rows)
    )
    if limits is not None:
        data_rows = sum(1 for _, values in records if any(v.strip() for v in values)) - 1
        limits.check_rows(data_rows, source, at_least=data_rows > limits.max_rows)
    return table_from_records(records, columns, source, kind)


def sniff_kind(data: bytes, source: str) -> str:
    """``csv``, ``xlsx`` or ``ods``; a format that cannot be read is refused with what to do."""
    if data.startswith(_OLE_MAGIC):
        raise FileRefused(
            source,
            [
                FieldError(
                    None,
                    None,
                    "ancien format Excel 97-2003 (.xls) : enregistrez le fichier au format "
                    "« Classeur Excel (.xlsx) » ou « CSV (séparateur : point-virgule) ».",
                )
            ],
        )
    if not data.startswith(_ZIP_MAGIC):
        return "csv"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_TYPE.encode():
                return "ods"
            if "xl/workbook.xml" in names:
                return "xlsx"
    except zipfile.BadZipFile:
        pass
    raise FileRefused(
        source,
        [
            FieldError(
                None,
                None,
                "fichier compressé non reconnu : envoyez un classeur .xlsx ou .ods, ou un CSV.",
            )
        ],
    )


def cell_text(value: Any) -> str:
    """A cell's value written as a person reads it in French: ``151,67`` stays a number that
    ``parse_decimal`` reads, ``2026-10-01`` becomes ``01/10/2026``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A formula such as =7*21,67 gives 151.67000000000002: what the cell shows is 151,67.
        text = repr(round(value, 9))
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.time() == time(0):
            return f"{value:%d/%m/%Y}"
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def xlsx_records(data: bytes, source: str, max_rows: int | None = None) -> Records:
    """The first sheet's rows with their numbers; stops past ``max_rows`` data rows."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise FileRefused(
            source, [FieldError(None, None, f"classeur .xlsx illisible ({exc}).")]
        ) from None
    try:
        if not workbook.worksheets:
            return []
        sheet = workbook.worksheets[0]
        records: Records = []
        seen = 0
        for number, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            values = [cell_text(v) for v in row]
            if any(v.strip() for v in values):
                records.append((number, values))
                seen += 1
                if max_rows is not None and seen > max_rows + 1:
                    break
        return records
    finally:
        workbook.close()


def ods_records(data: bytes, max_rows: int | None = None) -> Records:
    """The first table's rows of an OpenDocument spreadsheet, repeated rows and cells unfolded."""
    from odf.namespaces import OFFICENS, TABLENS  # type: ignore[import-untyped]
    from odf.opendocument import load  # type: ignore[import-untyped]
    from odf.table import Table, TableRow  # type: ignore[import-untyped]

    document = load(io.BytesIO(data))
    tables = document.spreadsheet.getElementsByType(Table)
    if not tables:
        return []
    records: Records = []
    number = 0
    seen = 0
    for row in tables[0].getElementsByType(TableRow):
        repeat = int(row.getAttrNS(TABLENS, "number-rows-repeated") or 1)
        values = _ods_row(row, OFFICENS, TABLENS)
        if not any(v.strip() for v in values):
            number += repeat  # blank rows, maybe a million of them: counted, not unfolded
            continue
        for _ in range(repeat):
            number += 1
            records.append((number, list(values)))
            seen += 1
            if max_rows is not None and seen > max_rows + 1:
                return records
    return records


def _ods_row(row: Any, office: str, table: str) -> list[str]:
    values: list[str] = []
    for cell in row.childNodes:
        if cell.qname[1] not in ("table-cell", "covered-table-cell"):
            continue
        repeat = int(cell.getAttrNS(table, "number-columns-repeated") or 1)
        text = _ods_cell(cell, office)
        if not text and len(values) + repeat > _ODS_MAX_COLUMNS:
            repeat = max(0, _ODS_MAX_COLUMNS - len(values))
        values.extend([text] * repeat)
    while values and not values[-1].strip():
        values.pop()
    return values


def _ods_cell(cell: Any, office: str) -> str:
    from odf import teletype  # type: ignore[import-untyped]
    from odf.text import P  # type: ignore[import-untyped]

    kind = cell.getAttrNS(office, "value-type")
    if kind in ("float", "percentage", "currency"):
        value = cell.getAttrNS(office, "value")
        if value:
            return cell_text(float(value)) if kind != "percentage" else f"{float(value):.6g}"
    if kind == "date":
        value = cell.getAttrNS(office, "date-value") or ""
        try:
            return cell_text(datetime.fromisoformat(value))
        except ValueError:
            pass
    return "\n".join(teletype.extractText(p) for p in cell.getElementsByType(P))


# --- writing ----------------------------------------------------------------------------------


def csv_template(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[bytes, str]:
    """A CSV as French Excel saves it, and its encoding: Windows-1252 when every character fits
    (what Excel opens by a double click), else UTF-8 with a BOM (which Excel recognises too)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    writer.writerows(rows)
    text = buffer.getvalue()
    try:
        return text.encode("cp1252"), "windows-1252"
    except UnicodeEncodeError:
        return text.encode("utf-8-sig"), "utf-8"


def xlsx_template(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | int | None]],
    *,
    sheet_title: str,
    text_columns: Sequence[int] = (),
    number_formats: Mapping[int, str] | None = None,
    choices: Mapping[int, Sequence[str]] | None = None,
    choices_title: str = "Valeurs acceptées",
    widths: Mapping[int, float] | None = None,
) -> bytes:
    """A one-table workbook: headers in bold and frozen, ``text_columns`` (0-based) stored and
    formatted as text, ``choices`` offered as drop-down lists read from a second sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    formats = dict(number_formats or {})
    texts = set(text_columns)
    # Enough formatted rows below the pre-filled ones for a company to add its new participants.
    last_row = max(len(rows) + 1, 2) + 50
    for index, row in enumerate(rows, start=2):
        for column, value in enumerate(row):
            cell = sheet.cell(row=index, column=column + 1)
            if value is None or value == "":
                continue
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for column in range(len(headers)):
        letter = get_column_letter(column + 1)
        number_format = "@" if column in texts else formats.get(column)
        if number_format:
            for index in range(2, last_row + 1):
                sheet.cell(row=index, column=column + 1).number_format = number_format
        width = (widths or {}).get(column) or max(12.0, len(headers[column]) + 4.0)
        sheet.column_dimensions[letter].width = width
    if choices:
        lists = workbook.create_sheet(choices_title[:31])
        for position, (column, values) in enumerate(sorted(choices.items()), start=1):
            letter = get_column_letter(position)
            lists.cell(row=1, column=position, value=headers[column]).font = Font(bold=True)
            for index, value in enumerate(values, start=2):
                lists.cell(row=index, column=position, value=value).data_type = "s"
            lists.column_dimensions[letter].width = max(len(v) for v in values) + 2
            target = get_column_letter(column + 1)
            validation = DataValidation(
                type="list",
                formula1=f"'{lists.title}'!${letter}$2:${letter}${len(values) + 1}",
                allow_blank=True,
                showErrorMessage=False,  # an alias (« RSA », « intérim ») is accepted too
            )
            validation.add(f"{target}2:{target}{last_row}")
            sheet.add_data_validation(validation)
    workbook.properties.creator = "clauses"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def iter_cells(data: bytes) -> Iterator[list[str]]:
    """Every row of an .xlsx's first sheet as texts (for tests and checks)."""
    for _, values in xlsx_records(data, "classeur"):
        yield values
