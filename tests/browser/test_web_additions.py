"""The facilitator adds a contact to a buyer without one, then creates a buyer from
/corrections/nouveau, in a real Chromium: the « sans contact » notice leads to the form, the
contact is added and the notice is gone; every page she passes (the buyer's, a refusal, the
confirmation, the new-record page) passes axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import site  # noqa: F401
from tests.conftest import Clock
from tests.integration.test_corrections import add_buyer
from workflow.adapters.orm import Buyer, BuyerContact, RecordHistory
from workflow.app import web_accounts
from workflow.bootstrap import App

pytestmark = pytest.mark.slow


look_at = looker("additions")


def test_the_facilitator_adds_a_contact_to_a_buyer_without_one_and_creates_a_buyer(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    buyer = add_buyer(app, "Commune de Lectoure", kind="Commune")

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections/donneurs-d-ordre/{buyer}")
        before = page.locator("main").inner_text()
        problems += look_at(page, "donneur-sans-contact", screenshots)
        page.locator("#sans-contact").get_by_role("link", name="Ajoutez un contact").click()
        form = page.locator("#ajout-contact").locator("xpath=..")
        form.get_by_label("Nom").fill("Anne Durand")
        form.get_by_label("Adresse e-mail").fill("anne@example")
        form.get_by_label("Fonction").fill("Chargée d'opération")
        page.get_by_role("button", name="Ajouter le contact").click()
        refused = page.locator("main").inner_text()
        problems += look_at(page, "contact-refus", screenshots)
        page.get_by_label("Adresse e-mail").fill("anne.durand@example.org")
        page.get_by_role("button", name="Ajouter le contact").click()
        added = page.locator("main").inner_text()
        notice_left = page.locator("#sans-contact").count()
        problems += look_at(page, "contact-ajoute", screenshots)

        page.goto(f"{base}/corrections")
        page.get_by_role("link", name="Créer une fiche").click()
        problems += look_at(page, "nouveau", screenshots)
        new_buyer = page.locator("#donneur-d-ordre").locator("xpath=..")
        new_buyer.get_by_label("Nom").fill("Gers Habitat")
        new_buyer.get_by_label("Type").fill("Bailleur social")
        new_buyer.get_by_label("Avis au donneur d'ordre").select_option("mensuel")
        page.get_by_role("button", name="Créer le donneur d'ordre").click()
        created = page.locator("main").inner_text()
        problems += look_at(page, "donneur-cree", screenshots)
        return {
            "problems": problems,
            "before": before,
            "refused": refused,
            "added": added,
            "notice_left": notice_left,
            "created": created,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "Aucun contact" in seen["before"]
    assert "Ajout refusé" in seen["refused"] and "E-mail du contact" in seen["refused"]
    assert "Rien n'a été enregistré." in seen["refused"]
    assert "ajouté\u00a0: «\u00a0Anne Durand\u00a0»" in seen["added"]
    assert "Aucun contact" not in seen["added"] and seen["notice_left"] == 0
    assert (
        "Donneur d'ordre n°" in seen["created"]
        and "ajouté\u00a0: «\u00a0Gers Habitat\u00a0»" in (seen["created"])
    )
    with app.transaction() as session:
        [contact] = session.scalars(select(BuyerContact).where(BuyerContact.buyer_id == buyer))
        assert contact.email == "anne.durand@example.org"
        assert session.scalars(select(Buyer).where(Buyer.name == "Gers Habitat")).one()
        rows = session.scalars(
            select(RecordHistory).where(RecordHistory.action == "create").order_by(RecordHistory.id)
        ).all()
    assert [(r.entity, r.actor) for r in rows] == [
        ("buyer_contact", "Léa Roux"),
        ("buyer", "Léa Roux"),
    ]
