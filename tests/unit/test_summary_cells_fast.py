"""The summary emails' cells, files and tables written the short way, byte for byte as before.

The 08:00 pass of a 10^5-lot territory formats some 85,000 numbers, writes 150,000 CSV lines and
a thousand emails of tables (BENCHMARKS.md, summaries): the numbers are formatted by Babel's own
steps with its symbols read once (``reports._babel``), the CSV files column by column, the
tables' text and HTML a line at a time. Each is compared here with what it replaced, on values
chosen to find the edges (negative zero, half-cents, huge numbers, formula-like names, the
separator itself in a cell).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import pytest
from babel.numbers import NumberPattern, format_decimal, format_percent

from workflow.adapters import reports
from workflow.adapters.reports import Column, Table, _wide_csv, format_cell, text_table
from workflow.adapters.safe_cells import csv_text
from workflow.emails.summaries import _escape, table_html

PATTERNS = ("#,##0", "#,##0.00", "#,##0.0", "#,##0\u00a0%", "#,##0.0\u00a0%")


def _values() -> list[Any]:
    found: list[Any] = [0, 1, -1, 7, 999, 1000, -1000, 10**30, -(10**20), 3.0, 0.1, 1.005, -2.5]
    found += [Decimal(t) for t in ("-0", "-0.00", "0.005", "0.015", "-0.004", "999.995")]
    found += [Decimal(t) for t in ("1234567.895", "1E+5", "1.2E-7", "0.125", "0.135", "2.5")]
    found += [Decimal("12345678901234567890.123456789"), Decimal(1) / Decimal(3), 1e16]
    draw = random.Random(12)
    for _ in range(3000):
        found.append(Decimal(draw.randint(-(10**9), 10**9)) / Decimal(10) ** draw.randint(0, 6))
        found.append(Decimal(draw.randint(0, 10**7)) / Decimal(draw.randint(1, 10**5)))
        found.append(draw.randint(-(10**12), 10**12))
        found.append(draw.uniform(-1e6, 1e6))
    return found


def _babel_text(value: Any, pattern: str) -> str | type[Exception]:
    """What Babel writes, or the error it raises."""
    try:
        if "%" in pattern:
            return str(format_percent(value, format=pattern, locale="fr_FR"))
        return str(format_decimal(value, format=pattern, locale="fr_FR"))
    except (InvalidOperation, ValueError, ArithmeticError) as error:
        return type(error)


def _fast_text(value: Any, pattern: str) -> str | type[Exception]:
    try:
        return reports._babel.__wrapped__(value, pattern)
    except (InvalidOperation, ValueError, ArithmeticError) as error:
        return type(error)


def test_numbers_read_as_babel_writes_them() -> None:
    for value in _values():
        for pattern in PATTERNS:
            assert _fast_text(value, pattern) == _babel_text(value, pattern), (value, pattern)


@pytest.fixture
def babel_applies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The values Babel is asked to apply a number pattern to, while it still does."""
    calls: list[Any] = []
    apply = NumberPattern.apply

    def counting(self: NumberPattern, value: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(value)
        return apply(self, value, *args, **kwargs)

    reports._babel.cache_clear()
    monkeypatch.setattr(NumberPattern, "apply", counting)
    yield calls
    reports._babel.cache_clear()


def test_the_cells_of_a_summary_are_formatted_without_babel(babel_applies: list[Any]) -> None:
    """Babel looked the French symbols up again for each of the pass's 85,000 numbers."""
    cells = [
        format_cell(Decimal("4725"), "hours"),
        format_cell(Decimal("151.67"), "hours"),
        format_cell(Decimal("0.4512"), "percent"),
        format_cell(12345, "int"),
        reports.french_percent(Decimal("0.5")),
    ]
    assert cells == ["4\u202f725\u00a0h", "151,67\u00a0h", "45\u00a0%", "12\u202f345", "50\u00a0%"]
    assert babel_applies == []
    # What is not a finite number is Babel's to write.
    assert reports._babel(Decimal("Infinity"), "#,##0") == "∞"
    assert babel_applies == [Decimal("Infinity")]


class _Word(StrEnum):
    LATE = "en retard"


def _wide_csv_before(table: Table) -> bytes:
    """``_wide_csv`` as it was: a line at a time, each cell by ``_label_cell`` or
    ``_csv_value``, encoded by ``utf-8-sig``."""
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_text(c.title) for c in table.columns])
    kinds = [(c.is_label, c.kind) for c in table.columns]
    for row in table.rows:
        writer.writerow(
            [
                csv_text(reports._label_cell(v, kind)) if label else reports._csv_value(v, kind)
                for v, (label, kind) in zip(row, kinds, strict=True)
            ]
        )
    text.flush()
    text.detach()
    return buffer.getvalue()


def test_a_csv_file_is_the_bytes_it_was() -> None:
    columns = (
        Column("N°", "int"),
        Column("=Donneur d'ordre"),
        Column("Mois", "month"),
        Column("Heures", "hours"),
        Column("% de l'objectif", "percent"),
        Column("Rythme", "status"),
    )
    names = ["Ville d'Aÿ", "=HYPERLINK(1)", "-moins", "+plus", "@at", "\ttab", "a;b", 'x "y"', ""]
    draw = random.Random(3)
    rows: list[tuple[Any, ...]] = []
    for n in range(2_500):  # past CSV_CHUNK: the chunks join up
        rows.append(
            (
                n if n % 7 else None,
                names[n % len(names)] if n % 11 else None,
                date(2026, 1 + n % 12, 1) if n % 5 else "texte",
                Decimal(draw.randint(0, 10**6)) / 100 if n % 3 else 2.5,
                Decimal(draw.randint(0, 10**4)) / 10**4 if n % 4 else None,
                _Word.LATE if n % 2 else (True if n % 3 else "=1+1"),
            )
        )
    for table in (Table("", "t", columns, tuple(rows)), Table("", "vide", columns, ())):
        assert _wide_csv(table) == _wide_csv_before(table)
    assert _wide_csv(Table("", "t", columns, tuple(rows))).startswith(b"\xef\xbb\xbfN\xc2\xb0;")


def _text_table_before(columns: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(str(x)) for x in [title, *(r[i] for r in rows)]) for i, title in enumerate(columns)
    ]
    lines = ["  ".join(str(t).ljust(w) for t, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


_LABEL = '<td style="overflow-wrap:anywhere;vertical-align:top">'


def _table_html_before(table: dict[str, Any]) -> str:
    openings = ['<td class="num">' if n else _LABEL for n in table["numeric"]]
    parts = [
        f'<h2>{_escape(table["title"])}</h2>\n<table class="figures">\n  <tr>',
        *(f"<th>{_escape(column)}</th>" for column in table["columns"]),
        "</tr>\n",
    ]
    for row in table["rows"]:
        cells = "".join(f"{o}{_escape(c)}</td>" for o, c in zip(openings, row, strict=True))
        parts.append(f"  <tr>{cells}</tr>\n")
    parts.append("</table>\n")
    if table["note"]:
        parts.append(f'<p class="muted">{_escape(table["note"])}</p>\n')
    return "".join(parts)


@pytest.mark.parametrize(
    "rows",
    [
        [['Ville <d\'Aÿ> & "Fils"', "1\u202f234\u00a0h", "{0}"], ["", "", "}{"]],
        [["a\x00b", "–", "c"], ["d", "e", "f"]],  # the separator itself, in a cell
        [],
    ],
)
def test_an_email_table_is_the_text_and_html_it_was(rows: list[list[str]]) -> None:
    columns = ["Entreprise", "Heures", ""]
    assert text_table(columns, rows) == _text_table_before(columns, rows)
    table = {
        "title": "Déclarations <manquantes>",
        "columns": columns,
        "numeric": [False, True, False],
        "rows": rows,
        "note": "Les 50 premières & « autres »",
    }
    assert str(table_html(table)) == _table_html_before(table)
    assert str(table_html({**table, "note": None})) == _table_html_before({**table, "note": None})
