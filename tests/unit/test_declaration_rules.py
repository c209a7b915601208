"""Pure rules of declarations: when a month opens, which months are still owed, batching, the
templates' encodings and the column titles shared by the import and the emails."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from workflow.adapters.batching import chunked
from workflow.adapters.csv_files import format_size, read_csv_bytes
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS, declaration_titles
from workflow.adapters.orm import Clause
from workflow.adapters.spreadsheets import cell_text, csv_template, xlsx_template
from workflow.domain.calendar import Interval
from workflow.services.declarations import (
    last_declarable_month,
    missing_months,
    next_month_to_open,
    not_open_problem,
    opens_on,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("month", "opening"),
    [
        (date(2027, 4, 1), date(2027, 4, 30)),  # a Friday
        (date(2026, 5, 1), date(2026, 5, 29)),  # 30-31 May 2026: a weekend
        (date(2026, 10, 1), date(2026, 10, 30)),  # 31 October 2026: a Saturday
        (date(2027, 12, 1), date(2027, 12, 31)),
        (date(2026, 2, 1), date(2026, 2, 27)),  # 28 February 2026: a Saturday
    ],
)
def test_a_month_opens_on_its_last_working_day(month: date, opening: date) -> None:
    assert opens_on(month) == opening
    assert last_declarable_month(opening) == month
    assert last_declarable_month(opening.replace(day=opening.day - 1)) < month


def test_it_says_when_a_month_opens_in_french() -> None:
    assert not_open_problem(date(2027, 4, 1), date(2027, 4, 12)) == (
        "La déclaration d'avril 2027 s'ouvre le vendredi 30 avril 2027."
    )
    assert not_open_problem(date(2027, 4, 1), date(2027, 4, 30)) is None


def clause(start: date, end: date | None) -> Clause:
    return Clause(start_date=start, planned_end_date=end, end_date=None)


def test_the_months_owed_run_from_the_start_to_the_last_open_month() -> None:
    lot = clause(date(2026, 9, 14), date(2027, 6, 30))
    owed = missing_months(lot, [date(2026, 9, 1)], [], today=date(2026, 12, 2), zone=PARIS)
    # September declared; October and November open (November since 30 November); December not.
    assert owed == [date(2026, 10, 1), date(2026, 11, 1)]
    assert next_month_to_open(lot, [date(2026, 9, 1)], date(2026, 12, 2)) == date(2026, 12, 1)


def test_a_month_spent_entirely_suspended_is_not_owed() -> None:
    lot = clause(date(2026, 9, 1), None)
    # Suspended from 20 October to 3 December (Paris): November entirely, October only partly.
    stop = Interval(datetime(2026, 10, 20, 8, tzinfo=UTC), datetime(2026, 12, 3, 8, tzinfo=UTC))
    owed = missing_months(lot, [], [stop], today=date(2027, 1, 5), zone=PARIS)
    assert owed == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 12, 1)]


def test_nothing_is_owed_past_the_end_or_before_a_start() -> None:
    lot = clause(date(2026, 3, 2), date(2026, 5, 15))
    assert missing_months(lot, [], [], today=date(2027, 1, 5), zone=PARIS) == [
        date(2026, 3, 1),
        date(2026, 4, 1),
        date(2026, 5, 1),
    ]
    assert next_month_to_open(lot, [], date(2027, 1, 5)) is None
    assert (
        missing_months(clause(date(2026, 3, 2), None), [], [], today=date(2026, 3, 30), zone=PARIS)
        == []
    )


def test_chunks_keep_every_value_in_order_under_the_size() -> None:
    values = list(range(70_001))
    chunks = list(chunked(values, 500))
    assert [v for chunk in chunks for v in chunk] == values
    assert max(len(c) for c in chunks) == 500 and len(chunks) == 141


def test_chunks_keep_a_lookup_beyond_sqlites_variable_limit_within_it() -> None:
    connection = sqlite3.connect(":memory:")
    connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    connection.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    connection.executemany("INSERT INTO p VALUES (?)", [(i,) for i in range(40_000)])
    wanted = list(range(0, 80_000, 2))  # 40,000 ids, half of them recorded

    with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
        connection.execute(f"SELECT id FROM p WHERE id IN ({','.join('?' * len(wanted))})", wanted)
    found = [
        row[0]
        for chunk in chunked(wanted)
        for row in connection.execute(
            f"SELECT id FROM p WHERE id IN ({','.join('?' * len(chunk))})", chunk
        )
    ]
    assert sorted(found) == list(range(0, 40_000, 2))


def test_the_csv_template_is_what_french_excel_writes_and_the_import_reads_it() -> None:
    titles = declaration_titles()
    row = [
        "412 345 678 00012",
        "Bâtiments Gascons SARL",
        "2026-014",
        "01",
        "10/2026",
        "P-0007",
        "Demandeur d'emploi de longue durée",
        "CDD",
        "Embauche directe",
        "",
        "F",
        "1987",
    ]
    data, encoding = csv_template(titles, [row])

    assert encoding == "windows-1252"
    assert data.decode("cp1252") == ";".join(titles) + "\r\n" + ";".join(row) + "\r\n"
    table = read_csv_bytes(data, DECLARATION_COLUMNS, "modèle.csv")
    assert set(table.headers) == {c.key for c in DECLARATION_COLUMNS}
    assert table.rows[0].cells["criterion"] == "Demandeur d'emploi de longue durée"
    # A character Windows-1252 lacks: UTF-8 with the BOM Excel recognises.
    data, encoding = csv_template(titles, [[*row[:5], "P-ŁÓDŹ", *row[6:]]])
    assert encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf")


def test_the_xlsx_template_keeps_identifiers_as_text_and_never_makes_a_formula() -> None:
    data = xlsx_template(
        ["SIRET", "Lot", "Référence participant", "Heures"],
        [["41234567800012", "01", '=HYPERLINK("x")', None]],
        sheet_title="Déclaration",
        text_columns=[0, 1, 2],
        choices={1: ["01", "02"]},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[2]] == ["41234567800012", "01", '=HYPERLINK("x")', None]
    assert [c.data_type for c in sheet[2][:3]] == ["s", "s", "s"]
    assert sheet["A3"].number_format == "@"


def test_every_column_says_what_goes_in_it_and_titles_come_from_the_import() -> None:
    assert declaration_titles() == [c.label for c in DECLARATION_COLUMNS]
    assert all(c.hint for c in DECLARATION_COLUMNS)
    assert "Critère d'éligibilité" in declaration_titles()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (151.67000000000002, "151.67"),
        (120.0, "120"),
        (41234567800012, "41234567800012"),
        (datetime(2026, 10, 1), "01/10/2026"),
        (None, ""),
    ],
)
def test_a_cell_is_read_as_a_person_sees_it(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_sizes_are_written_in_french_units() -> None:
    assert format_size(20_000_000) == "20\u00a0Mo"
    assert format_size(20_500_000) == "20,5\u00a0Mo"
    assert format_size(850_000) == "850\u00a0ko"
