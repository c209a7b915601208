"""Declaration files as companies send them: .xlsx and .ods like CSV, errors named by the file's own
titles, limits that say what they are, and more participants than a database takes in one list."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from odf.opendocument import OpenDocumentSpreadsheet  # type: ignore[import-untyped]
from odf.table import Table, TableCell, TableRow  # type: ignore[import-untyped]
from odf.text import P  # type: ignore[import-untyped]
from sqlalchemy import event, func, select

from tests.conftest import Clock, make_settings
from tests.integration.test_declarations import (
    DECLARATION,
    NOVEMBER,
    declarations,
    import_file,
    start_sample,
)
from workflow.adapters.orm import DeclarationLine, Participant
from workflow.bootstrap import App, bootstrap
from workflow.errors import FileRefused


@pytest.fixture
def started(app: App, clock: Clock) -> App:
    """The sample territory in execution since March 2026, on 5 November 2026."""
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    clock.set(NOVEMBER)
    return app


#: The sample file's cells, as Excel would hold them once opened: numbers and dates typed.
SAMPLE_ROWS = list(
    csv.reader(io.StringIO(DECLARATION.read_bytes().decode("cp1252")), delimiter=";")
)


def typed(value: str, title: str) -> Any:
    """What Excel makes of a typed cell: ``151,67`` a number, ``10/2026`` a date, ``01`` 1."""
    if title in ("Heures", "Lot", "SIRET"):
        number = float(value.replace(",", "."))
        return int(number) if number.is_integer() else number
    if title == "Mois":
        month, year = value.split("/")
        return datetime(int(year), int(month), 1)
    return value


def write_xlsx(path: Path, rows: list[list[Any]], blank_rows_before: int = 0) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(blank_rows_before):
        sheet.append([])
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def sample_xlsx(path: Path) -> Path:
    header, *rows = SAMPLE_ROWS
    return write_xlsx(
        path, [header, *([typed(v, t) for v, t in zip(row, header, strict=True)] for row in rows)]
    )


def write_ods(path: Path, rows: list[list[Any]]) -> Path:
    document = OpenDocumentSpreadsheet()
    table = Table(name="Feuille1")
    for row in rows:
        element = TableRow()
        for value in row:
            if isinstance(value, int | float):
                cell = TableCell(valuetype="float", value=value)
            elif isinstance(value, datetime):
                cell = TableCell(valuetype="date", datevalue=value.strftime("%Y-%m-%d"))
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value) if not isinstance(value, datetime) else ""))
            element.addElement(cell)
        table.addElement(element)
    # LibreOffice ends a sheet with a million empty rows, written once with a repeat count.
    table.addElement(TableRow(numberrowsrepeated=1_048_000))
    document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def test_it_reads_an_excel_workbook_as_it_reads_the_csv(started: App, tmp_path: Path) -> None:
    result = import_file(started, sample_xlsx(tmp_path / "déclaration.xlsx"))

    [summary] = result.declarations
    assert (summary.total_hours, summary.lines, summary.participants_at_zero) == (
        Decimal("370.17"),
        4,
        1,
    )
    # Criteria of the people who worked; the one at 0 h is apart (« ayant travaillé »).
    assert len(summary.criteria) == 3 and len(summary.delivery_modes) == 3
    assert summary.criteria_at_zero == {"disabled_worker": 1}


def test_it_reads_an_opendocument_spreadsheet(started: App, tmp_path: Path) -> None:
    header, *rows = SAMPLE_ROWS
    path = write_ods(
        tmp_path / "declaration.ods",
        [header, *([typed(v, t) for v, t in zip(row, header, strict=True)] for row in rows)],
    )

    [summary] = import_file(started, path).declarations
    assert (summary.total_hours, summary.lines) == (Decimal("370.17"), 4)


def test_it_refuses_a_workbook_whole_naming_sheet_rows_and_the_titles_written(
    started: App, tmp_path: Path
) -> None:
    header, *rows = SAMPLE_ROWS
    header = [
        {"Heures": "Heures réalisées", "Type de contrat": "contrat"}.get(h, h) for h in header
    ]
    cells = [[typed(v, t) for v, t in zip(row, SAMPLE_ROWS[0], strict=True)] for row in rows]
    cells[1][header.index("Heures réalisées")] = "beaucoup"
    cells[2][header.index("contrat")] = "CDI intérimaire"
    # The header sits on the sheet's 3rd row, after two blank ones: found like a CSV's.
    path = write_xlsx(tmp_path / "d.xlsx", [header, *cells], blank_rows_before=2)

    with pytest.raises(FileRefused) as caught:
        import_file(started, path)
    message = caught.value.message
    assert "2 erreurs, rien n'a été importé" in message
    assert "ligne 5, colonne « Heures réalisées » : « beaucoup » n'est pas un nombre" in message
    assert "ligne 6, colonne « contrat » : « CDI intérimaire » n'est pas reconnu" in message
    assert declarations(started) == []


def test_it_names_a_column_missing_from_the_file_by_its_title_never_its_key(
    started: App, tmp_path: Path
) -> None:
    header, *rows = SAMPLE_ROWS
    keep = [i for i, title in enumerate(header) if title != "Critère d'éligibilité"]
    rows[0][header.index("Référence participant")] = "P-NOUVEAU"
    path = write_xlsx(tmp_path / "d.xlsx", [[r[i] for i in keep] for r in [header, *rows]])

    with pytest.raises(FileRefused) as caught:
        import_file(started, path)
    message = caught.value.message
    assert (
        "ligne 2, colonne « Critère d'éligibilité » : participant « P-NOUVEAU » inconnu : son "
        "critère d'éligibilité est nécessaire pour le créer ; ajoutez la colonne « Critère "
        "d'éligibilité » au fichier." in message
    )
    assert "criterion" not in message


def test_a_required_column_missing_names_its_title_and_the_titles_found(
    started: App, tmp_path: Path
) -> None:
    header, *rows = SAMPLE_ROWS
    cut = header.index("Heures")
    path = write_xlsx(tmp_path / "d.xlsx", [r[:cut] + r[cut + 1 :] for r in [header, *rows]])

    with pytest.raises(FileRefused) as caught:
        import_file(started, path)
    assert (
        "ligne 1, colonne « Heures » : colonne manquante. Colonnes trouvées : « SIRET », "
        "« Entreprise », « N° marché », « Lot », « Mois », « Référence participant », "
        "« Critère d'éligibilité », « Type de contrat », « Modalité de réalisation »."
        in caught.value.message
    )


def test_it_refuses_an_old_xls_with_what_to_do(started: App, tmp_path: Path) -> None:
    path = tmp_path / "ancien.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(FileRefused, match=r"Excel 97-2003 \(\.xls\).*\.xlsx"):
        import_file(started, path)


def test_a_file_too_large_is_refused_before_reading_with_its_size_and_the_limit(
    started: App, tmp_path: Path
) -> None:
    path = tmp_path / "enorme.csv"
    with path.open("wb") as out:
        out.write(DECLARATION.read_bytes())
        out.write(b" " * 20_500_000)

    with pytest.raises(FileRefused) as caught:
        import_file(started, path)
    assert "fichier de 20,5\u00a0Mo, au-delà de la limite de 20\u00a0Mo par import" in (
        caught.value.message
    )


def test_a_file_with_too_many_lines_is_refused_with_their_count_and_the_limit(
    started: App, tmp_path: Path
) -> None:
    header, first, *_ = DECLARATION.read_bytes().split(b"\r\n")
    path = tmp_path / "long.csv"
    path.write_bytes(b"\r\n".join([header, *[first] * 50_001]))

    with pytest.raises(FileRefused) as caught:
        import_file(started, path)
    assert (
        "50\u202f001 lignes de données, au-delà de la limite de 50\u202f000 lignes par import"
        in caught.value.message
    )


def test_it_imports_more_participants_than_sqlite_takes_in_one_statement(
    sqlite_url: str, tmp_path: Path, clock: Clock
) -> None:
    # SQLite only: its variable limit is what a long file used to hit ("too many SQL
    # variables"); PostgreSQL's 65,535 values per statement are far above this file.
    limit = 32_766  # SQLITE_MAX_VARIABLE_NUMBER of recent SQLite (this build may allow more)

    def lower_limit(connection: sqlite3.Connection, _record: object) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)

    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock, handlers={})
    event.listen(app.engine, "connect", lower_limit)
    start_sample(app)
    count = limit + 234
    header = "SIRET;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;Type de contrat;"
    header += "Modalité de réalisation;Heures"
    lines = [header] + [
        f"41234567800012;2026-014;01;10/2026;P-{i:06d};RSA;CDD;Embauche directe;1,5"
        for i in range(count)
    ]
    path = tmp_path / "grand.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")

    try:
        [summary] = import_file(app, path).declarations

        assert (summary.lines, summary.total_hours) == (count, Decimal("1.5") * count)
        with app.transaction() as session:
            assert session.scalar(select(func.count()).select_from(DeclarationLine)) == count
            assert session.scalar(select(func.count()).select_from(Participant)) >= count
            # The limit was really in force: one statement with more values is refused.
            with pytest.raises(Exception, match="too many SQL variables"):
                session.scalars(
                    select(Participant.id).where(Participant.id.in_(list(range(limit + 1))))
                ).all()
    finally:
        app.close()


def test_a_new_participant_needs_its_criterion_once_for_several_months(
    started: App, tmp_path: Path
) -> None:
    from workflow.adapters.orm import OutboxMessage

    header = (
        "SIRET;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;Type de contrat;"
        "Modalité de réalisation;Heures"
    )
    path = tmp_path / "deux-mois.csv"
    path.write_text(
        "\r\n".join(
            [
                header,
                "41234567800012;2026-014;01;09/2026;P-0900;RSA;CDD;Embauche directe;100",
                "41234567800012;2026-014;01;10/2026;P-0900;;CDD;Embauche directe;120,5",
            ]
        ),
        encoding="utf-8",
    )

    result = import_file(started, path)

    assert [(d.month.month, d.total_hours) for d in result.declarations] == [
        (9, Decimal("100")),
        (10, Decimal("120.5")),
    ]
    with started.transaction() as session:
        person = session.scalars(select(Participant).where(Participant.reference == "P-0900")).one()
        assert person.criterion == "minimum_income"
        receipts = session.scalars(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.kind == "declaration_receipt")
            .order_by(OutboxMessage.id)
        ).all()
    # Written once both months are in: September's receipt does not call October missing.
    assert len(receipts) == 2
    assert all("- octobre 2026" not in text for text in receipts)
    assert all("- septembre 2026" not in text for text in receipts)
    assert "Il reste 5 mois à déclarer sur ce lot :" in receipts[0]  # April to August
    # No call has gone out for them (no pass ran): the date is the one the catch-up call will
    # give (``notices.owed_due_dates``), never a date nobody received.
    assert "- août 2026 : à envoyer au plus tard le 18 novembre 2026" in receipts[0]
    assert "en retard" not in receipts[0]
