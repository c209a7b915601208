"""The JSON API says a contract, a delivery mode or a criterion refused in the words of the web
form and of a file's import (``domain.choices``), on SQLite and PostgreSQL: « cddi » sent as a
delivery mode is named as a contract, with the modes that fit; a French label is taken as the
web form's code is. Needs /tmp/h4-api.py.patch (``LineIn`` reads its choices as strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration import test_declarations
from tests.integration.test_declaration_words import MIX_UPS, references
from tests.integration.test_declarations import (
    declarations,
    ids,
)
from workflow.adapters.orm import DeclarationLine
from workflow.app import api_tokens
from workflow.bootstrap import App
from workflow.domain.choices import CONTRACTS, choice_problem
from workflow.entrypoints.web.site import create_site

#: The territory in execution (November 2026).
started = test_declarations.started
JSON_FIELDS = {
    "modalité": "modalite",
    "type de contrat": "contrat",
    "critère d'éligibilité": "critere",
}


def post(app: App, client: TestClient, token: str, **line: Any) -> Any:
    clause_id, company_id = ids(app)
    sent = {"reference": "P-0900", "heures": 35, "contrat": "cddi", "modalite": "subcontracting"}
    sent |= {"critere": "iae"} | line
    return client.post(
        "/api/v1/declarations",
        headers={"Authorization": f"Bearer {token}"},
        json={"clause": clause_id, "entreprise": company_id, "mois": "2026-10", "lignes": [sent]},
    )


def test_the_api_says_a_choice_refused_as_the_form_and_the_file_do(started: App) -> None:
    token, _ = api_tokens.create_token(started, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(started))
    before = references(started)
    for _, field, typed, said in MIX_UPS:
        key = JSON_FIELDS[field]
        response = post(started, client, token, **{key: typed})
        assert response.status_code == 422, response.text
        assert response.json() == {
            "erreur": f"Déclaration refusée : «\u00a0lignes.0.{key}\u00a0» : {said}"
        }
    unknown = post(started, client, token, contrat="stage")
    assert unknown.json() == {
        "erreur": "Déclaration refusée : «\u00a0lignes.0.contrat\u00a0» : "
        + choice_problem(CONTRACTS, "stage")
    }
    assert declarations(started) == [] and references(started) == before


def test_the_api_takes_a_french_label_as_the_code(started: App) -> None:
    token, _ = api_tokens.create_token(started, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(started))
    response = post(started, client, token, contrat="CDDI", modalite="Mise à disposition (AI)")
    assert response.status_code == 201, response.text
    with started.transaction() as session:
        line = session.scalars(select(DeclarationLine)).one()
        assert (line.contract_type, line.delivery_mode) == ("cddi", "provision_ai")
    assert declarations(started) == [(Decimal("35"), 1)]
