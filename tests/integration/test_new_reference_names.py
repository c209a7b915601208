"""A person's name typed as the reference of a participant recorded by hand (« clauses
participant add », the form « Ajouter un participant » of a lot's participants page) is refused
in the words the declaration import, the company's web page and the API use
(``domain.participants.name_problem``, asked by ``services.participants.new_reference_problem``),
on SQLite and PostgreSQL. Before, « Jean Dupont » was recorded. Nothing is written; a person
recorded under a name before the rule is still completed under it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_corrections import dump
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declaration_words import NAMED
from tests.integration.test_web_corrections import sign_in, value_of
from tests.integration.test_web_corrections_people import site
from tests.integration.test_web_participants import plain
from workflow.adapters.orm import Participant
from workflow.app import participants
from workflow.bootstrap import App
from workflow.domain.vocabulary import Criterion, Sex
from workflow.errors import InputRefused

__all__ = ["site"]  # the fixture, imported to be used here


@pytest.mark.parametrize("name", ["Jean Dupont", "DUPONT, Marie", "Marie-Claire de la Tour"])
def test_a_name_is_refused_on_the_lots_page_and_by_the_command_in_the_same_words(
    app: App, site: TestClient, name: str
) -> None:
    csrf = sign_in(site)
    clause_id = lot_01(app)[0]
    before = dump(app)

    refused = site.post(
        f"/clauses/{clause_id}/participants/ajout",
        data={"csrf": csrf, "reference": name, "criterion": "minimum_income"},
    )
    with pytest.raises(InputRefused) as command:
        participants.add_participant(app, name, criterion=Criterion.MINIMUM_INCOME)

    said = NAMED.format(name).replace("\u00a0", " ")  # the page's words, read as ``plain``
    assert refused.status_code == 422
    text = plain(refused.text)
    assert said in text, text
    assert "Participant refusé" in text and "Rien n'a été enregistré." in text
    assert value_of(refused.text, "reference") == name  # kept, to be corrected
    assert command.value.said.replace("\u00a0", " ") == said
    assert dump(app) == before


def test_a_reference_is_still_a_reference(app: App, site: TestClient) -> None:
    """Codes with a digit, one word, a single letter: recorded as before."""
    for reference in ("P-0900", "PRV-12", "Salarié Z", "DURAND"):
        added = participants.add_participant(app, reference, criterion=Criterion.MINIMUM_INCOME)
        assert added.reference == reference


def test_a_person_recorded_under_a_name_before_the_rule_is_still_completed(
    app: App, site: TestClient
) -> None:
    with app.transaction() as session:
        session.add(
            Participant(
                reference="Jean Dupont",
                criterion="minimum_income",
                created_at=datetime(2026, 3, 20, tzinfo=UTC),
            )
        )

    change = participants.update_participant(app, "Jean Dupont", sex=Sex.MALE)

    assert change.changed and change.sex == "M"
