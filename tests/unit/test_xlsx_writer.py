"""The declaration template written as text is the workbook openpyxl wrote before: read back
by openpyxl (what Excel's files are read with here), part by part well-formed XML, same
content every time."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

import openpyxl

from workflow.adapters.spreadsheets import xlsx_template
from workflow.adapters.xlsx_writer import column_letter

HEADERS = ["SIRET", "Lot", "Référence participant", "Heures", "Critère"]


def template() -> bytes:
    return xlsx_template(
        HEADERS,
        [
            ["41234567800012", "01", "P-2026-031", 151, "Demandeur d'emploi <longue> & durée"],
            ["41234567800012", "01", "P-2026-044", None, None],
        ],
        sheet_title="Déclaration",
        text_columns=[0, 1, 2],
        number_formats={3: "0.00"},
        choices={1: ["01", "02"], 4: ["RSA", "Jeune « NEET »", "l'autre"]},
        choices_title="Valeurs d'acceptées",
        widths={4: 40.0},
    )


def test_openpyxl_reads_the_template_as_written() -> None:
    book = openpyxl.load_workbook(io.BytesIO(template()))
    sheet, lists = book.worksheets
    assert sheet.title == "Déclaration" and lists.title == "Valeurs d'acceptées"
    assert [c.value for c in sheet[1]] == HEADERS
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[2]] == [
        "41234567800012",
        "01",
        "P-2026-031",
        151,
        "Demandeur d'emploi <longue> & durée",
    ]
    assert [c.data_type for c in sheet[2][:3]] == ["s", "s", "s"]
    # Formatted rows below, for the participants a company adds: text stays text.
    assert sheet["A3"].number_format == "@" and sheet["C53"].number_format == "@"
    assert sheet["D3"].number_format == "0.00" and sheet["D53"].number_format == "0.00"
    assert sheet["E3"].number_format == "General"
    assert sheet.column_dimensions["E"].width == 40
    assert sheet.column_dimensions["A"].width == 12
    assert sheet.column_dimensions["C"].width == len("Référence participant") + 4
    validations = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert set(validations) == {"B2:B53", "E2:E53"}
    assert validations["B2:B53"].formula1 == "'Valeurs d''acceptées'!$A$2:$A$3"
    assert validations["E2:E53"].formula1 == "'Valeurs d''acceptées'!$B$2:$B$4"
    assert validations["E2:E53"].type == "list" and not validations["E2:E53"].showErrorMessage
    assert [[c.value for c in row] for row in lists.iter_rows()] == [
        ["Lot", "Critère"],
        ["01", "RSA"],
        ["02", "Jeune « NEET »"],
        [None, "l'autre"],
    ]
    assert book.properties.creator == "clauses"


def test_every_part_is_well_formed_and_the_bytes_do_not_depend_on_the_time() -> None:
    data = template()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names[0] == "[Content_Types].xml"
        for name in names:
            ElementTree.fromstring(archive.read(name))  # raises on malformed XML
    assert template() == data


def test_characters_xml_cannot_carry_are_dropped_not_a_crash() -> None:
    data = xlsx_template(["Nom"], [["A\x00B\x1fC\tD"]], sheet_title="Essai")
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A2"].value == "ABC\tD"


def test_column_letters() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_blank_rows_are_the_cells_an_empty_value_gives() -> None:
    """The formatted blank rows are written without a call per cell (a burst writes one
    template per company): each must still be, byte for byte, the row ``_cell`` writes for
    empty values, styled cells only, a row with no styled cell left out."""
    from workflow.adapters.xlsx_writer import _cell, _sheet

    styles = [[1, 1, 1], [2, 0, 3], [2, 0, 3], [0, 0, 0], [4, 4, 0]]
    rows = [["En-tête", "B", "C"]]
    written = _sheet(rows, styles=styles, widths=[], frozen_header=False)
    letters = "ABC"
    for number, row_styles in enumerate(styles[1:], start=2):
        cells = "".join(
            _cell(f"{letters[c]}{number}", None, style) for c, style in enumerate(row_styles)
        )
        expected = f'<row r="{number}">{cells}</row>' if cells else ""
        if expected:
            assert expected in written
        else:
            assert f'<row r="{number}">' not in written
    assert written.count("<row ") == 4
