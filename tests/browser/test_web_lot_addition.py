"""The facilitator adds a lot to a market in a real Chromium: from « Créer une fiche » she names
the market and reaches its lot form, types the figures as she says them, a rate mistyped is
refused with what she typed kept, the corrected lot is created with its hours and leads to its
clause; the market's page lists it and offers the form. Every page of hers passes axe-core and
is photographed at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import site  # noqa: F401
from tests.conftest import Clock
from workflow.adapters.orm import Clause, ClauseHistory, Market
from workflow.app import web_accounts
from workflow.bootstrap import App

pytestmark = pytest.mark.slow

NBSP = "\u00a0"


look_at = looker("additions-lot")


def test_the_facilitator_adds_a_lot_to_a_market_from_the_browser(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    with app.transaction() as session:
        market = session.scalars(select(Market).where(Market.reference == "2026-014")).one().id

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")

        page.goto(f"{base}/corrections")
        page.get_by_role("link", name="Créer une fiche").click()
        problems += look_at(page, "nouvelle-fiche", screenshots)
        new_lot = page.locator("#lot").locator("xpath=..")
        new_lot.get_by_label("Marché").fill("2026-014")
        new_lot.get_by_role("button", name="Ajouter un lot à ce marché").click()
        form_address = page.url
        problems += look_at(page, "formulaire", screenshots)

        page.get_by_label("Intitulé du lot").fill("Menuiseries extérieures")
        page.get_by_label("Numéro de lot").fill("11")
        page.get_by_label("Montant HT").fill("1 000 000")
        page.get_by_label("Part de main-d'œuvre").fill("50 %")
        page.get_by_label("Taux d'insertion").fill("abc")
        page.get_by_label("Coût horaire chargé").fill("30")
        page.get_by_role("button", name="Ajouter le lot").click()
        refused = page.locator("main").inner_text()
        kept = page.get_by_label("Montant HT").input_value()
        problems += look_at(page, "refus", screenshots)

        page.get_by_label("Taux d'insertion").fill("0,05")
        page.get_by_role("button", name="Ajouter le lot").click()
        added = page.locator("main").inner_text()
        blank = page.get_by_label("Intitulé du lot").input_value()
        problems += look_at(page, "ajoute", screenshots)

        page.get_by_role("link", name="Ouvrir la clause").click()
        clause_address = page.url
        clause_page = page.locator("main").inner_text()

        page.goto(f"{base}/corrections/marches/{market}")
        market_page = page.locator("main").inner_text()
        page.get_by_role("link", name="Ajouter un lot à ce marché").click()
        back_to_form = page.url
        return {
            "problems": problems,
            "form_address": form_address,
            "refused": refused,
            "kept": kept,
            "added": added,
            "blank": blank,
            "clause_address": clause_address,
            "clause_page": clause_page,
            "market_page": market_page,
            "back_to_form": back_to_form,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    form_address = f"{base}/corrections/marches/{market}/lot"
    assert seen["form_address"] == form_address and seen["back_to_form"] == form_address
    assert "Ajout refusé" in seen["refused"] and "Rien n'a été enregistré." in seen["refused"]
    assert f"Taux d'insertion{NBSP}: «{NBSP}abc{NBSP}» n'est pas un nombre." in seen["refused"]
    assert seen["kept"] == "1 000 000"
    with app.transaction() as session:
        clause = session.scalars(
            select(Clause).where(Clause.market_id == market, Clause.lot_number == "11")
        ).one()
        [row] = session.scalars(select(ClauseHistory).where(ClauseHistory.clause_id == clause.id))
        assert (clause.lot_title, clause.hours_computed, clause.stage) == (
            "Menuiseries extérieures", 833, "identification",
        )  # fmt: skip
        assert (row.event, row.actor) == ("identify", "Léa Roux")
        clause_id = clause.id
    assert (
        f"Lot 11 – Menuiseries extérieures ajouté au marché 2026-014{NBSP}: clause "
        f"n°{NBSP}{clause_id}"
    ) in seen["added"]
    assert "833 heures d'insertion calculées" in seen["added"].replace("\u202f", " ")
    assert seen["blank"] == ""  # the next lot starts from an empty form
    assert seen["clause_address"] == f"{base}/clauses/{clause_id}"
    assert "Menuiseries extérieures" in seen["clause_page"]
    assert "lot 11 – Menuiseries extérieures (repérage)" in seen["market_page"]
