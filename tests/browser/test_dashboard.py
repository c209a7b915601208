"""The facilitator signs in, validates the month a company declared and sends a refused email
again, records a month without hours for a company late (through its confirmation page), in a
real Chromium; each page passes axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, sign_in
from tests.browser.test_online_declaration import call_path, look_at, site  # noqa: F401
from tests.conftest import Clock
from tests.integration.test_online_declaration import CALLED
from workflow.adapters.orm import ClauseHistory, Company, Declaration, OutboxMessage
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.services.outbox import OutboxState

pytestmark = pytest.mark.slow


def test_the_facilitator_validates_a_month_and_sends_a_refused_email_again(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    path = call_path(app)
    with app.transaction() as session:
        refused = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert refused is not None
        refused.state = OutboxState.FAILED
        refused.last_error = "Refus définitif : 550 boîte inconnue"
        refused_id = refused.id

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        page.set_viewport_size({"width": 1280, "height": 900})
        # A company declares first, so that there is a month to validate.
        page.goto(base + path)
        page.get_by_label("Référence de la personne, ligne 1").fill("P-WEB-1")
        page.get_by_label("Heures, ligne 1").fill("35")
        page.get_by_label("Type de contrat, ligne 1").select_option(label="CDD")
        page.get_by_label("Modalité de réalisation, ligne 1").select_option(
            label="Embauche directe"
        )
        page.get_by_label("Critère d'éligibilité, ligne 1").select_option(index=1)
        page.get_by_role("button", name="Vérifier la déclaration").click()
        page.get_by_role("button", name="Confirmer et enregistrer").click()

        page.goto(base + "/tableau-de-bord")
        problems += look_at(page, "connexion", screenshots)
        page.get_by_label("Identifiant").fill("camille")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        problems += look_at(page, "tableau-de-bord", screenshots)
        page.get_by_role("button", name="Valider la déclaration d'avril 2026").click()
        validated = page.locator("main").inner_text()
        page.get_by_role("link", name="Courriels").first.click()
        problems += look_at(page, "courriels", screenshots)
        page.get_by_role("button", name=f"Renvoyer le courriel n° {refused_id}").click()
        retried = page.locator("main").inner_text()
        return {"problems": problems, "validated": validated, "retried": retried}

    seen = chromium.look(work)

    assert seen["problems"] == []
    validated = seen["validated"].replace("\u00a0", " ")
    assert "Déclaration d'avril 2026 de Bâtiments Gascons SARL (clause n° " in validated
    assert ") validée : la page de l'entreprise ne permet plus" in validated
    assert f"Courriel n° {refused_id} remis en file" in seen["retried"]
    with app.transaction() as session:
        assert session.scalars(select(Declaration.validated_by)).all() == ["Camille Martin"]
        assert session.get(OutboxMessage, refused_id).state == OutboxState.PENDING  # type: ignore[union-attr]


def test_the_facilitator_records_a_month_without_hours_after_confirming_it(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
) -> None:
    app, base, clock = site
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    # Three weeks after April's call: its months not declared are late.
    clock.set(CALLED + timedelta(days=21))

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/tableau-de-bord", "camille")
        problems += look_at(page, "tableau-de-bord-retards", screenshots)
        button = page.get_by_role("button", name=re.compile("^Enregistrer un mois sans heure"))
        offered = button.count()
        button.first.click()
        problems += look_at(page, "mois-sans-heure", screenshots)
        asked = page.locator("main").inner_text()
        written_before = _zero_months(app)
        page.get_by_role("button", name=re.compile("^Confirmer")).click()
        problems += look_at(page, "mois-sans-heure-fait", screenshots)
        done = page.locator("main").inner_text()
        return {
            "problems": problems,
            "offered": offered,
            "asked": asked,
            "before": written_before,
            "done": done,
            "url": page.url,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["offered"] >= 1 and seen["before"] == []  # nothing written by the first click
    asked = seen["asked"].replace("\u00a0", " ")
    assert "Enregistrer avril 2026 sans heure" in asked
    company = re.search(r"\n(.+) – clause n° (\d+) \(", asked)
    assert company is not None, asked
    name, clause = company.group(1), int(company.group(2))
    assert [(clause, name, "Camille Martin")] == _zero_months(app)
    done = seen["done"].replace("\u00a0", " ")
    assert f"Mois d'avril 2026 enregistré sans heure pour {name} (clause n° {clause})" in done
    assert "fait=zero" in seen["url"] and name.split()[0] not in seen["url"]
    with app.transaction() as session:
        actors = session.scalars(
            select(ClauseHistory.actor).where(
                ClauseHistory.clause_id == clause, ClauseHistory.event == "declaration"
            )
        ).all()
    assert actors == ["Camille Martin"]


def _zero_months(app: App) -> list[tuple[int, str, str]]:
    with app.transaction() as session:
        return [
            (clause_id, name, by)
            for clause_id, name, by in session.execute(
                select(Declaration.clause_id, Company.name, Declaration.recorded_by)
                .join(Company, Company.id == Declaration.company_id)
                .where(Declaration.total_hours == 0)
            )
        ]
