"""The JSON API (``/api/v1/``) over the real application, on SQLite and PostgreSQL.

Bearer tokens: none, unknown or revoked get 401, a read-only one 403 on every write; writes carry
the token's name as their actor; bad input gets a French JSON error and a 4xx. Schemathesis then
throws generated requests at every operation of the OpenAPI schema: no server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import APRIL, CALLED
from workflow.adapters.orm import ClauseHistory, Declaration, DeclarationLadder, OutboxMessage
from workflow.app import api_tokens
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import run_pass


@pytest.fixture
def api(app: App, clock: Clock) -> tuple[App, TestClient, dict[str, str], dict[str, str]]:
    """The sample called for April; a writing token and a read-only one."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    writer, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    reader, _ = api_tokens.create_token(app, name="Tableur du Département", read_only=True)
    return (
        app,
        TestClient(create_site(app)),
        {"Authorization": f"Bearer {writer}"},
        {"Authorization": f"Bearer {reader}"},
    )


API = tuple[App, TestClient, dict[str, str], dict[str, str]]


def test_without_a_valid_token_nothing_is_read(api: API) -> None:
    app, client, writer, _ = api
    for headers in ({}, {"Authorization": "Bearer clauses_inconnu"}, {"Authorization": "Basic x"}):
        response = client.get("/api/v1/clauses", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "erreur": "Jeton absent, inconnu ou révoqué (« clauses token create »)."
        }
    api_tokens.revoke_token(app, name="Logiciel du PLIE")
    assert client.get("/api/v1/clauses", headers=writer).status_code == 401


def test_it_lists_and_shows_clauses_and_a_read_only_token_cannot_write(api: API) -> None:
    app, client, _, reader = api
    clause_id, holder_id, _ = lot_01(app)

    listed = client.get("/api/v1/clauses", headers=reader)
    shown = client.get(f"/api/v1/clauses/{clause_id}", headers=reader)
    refused = client.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=reader, json={"evenement": "suspend"}
    )

    assert listed.status_code == 200 and any(c["numero"] == clause_id for c in listed.json())
    detail = shown.json()
    assert detail["etape"] == "execution" and detail["etape_libelle"] == "mise en œuvre"
    assert holder_id in [party["entreprise_numero"] for party in detail["entreprises"]]
    assert refused.status_code == 403
    assert refused.json()["erreur"] == "Le jeton « Tableur du Département » est en lecture seule."
    assert client.get("/api/v1/clauses/999999", headers=reader).status_code == 404
    first, second = (
        client.get(f"/api/v1/clauses?nombre=1&debut={n}", headers=reader).json() for n in (0, 1)
    )
    assert len(first) == len(second) == 1 and first[0]["numero"] != second[0]["numero"]
    assert first + second == listed.json()[:2]
    too_many = client.get("/api/v1/clauses?nombre=501", headers=reader)
    assert (
        too_many.status_code == 422
        and "« nombre » : trop grand (500 au plus)" in too_many.json()["erreur"]
    )


def test_a_stage_change_is_signed_by_the_token(api: API) -> None:
    app, client, writer, _ = api
    clause_id, _, _ = lot_01(app)

    moved = client.post(
        f"/api/v1/clauses/{clause_id}/avancer",
        headers=writer,
        json={"evenement": "suspend", "motif": "Intempéries"},
    )
    wrong = client.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=writer, json={"evenement": "close"}
    )

    assert moved.status_code == 200 and moved.json()["etape"] == "suspended"
    with app.transaction() as session:
        row = session.scalars(select(ClauseHistory).where(ClauseHistory.event == "suspend")).one()
    assert row.actor == "Logiciel du PLIE" and row.reason == "Intempéries"
    assert wrong.status_code == 422 and "erreur" in wrong.json()


def test_a_month_declared_through_the_api_stops_its_reminders(api: API) -> None:
    app, client, writer, _ = api
    clause_id, holder_id, _ = lot_01(app)
    body = {
        "clause": clause_id,
        "entreprise": holder_id,
        "mois": "2026-04",
        "lignes": [
            {
                "reference": "P-API-1",
                "heures": "151.67",
                "contrat": "cdd",
                "modalite": "direct_hiring",
                "critere": "long_term_jobseeker",
            }
        ],
    }

    made = client.post("/api/v1/declarations", headers=writer, json=body)

    assert made.status_code == 201
    with app.transaction() as session:
        declaration = session.get(Declaration, made.json()["declaration"])
        assert declaration is not None and str(declaration.total_hours) == "151.67"
        assert declaration.recorded_by == "Logiciel du PLIE"
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == holder_id,
                DeclarationLadder.month == APRIL,
            )
        ).one()
        receipts = session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.kind == "declaration_receipt")
        ).all()
    assert ladder.next_step_at is None
    assert any(key.startswith(f"receipt:{declaration.id}:") for key in receipts)
    missing = client.get(
        f"/api/v1/declarations?clause={clause_id}&manquantes=true", headers=writer
    ).json()
    assert all(
        line["entreprise_numero"] != holder_id or line["mois"] != "2026-04" for line in missing
    )


def test_bad_input_gets_a_french_json_error_and_a_4xx(api: API) -> None:
    app, client, writer, _ = api
    clause_id, holder_id, _ = lot_01(app)

    cases = [
        {"clause": clause_id, "entreprise": holder_id, "mois": "2026-13"},
        {
            "clause": clause_id,
            "entreprise": holder_id,
            "mois": "2026-04",
            "lignes": [
                {"reference": "P-1", "heures": 300, "contrat": "cdd", "modalite": "direct_hiring"}
            ],
        },
        {
            "clause": clause_id,
            "entreprise": holder_id,
            "mois": "2026-04",
            "lignes": [
                {"reference": "P-NEW", "heures": 10, "contrat": "cdd", "modalite": "direct_hiring"}
            ],
        },
        {"clause": clause_id, "entreprise": holder_id, "mois": "2026-04"},
        {"clause": 999999, "entreprise": holder_id, "mois": "2026-04", "aucune_heure": True},
        {
            "clause": clause_id,
            "entreprise": holder_id,
            "mois": "2026-04",
            "aucune_heure": True,
            "lignes": [
                {"reference": "P-1", "heures": 10, "contrat": "cdd", "modalite": "direct_hiring"}
            ],
        },
    ]
    for body in cases:
        response = client.post("/api/v1/declarations", headers=writer, json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert set(response.json()) == {"erreur"}
    texts = [
        client.post("/api/v1/declarations", headers=writer, json=b).json()["erreur"] for b in cases
    ]
    assert "« mois » : forme refusée (AAAA-MM attendu, par exemple 2026-10)" in texts[0]
    assert "« lignes.0.heures » : trop grand (250 au plus)" in texts[1]
    # A new person without her criterion is told why it is needed, as the importer says it.
    assert (
        "«\u00a0lignes.0.critere\u00a0» : la personne «\u00a0P-NEW\u00a0» est déclarée pour la "
        "première fois : son critère d'éligibilité est nécessaire pour l'enregistrer ; "
        "choisissez-le dans la liste : "
    ) in texts[2]
    assert "«\u00a0lignes\u00a0» est vide" in texts[3] and "cochez" not in texts[3]
    assert "ensemble ; envoyez l'un ou l'autre" in texts[5]
    with app.transaction() as session:
        assert session.scalars(select(Declaration.id)).all() == []
    broken = client.post(
        "/api/v1/declarations",
        headers={**writer, "Content-Type": "application/json"},
        content=b"{pas du json",
    )
    assert broken.status_code == 422 and "JSON invalide" in broken.json()["erreur"]


def test_tasks_and_outbox_are_listed(api: API) -> None:
    _, client, _, reader = api
    tasks = client.get("/api/v1/taches", headers=reader)
    outbox = client.get("/api/v1/courriels?etat=sent", headers=reader)
    assert tasks.status_code == 200 and isinstance(tasks.json(), list)
    assert outbox.status_code == 200 and all(m["etat"] == "sent" for m in outbox.json())
    assert client.get("/api/v1/courriels?etat=nimporte", headers=reader).status_code == 422


# --- schemathesis ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[object, str]]:
    import shutil

    folder = tmp_path_factory.mktemp("api")
    shutil.copy(sqlite_template, folder / "api.db")
    clock = Clock(CALLED)
    app = bootstrap(make_settings(folder, f"sqlite:///{folder / 'api.db'}"), clock=clock)
    start_sample(app)
    run_pass(app, CALLED)
    token, _ = api_tokens.create_token(app, name="schemathesis", read_only=False)
    yield create_site(app), token
    app.close()


@pytest.mark.slow
def test_no_generated_request_makes_a_server_error(fuzzed: tuple[object, str]) -> None:
    """Every operation of the schema, 30 generated requests each (valid and not): no 5xx."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed[0])
    headers = {"Authorization": f"Bearer {fuzzed[1]}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10  # with POST /clauses/{numero}/depart-entreprise
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()


def test_a_validated_month_is_not_changed_and_a_repeated_post_records_once(api: API) -> None:
    from workflow.app.declarations import validate_declaration

    app, client, writer, _ = api
    clause_id, holder_id, _ = lot_01(app)
    body = {
        "clause": clause_id,
        "entreprise": holder_id,
        "mois": "2026-04",
        "lignes": [
            {"reference": "P-API-1", "heures": "30,5", "contrat": "cdd",
             "modalite": "direct_hiring", "critere": "long_term_jobseeker"},
        ],
    }  # fmt: skip

    first = client.post("/api/v1/declarations", headers=writer, json=body)
    body["lignes"][0].pop("critere")  # type: ignore[attr-defined]
    again = client.post("/api/v1/declarations", headers=writer, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    with app.transaction() as session:
        receipts = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == "declaration_receipt")
        ).all()
    assert len(receipts) == 1

    validate_declaration(app, clause=clause_id, company=holder_id, month=APRIL)
    body["lignes"][0]["heures"] = "12"  # type: ignore[index]
    refused = client.post("/api/v1/declarations", headers=writer, json=body)
    assert (
        refused.status_code == 422
        and "a été validée par Camille Martin" in refused.json()["erreur"]
    )


def test_the_api_speaks_french_about_methods_json_and_booleans(api: API) -> None:
    _, client, writer, _ = api
    wrong_method = client.delete("/api/v1/clauses", headers=writer)
    broken = client.post(
        "/api/v1/declarations",
        headers={**writer, "Content-Type": "application/json"},
        content=b'{"clause": 1,',
    )
    boolean = client.get("/api/v1/declarations?manquantes=vrai", headers=writer)

    assert wrong_method.status_code == 405
    assert wrong_method.json()["erreur"].startswith("Méthode non permise à cette adresse")
    assert broken.json()["erreur"] == "Requête refusée : corps de la requête : JSON invalide."
    assert boolean.json()["erreur"] == "Requête refusée : « manquantes » : true ou false attendu."
