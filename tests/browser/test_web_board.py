"""The facilitator opens the board of clauses, searches a company, opens its lot and reads its
chart, in a real Chromium; each page passes axe-core (no serious or critical violation), is no
wider than the window and is photographed at 1280 and 390 px (``CLAUSES_SCREENSHOTS``). From the
« Actions » of a clause's page she records a final report, and a refused award keeps what she
typed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, sign_in
from tests.browser.test_online_declaration import call_path, look_at, site  # noqa: F401
from tests.conftest import Clock
from tests.integration.test_declaration_howto import lot_01
from workflow.adapters.orm import ClauseHistory
from workflow.app import web_accounts
from workflow.app.clauses import advance_clause, list_clauses
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent, Stage

pytestmark = pytest.mark.slow


def test_the_facilitator_finds_a_lot_on_the_board_and_reads_its_pace(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    path = call_path(app)
    clause_id, _, _ = lot_01(app)
    with app.transaction() as session:
        rows_before = session.query(ClauseHistory).filter_by(clause_id=clause_id).count()

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        page.set_viewport_size({"width": 1280, "height": 900})
        # The holder declares April first, so that the chart has a bar.
        page.goto(base + path)
        page.get_by_label("Référence de la personne, ligne 1").fill("P-WEB-1")
        page.get_by_label("Heures, ligne 1").fill("151,67")
        page.get_by_label("Type de contrat, ligne 1").select_option(label="CDD")
        page.get_by_label("Modalité de réalisation, ligne 1").select_option(
            label="Embauche directe"
        )
        page.get_by_label("Critère d'éligibilité, ligne 1").select_option(index=1)
        page.get_by_role("button", name="Vérifier la déclaration").click()
        page.get_by_role("button", name="Confirmer et enregistrer").click()

        page.goto(base + "/clauses")
        page.get_by_label("Identifiant").fill("camille")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.goto(base + "/clauses")
        problems += look_at(page, "clauses-tableau", screenshots)
        board = page.locator("main").inner_text()

        page.get_by_label("Rechercher").fill("412 345 678 00012")
        page.get_by_role("button", name="Filtrer").click()
        problems += look_at(page, "clauses-recherche", screenshots)
        found = page.locator("main").inner_text()
        links = page.locator("li.card a").count()

        page.locator("li.card a").first.click()
        problems += look_at(page, "clause", screenshots)
        clause = page.locator("main").inner_text()
        url = page.url
        chart = page.locator("svg.pace-chart")
        chart_box = chart.bounding_box()
        chart_name = chart.get_attribute("aria-labelledby")

        page.get_by_role("button", name="Avancer à l'étape suivante").click()
        problems += look_at(page, "clause-refus", screenshots)
        refused = page.locator("main").inner_text()

        page.set_viewport_size({"width": 390, "height": 900})
        narrow_box = page.locator("svg.pace-chart").bounding_box()
        return {
            "problems": problems,
            "board": board,
            "found": found,
            "links": links,
            "clause": clause,
            "url": url,
            "chart_box": chart_box,
            "narrow_box": narrow_box,
            "chart_name": chart_name,
            "refused": refused,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert "Mise en œuvre (6)" in seen["board"] and "Repérage (2)" in seen["board"]
    assert seen["links"] == 1 and "Bâtiments Gascons SARL" in seen["found"]
    assert seen["url"].endswith(f"/clauses/{clause_id}")
    assert "Heures réalisées (déclarées)\n151,67\u00a0h" in seen["clause"]
    assert seen["chart_name"] == "rythme-titre rythme-description"
    # Legible at 390 px: the chart takes the width the page gives, at its own proportions.
    assert seen["narrow_box"]["width"] >= 340
    assert seen["chart_box"]["width"] <= 640
    assert "il manque la date de fin d'exécution" in seen["refused"]
    with app.transaction() as session:
        # The refusal changed nothing: only the holder's declaration was written since.
        rows = session.query(ClauseHistory).filter_by(clause_id=clause_id).all()
        assert len(rows) == rows_before + 1 and rows[-1].event == "declaration"


def test_the_facilitator_records_a_final_report_and_sees_the_award_form(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    """The « Actions » of a clause's page in a real browser: the final report of a finished lot
    recorded from its form, and the award form of a lot at « attribution », each page passing
    axe-core and no wider than 390 px."""
    app, base, _ = site
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    clause_id, _, _ = lot_01(app)
    advance_clause(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 5, 4), actor="démo")
    awarding = list_clauses(app, stage=Stage.IDENTIFICATION)[0].id
    for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
        advance_clause(app, awarding, event, actor="démo")
    report = "14 personnes accompagnées ; 6 en emploi durable six mois après le chantier."

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/clauses", "camille")
        page.goto(f"{base}/clauses/{clause_id}")
        problems += look_at(page, "clause-actions-bilan", screenshots)
        page.get_by_label("Bilan de l'opération", exact=True).fill(report)
        page.get_by_role("button", name="Enregistrer le bilan").click()
        problems += look_at(page, "clause-bilan-enregistre", screenshots)
        done = page.locator("main").inner_text()
        page.goto(f"{base}/clauses/{awarding}")
        problems += look_at(page, "clause-actions-attribution", screenshots)
        page.get_by_label("Titulaire (N°, nom ou SIRET)", exact=True).fill("Entreprise inconnue")
        page.get_by_label("Date de démarrage", exact=True).fill("2026-06-01")
        page.get_by_label("Date de fin prévue", exact=True).fill("2027-05-31")
        page.get_by_role("button", name="Enregistrer l'attribution").click()
        problems += look_at(page, "clause-attribution-refusee", screenshots)
        refused = page.locator("main").inner_text()
        typed = page.get_by_label("Titulaire (N°, nom ou SIRET)", exact=True).input_value()
        return {"problems": problems, "done": done, "refused": refused, "typed": typed}

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert f"Bilan de la clause n°\u00a0{clause_id} enregistré" in seen["done"]
    assert report in seen["done"]
    assert (
        "Entreprise titulaire\u00a0: Entreprise «\u00a0Entreprise inconnue\u00a0» introuvable"
        in (seen["refused"])
    )
    assert seen["typed"] == "Entreprise inconnue"
    with app.transaction() as session:
        last = (
            session.query(ClauseHistory)
            .filter_by(clause_id=clause_id)
            .order_by(ClauseHistory.id.desc())
            .first()
        )
        assert last is not None and (last.event, last.actor) == ("final_report", "Camille Martin")
        assert (
            session.query(ClauseHistory)
            .filter_by(clause_id=awarding, event="award_recorded")
            .count()
            == 0
        )
