"""The facilitator answers a participant's right of access (GDPR art. 15) from a real Chromium:
from the participant's sheet she follows « Données détenues (RGPD) », reads their hours and
outcome, and downloads the two files, which are the command's export word for word. The page
passes axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

import json
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
from workflow.adapters.orm import Participant
from workflow.app import participants, web_accounts
from workflow.app.privacy_texts import export_json, export_text
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow

NBSP = "\u00a0"

look_at = looker("rgpd")


def test_the_facilitator_reads_and_downloads_what_is_held_on_a_participant(
    chromium: Chromium,
    site: tuple[App, str, Clock],  # noqa: F811
    screenshots: Path,
    tmp_path: Path,
) -> None:
    app, base, _ = site
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    clause_id, holder_id, _ = lot_01(app)
    # April declared, then a CDI told by phone: hours and an outcome to hand over.
    TestClient(create_site(app)).post(
        call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer")
    )
    participants.record_outcome(
        app, "P-WEB-1", clause=clause_id, outcome_type=OutcomeType.CDI, on=date(2026, 4, 20),
        actor="Léa Roux",
    )  # fmt: skip
    with app.transaction() as session:
        number = session.scalars(
            select(Participant.id).where(Participant.reference == "P-WEB-1")
        ).one()

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/connexion")
        page.goto(f"{base}/corrections/participants/{number}")
        page.get_by_role("link", name="Données détenues (RGPD)").click()
        address = page.url
        problems += look_at(page, "donnees", screenshots)
        shown = page.locator("main").inner_text()
        hours = page.locator("li", has_text="Embauche directe").inner_text()
        outcomes = page.get_by_role("heading", name="Sorties (1)").count()
        files = {}
        for link in ("Fichier JSON", "Fichier texte"):
            with page.expect_download() as download:
                page.get_by_role("link", name=link).click()
            path = tmp_path / download.value.suggested_filename
            download.value.save_as(path)
            files[link] = path
        return {
            "problems": problems,
            "address": address,
            "shown": shown,
            "hours": hours,
            "outcomes": outcomes,
            "files": files,
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["address"] == f"{base}/corrections/participants/{number}/donnees"
    assert seen["outcomes"] == 1  # a heading, then its lines
    assert "CDI (emploi durable) le 20/04/2026, clause n°" in seen["shown"]
    assert seen["hours"].startswith(f"avril 2026{NBSP}: 151,67")
    assert "Embauche directe, CDD" in seen["hours"]
    held = participants_export(app)
    json_file, text_file = seen["files"]["Fichier JSON"], seen["files"]["Fichier texte"]
    assert json_file.name == f"donnees-participant-{number}.json"
    assert json.loads(json_file.read_text(encoding="utf-8")) == held["json"]
    assert text_file.read_text(encoding="utf-8") == held["text"]


def participants_export(app: App) -> dict[str, Any]:
    """What ``clauses privacy export --participant P-WEB-1`` writes, with and without --json."""
    from workflow.app.privacy import participant_data

    held = participant_data(app, "P-WEB-1")
    return {
        "json": json.loads(export_json(held)),
        "text": export_text(held, app.settings.zone),
    }
