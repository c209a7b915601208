"""Hostile workbooks: .xlsx built with openpyxl (merged cells, formulas, dates as numbers, empty
sheets, cells far away), zips that are not workbooks, damaged bytes, "zip bombs" and sheets that
announce a million rows, .ods with absurd repeat counts. Each is taken as a CSV would be, or refused
in French with where, the database unchanged; none takes minutes or gigabytes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.integration.test_declaration_files import SAMPLE_ROWS, typed
from tests.property.conftest import NOVEMBER
from tests.property.french import assert_file_refusal
from tests.property.imports import DECLARATIONS, LOTS, import_and_check
from tests.property.world import world
from tests.text import squash

HEADER, *LINES = SAMPLE_ROWS


@pytest.fixture(scope="module")
def started(started_template: Path) -> Path:
    return started_template


def sample_cells() -> list[list[Any]]:
    """The sample declaration as Excel holds it once typed: numbers and dates, not text."""
    return [
        list(HEADER),
        *([typed(v, t) for v, t in zip(row, HEADER, strict=True)] for row in LINES),
    ]


def workbook_bytes(build: Callable[[openpyxl.Workbook], None]) -> bytes:
    workbook = openpyxl.Workbook()
    build(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def fill(sheet: Any, rows: list[list[Any]], top: int = 1) -> None:
    for number, row in enumerate(rows, start=top):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)


# --- hostile workbooks built by openpyxl --------------------------------------------------------


@st.composite
def hostile_workbooks(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """The sample in a workbook, with one to three hostile changes."""
    rows = sample_cells()
    changes = draw(
        st.lists(
            st.sampled_from(
                [
                    "merge",
                    "formula",
                    "date as number",
                    "boolean",
                    "error value",
                    "empty first sheet",
                    "far cell",
                    "far row",
                    "blank rows before",
                    "text everywhere",
                ]
            ),
            min_size=1,
            max_size=3,
        )
    )
    line = draw(st.integers(1, len(rows) - 1))
    column = draw(st.integers(0, len(HEADER) - 1))
    formula = draw(st.sampled_from(["=7*21.67", "=A1", '=HYPERLINK("http://x";"P-0007")', "=1/0"]))

    def build(workbook: openpyxl.Workbook) -> None:
        sheet = workbook.active
        assert sheet is not None
        if "empty first sheet" in changes:
            sheet = workbook.create_sheet("Données")
        first = 1 + (30 if "blank rows before" in changes else 0)
        cells = [list(r) for r in rows]
        if "text everywhere" in changes:
            cells = [[str(v) for v in r] for r in cells]
        if "date as number" in changes:
            cells[line][HEADER.index("Mois")] = 46296  # 1 October 2026 as Excel counts days
        if "boolean" in changes:
            cells[line][column] = True
        if "error value" in changes:
            cells[line][column] = "#DIV/0!"
        if "formula" in changes:
            cells[line][column] = formula  # openpyxl writes a formula with no computed value
        fill(sheet, cells, top=first)
        if "merge" in changes:
            letter = openpyxl.utils.get_column_letter(column + 1)
            sheet.merge_cells(f"{letter}{first + 1}:{letter}{first + len(rows) - 1}")
        if "far cell" in changes:
            sheet.cell(row=first + line, column=16_384, value="loin")
        if "far row" in changes:
            sheet.cell(row=1_048_576, column=1, value="41234567800012")

    return workbook_bytes(build), changes


@given(case=hostile_workbooks())
@example(case=(workbook_bytes(lambda wb: fill(wb.active, sample_cells())), ["none"]))
def test_a_hostile_workbook_is_taken_as_its_csv_or_refused_where_it_is(
    started: Path, case: tuple[bytes, list[str]]
) -> None:
    data, _changes = case
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("classeur.xlsx", data))

        if result.exit_code == 0:
            assert "Déclaration d'octobre 2026 enregistrée" in result.stdout


def test_a_lots_workbook_is_taken_like_the_lots_csv(empty_template: Path) -> None:
    """Lots (and outcomes) read .xlsx and .ods as declarations do: the content decides."""
    header, *lines = LOTS.rows()

    def number(text: str) -> Any:
        cleaned = text.replace(" ", "").replace("%", "").replace(",", ".")
        try:
            value = float(cleaned)
        except ValueError:
            return text
        return value / 100 if "%" in text else value

    cells = [header, *([number(v) if i >= 5 else v for i, v in enumerate(row)] for row in lines)]
    for row in cells[1:]:
        if row[10]:
            row[10] = datetime.strptime(row[10], "%d/%m/%Y")
    with world(empty_template, NOVEMBER) as w:
        path = w.file("lots.xlsx", workbook_bytes(lambda wb: fill(wb.active, cells)))

        result = import_and_check(w, LOTS, path)

        assert result.exit_code == 0, result.output
        said = squash(result.stdout)
        assert "Créés : 3 donneurs d'ordre, 3 opérations, 3 marchés, 6 clauses." in said
        for hours in (
            "4\u202f725\u00a0h",
            "426\u00a0h",
            "761\u00a0h",
            "1\u202f200\u00a0h imposées",
        ):
            assert hours in said, hours


# --- zips that are not workbooks, damaged workbooks ---------------------------------------------


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


entry_names = st.one_of(
    st.sampled_from(
        [
            "xl/workbook.xml",
            "[Content_Types].xml",
            "mimetype",
            "content.xml",
            "META-INF/manifest.xml",
        ]
    ),
    st.text(st.characters(codec="ascii", min_codepoint=33), min_size=1, max_size=20),
)
entry_contents = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"application/vnd.oasis.opendocument.spreadsheet",
            b"<garbage",
            b'<?xml version="1.0"?><workbook/>',
            b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><x>&b;</x>',
        ]
    ),
)


@given(entries=st.dictionaries(entry_names, entry_contents, max_size=5))
@example(entries={"hello.txt": b"bonjour"})
@example(entries={"xl/workbook.xml": b"<garbage"})  # was « There is no item named … » in English
@example(  # an .ods without a manifest, then without XML: odfpy crashed, printed the XML
    entries={"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x"}
)
def test_a_zip_that_is_not_a_workbook_is_refused_in_french(
    started: Path, entries: dict[str, bytes]
) -> None:
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("archive.xlsx", zip_of(entries)))

        assert result.exit_code == 1
        assert not result.stdout  # odfpy used to print the whole XML it could not parse


#: Built once: openpyxl writes the time into the file, and hypothesis needs the same bytes (the
#: same length to draw positions from) at every run of an example.
SAMPLE_WORKBOOK = workbook_bytes(lambda wb: fill(wb.active, sample_cells()))


@given(data=st.data())
def test_a_workbook_with_damaged_bytes_is_refused_in_french_or_read(
    started: Path, data: st.DataObject
) -> None:
    original = bytearray(SAMPLE_WORKBOOK)
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    with world(started, NOVEMBER) as w:
        import_and_check(w, DECLARATIONS, w.file("abime.xlsx", bytes(original)))


# --- bombs ---------------------------------------------------------------------------------------

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx_with_sheet(sheet_xml: bytes) -> bytes:
    """A real workbook whose first sheet's XML is replaced by ``sheet_xml``."""
    base = workbook_bytes(lambda wb: fill(wb.active, [["x"]]))
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        for name in archive.namelist():
            entries[name] = archive.read(name)
    entries["xl/worksheets/sheet1.xml"] = sheet_xml
    return zip_of(entries)


def sheet(rows: str, dimension: str = "A1") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS_MAIN}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    ).encode()


def inline(row: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{openpyxl.utils.get_column_letter(i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values, start=1)
    )
    return f'<row r="{row}">{cells}</row>'


@pytest.mark.slow
def test_a_sheet_announcing_a_million_rows_of_16_384_cells_is_read_as_what_it_holds(
    started: Path,
) -> None:
    """2 MB that openpyxl unfolded to 16 billion empty cells: the command never ended."""
    blank = "".join(f'<row r="{n}"/>' for n in range(2, 1_000_002))
    xml = sheet(inline(1, list(HEADER)) + blank, dimension="A1:XFD1000001")
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("immense.xlsx", xlsx_with_sheet(xml)))

        [error] = assert_file_refusal(result, "immense.xlsx")
        assert error == "le fichier ne contient que la ligne d'en-tête."


@pytest.mark.slow
def test_a_workbook_past_50_000_rows_is_refused_with_the_limit(started: Path) -> None:
    line = [*LINES[0]]
    rows = inline(1, list(HEADER)) + "".join(inline(n, line) for n in range(2, 50_004))
    with world(started, NOVEMBER) as w:
        result = import_and_check(
            w, DECLARATIONS, w.file("long.xlsx", xlsx_with_sheet(sheet(rows)))
        )

        [error] = assert_file_refusal(result, "long.xlsx")
        assert error.startswith("plus de 50\u202f000 lignes de données, au-delà de la limite"), (
            error
        )


@pytest.mark.slow
def test_a_zip_bomb_is_refused_by_its_announced_size_before_unpacking(started: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as bomb:
            chunk = b"<row/>" * 174_763  # about 1 MB
            for _ in range(210):
                bomb.write(chunk)
    assert len(buffer.getvalue()) < 2_000_000  # what is sent is small…
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("bombe.xlsx", buffer.getvalue()))

        [error] = assert_file_refusal(result, "bombe.xlsx")
        assert error.startswith(
            "classeur de 220,2\u00a0Mo une fois décompressé, au-delà de la limite"
        )


# --- .ods ---------------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods(rows: str) -> bytes:
    content = (
        f'<?xml version="1.0"?><office:document-content {_ODS_NS}><office:body>'
        f'<office:spreadsheet><table:table table:name="F">{rows}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    return zip_of(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": content.encode(),
        }
    )


def ods_row(values: list[str], repeat: str | None = None, cell_repeat: str | None = None) -> str:
    rows = f' table:number-rows-repeated="{repeat}"' if repeat else ""
    cells_repeat = f' table:number-columns-repeated="{cell_repeat}"' if cell_repeat else ""
    cells = "".join(
        f"<table:table-cell{cells_repeat}><text:p>{v}</text:p></table:table-cell>" for v in values
    )
    return f"<table:table-row{rows}>{cells}</table:table-row>"


ODS_HEADER = ods_row(list(HEADER))


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # A cell repeated two billion times: a list of two billion strings, memory exhausted.
        (ODS_HEADER + ods_row(["x"], cell_repeat="2000000000"), "valeurs pour"),
        # A row with values repeated two billion times: stops at the row limit.
        (ODS_HEADER + ods_row(LINES[0], repeat="2000000000"), "plus de 50\u202f000 lignes"),
        (ODS_HEADER + ods_row(LINES[0], repeat="beaucoup"), "classeur .ods illisible"),
        (ODS_HEADER + ods_row(LINES[0], repeat="-3"), "classeur .ods illisible"),
        (
            ODS_HEADER.replace(
                "<table:table-cell>",
                '<table:table-cell office:value-type="float" office:value="abc">',
                1,
            ),
            "classeur .ods illisible",
        ),
        ("<table:table-row>" * 3, "classeur .ods illisible"),
    ],
    ids=["cells", "rows", "words", "negative", "value", "unclosed"],
)
def test_an_ods_with_absurd_counts_or_values_is_refused_in_french(
    started: Path, rows: str, expected: str
) -> None:
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("feuille.ods", ods(rows)))

        bullets = assert_file_refusal(result, "feuille.ods")
        assert any(expected in b for b in bullets), bullets
        assert not result.stdout


def test_an_ods_sample_is_read_like_the_csv(started: Path) -> None:
    rows = ODS_HEADER + "".join(ods_row(line) for line in LINES)
    rows += '<table:table-row table:number-rows-repeated="1048000"><table:table-cell/></table:table-row>'
    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("feuille.ods", ods(rows)))

        assert result.exit_code == 0, result.output
        assert (
            "370,17\u00a0h au total, 3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)."
            in squash(result.stdout)
        )


def test_a_table_on_the_second_sheet_is_refused_saying_so(started: Path) -> None:
    def build(workbook: openpyxl.Workbook) -> None:
        assert workbook.active is not None
        workbook.active.title = "Consignes"
        fill(workbook.create_sheet("Déclaration"), sample_cells())

    with world(started, NOVEMBER) as w:
        result = import_and_check(w, DECLARATIONS, w.file("deux.xlsx", workbook_bytes(build)))

        assert assert_file_refusal(result, "deux.xlsx") == [
            "la première feuille («\u00a0Consignes\u00a0») est vide : seule la première feuille "
            "est lue, placez-y le tableau."
        ]
