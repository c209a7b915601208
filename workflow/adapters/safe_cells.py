"""Cells that are safe to open in a spreadsheet.

A value written by a person (an organisation's name, a lot title) may start with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return: Excel and LibreOffice then read it as a formula
("CSV injection"), and ``=HYPERLINK(...)`` becomes a live link in the facilitator's export. Every
export writes such text through these functions: in CSV it is prefixed with an apostrophe (the
mark spreadsheets themselves use for "this is text"), in xlsx it is stored as a text cell, never
as a formula. Numbers are never touched: a negative figure stays a number.

Reading goes the other way: ``plain_text`` takes the apostrophe off again, so that a template
sent with « '=X » and returned as is gives back « =X », the text that was meant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: What makes a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_text(value: str) -> str:
    """``value`` as a CSV cell that no spreadsheet evaluates."""
    return "'" + value if is_formula_like(value) else value


def plain_text(value: str) -> str:
    """A cell as read from a file: the apostrophe ``csv_text`` puts before formula-like text is
    not part of the value. Other text, an apostrophe at its start included, is left alone."""
    return value[1:] if value.startswith("'") and is_formula_like(value[1:]) else value


def set_text_cell(cell: Any, value: Any) -> None:
    """Write ``value`` into an openpyxl cell, never as a formula."""
    cell.value = value
    if isinstance(value, str) and is_formula_like(value):
        cell.data_type = "s"  # openpyxl would otherwise store it as a formula


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """``values`` ready for ``sheet.append``: formula-like text wrapped in a text cell."""
    from openpyxl.cell.cell import Cell  # openpyxl is slow to import; only xlsx exports need it

    row: list[Any] = []
    for value in values:
        if isinstance(value, str) and is_formula_like(value):
            cell = Cell(sheet, row=1, column=1, value=value)  # append places it
            cell.data_type = "s"
            row.append(cell)
        else:
            row.append(value)
    return row
