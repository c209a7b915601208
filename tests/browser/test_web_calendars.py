"""The facilitator changes a lot's and a buyer's declaration calendar in a real Chromium: the
lot's page shows each rule with where it comes from and the month whose reminders are running; a
due day of 31 is refused with what she typed kept; 5 is taken, the page says what changed and
that the running reminders follow; « Revenir au calendrier du donneur d'ordre » undoes it; on
the buyer's page she chooses the monthly summary only. Every page passes axe-core and is
photographed at 1280 and 390 px."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import site  # noqa: F401
from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from workflow.adapters.orm import Buyer, Clause, ClauseHistory, DeclarationLadder
from workflow.app import web_accounts
from workflow.bootstrap import App

pytestmark = pytest.mark.slow

NBSP = "\u00a0"

look_at = looker("calendriers")


def test_the_facilitator_changes_a_lots_and_a_buyers_calendar_from_the_browser(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    clause_id, _, _ = lot_01(app)
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        buyer_id = clause.market.operation.buyer_id
        due_before = sorted(
            session.scalars(
                select(DeclarationLadder.due_on).where(DeclarationLadder.clause_id == clause_id)
            )
        )

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections/lots/{clause_id}")
        calendar = page.locator("#calendrier-section")
        shown = calendar.inner_text()
        problems += look_at(page, "lot", screenshots)

        due_day = page.get_by_label("Jour d'échéance des déclarations", exact=True)
        due_day.fill("31")
        page.get_by_label("Motif").last.fill("avenant n° 2")
        page.get_by_role("button", name="Changer le calendrier").click()
        refused = page.locator("#calendrier-section").inner_text()
        kept = page.get_by_label("Jour d'échéance des déclarations", exact=True).input_value()
        invalid = page.get_by_label("Jour d'échéance des déclarations", exact=True).get_attribute(
            "aria-invalid"
        )
        problems += look_at(page, "lot-refus", screenshots)

        page.get_by_label("Jour d'échéance des déclarations", exact=True).fill("5")
        page.get_by_role("button", name="Changer le calendrier").click()
        changed = page.locator("#calendrier-section").inner_text()
        changed_address = page.url
        problems += look_at(page, "lot-change", screenshots)

        page.get_by_label("Revenir au calendrier du donneur d'ordre pour les trois règles").check()
        page.get_by_role("button", name="Changer le calendrier").click()
        undone = page.locator("#calendrier-section").inner_text()

        page.goto(f"{base}/corrections/donneurs-d-ordre/{buyer_id}")
        problems += look_at(page, "donneur", screenshots)
        page.get_by_label("Préférence d'avis").select_option(
            label="La synthèse mensuelle seulement"
        )
        page.get_by_role("button", name="Enregistrer les avis et le calendrier").click()
        buyer_changed = page.locator("#calendrier-section").inner_text()
        problems += look_at(page, "donneur-change", screenshots)
        return {
            "problems": problems,
            "shown": shown,
            "refused": refused,
            "kept": kept,
            "invalid": invalid,
            "changed": changed,
            "changed_address": changed_address,
            "undone": undone,
            "buyer_changed": buyer_changed,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "le 10 du mois suivant (réglage général)" in seen["shown"]
    assert "Relances en cours" in seen["shown"]
    assert "Changement refusé" in seen["refused"] and "Rien n'a été modifié." in seen["refused"]
    assert f"Jour d'échéance des déclarations{NBSP}: 31 doit être entre 1 et 28." in seen["refused"]
    assert (seen["kept"], seen["invalid"]) == ("31", "true")
    assert seen["changed_address"].startswith(f"{base}/corrections/lots/{clause_id}?")
    assert (
        f"Calendrier des déclarations changé{NBSP}: échéance{NBSP}: le 5 (lot), avant le 10 "
        "(réglage général)."
    ) in seen["changed"]
    assert re.search(
        r"\d+ relances? en cours (suit|suivent) le nouveau calendrier", seen["changed"]
    )
    assert f"échéance{NBSP}: le 10 (réglage général), avant le 5 (lot)" in seen["undone"]
    assert (
        f"Donneur d'ordre modifié{NBSP}: avis{NBSP}: la synthèse mensuelle seulement, avant un "
        "avis à chaque étape."
    ) in seen["buyer_changed"]

    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        assert (clause.declaration_due_day, clause.reminder_offsets) == (None, None)
        rows = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "calendar")
            .order_by(ClauseHistory.id)
        ).all()
        assert [(r.actor, r.reason.endswith("motif : avenant n° 2")) for r in rows] == [
            ("Léa Roux", True),
            ("Léa Roux", False),
        ]
        assert session.get_one(Buyer, buyer_id).notice_preference == "monthly_only"
        due_after = sorted(
            session.scalars(
                select(DeclarationLadder.due_on).where(DeclarationLadder.clause_id == clause_id)
            )
        )
    assert due_after == due_before  # moved to the 5th, then back to the 10th
