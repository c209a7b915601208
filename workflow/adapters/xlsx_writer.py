"""The declaration template as an .xlsx, written as its few XML parts in a zip.

Every call, reminder and welcome carries a template pre-filled for its company (issue 12: the
month-start burst). Built with openpyxl it cost about 125 ms a workbook: every cell an object,
every worksheet a temporary file. This writer knows the one shape a template has (a bold frozen
header row, typed cells, formatted empty rows below for new participants, column widths, the
accepted values on a second sheet offered as drop-down lists) and writes the same workbook as
text: a few milliseconds. openpyxl still reads every file that comes back (``spreadsheets``),
and the tests read these with it.

The parts and their order are those of the SpreadsheetML schema (ECMA-376), which Excel checks:
``sheetViews`` before ``cols`` before ``sheetData`` before ``dataValidations``. Strings are
written inline (``t="inlineStr"``), never as formulas. No timestamp: the same content gives the
same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

#: Excel's built-in number formats by code: these need no ``numFmt`` of their own.
BUILT_IN_FORMATS = {"0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10, "@": 49}
FIRST_CUSTOM_FORMAT = 164
#: Characters XML 1.0 cannot carry (C0 controls but tab, line feed, carriage return).
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

Cell = str | int | float | Decimal | None


@dataclass(frozen=True)
class DropDown:
    """The accepted values of one column, listed on the second sheet."""

    column: int  # 0-based, on the first sheet
    values: Sequence[str]


def column_letter(index: int) -> str:
    """1 → « A », 27 → « AA »."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(value: str) -> str:
    return escape(_NOT_IN_XML.sub("", value))


def _cell(reference: str, value: Cell, style: int) -> str:
    styled = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{reference}"{styled}/>' if style else ""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float | Decimal):
        return f'<c r="{reference}"{styled}><v>{value}</v></c>'
    return (
        f'<c r="{reference}"{styled} t="inlineStr"><is><t xml:space="preserve">'
        f"{_text(str(value))}</t></is></c>"
    )


def _sheet(
    rows: Sequence[Sequence[Cell]],
    *,
    styles: Sequence[Sequence[int]],
    widths: Sequence[float],
    frozen_header: bool,
    validations: Sequence[tuple[str, str]] = (),
) -> str:
    """One worksheet: ``styles[r][c]`` the style of each cell written (0: none)."""
    width = max((len(r) for r in styles), default=1)
    last = f"{column_letter(max(width, 1))}{max(len(styles), 1)}"
    parts = [
        _HEAD,
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">',
        f'<dimension ref="A1:{last}"/>',
    ]
    if frozen_header:
        parts.append(
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" '
            'activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        )
    else:
        parts.append('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
    parts.append('<sheetFormatPr defaultRowHeight="15"/>')
    if widths:
        parts.append("<cols>")
        for number, column_width in enumerate(widths, start=1):
            parts.append(
                f'<col min="{number}" max="{number}" width="{column_width:g}" customWidth="1"/>'
            )
        parts.append("</cols>")
    parts.append("<sheetData>")
    letters = [column_letter(column + 1) for column in range(width)]
    # The formatted blank rows under a template's table (50 of them, every cell empty, styled)
    # are most of its cells: each is written straight from its styled columns, the bytes
    # ``_cell`` gives an empty cell, without a call per cell (a month-start burst writes one
    # template per company).
    styled_of: dict[tuple[int, ...], list[tuple[str, int]]] = {}
    for row_number, row_styles in enumerate(styles, start=1):
        if row_number > len(rows):
            key = tuple(row_styles)
            styled = styled_of.get(key)
            if styled is None:
                styled = [(letters[c], style) for c, style in enumerate(row_styles) if style]
                styled_of[key] = styled
            if styled:
                blank = "".join(
                    f'<c r="{letter}{row_number}" s="{style}"/>' for letter, style in styled
                )
                parts.append(f'<row r="{row_number}">{blank}</row>')
            continue
        values = rows[row_number - 1]
        cells = "".join(
            _cell(
                f"{letters[column]}{row_number}",
                values[column] if column < len(values) else None,
                style,
            )
            for column, style in enumerate(row_styles)
        )
        if cells:
            parts.append(f'<row r="{row_number}">{cells}</row>')
    parts.append("</sheetData>")
    if validations:
        parts.append(f'<dataValidations count="{len(validations)}">')
        for area, formula in validations:
            parts.append(
                f'<dataValidation type="list" allowBlank="1" showErrorMessage="0" '
                f'sqref="{area}"><formula1>{escape(formula)}</formula1></dataValidation>'
            )
        parts.append("</dataValidations>")
    parts.append(
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
    )
    parts.append("</worksheet>")
    return "".join(parts)


def _styles(formats: Sequence[str]) -> tuple[str, dict[str, int]]:
    """The styles part, and the style (``s``) of each number format; style 1 is the bold
    header."""
    custom = [f for f in formats if f not in BUILT_IN_FORMATS]
    ids = {f: BUILT_IN_FORMATS.get(f) or FIRST_CUSTOM_FORMAT + custom.index(f) for f in formats}
    style_of = {f: 2 + i for i, f in enumerate(formats)}
    number_formats = (
        f'<numFmts count="{len(custom)}">'
        + "".join(f'<numFmt numFmtId="{ids[f]}" formatCode={quoteattr(f)}/>' for f in custom)
        + "</numFmts>"
        if custom
        else ""
    )
    xfs = [
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
        *(
            f'<xf numFmtId="{ids[f]}" fontId="0" fillId="0" borderId="0" xfId="0" '
            'applyNumberFormat="1"/>'
            for f in formats
        ),
    ]
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    return (
        _HEAD
        + f'<styleSheet xmlns="{_MAIN}">'
        + number_formats
        + f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
        + '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        + '<fill><patternFill patternType="gray125"/></fill></fills>'
        + '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        + "</borders>"
        + '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        + "</cellStyleXfs>"
        + f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        + "</styleSheet>",
        style_of,
    )


def _package(sheets: Sequence[tuple[str, str]], styles: str, creator: str) -> bytes:
    """The zip: content types, relationships, properties, workbook, styles, sheets."""
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, len(sheets) + 1)
    )
    parts = {
        "[Content_Types].xml": _HEAD
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        + '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        + 'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        + 'officedocument.spreadsheetml.sheet.main+xml"/>'
        + sheet_types
        + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        + 'officedocument.spreadsheetml.styles+xml"/>'
        + '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        + 'package.core-properties+xml"/>'
        + '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
        + 'officedocument.extended-properties+xml"/></Types>',
        "_rels/.rels": _HEAD
        + f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
        + f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" '
        + 'Target="xl/workbook.xml"/>'
        + '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        + 'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        + f'<Relationship Id="rId3" Type="{_RELATIONSHIPS}/extended-properties" '
        + 'Target="docProps/app.xml"/></Relationships>',
        "docProps/core.xml": _HEAD
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        + 'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        + f"<dc:creator>{_text(creator)}</dc:creator></cp:coreProperties>",
        "docProps/app.xml": _HEAD
        + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        + 'extended-properties"><Application>clauses</Application></Properties>',
        "xl/workbook.xml": _HEAD
        + f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><workbookPr/>'
        + '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
        + "".join(
            f'<sheet name={quoteattr(_NOT_IN_XML.sub("", title))} sheetId="{n}" r:id="rId{n}"/>'
            for n, (title, _) in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": _HEAD
        + f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
        + "".join(
            f'<Relationship Id="rId{n}" Type="{_RELATIONSHIPS}/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(sheets) + 1)
        )
        + f'<Relationship Id="rId{len(sheets) + 1}" Type="{_RELATIONSHIPS}/styles" '
        + 'Target="styles.xml"/></Relationships>',
        "xl/styles.xml": styles,
        **{f"xl/worksheets/sheet{n}.xml": xml for n, (_, xml) in enumerate(sheets, start=1)},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            # A fixed date: the same content, the same bytes.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def template_workbook(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    sheet_title: str,
    text_columns: Sequence[int] = (),
    number_formats: Mapping[int, str] | None = None,
    choices: Mapping[int, Sequence[str]] | None = None,
    choices_title: str = "Valeurs acceptées",
    widths: Mapping[int, float] | None = None,
    blank_rows: int = 50,
    creator: str = "clauses",
) -> bytes:
    """A one-table workbook: headers in bold and frozen, ``text_columns`` (0-based) stored and
    formatted as text, ``number_formats`` by column, ``blank_rows`` formatted rows below the
    pre-filled ones, ``choices`` offered as drop-down lists read from a second sheet."""
    count = len(headers)
    texts = set(text_columns)
    format_of = {c: "@" if c in texts else (number_formats or {}).get(c) for c in range(count)}
    formats = sorted({f for f in format_of.values() if f})
    styles, style_of = _styles(formats)
    column_styles = [style_of.get(format_of[c] or "", 0) for c in range(count)]
    last_row = max(len(rows) + 1, 2) + blank_rows
    # Text columns keep what was typed as text (« 01 », a SIRET), even a number given here.
    body = [
        [str(v) if c in texts and v is not None and v != "" else v for c, v in enumerate(row)]
        for row in rows
    ]
    title = sheet_title[:31]
    sheets: list[tuple[str, str]] = []
    validations: list[tuple[str, str]] = []
    lists_title = choices_title[:31]
    if choices:
        quoted = "'" + lists_title.replace("'", "''") + "'"
        for position, (column, values) in enumerate(sorted(choices.items()), start=1):
            letter, target = column_letter(position), column_letter(column + 1)
            validations.append(
                (
                    f"{target}2:{target}{last_row}",
                    f"{quoted}!${letter}$2:${letter}${len(values) + 1}",
                )
            )
    sheets.append(
        (
            title,
            _sheet(
                [list(headers), *body],
                styles=[[1] * count, *([column_styles] * (last_row - 1))],
                widths=[
                    (widths or {}).get(c) or max(12.0, len(headers[c]) + 4.0) for c in range(count)
                ],
                frozen_header=True,
                validations=validations,
            ),
        )
    )
    if choices:
        ordered = [values for _, values in sorted(choices.items())]
        depth = max(len(values) for values in ordered) + 1
        table: list[list[Cell]] = [[headers[c] for c, _ in sorted(choices.items())]]
        table += [
            [values[r - 1] if r - 1 < len(values) else None for values in ordered]
            for r in range(1, depth)
        ]
        sheets.append(
            (
                lists_title,
                _sheet(
                    table,
                    styles=[[1] * len(ordered)] + [[0] * len(ordered)] * (depth - 1),
                    widths=[max((len(v) for v in values), default=10) + 2.0 for values in ordered],
                    frozen_header=False,
                ),
            )
        )
    return _package(sheets, styles, creator)
