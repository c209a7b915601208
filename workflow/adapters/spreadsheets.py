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
import math
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from workflow.adapters.csv_files import (
    MAX_CELL,
    Column,
    CsvTable,
    ImportLimits,
    decode,
    format_size,
    read_csv_text,
    read_file_bytes,
    table_from_records,
)
from workflow.adapters.safe_cells import csv_text
from workflow.adapters.xlsx_writer import template_workbook
from workflow.domain.characters import shown
from workflow.errors import FieldError, FileRefused

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: A one-table workbook: headers in bold and frozen, text columns stored as text, drop-down lists
#: read from a second sheet, blank formatted rows for a company's new participants. Written as
#: its XML parts (openpyxl took 125 ms a workbook, and every call carries one).
xlsx_template = template_workbook
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
CSV_TYPE = "text/csv"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls), also old Word/OpenOffice binaries
#: Files people attach instead of the spreadsheet (a scan, a PDF export): named, not read as a
#: CSV, which would only find every column missing.
_NOT_A_TABLE = (
    (b"%PDF-", "un PDF"),
    (b"\x89PNG", "une image PNG"),
    (b"\xff\xd8\xff", "une image JPEG"),
    (b"GIF8", "une image GIF"),
    (b"{\\rtf", "un document RTF"),
)
_NOT_A_WORKBOOK = (
    ("word/document.xml", "un document Word"),
    ("ppt/presentation.xml", "une présentation"),
)
#: The cells of a row that are read, enough for any real column count: LibreOffice repeats a
#: blank cell to the 1 024th column, and a hostile file can announce 16 384 or a billion.
MAX_COLUMNS = 256
#: The last row a spreadsheet can have (Excel and LibreOffice alike); nothing past it is read.
MAX_SHEET_ROWS = 1_048_576
#: Elements inside one .ods cell (paragraphs, spans, spaces): real cells hold a handful.
_ODS_MAX_CELL_ELEMENTS = 10_000
#: How big a workbook may be once unpacked: ten times the largest file an import takes, and
#: several times what a workbook at the row limit unpacks to.
MAX_UNPACKED_BYTES = 200_000_000

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
        xlsx_records(data, source, max_rows)
        if kind == "xlsx"
        else ods_records(data, max_rows, source)
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
    for magic, what in _NOT_A_TABLE:
        if data.startswith(magic):
            raise FileRefused(source, [_not_a_table(what)])
    if not data.startswith(_ZIP_MAGIC):
        return "csv"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            _check_unpacked(entries, source)
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_TYPE.encode():
                return "ods"
            if "xl/workbook.xml" in names:
                return "xlsx"
            for name, what in _NOT_A_WORKBOOK:
                if name in names:
                    raise FileRefused(source, [_not_a_table(what)])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError):
        pass  # a damaged archive (or one compressed in a way zipfile cannot read): said below
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


def _not_a_table(what: str) -> FieldError:
    return FieldError(
        None,
        None,
        f"ce fichier est {what}, pas un tableur : il faut un classeur .xlsx ou .ods, ou un "
        "fichier CSV (pour une déclaration, le modèle joint au courriel, rempli).",
    )


def _check_unpacked(entries: Sequence[zipfile.ZipInfo], source: str) -> None:
    """A workbook is a zip: a few megabytes may unpack to gigabytes (a "zip bomb"), which reading
    would take minutes and memory to find out. The sizes the archive announces are checked first
    (and the reading below never unpacks more than an entry announces: zipfile checks it)."""
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileRefused(
            source,
            [
                FieldError(
                    None,
                    None,
                    f"classeur de {format_size(unpacked)} une fois décompressé, au-delà de la "
                    f"limite de {format_size(MAX_UNPACKED_BYTES)} : découpez-le en plusieurs "
                    "fichiers, ou enregistrez-le en CSV.",
                )
            ],
        )


def _unreadable(source: str, kind: str) -> FileRefused:
    """A damaged workbook. The library's own message is English and about XML: not said."""
    return FileRefused(
        source,
        [
            FieldError(
                None,
                None,
                f"classeur {kind} illisible (fichier abîmé, ou qui n'est pas un vrai classeur) : "
                "ouvrez-le dans votre tableur et enregistrez-le de nouveau, ou enregistrez-le "
                "en CSV.",
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
        if not math.isfinite(value):
            return "#NOMBRE!"  # what Excel shows for a number it cannot compute
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
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise _unreadable(source, ".xlsx") from None
    try:
        if not workbook.worksheets:
            return []
        sheet = workbook.worksheets[0]
        # The size a sheet announces is not trusted: « A1:XFD1048576 » would make every row
        # 16 384 cells wide and add a million empty rows. Only the rows written are read, each
        # cut to MAX_COLUMNS cells.
        sheet.reset_dimensions()
        records: Records = []
        seen = 0
        rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        for number, row in enumerate(rows, start=1):
            if number > MAX_SHEET_ROWS:
                break
            if row.count(None) == len(row):
                continue  # blank, maybe a million of them: skipped at C speed
            values = [cell_text(v) for v in row]
            if any(v.strip() for v in values):
                records.append((number, values))
                seen += 1
                if max_rows is not None and seen > max_rows + 1:
                    break
        if not records and len(workbook.sheetnames) > 1:
            raise FileRefused(
                source,
                [
                    FieldError(
                        None,
                        None,
                        f"la première feuille («\u00a0{shown(sheet.title)}\u00a0») est vide : "
                        "seule la première feuille est lue, placez-y le tableau.",
                    )
                ],
            )
        return records
    except FileRefused:
        raise
    except Exception:  # a sheet damaged past its first bytes fails while it is read
        raise _unreadable(source, ".xlsx") from None
    finally:
        workbook.close()


def ods_records(data: bytes, max_rows: int | None = None, source: str = "classeur") -> Records:
    """The first table's rows of an OpenDocument spreadsheet, repeated rows and cells unfolded.

    Read as a stream (each row forgotten once read), not as a whole document tree: a sheet's XML
    may be tens of megabytes, and a tree of it takes gigabytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("content.xml") as content:
            return _OdsReader(max_rows).read(content)
    except FileRefused:
        raise
    except Exception:  # zipfile, expat and int() each raise their own kinds
        raise _unreadable(source, ".ods") from None


def _ns(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODS_TABLE = _ns(_TABLE, "table")
_ODS_ROW = _ns(_TABLE, "table-row")
_ODS_CELLS = (_ns(_TABLE, "table-cell"), _ns(_TABLE, "covered-table-cell"))
_ODS_ROWS_REPEATED = _ns(_TABLE, "number-rows-repeated")
_ODS_COLUMNS_REPEATED = _ns(_TABLE, "number-columns-repeated")
_ODS_VALUE_TYPE = _ns(_OFFICE, "value-type")
_ODS_VALUE = _ns(_OFFICE, "value")
_ODS_DATE_VALUE = _ns(_OFFICE, "date-value")
_ODS_PARAGRAPH = _ns(_TEXT, "p")
_ODS_SPACES = _ns(_TEXT, "s")
_ODS_TAB = _ns(_TEXT, "tab")
_ODS_LINE_BREAK = _ns(_TEXT, "line-break")


class _OdsReader:
    """The rows of the first ``table:table`` of a ``content.xml``, read as it is parsed.

    Every element is dropped once read (a cell once its text is taken, a row once its values
    are), so memory holds one cell at a time whatever the file: a sheet's XML may be tens of
    megabytes, and a document tree of it takes gigabytes."""

    def __init__(self, max_rows: int | None) -> None:
        self.max_rows = max_rows
        self.records: Records = []
        self.number = 0  # the sheet's row number, blank rows counted
        self.seen = 0  # rows with a value
        self.values: list[str] = []

    def read(self, content: IO[bytes]) -> Records:
        from xml.etree.ElementTree import iterparse

        parents: list[Any] = []
        tables = 0  # first-level tables met; only the first one is read
        depth = 0  # tables open around the current element
        row: Any = None  # the row being read, and its cell
        cell: Any = None
        inside = 0  # elements met in the current cell
        for event, element in iterparse(content, events=("start", "end")):
            tag = element.tag
            if event == "start":
                parents.append(element)
                if cell is not None:
                    inside += 1
                    if inside > _ODS_MAX_CELL_ELEMENTS:
                        raise ValueError("a cell of more elements than any real one")
                if tag == _ODS_TABLE:
                    depth += 1
                    tables += depth == 1
                elif row is None and tables == 1 and depth == 1 and tag == _ODS_ROW:
                    row, self.values = element, []
                elif row is not None and cell is None and tag in _ODS_CELLS:
                    cell, inside = element, 0
                continue
            parents.pop()
            if tag == _ODS_TABLE:
                depth -= 1
                if tables == 1 and depth == 0:
                    break  # the first sheet is read: the others are not
            if element is cell:
                self.cell(element)
                cell = None
            elif cell is not None:
                continue  # a cell's paragraphs are read with the cell
            elif element is row:
                row = None
                if self.row(element):
                    break
            if parents:
                element.clear()
                parents[-1].remove(element)
        return self.records

    def cell(self, element: Any) -> None:
        room = MAX_COLUMNS - len(self.values)
        if room > 0:
            count = min(_ods_count(element.get(_ODS_COLUMNS_REPEATED)), room)
            self.values.extend([_ods_cell(element)] * count)

    def row(self, element: Any) -> bool:
        """Take the row just read; True once enough rows are."""
        repeat = _ods_count(element.get(_ODS_ROWS_REPEATED))
        values = self.values
        while values and not values[-1].strip():
            values.pop()
        if not values:
            self.number += repeat  # blank rows, maybe a million of them: counted, not unfolded
            return self.number > MAX_SHEET_ROWS
        for _ in range(repeat):
            self.number += 1
            self.records.append((self.number, list(values)))
            self.seen += 1
            full = self.max_rows is not None and self.seen > self.max_rows + 1
            if full or self.number > MAX_SHEET_ROWS:
                return True
        return False


def _ods_count(text: str | None) -> int:
    """A repeat count: a positive whole number (anything else is a damaged file)."""
    if text is None:
        return 1
    count = int(text)
    if count < 1:
        raise ValueError(text)
    return count


def _ods_cell(cell: Any) -> str:
    kind = cell.get(_ODS_VALUE_TYPE)
    if kind in ("float", "percentage", "currency"):
        value = cell.get(_ODS_VALUE)
        if value:
            number = float(value)
            return cell_text(number) if kind != "percentage" else f"{number:.6g}"
    if kind == "date":
        value = cell.get(_ODS_DATE_VALUE) or ""
        try:
            return cell_text(datetime.fromisoformat(value))
        except ValueError:
            pass
    return "\n".join(_ods_text(p) for p in cell.iter(_ODS_PARAGRAPH))


def _ods_text(element: Any) -> str:
    """A paragraph's text: spans unfolded, ``text:s`` as its spaces, tabs and line breaks."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _ODS_SPACES:
            parts.append(" " * min(_ods_count(child.get(_ns(_TEXT, "c"))), MAX_CELL))
        elif child.tag == _ODS_TAB:
            parts.append("\t")
        elif child.tag == _ODS_LINE_BREAK:
            parts.append("\n")
        else:
            parts.append(_ods_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


# --- writing ----------------------------------------------------------------------------------


def csv_template(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[bytes, str]:
    """A CSV as French Excel saves it, and its encoding: Windows-1252 when every character fits
    (what Excel opens by a double click), else UTF-8 with a BOM (which Excel recognises too)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    # A name that starts like a formula (« =HYPERLINK(…) ») must not come alive in the company's
    # spreadsheet; the import takes the apostrophe off again (``safe_cells.plain_text``).
    writer.writerows([csv_text(cell) for cell in row] for row in rows)
    text = buffer.getvalue()
    try:
        return text.encode("cp1252"), "windows-1252"
    except UnicodeEncodeError:
        return text.encode("utf-8-sig"), "utf-8"


def iter_cells(data: bytes) -> Iterator[list[str]]:
    """Every row of an .xlsx's first sheet as texts (for tests and checks)."""
    for _, values in xlsx_records(data, "classeur"):
        yield values
