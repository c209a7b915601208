"""« Résilier le marché » on a lot's web page and through the API (SQLite and PostgreSQL).

The page's « Étape suivante » offers the termination beside the next stage, with its date and
reason, both required; done, the page says « Marché résilié le … (motif) ». The API's advance
endpoint takes « résilier » with `date_fin` and `motif`. Before: neither knew a termination.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_web_refusal_words import writer
from tests.text import squash, visible
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.bootstrap import App

NBSP = "\u00a0"
REASON = "Défaillance du titulaire"


def test_the_lot_page_terminates_the_contract_with_its_date_and_reason(
    app: App, clock: Clock
) -> None:
    site: TestClient = dashboard_site(app, clock)
    csrf = sign_in(site)
    clause_id, _, _ = lot_01(app)
    page = visible(site.get(f"/clauses/{clause_id}").text)
    assert "Résilier le marché" in page
    assert "Résilier la clause" not in page  # not among the side events

    # Without a reason: refused on the page, nothing done.
    refused = site.post(
        f"/clauses/{clause_id}/resilier",
        data={"csrf": csrf, "etape": "execution", "date_resiliation": "2026-05-04"},
    )
    assert refused.status_code == 422
    assert f"Motif de la résiliation{NBSP}: indiquez-le" in visible(refused.text)
    with app.transaction() as session:
        assert session.get_one(Clause, clause_id).stage == "execution"

    done = site.post(
        f"/clauses/{clause_id}/resilier",
        data={"csrf": csrf, "etape": "execution", "date_resiliation": "2026-05-04",
              "motif_resiliation": REASON},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, visible(done.text)
    page = squash(visible(site.get(done.headers["location"]).text))
    assert f"Marché résilié le 04/05/2026 ({REASON})" in page, page
    assert "la clause passe à l'étape" in page
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        assert clause.stage == "follow_up" and str(clause.end_date) == "2026-05-04"
        kinds = session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.clause_id == clause_id)
        ).all()
    assert "company_lot_terminated" in kinds


def test_the_api_terminates_with_date_fin_and_motif(app: App, clock: Clock) -> None:
    site: TestClient = dashboard_site(app, clock)
    clause_id, _, _ = lot_01(app)
    headers = writer(app)
    missing = site.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=headers,
        json={"evenement": "résilier", "date_fin": "2026-05-04"},
    )  # fmt: skip
    assert missing.status_code == 422
    assert "indiquez le motif de la résiliation" in missing.json()["erreur"]
    moved = site.post(
        f"/api/v1/clauses/{clause_id}/avancer", headers=headers,
        json={"evenement": "resilier", "date_fin": "2026-05-04", "motif": REASON},
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["etape"] == "follow_up"
