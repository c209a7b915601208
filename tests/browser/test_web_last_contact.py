"""The facilitator deletes a buyer's last contact in a real Chromium: the contact's page warns
her, the deletion asks again with a box to tick, and once she ticks it the contact goes and
the buyer's page says its notices no longer go out. Every page passes axe-core and is
photographed at 1280 and 390 px."""

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
from workflow.adapters.orm import BuyerContact, RecordHistory
from workflow.app import web_accounts
from workflow.bootstrap import App

pytestmark = pytest.mark.slow

BUYER = "Commune de Saint-Élix-Theux"


look_at = looker("last-contact")


def test_the_facilitator_is_warned_and_confirms_before_deleting_the_last_contact(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    buyer = add_buyer(app, BUYER)
    with app.transaction() as session:
        contact = BuyerContact(buyer_id=buyer, name="Anne Durand", email="mairie@example.org")
        session.add(contact)
        session.flush()
        contact_id = contact.id

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections/contacts/{contact_id}")
        warned = page.locator("main").inner_text()
        problems += look_at(page, "contact", screenshots)
        page.get_by_label("Motif de la suppression").fill("Partie à la retraite")
        page.get_by_role("button", name=f"Supprimer le contact n° {contact_id}").click()
        asked = page.locator("main").inner_text()
        problems += look_at(page, "confirmation", screenshots)
        page.get_by_label("Je supprime quand même le dernier contact").check()
        page.get_by_role("button", name=f"Supprimer le contact n° {contact_id}").click()
        deleted = page.locator("main").inner_text()
        problems += look_at(page, "supprime", screenshots)
        page.get_by_role("link", name=f"Retour à la fiche : Donneur d'ordre n° {buyer}").click()
        owner = page.locator("main").inner_text()
        problems += look_at(page, "donneur-d-ordre", screenshots)
        return {
            "problems": problems,
            "warned": warned,
            "asked": asked,
            "deleted": deleted,
            "owner": owner,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    warning = (
        f"C'est le seul contact de {BUYER}\u00a0: sans contact, ses avis d'étape attendront "
        "qu'un contact soit ajouté et ses synthèses ne partiront plus. Ajoutez d'abord un autre "
        "contact."
    )
    assert warning in seen["warned"]
    assert warning in seen["asked"] and "Rien n'a été modifié" in seen["asked"]
    assert f"Contact n° {contact_id}" in seen["deleted"]
    assert f"{BUYER} n'a plus aucun contact" in seen["deleted"]
    assert (
        "Aucun contact\u00a0: les synthèses de ce donneur d'ordre ne partent pas et ses avis "
        "d'étape attendent"
    ) in seen["owner"]
    with app.transaction() as session:
        assert session.get(BuyerContact, contact_id) is None
        rows = session.scalars(select(RecordHistory).order_by(RecordHistory.id)).all()
    assert [(r.entity, r.action, r.actor, r.reason) for r in rows] == [
        ("buyer_contact", "delete", "Léa Roux", "Partie à la retraite")
    ]
