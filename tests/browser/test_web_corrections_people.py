"""The facilitator corrects a participant reached from its lot, a correspondent reached from its
company, and deletes a buyer's contact, in a real Chromium; every page she passes (the lot, the
participant, the correspondent, its refusal, the contact, its deletion) passes axe-core and is
photographed at 1280 and 390 px."""

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
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Correspondent,
    Participant,
    RecordHistory,
)
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow


look_at = looker("corrections-people")


def test_the_facilitator_corrects_a_participant_a_correspondent_and_a_contact(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    clause_id, holder_id, _ = lot_01(app)
    with app.transaction() as session:
        person_id = session.scalars(
            select(Correspondent.id)
            .where(Correspondent.company_id == holder_id)
            .order_by(Correspondent.id)
        ).first()
        buyer = session.scalars(select(Buyer.id).order_by(Buyer.id)).first()
        assert buyer is not None
        contact = BuyerContact(buyer_id=buyer, name="Anne Durand", email="anne@example.org")
        session.add(contact)
        session.flush()
        contact_id = contact.id
    # A declaration for April, so that the lot has its participants.
    TestClient(create_site(app)).post(
        call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer")
    )

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections/lots/{clause_id}")
        problems += look_at(page, "lot", screenshots)
        page.get_by_role("link", name="P-WEB-1").click()
        problems += look_at(page, "participant", screenshots)
        page.get_by_label("Année de naissance").fill("1987")
        page.get_by_label("Sexe").select_option("F")
        page.locator("#f-reason").fill("Fiche de l'entreprise")
        page.get_by_role("button", name="Enregistrer la correction").click()
        participant = page.locator("main").inner_text()
        problems += look_at(page, "participant-corrige", screenshots)

        page.goto(f"{base}/corrections/entreprises/{holder_id}")
        page.locator(f'a[href="/corrections/correspondants/{person_id}"]').click()
        problems += look_at(page, "correspondant", screenshots)
        page.get_by_label("Adresse e-mail").fill("pas-une-adresse")
        page.get_by_role("button", name="Enregistrer la correction").click()
        refused = page.locator("main").inner_text()
        problems += look_at(page, "correspondant-refus", screenshots)
        page.get_by_label("Adresse e-mail").fill("s.lacoste@example.org")
        page.get_by_label("Motif", exact=False).first.fill("Nouvelle adresse")
        page.get_by_role("button", name="Enregistrer la correction").click()
        corrected = page.locator("main").inner_text()

        page.goto(f"{base}/corrections/contacts/{contact_id}")
        problems += look_at(page, "contact", screenshots)
        page.get_by_label("Motif de la suppression").fill("Partie à la retraite")
        page.get_by_role("button", name=f"Supprimer le contact n° {contact_id}").click()
        deleted = page.locator("main").inner_text()
        problems += look_at(page, "contact-supprime", screenshots)
        return {
            "problems": problems,
            "participant": participant,
            "refused": refused,
            "corrected": corrected,
            "deleted": deleted,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "Participant P-WEB-1 mis à jour" in seen["participant"]
    assert "Motif : Fiche de l'entreprise" in seen["participant"]
    assert "Correction refusée" in seen["refused"] and "Rien n'a été modifié." in seen["refused"]
    assert "Correspondant corrigé : e-mail" in seen["corrected"]
    assert (
        f"Contact n° {contact_id} «\u00a0Anne Durand <anne@example.org>\u00a0» supprimé"
        in (seen["deleted"])
    )
    with app.transaction() as session:
        saved = session.scalars(select(Participant).where(Participant.reference == "P-WEB-1")).one()
        assert (saved.sex, saved.birth_year) == ("F", 1987)
        assert session.get_one(Correspondent, person_id).email == "s.lacoste@example.org"
        assert session.get(BuyerContact, contact_id) is None
        rows = session.scalars(select(RecordHistory).order_by(RecordHistory.id)).all()
    assert [(r.entity, r.action, r.actor) for r in rows] == [
        ("participant", "edit", "Léa Roux"),
        ("correspondent", "edit", "Léa Roux"),
        ("buyer_contact", "delete", "Léa Roux"),
    ]
    assert [r.reason for r in rows] == [
        "Fiche de l'entreprise",
        "Nouvelle adresse",
        "Partie à la retraite",
    ]
