"""A person typed on a company's page for the first time without her criterion is told why it is
needed, as the importer says it of a file. On SQLite and PostgreSQL."""

from __future__ import annotations

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


def test_a_new_person_without_her_criterion_is_told_why_it_is_needed(
    app: App, clock: Clock
) -> None:
    called = called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(called)
    path = call_link(called, clause_id, holder_id)
    client = TestClient(create_site(called))

    refused = client.post(
        path, data=form({**TWO_PEOPLE, "criterion": ["long_term_jobseeker", ""]}, "verifier")
    )

    assert refused.status_code == 422
    text = visible(refused.text)
    assert (
        "ligne 2, critère d'éligibilité : la personne «\u00a0P-WEB-2\u00a0» est déclarée pour la "
        "première fois : son critère d'éligibilité est nécessaire pour l'enregistrer ; "
        "choisissez-le dans la liste : «\u00a0Demandeur d'emploi de longue durée\u00a0» ;"
    ) in text, text
    assert declarations(called, clause_id, holder_id) == []
