"""The facilitator finds a company, corrects its city and reads what changed, in a real Chromium;
every correction page she passes (the search, the form, a merge's confirmation, a lot with its
declarations, the cancel form) passes axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

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
from workflow.adapters.orm import Company, RecordHistory
from workflow.app import catalog, web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow


look_at = looker("corrections")


def test_the_facilitator_finds_a_company_and_corrects_its_city(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    clause_id, holder_id, _ = lot_01(app)
    duplicate = catalog.add_company(app, "Batiments Gascons", city="Auch").id

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")
        page.get_by_role("link", name="Corrections").first.click()
        page.get_by_label("Rechercher une fiche").fill("gascons")
        page.get_by_role("button", name="Rechercher").click()
        problems += look_at(page, "recherche", screenshots)
        page.get_by_role("link", name="Bâtiments Gascons SARL (SIRET 41234567800012)").click()
        page.get_by_label("Ville", exact=True).fill("Condom")
        page.get_by_label("Motif").fill("Siège déménagé")
        page.get_by_role("button", name="Enregistrer la correction").click()
        done = page.locator("main").inner_text()
        problems += look_at(page, "entreprise", screenshots)

        # A refusal, as she would see it.
        page.get_by_label("SIRET", exact=True).fill("4123456780001")
        page.get_by_role("button", name="Enregistrer la correction").click()
        refused = page.locator("main").inner_text()
        problems += look_at(page, "entreprise-refus", screenshots)

        page.goto(f"{base}/corrections/entreprises/{holder_id}")
        page.get_by_label("Le doublon (son N°, son SIRET ou son nom)").fill(str(duplicate))
        page.get_by_role("button", name="Voir ce que la fusion déplacera").click()
        problems += look_at(page, "fusion", screenshots)
        merge = page.locator("main").inner_text()

        page.goto(f"{base}/corrections/lots/{clause_id}")
        problems += look_at(page, "lot", screenshots)
        page.get_by_role("link", name="Annuler la déclaration d'avril 2026").first.click()
        problems += look_at(page, "annulation", screenshots)
        page.get_by_label("Motif").fill("Heures déclarées sur le mauvais lot")
        page.get_by_role("button", name="Annuler cette déclaration").click()
        cancelled = page.locator("main").inner_text()
        problems += look_at(page, "annulee", screenshots)
        return {
            "problems": problems,
            "done": done,
            "refused": refused,
            "merge": merge,
            "cancelled": cancelled,
        }

    # A declaration for April, so that the lot has one to show.
    TestClient(create_site(app)).post(
        call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer")
    )

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "Entreprise corrigée : ville «\u00a0Auch\u00a0» → «\u00a0Condom\u00a0»." in seen["done"]
    assert "Motif : Siège déménagé" in seen["done"]
    assert "14 chiffres attendus" in seen["refused"] and "Rien n'a été modifié." in seen["refused"]
    assert "Confirmer la fusion ?" in seen["merge"] and "rien à déplacer" in seen["merge"]
    assert "Déclaration d'avril 2026 de Bâtiments Gascons SARL annulée" in seen["cancelled"]
    with app.transaction() as session:
        assert session.get_one(Company, holder_id).city == "Condom"
        row = session.scalars(select(RecordHistory).where(RecordHistory.action != "create")).one()
    assert (row.actor, row.reason, row.after) == (
        "Léa Roux",
        "Siège déménagé",
        '{"city": "Condom"}',
    )
