"""The facilitator runs the two upkeep commands from a real Chromium: from the navigation she opens
« Données personnelles », reads what a purge would anonymise on 3 June 2024 (the 2018 territory
of ``privacy_scenario``), tries a wrong duration (refused, naming the field), confirms, and reads
the purge's report; then « Contrôle de cohérence », whose button runs the audit. Every page passes
axe-core and is photographed at 1280 and 390 px."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in, title_of
from tests.browser.test_online_declaration import free_port
from tests.conftest import Clock, make_settings
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import local
from workflow.adapters.orm import Participant, PrivacyPurge
from workflow.app import web_accounts
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow

NBSP = "\u00a0"
PURGE_DAY = local(date(2024, 6, 3), 9)

look_at = looker("entretien")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str]]:
    """The 2018 territory on 3 June 2024, its pages served on loopback."""
    clock = Clock(PURGE_DAY)
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    scenario.build(app, clock)
    clock.set(PURGE_DAY)
    web_accounts.add_user(app, login="lea", name="Léa Roux", password=PASSWORD)
    server = uvicorn.Server(
        uvicorn.Config(create_site(app), host="127.0.0.1", port=free_port(), log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    try:
        yield app, f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def test_the_facilitator_purges_then_checks_the_database(
    chromium: Chromium, site: tuple[App, str], screenshots: Path
) -> None:
    app, base = site

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        seen: dict[str, Any] = {}
        sign_in(page, base + "/connexion")
        page.get_by_role("navigation", name="Tableau de bord").get_by_role(
            "link", name="Données personnelles"
        ).click()
        seen["title"] = title_of(page)
        seen["dry_run"] = page.locator("main").inner_text()
        problems += look_at(page, "anonymisation", screenshots)
        # A wrong duration: refused, naming the field, the field marked.
        page.get_by_label("Durée de conservation").fill("5x")
        page.get_by_role("button", name="Voir ce qui serait anonymisé").click()
        seen["refused"] = page.get_by_role("alert").inner_text()
        seen["invalid"] = page.get_by_label("Durée de conservation").get_attribute("aria-invalid")
        problems += look_at(page, "anonymisation-refusee", screenshots)
        # Back to the setting's duration, then confirm.
        page.get_by_label("Durée de conservation").fill("")
        page.get_by_role("button", name="Voir ce qui serait anonymisé").click()
        page.get_by_role("button", name="Anonymiser ces 3 participants").click()
        seen["done"] = page.get_by_role("status").inner_text()
        problems += look_at(page, "anonymisation-faite", screenshots)
        # The audit: a visit runs nothing, the button runs it.
        page.get_by_role("navigation", name="Tableau de bord").get_by_role(
            "link", name="Contrôle de cohérence"
        ).click()
        seen["audit_visit"] = page.locator("main").inner_text()
        page.get_by_role("button", name="Lancer le contrôle").click()
        seen["audit_url"] = page.url
        seen["audit"] = page.get_by_role("status").inner_text()
        problems += look_at(page, "controle", screenshots)
        seen["problems"] = problems
        return seen

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["title"].startswith(f"Données personnelles{NBSP}: anonymisation")
    assert (
        f"À anonymiser (5 ans de conservation, dernière activité avant le 03/06/2019){NBSP}: "
        "3 participants"
    ) in seen["dry_run"]
    assert f"PRV-IDLE{NBSP}: dernière activité le 20/01/2018" in seen["dry_run"]
    assert seen["refused"].startswith("Durée refusée")
    assert f"Durée de conservation{NBSP}: «{NBSP}5x{NBSP}» n'est pas une durée" in seen["refused"]
    assert seen["invalid"] == "true"
    assert seen["done"].startswith("Anonymisation faite")
    assert (
        f"Purge n° 1 (5 ans de conservation, dernière activité avant le 03/06/2019){NBSP}: "
        "3 participants anonymisés"
    ) in seen["done"]
    assert "PRV-1" not in seen["done"]
    with app.transaction() as session:
        actors = list(session.scalars(select(PrivacyPurge.actor)))
        kept = sorted(
            r for r in session.scalars(select(Participant.reference)) if r.startswith("PRV-")
        )
    assert actors == ["Léa Roux"]
    assert kept == ["PRV-2", "PRV-OPEN"]
    assert "Aucun problème" not in seen["audit_visit"]
    assert seen["audit_url"] == f"{base}/controle-coherence?lancer=1"
    report = verify_database(app)
    expected = "Aucun problème" if report.ok else "problème"
    assert expected in seen["audit"] and "vérifiés)." in seen["audit"]
