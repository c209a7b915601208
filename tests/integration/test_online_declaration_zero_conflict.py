"""What a company reads on its declaration page when what it sends says two things at once.

User trial: hours typed with « Aucune heure ce mois-ci » ticked went to a confirmation page
saying only « Aucune heure ce mois-ci », the typed row dropped without a word; now the form is
refused, the conflict and its lines named, nothing recorded, the typed values kept. The file
check counted a person declared at 0 h among « 4 personnes »; it now says who worked in the
import's words (« 3 participants ayant travaillé (1 autre déclaré à 0 h) »).

Over the real ASGI application and the real App, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

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
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

ONE_TYPED = {
    "reference": ["P-WEB-1"],
    "hours": ["151,666"],
    "contract": ["cdd"],
    "mode": ["direct_hiring"],
    "criterion": ["long_term_jobseeker"],
}


@pytest.fixture
def called(app: App, clock: Clock) -> App:
    return called_territory(app, clock)


@pytest.mark.parametrize("action", ["verifier", "confirmer"])
def test_hours_typed_with_the_no_hours_box_ticked_are_refused_not_dropped(
    called: App, action: str
) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))

    refused = client.post(path, data=form(ONE_TYPED, action, zero=True), follow_redirects=False)

    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        "Vous avez coché « Aucune heure ce mois-ci » et saisi des heures "
        "(ligne 1 (P-WEB-1) : 151,666 h) : décochez la case ou effacez les heures."
    ) in text
    assert "Rien n'a été enregistré." in text
    assert "Vérifiez votre déclaration" not in text  # no confirmation page
    # What was typed comes back as typed, the box still ticked: one click to fix either.
    assert 'name="hours" value="151,666"' in refused.text
    assert 'value="P-WEB-1"' in refused.text
    assert 'name="zero" value="1" checked' in refused.text
    assert declarations(called, clause_id, holder_id) == []
    assert outbox_count(called, "declaration_receipt") == 0


def test_hours_changed_on_a_correction_with_the_box_ticked_are_refused(called: App) -> None:
    """The correction form shows the month's hours back: left as they are, ticking the box
    corrects the month to zero (README); one changed is typed, and refused with its line."""
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    changed = {**TWO_PEOPLE, "hours": ["151,67", "40"], "criterion": ["", ""]}

    refused = client.post(path, data=form(changed, "confirmer", zero=True))

    assert refused.status_code == 422
    assert (
        "Vous avez coché « Aucune heure ce mois-ci » et saisi des heures "
        "(ligne 2 (P-WEB-2) : 40 h) : décochez la case ou effacez les heures."
    ) in visible(refused.text)
    [april] = declarations(called, clause_id, holder_id)
    assert april.total_hours == Decimal("186.67")  # the month as recorded before
    assert outbox_count(called, "declaration_receipt") == 1


def test_a_person_at_0_h_or_hours_left_blank_are_no_conflict_with_the_box(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    blank = {**ONE_TYPED, "hours": ["0"]}

    checked = client.post(path, data=form(blank, "verifier", zero=True))

    assert checked.status_code == 200, visible(checked.text)
    assert "Aucune heure ce mois-ci : personne n'a travaillé sur le lot." in visible(checked.text)


def test_the_file_check_counts_who_worked_and_those_at_0_h_apart(called: App) -> None:
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))
    workbook = call_workbook(called, clause_id, holder_id)
    sheet = workbook.worksheets[0]
    # The template's cells given on its first rows (month, SIRET…), copied to each row filled.
    given = {cell.value: sheet.cell(row=2, column=i + 1).value for i, cell in enumerate(sheet[1])}
    for row, (reference, hours) in enumerate(
        [("P-0201", 120.5), ("P-0202", 35), ("P-0203", 20), ("P-0204", 0)], start=2
    ):
        data = fill(
            workbook,
            row,
            {
                **{title: value for title, value in given.items() if value is not None},
                "Référence participant": reference,
                "Critère d'éligibilité": "Demandeur d'emploi de longue durée",
                "Type de contrat": "CDD",
                "Modalité de réalisation": "Embauche directe",
                "Heures": hours,
            },
        )

    shown = client.post(f"{path}/fichier", files={"fichier": ("avril.xlsx", data, XLSX)})

    assert shown.status_code == 200, visible(shown.text)
    text = visible(shown.text)
    assert (
        "3 participants ayant travaillé (1 autre déclaré à 0\u00a0h), 175,50\u00a0h au total"
    ) in text
    assert "4 personnes" not in text
    assert declarations(called, clause_id, holder_id) == []  # a check writes nothing
