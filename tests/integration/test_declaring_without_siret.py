"""A company recorded without a SIRET (``company add`` accepts none) declares with the template of
its call: the call tells it the SIRET cell may stay empty, its own upload of the untouched template
is recorded, and so is the facilitator's import of the same file (the line matched by the
company's name); a line naming no company on a lot of two is refused, its line and column named.
A SIRET recorded for no company is given to a company recorded without one only by its name (else
it may be a new subcontractor's), each such SIRET said; from its own page such a company may not
type another company's SIRET; the name is matched whatever its apostrophes, accents, case, dashes,
and a name matching nothing is refused, the lot's companies named (never guessed).

User trial: the template's SIRET cell was empty and every way but the online form refused it
(« ligne 2, colonne « SIRET » : valeur manquante. »). Over the real pass, the real ASGI
application and the real import, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import INSERTION
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import (
    CALLED,
    PARIS,
    XLSX,
    call_link,
    call_workbook,
    declarations,
    fill,
)
from tests.integration.test_online_declaration_files import NEW_PERSON, hidden_lines
from tests.text import squash, visible
from workflow.adapters.declaration_columns import declaration_titles
from workflow.adapters.orm import Clause, Company, Market, OutboxMessage
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.errors import FileRefused
from workflow.sample.data import PROPRETE_VAL
from workflow.services.declaration_imports import import_declaration_file
from workflow.services.ticks import run_pass

GASCONS = "41234567800012"  # holder of lot 01, recorded here without its SIRET
#: Its real SIRET as its people would type it (Luhn-valid, recorded for no company).
TYPED = "73282932000074"
#: The facilitator imports the file the company mailed back, after the call.
IMPORTED = datetime(2026, 5, 6, 10, 0, tzinfo=PARIS)


@pytest.fixture
def called(app: App, clock: Clock) -> App:
    """The sample territory, its lot 01 holder recorded without a SIRET, April calls sent."""
    start_sample(app)
    with app.transaction() as session:
        holder = session.scalars(select(Company).where(Company.siret == GASCONS)).one()
        holder.siret = None
    clock.set(CALLED)
    run_pass(app, CALLED)
    return app


def lot_01(app: App) -> tuple[int, int, int]:
    """Lot 01, its holder (recorded without SIRET) and its subcontractor (with one)."""
    with app.transaction() as session:
        clause = session.scalars(
            select(Clause)
            .join(Market)
            .where(Market.reference == "2026-014", Clause.lot_number == "01")
        ).one()
        holder = session.scalars(
            select(Company).where(Company.name == "Bâtiments Gascons SARL")
        ).one()
        partner = session.scalars(select(Company).where(Company.siret == INSERTION)).one()
        assert holder.siret is None
        return clause.id, holder.id, partner.id


def call_parts(app: App, clause_id: int, company_id: int) -> tuple[str, str]:
    with app.transaction() as session:
        text, html = session.execute(
            select(OutboxMessage.body_text, OutboxMessage.body_html).where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{company_id}:2026-04"),
            )
        ).one()
    return squash(text), visible(html)


def filled_template(app: App, clause_id: int, company_id: int, **cells: object) -> bytes:
    """The .xlsx of the April call, one person added on row 2, its lot's cells as given."""
    workbook = call_workbook(app, clause_id, company_id)
    assert workbook.worksheets[0]["A2"].value in (None, ""), "the template leaves SIRET empty"
    return fill(workbook, 2, {**NEW_PERSON, **cells})


def facilitator_import(app: App, path: Path, clause_id: int | None = None) -> list[str]:
    with app.transaction() as session:
        result = import_declaration_file(
            session,
            path,
            actor="Camille Martin",
            now=IMPORTED,
            publish=app.publish,
            clause_id=clause_id,
            zone=PARIS,
        )
    return [f"{d.company} {d.month:%m/%Y} {d.total_hours:.2f}" for d in result.declarations] + [
        plain(str(w)) for w in result.warnings
    ]


def plain(text: str) -> str:
    """``text`` with its no-break spaces (around « SIRET ») read as spaces."""
    return squash(text).replace("\u00a0", " ")


def test_the_call_says_the_siret_cell_may_stay_empty(called: App) -> None:
    clause_id, holder_id, partner_id = lot_01(called)

    text, html = call_parts(called, clause_id, holder_id)

    said = (
        "SIRET (facultatif) : laissez cette colonne vide comme dans le modèle (je n'ai pas le "
        "SIRET de votre entreprise), ou inscrivez-y votre SIRET, 14 chiffres"
    )
    assert said in text
    assert "le SIRET de votre entreprise, 14 chiffres" not in text
    assert "laissez cette colonne vide comme dans le modèle" in html
    # A company whose SIRET is recorded is still asked for it, as its template gives it.
    partner_text, _ = call_parts(called, clause_id, partner_id)
    assert (
        "SIRET : le SIRET de votre entreprise, 14 chiffres – dans le modèle : 833 456 789 00019"
        in partner_text
    )


def test_the_company_uploads_its_untouched_template_and_it_is_recorded(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = filled_template(called, clause_id, holder_id)

    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})
    assert shown.status_code == 200, visible(shown.text)
    assert "valeur manquante" not in visible(shown.text)
    client.post(path, data={**hidden_lines(shown.text), "action": "confirmer"})

    [april] = declarations(called, clause_id, holder_id)
    assert [(line.participant.reference, line.hours) for line in april.lines] == [("P-0300", 70)]


def test_the_company_may_type_its_siret_which_is_not_stored(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = filled_template(called, clause_id, holder_id, SIRET=TYPED)

    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})

    assert shown.status_code == 200, visible(shown.text)
    assert "n'est pas celui de votre entreprise" not in visible(shown.text)
    with called.transaction() as session:
        assert session.get_one(Company, holder_id).siret is None


def test_a_siret_that_is_not_the_companys_own_is_still_refused(called: App) -> None:
    clause_id, _, partner_id = lot_01(called)
    path = call_link(called, clause_id, partner_id)
    client = TestClient(create_site(called))
    data = fill(call_workbook(called, clause_id, partner_id), 2, {**NEW_PERSON, "SIRET": TYPED})

    refused = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})

    assert refused.status_code == 422
    assert (
        "avril.xlsx, ligne 2, colonne « SIRET » : ce SIRET n'est pas celui de votre entreprise"
        in plain(visible(refused.text))
    )
    assert declarations(called, clause_id, partner_id) == []


@pytest.mark.parametrize("by_clause", [False, True])
def test_the_facilitator_imports_the_same_file(
    called: App, tmp_path: Path, by_clause: bool
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = tmp_path / "avril.xlsx"
    path.write_bytes(filled_template(called, clause_id, holder_id))

    said = facilitator_import(called, path, clause_id if by_clause else None)

    assert said == ["Bâtiments Gascons SARL 04/2026 70.00"]
    [april] = declarations(called, clause_id, holder_id)
    assert [line.participant.reference for line in april.lines] == ["P-0300"]


def test_a_siret_typed_for_a_company_recorded_without_one_is_matched_and_said(
    called: App, tmp_path: Path
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = tmp_path / "avril.xlsx"
    path.write_bytes(filled_template(called, clause_id, holder_id, SIRET=TYPED))

    said = facilitator_import(called, path)

    assert said == [
        "Bâtiments Gascons SARL 04/2026 70.00",
        "ligne 2, colonne « SIRET » : Bâtiments Gascons SARL n'a pas de SIRET enregistré : la "
        "ligne lui est attribuée par son nom ; pour enregistrer ce SIRET : clauses company edit "
        f"{holder_id} --siret {TYPED} (ou sa fiche, depuis la recherche de la page "
        "« Corrections »).",
    ]
    with called.transaction() as session:
        assert session.get_one(Company, holder_id).siret is None


def test_a_line_naming_no_company_on_a_lot_of_two_is_refused_line_and_column_named(
    called: App, tmp_path: Path
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = tmp_path / "avril.xlsx"
    path.write_bytes(filled_template(called, clause_id, holder_id, Entreprise=""))

    with pytest.raises(FileRefused) as caught:
        facilitator_import(called, path)

    message = plain(caught.value.command_line_message)
    assert (
        "ligne 2, colonne « SIRET » : valeur manquante : la clause n° "
        f"{clause_id} (marché 2026-014 lot 01 – Gros œuvre – maçonnerie) compte plusieurs "
        "entreprises (Bâtiments Gascons SARL, Gascogne Insertion Bâtiment (EI)) ; indiquez le "
        "SIRET, ou le nom de l'entreprise dans la colonne « Entreprise »." in message
    ), message
    assert declarations(called, clause_id, holder_id) == []


def test_a_line_naming_no_company_on_a_lot_of_one_is_that_company(
    called: App, tmp_path: Path
) -> None:
    with called.transaction() as session:
        cleaning = session.scalars(select(Company).where(Company.siret == PROPRETE_VAL)).one()
        name = cleaning.name
    path = tmp_path / "avril.csv"
    path.write_bytes(
        "\r\n".join(
            [
                ";".join(declaration_titles()[:10]),
                ";;2026-AC-03;;04/2026;P-0400;Demandeur d'emploi de longue durée;CDD;"
                "Embauche directe;35",
                "",
            ]
        ).encode("cp1252")
    )

    assert facilitator_import(called, path) == [f"{name} 04/2026 35.00"]


#: Another Luhn-valid SIRET recorded for no company: a second one typed for the same company.
OTHER = "73282932000108"


def template_rows(app: App, clause_id: int, company_id: int, *rows: dict[str, Any]) -> bytes:
    """The .xlsx of the April call, the given cells filled from row 2 on (one person a row)."""
    workbook = call_workbook(app, clause_id, company_id)
    sheet = workbook.worksheets[0]
    column = {str(cell.value): index + 1 for index, cell in enumerate(sheet[1])}
    # The template's row 2 holds the lot's cells (SIRET, name, market, lot, month).
    lot_cells: dict[str, Any] = {
        title: sheet.cell(row=2, column=index).value for title, index in column.items()
    }
    for number, cells in enumerate(rows, start=2):
        for title, value in {**lot_cells, **cells}.items():
            sheet.cell(row=number, column=column[title], value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_unknown_siret_naming_no_company_is_refused_not_given_to_the_lots_company(
    called: App, tmp_path: Path
) -> None:
    """A new subcontractor's SIRET, not recorded yet, must not count its hours for the holder
    because the holder is the lot's only company recorded without a SIRET."""
    clause_id, holder_id, partner_id = lot_01(called)
    path = tmp_path / "avril.xlsx"
    path.write_bytes(filled_template(called, clause_id, holder_id, SIRET=TYPED, Entreprise=""))

    with pytest.raises(FileRefused) as caught:
        facilitator_import(called, path)

    message = plain(caught.value.command_line_message)
    assert (
        f"ligne 2, colonne « SIRET » : aucune entreprise enregistrée avec le SIRET {TYPED} : "
        "ajoutez-la d'abord." in message
    ), message
    assert declarations(called, clause_id, holder_id) == []
    assert declarations(called, clause_id, partner_id) == []


def test_each_siret_given_for_a_company_without_one_is_said(called: App, tmp_path: Path) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = tmp_path / "avril.xlsx"
    second = {**NEW_PERSON, "Référence participant": "P-0301", "Heures": 35, "SIRET": OTHER}
    path.write_bytes(
        template_rows(called, clause_id, holder_id, {**NEW_PERSON, "SIRET": TYPED}, second)
    )

    said = facilitator_import(called, path)

    def note(line: int, siret: str) -> str:
        return (
            f"ligne {line}, colonne « SIRET » : Bâtiments Gascons SARL n'a pas de SIRET "
            "enregistré : la ligne lui est attribuée par son nom ; pour enregistrer ce SIRET : "
            f"clauses company edit {holder_id} --siret {siret} (ou sa fiche, depuis la "
            "recherche de la page « Corrections »)."
        )

    assert said == ["Bâtiments Gascons SARL 04/2026 105.00", note(2, TYPED), note(3, OTHER)]


def test_a_company_without_siret_may_not_type_another_companys_siret(called: App) -> None:
    clause_id, holder_id, partner_id = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = filled_template(called, clause_id, holder_id, SIRET=INSERTION)

    refused = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})

    assert refused.status_code == 422
    assert (
        "avril.xlsx, ligne 2, colonne « SIRET » : ce SIRET n'est pas celui de votre entreprise"
        in plain(visible(refused.text))
    )
    assert declarations(called, clause_id, holder_id) == []
    assert declarations(called, clause_id, partner_id) == []


def cleaning_file(tmp_path: Path, company: str) -> Path:
    """A line of April on market 2026-AC-03 (one lot, one company), SIRET empty."""
    path = tmp_path / "avril.csv"
    path.write_bytes(
        "\r\n".join(
            [
                ";".join(declaration_titles()[:10]),
                f";{company};2026-AC-03;;04/2026;P-0400;Demandeur d'emploi de longue durée;CDD;"
                "Embauche directe;35",
                "",
            ]
        ).encode("utf-8-sig")
    )
    return path


@pytest.mark.parametrize(
    "written",
    ["Propreté du Val d’Arrats", "PROPRETE DU VAL D'ARRATS", "propreté  du Val-d'Arrats"],
)
def test_a_company_name_written_otherwise_is_the_company(
    called: App, tmp_path: Path, written: str
) -> None:
    """Its apostrophe typed ’, its accents or case lost, a dash for a space: still its name."""
    assert facilitator_import(called, cleaning_file(tmp_path, written)) == [
        "Propreté du Val d'Arrats 04/2026 35.00"
    ]


def test_an_unknown_name_on_a_lot_of_one_is_refused_naming_the_lots_company(
    called: App, tmp_path: Path
) -> None:
    """Not given to the lot's only company: the file may be another company's."""
    with called.transaction() as session:
        clause_id = (
            session.scalars(select(Clause).join(Market).where(Market.reference == "2026-AC-03"))
            .one()
            .id
        )
        cleaning = session.scalars(select(Company).where(Company.siret == PROPRETE_VAL)).one()

    with pytest.raises(FileRefused) as caught:
        facilitator_import(called, cleaning_file(tmp_path, "Nettoyage Gascon"))

    message = plain(caught.value.command_line_message)
    assert (
        "ligne 2, colonne « Entreprise » : aucune entreprise enregistrée sous le nom « Nettoyage "
        "Gascon », et la colonne « SIRET » est vide ; la seule entreprise de la clause n° "
        f"{clause_id} (marché 2026-AC-03" in message
    ), message
    assert (
        "est Propreté du Val d'Arrats : si la ligne est la sienne, inscrivez ce nom dans la "
        "colonne « Entreprise » ; sinon, indiquez le SIRET de l'entreprise dans la colonne "
        "« SIRET »." in message
    ), message
    assert declarations(called, clause_id, cleaning.id) == []
