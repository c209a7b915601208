"""The web form's help says what a blank hours field does there, and the file's rule beside it.

User trial: the form said « Laissez les heures vides pour une personne qui n'a pas travaillé »
while the call's « Comment déclarer » asks, for the template, 0 or the line deleted, and a
template line with blank hours is refused. Both rules are true where they apply: on the form a
known person's blank hours leave the person out of the month; in the file they are refused (0 or
no line). The page now says which is which, and the form does what it says.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import (
    TWO_PEOPLE,
    call_link,
    called_territory,
    declarations,
    form,
)
from tests.text import visible
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site


def test_the_form_says_blank_hours_are_for_this_page_and_0_or_no_line_for_the_file(
    app: App, clock: Clock
) -> None:
    called = called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))

    page = visible(client.get(path).text).replace("\u00a0", " ")

    assert (
        "Sur cette page, laissez vides les heures d'une personne qui n'a pas travaillé sur le "
        "lot ce mois-ci : elle n'est pas déclarée (dans le modèle envoyé en fichier, indiquez "
        "plutôt 0 ou supprimez sa ligne)." in page
    ), page
    assert (
        "Une personne déjà inscrite dans le modèle qui n'a pas travaillé sur le lot ce mois-ci : "
        "indiquez 0 dans « Heures », ou supprimez sa ligne." in page
    ), page
    assert "Laissez les heures vides pour une personne" not in page

    # What the page says is what the form does: a person the form lists (declared before) whose
    # hours are left blank is not declared for the month.
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    client.post(path, data=form({**TWO_PEOPLE, "hours": ["151,67", ""]}, "confirmer"))
    [april] = declarations(called, clause_id, holder_id)
    assert [(line.participant.reference, line.hours) for line in april.lines] == [
        ("P-WEB-1", Decimal("151.67"))
    ]
