"""What a company meets when it sends its filled template from its page, or corrects a month from
its receipt: the file's sex and birth year kept, problems named by the file's row, a person
typed in another case recognised, a PDF or an empty template named for what it is.

Over the real ASGI application and the real App, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import (
    TWO_PEOPLE,
    XLSX,
    call_link,
    call_workbook,
    called_territory,
    declarations,
    fill,
    form,
    outbox_count,
)
from tests.text import squash, visible
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.orm import OutboxMessage, Participant
from workflow.app.mail import retry_message
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.errors import InputRefused
from workflow.services.outbox import OutboxState
from workflow.services.ticks import run_pass


@pytest.fixture
def called(app: App, clock: Clock) -> App:
    return called_territory(app, clock)


NEW_PERSON = {
    "Référence participant": "P-0300",
    "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
    "Type de contrat": "CDD",
    "Modalité de réalisation": "Embauche directe",
    "Heures": 70,
    "Sexe": "F",
    "Année de naissance": 1987,
}


def hidden_lines(html: str) -> dict[str, list[str]]:
    """The lines the confirmation page posts back, field by field."""
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html):
        if name != "csrf":
            found.setdefault(name, []).append(value)
    return found


def test_the_sex_and_birth_year_of_a_filled_template_reach_the_new_person(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = fill(call_workbook(called, clause_id, holder_id), 2, NEW_PERSON)

    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})
    assert shown.status_code == 200, visible(shown.text)
    assert "femme, née en 1987" in visible(shown.text)
    client.post(path, data={**hidden_lines(shown.text), "action": "confirmer"})

    [april] = declarations(called, clause_id, holder_id)
    assert [line.participant.reference for line in april.lines] == ["P-0300"]
    with called.transaction() as session:
        person = session.scalars(select(Participant).where(Participant.reference == "P-0300")).one()
        assert (person.sex, person.birth_year) == ("F", 1987)


def test_a_problem_found_at_confirmation_is_named_by_the_row_of_the_file(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    data = fill(call_workbook(called, clause_id, holder_id), 2, NEW_PERSON)
    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})
    posted = hidden_lines(shown.text)
    assert posted["origin"] == ["avril.xlsx, ligne 2"]

    # Between the check and the confirmation, the line became wrong (a page kept open, edited).
    refused = client.post(path, data={**posted, "hours": ["300"], "action": "confirmer"})

    assert refused.status_code == 422
    assert "avril.xlsx, ligne 2, heures" in visible(refused.text)
    assert declarations(called, clause_id, holder_id) == []


def test_a_known_person_typed_in_another_case_is_that_person(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    with called.transaction() as session:
        people = session.scalar(select(func.count()).select_from(Participant))

    again = {**TWO_PEOPLE, "reference": ["p-web-1", " P-WEB-2 "], "criterion": ["", ""]}
    checked = client.post(path, data=form(again, "verifier"))
    assert checked.status_code == 200, visible(checked.text)
    assert "déjà connue" in visible(checked.text)
    client.post(path, data=form(again, "confirmer"))

    [april] = declarations(called, clause_id, holder_id)
    assert sorted(line.participant.reference for line in april.lines) == ["P-WEB-1", "P-WEB-2"]
    with called.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == people


def test_a_pdf_or_an_empty_template_is_named_for_what_it_is(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    receipts = outbox_count(called, "declaration_receipt")

    pdf = client.post(
        f"{path}/fichier",
        files={"fichier": ("avril.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "application/pdf")},
    )
    assert pdf.status_code == 422
    text = visible(pdf.text)
    assert "avril.pdf, ce fichier est un PDF, pas un tableur" in text
    assert "colonne manquante" not in text

    empty = client.post(
        f"{path}/fichier",
        files={
            "fichier": (
                "avril.xlsx",
                fill(call_workbook(called, clause_id, holder_id), 2, {}),
                XLSX,
            )
        },
    )
    assert empty.status_code == 422
    text = visible(empty.text)
    assert "le modèle n'est pas rempli" in text and "aucune heure ce mois-ci" in text
    assert "clauses declaration" not in text  # no command line on a company's page

    text_file = client.post(
        f"{path}/fichier", files={"fichier": ("notes.txt", b"not a spreadsheet\n", "text/plain")}
    )
    assert text_file.status_code == 422
    text = visible(text_file.text)
    assert "ce fichier n'est pas le modèle de déclaration" in text
    assert "colonne manquante" not in text

    # The template with one column misspelt: that column named, not « aucune de ses colonnes »
    # (user trial, 7 December 2026).
    header = [c.label for c in DECLARATION_COLUMNS]
    misspelt = ";".join("Heure" if label == "Heures" else label for label in header)
    one_off = client.post(
        f"{path}/fichier",
        files={
            "fichier": (
                "avril.csv",
                f"{misspelt}\n{';' * (len(header) - 1)}\n".encode(),
                "text/csv",
            )
        },
    )
    assert one_off.status_code == 422
    text = " ".join(visible(one_off.text).replace("\u00a0", " ").split())
    assert "avril.csv, ligne 1, colonne « Heures » : colonne manquante. Colonnes trouvées :" in text
    assert "« Heure »" in text and "n'est pas le modèle" not in text, text

    stranger = client.post(
        f"{path}/fichier",
        files={
            "fichier": (
                "avril.xlsx",
                fill(
                    call_workbook(called, clause_id, holder_id),
                    2,
                    {**NEW_PERSON, "SIRET": "55210055400013"},
                ),
                XLSX,
            )
        },
    )
    assert stranger.status_code == 422
    text = visible(stranger.text)
    assert "ce SIRET n'est pas celui de votre entreprise" in text
    assert "ajoutez-la" not in text

    assert declarations(called, clause_id, holder_id) == []
    assert outbox_count(called, "declaration_receipt") == receipts


def test_the_receipt_leads_back_to_the_month_to_correct_it(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    [april] = declarations(called, clause_id, holder_id)
    with called.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.startswith(f"receipt:{april.id}:")
            )
        ).one()

    assert "Corrigez-la sur la page de ce mois" in squash(receipt)
    [link] = re.findall(r"https?://\S+/declarer/\S+", receipt)
    page = visible(client.get(urlparse(link).path).text)
    assert "Déjà enregistré pour avril 2026" in page and "186,67\u00a0h au total" in page
    assert "Corriger la déclaration" in page


def test_a_correction_at_the_same_instant_gets_its_own_receipt_with_its_figures(
    called: App,
) -> None:
    """A stopped clock (``clauses web --now``) or a fast client: two recordings, one instant."""
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    client.post(path, data=form({**TWO_PEOPLE, "hours": ["140", ""]}, "confirmer"))

    [april] = declarations(called, clause_id, holder_id)
    with called.transaction() as session:
        bodies = session.scalars(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.key.startswith(f"receipt:{april.id}:"))
            .order_by(OutboxMessage.id)
        ).all()
    assert len(bodies) == 2
    assert "186,67\u00a0h" in squash(bodies[0]) and "140\u00a0h" in squash(bodies[1])


def test_a_reminder_that_did_not_leave_is_withdrawn_once_the_month_is_declared(
    called: App,
) -> None:
    """A refused April call of lot 01 waits in the log; the company then declares April: the
    call, which says the month is expected, must not go out on « Renvoyer »."""
    clause_id, holder_id, _ = lot_01(called)
    with called.transaction() as session:
        call = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{holder_id}:2026-04")
            )
        ).one()
        call.state, call.last_error = OutboxState.FAILED, "Refus définitif : 550 boîte pleine"
        call_id = call.id
    client = TestClient(create_site(called))
    client.post(call_link(called, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer"))

    with called.transaction() as session:
        withdrawn = session.get(OutboxMessage, call_id)
        assert withdrawn is not None and withdrawn.state == OutboxState.CANCELLED
        assert "le mois a été déclaré le 4 mai 2026" in (withdrawn.last_error or "")
    with pytest.raises(InputRefused):
        retry_message(called, call_id)


def test_the_receipt_leads_to_each_month_still_owed(called: App, clock: Clock) -> None:
    """A company that declares April late, once May is open, can declare May from the receipt
    (and a month owed for long from there too: older calls' links may have expired)."""
    clause_id, holder_id, _ = lot_01(called)
    moment = datetime(2026, 6, 2, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    clock.set(moment)
    run_pass(called, moment)
    client = TestClient(create_site(called))
    client.post(call_link(called, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer"))
    [april] = declarations(called, clause_id, holder_id)
    with called.transaction() as session:
        receipt = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.startswith(f"receipt:{april.id}:")
            )
        ).one()

    owed = re.search(r"- mai 2026 : [^\n]*en ligne :\s+(https?://\S+/declarer/\S+)", receipt)
    assert owed is not None, receipt
    page = visible(client.get(urlparse(owed.group(1)).path).text)
    assert "Heures d'insertion de mai 2026" in page and "Déclarer" in page
