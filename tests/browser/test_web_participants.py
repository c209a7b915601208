"""The facilitator records, in a real Chromium, the outcome a phone call told her: from the
participant's page she follows « Enregistrer une sortie » to the lot's participants, is refused
a date in the future, then records a CDI; every page passes axe-core and is photographed at 1280
and 390 px."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import site  # noqa: F401
from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_online_declaration import TWO_PEOPLE, call_link, form
from workflow.adapters.orm import ClauseHistory, Outcome, Participant
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow


look_at = looker("participants")


def test_the_facilitator_records_an_outcome_from_the_lots_page(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    clause_id, holder_id, _ = lot_01(app)
    # April declared, so that the lot has its participants.
    TestClient(create_site(app)).post(
        call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer")
    )
    with app.transaction() as session:
        number = session.scalars(
            select(Participant.id).where(Participant.reference == "P-WEB-1")
        ).one()

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections/participants/{number}")
        before = page.locator("#sorties").locator("xpath=..").inner_text()
        page.get_by_role("link", name="Enregistrer une sortie", exact=False).first.click()
        problems += look_at(page, "lot", screenshots)
        chosen = page.get_by_label("Participant", exact=True).input_value()
        page.get_by_label("Type de sortie").select_option(label="CDI")
        page.get_by_label("Date de sortie").fill("2026-06-01")
        page.get_by_role("button", name="Enregistrer la sortie").click()
        refused = page.locator("main").inner_text()
        problems += look_at(page, "sortie-refusee", screenshots)
        page.get_by_label("Date de sortie").fill("2026-04-20")
        page.get_by_role("button", name="Enregistrer la sortie").click()
        recorded = page.locator("main").inner_text()
        problems += look_at(page, "sortie-enregistree", screenshots)
        page.get_by_role("link", name="P-WEB-1").click()
        fiche = page.locator("main").inner_text()
        problems += look_at(page, "fiche", screenshots)
        return {
            "problems": problems,
            "before": before,
            "chosen": chosen,
            "refused": refused,
            "recorded": recorded,
            "fiche": fiche,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "Aucune sortie enregistrée pour l'instant." in seen["before"]
    assert seen["chosen"] == "P-WEB-1"
    assert "Sortie refusée" in seen["refused"] and "dans le futur" in seen["refused"]
    assert "Rien n'a été enregistré." in seen["refused"]
    with app.transaction() as session:
        [outcome] = session.scalars(select(Outcome)).all()
    # Outcomes are dated events with a number: the page names the one it recorded.
    assert (
        f"Sortie n°\u00a0{outcome.id} de P-WEB-1 enregistrée\u00a0: CDI (emploi durable) le "
        "20/04/2026." in seen["recorded"]
    )
    assert "CDI (emploi durable) le 20/04/2026" in seen["fiche"]
    assert f"clause n°\u00a0{clause_id}" in seen["fiche"]
    with app.transaction() as session:
        [outcome] = session.scalars(select(Outcome)).all()
        assert (outcome.type, outcome.date, outcome.clause_id) == (
            "cdi",
            date(2026, 4, 20),
            clause_id,
        )
        row = session.scalars(select(ClauseHistory).where(ClauseHistory.event == "outcome")).one()
        assert row.actor == "Léa Roux"
