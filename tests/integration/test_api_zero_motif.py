"""``POST /api/v1/declarations`` with ``aucune_heure: true`` over a month recorded with hours is a
correction, as ``clauses declaration zero --replace`` is: refused without its ``motif`` (a French
4xx naming the field, nothing changed), kept in the history row with it, as the command line's
``--reason`` is. A month not yet declared needs none; a month validated stays refused.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import APRIL, CALLED
from workflow.adapters.orm import ClauseHistory, Declaration, OutboxMessage
from workflow.app import api_tokens, declarations
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.services.audit import verify
from workflow.services.ticks import run_pass

NBSP = "\u00a0"
MOTIF = "Erreur de saisie : personne en insertion sur le chantier en avril"


@pytest.fixture
def client(app: App, clock: Clock) -> tuple[App, TestClient, dict[str, str]]:
    """The sample called for April, and a writing token."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    writer, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    return app, TestClient(create_site(app)), {"Authorization": f"Bearer {writer}"}


Client = tuple[App, TestClient, dict[str, str]]


def _state(app: App, clause_id: int, company_id: int) -> tuple[object, ...]:
    """The month as recorded, its history rows and its receipts: what a refusal must not touch."""
    with app.transaction() as session:
        declaration = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == clause_id,
                Declaration.company_id == company_id,
                Declaration.month == APRIL,
            )
        ).one_or_none()
        return (
            None if declaration is None else (declaration.total_hours, declaration.recorded_at),
            session.scalars(select(ClauseHistory.id).order_by(ClauseHistory.id)).all(),
            session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all(),
        )


def _declare_hours(client: TestClient, writer: dict[str, str], clause: int, company: int) -> None:
    made = client.post(
        "/api/v1/declarations",
        headers=writer,
        json={
            "clause": clause,
            "entreprise": company,
            "mois": "2026-04",
            "lignes": [
                {"reference": "P-API-1", "heures": "151.67", "contrat": "cdd",
                 "modalite": "direct_hiring", "critere": "long_term_jobseeker"},
            ],
        },
    )  # fmt: skip
    assert made.status_code == 201, made.text


def _history(app: App) -> ClauseHistory:
    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.event == "declaration")
            .order_by(ClauseHistory.id.desc())
        ).first()
        assert row is not None
        session.expunge(row)
        return row


def test_a_month_with_hours_is_corrected_to_zero_only_with_its_motif(
    client: Client, clock: Clock
) -> None:
    app, web, writer = client
    clause_id, holder_id, _ = lot_01(app)
    _declare_hours(web, writer, clause_id, holder_id)
    zero = {"clause": clause_id, "entreprise": holder_id, "mois": "2026-04", "aucune_heure": True}
    before = _state(app, clause_id, holder_id)

    for body in (zero, {**zero, "motif": "   "}, {**zero, "motif": None}):
        refused = web.post("/api/v1/declarations", headers=writer, json=body)
        assert refused.status_code == 422, refused.text
        assert set(refused.json()) == {"erreur"}
        said = refused.json()["erreur"]
        assert said.startswith("Correction de la déclaration d'avril 2026 de ")
        assert f"indiquez le motif («{NBSP}motif{NBSP}»)" in said
        assert "elle compte 151,67" in said
        assert _state(app, clause_id, holder_id) == before

    clock.set(CALLED + timedelta(hours=2))  # the correction comes later than the month
    made = web.post("/api/v1/declarations", headers=writer, json={**zero, "motif": MOTIF})

    assert made.status_code == 201, made.text
    with app.transaction() as session:
        declaration = session.get_one(Declaration, made.json()["declaration"])
        assert declaration.total_hours == Decimal(0) and declaration.lines == []
        assert declaration.recorded_by == "Logiciel du PLIE" and declaration.source == "API"
    row = _history(app)
    assert row.actor == "Logiciel du PLIE"
    assert row.reason is not None and row.reason.endswith(f", motif : {MOTIF})")
    assert "(remplace 151,67" in row.reason
    # The audit reads the motif back from the row, as it does the command line's.
    assert verify(app).findings == ()


def test_the_motif_reaches_history_as_the_command_lines_does(client: Client) -> None:
    app, web, writer = client
    clause_id, holder_id, partner_id = lot_01(app)
    _declare_hours(web, writer, clause_id, holder_id)
    _declare_hours(web, writer, clause_id, partner_id)

    web.post(
        "/api/v1/declarations",
        headers=writer,
        json={"clause": clause_id, "entreprise": holder_id, "mois": "2026-04",
              "aucune_heure": True, "motif": f"  {MOTIF}\n(vu au téléphone)  "},
    )  # fmt: skip
    by_api = _history(app).reason
    declarations.declare_zero(
        app, clause=clause_id, company=partner_id, month=APRIL, replace=True,
        actor="Camille Martin", reason=f"  {MOTIF}\n(vu au téléphone)  ",
    )  # fmt: skip
    by_command = _history(app).reason

    assert by_api is not None and by_command is not None
    motif = f"motif : {MOTIF} [vu au téléphone])"
    assert by_api.endswith(motif) and by_command.endswith(motif)
    assert by_api.split(" de ", 2)[0] == by_command.split(" de ", 2)[0]


def test_a_month_not_declared_needs_no_motif_and_lines_take_none(client: Client) -> None:
    app, web, writer = client
    clause_id, holder_id, _ = lot_01(app)
    zero = {"clause": clause_id, "entreprise": holder_id, "mois": "2026-04", "aucune_heure": True}

    with_lines = web.post(
        "/api/v1/declarations",
        headers=writer,
        json={"clause": clause_id, "entreprise": holder_id, "mois": "2026-04", "motif": MOTIF,
              "lignes": [{"reference": "P-API-1", "heures": "10", "contrat": "cdd",
                          "modalite": "direct_hiring", "critere": "long_term_jobseeker"}]},
    )  # fmt: skip
    assert with_lines.status_code == 422
    assert with_lines.json()["erreur"].startswith(
        f"Déclaration refusée : «{NBSP}motif{NBSP}» ne va qu'avec «{NBSP}aucune_heure{NBSP}» : true"
    )
    assert _state(app, clause_id, holder_id)[0] is None

    made = web.post("/api/v1/declarations", headers=writer, json=zero)
    again = web.post("/api/v1/declarations", headers=writer, json=zero)

    assert made.status_code == again.status_code == 201
    assert made.json()["declaration"] == again.json()["declaration"]
    reason = _history(app).reason
    assert reason is not None and "remplace" not in reason and "motif" not in reason


def test_a_validated_month_is_not_corrected_to_zero(client: Client) -> None:
    app, web, writer = client
    clause_id, holder_id, _ = lot_01(app)
    _declare_hours(web, writer, clause_id, holder_id)
    declarations.validate_declaration(app, clause=clause_id, company=holder_id, month=APRIL)
    before = _state(app, clause_id, holder_id)

    refused = web.post(
        "/api/v1/declarations",
        headers=writer,
        json={"clause": clause_id, "entreprise": holder_id, "mois": "2026-04",
              "aucune_heure": True, "motif": MOTIF},
    )  # fmt: skip

    assert refused.status_code == 422
    assert "a été validée par" in refused.json()["erreur"]
    assert _state(app, clause_id, holder_id) == before


def test_the_schema_describes_the_motif_in_french(client: Client) -> None:
    _, web, _ = client
    schema = web.get("/api/v1/openapi.json").json()
    fields = schema["components"]["schemas"]["DeclarationIn"]["properties"]
    assert "motif" in fields
    assert fields["motif"]["description"].startswith(
        "Le motif d'une correction à zéro heure, gardé à l'historique"
    )
    assert f"obligatoire avec «{NBSP}aucune_heure{NBSP}» : true" in fields["motif"]["description"]
    assert "donnez son" in fields["aucune_heure"]["description"]
