"""A company declares from the link of its call, in a real Chromium, as a person would.

The service's pages run in uvicorn on a free loopback port over a real SQLite database; the link
is the one the real pass put in the call. The person opens it, types two people's hours, checks,
confirms: two pages, one confirmation. Each page is checked with axe-core (no serious or critical
violation) and photographed at 1280 and 390 px (kept in ``CLAUSES_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy import select

from tests.browser.conftest import Chromium
from tests.browser.pages import looker
from tests.conftest import Clock, make_settings
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from workflow.adapters.orm import Declaration, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
CALLED = datetime(2026, 5, 4, 9, 0, tzinfo=PARIS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Clock]]:
    """The sample territory called for April, its pages served on loopback."""
    clock = Clock(CALLED)
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    start_sample(app)
    run_pass(app, CALLED)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_site(app), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    try:
        yield app, f"http://127.0.0.1:{port}", clock
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def call_path(app: App) -> str:
    clause_id, holder_id, _ = lot_01(app)
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(f"reminder:{clause_id}:{holder_id}:2026-04"),
            )
        ).one()
    return urlparse(re.findall(r"https?://\S+/declarer/\S+", body)[0]).path


look_at = looker("declaration")


def test_a_company_declares_two_people_from_its_call_in_two_pages(
    chromium: Chromium, site: tuple[App, str, Clock], screenshots: Path
) -> None:
    app, base, _ = site
    path = call_path(app)

    def declare(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(base + path)
        pages = 1
        problems += look_at(page, "formulaire", screenshots)
        page.get_by_label("Référence de la personne, ligne 1").fill("P-WEB-1")
        page.get_by_label("Heures, ligne 1").fill("151,67")
        page.get_by_label("Type de contrat, ligne 1").select_option(label="CDD")
        page.get_by_label("Modalité de réalisation, ligne 1").select_option(
            label="Embauche directe"
        )
        page.get_by_label("Critère d'éligibilité, ligne 1").select_option(
            label="Demandeur d'emploi de longue durée"
        )
        page.get_by_label("Référence de la personne, ligne 2").fill("P-WEB-2")
        page.get_by_label("Heures, ligne 2").fill("35")
        page.get_by_label("Type de contrat, ligne 2").select_option(label="Intérim d'insertion")
        page.get_by_label("Modalité de réalisation, ligne 2").select_option(
            label="Mise à disposition (ETTI)"
        )
        page.get_by_label("Critère d'éligibilité, ligne 2").select_option(index=2)
        page.get_by_role("button", name="Vérifier la déclaration").click()
        pages += 1
        check = page.locator("main").inner_text()
        problems += look_at(page, "verification", screenshots)
        page.get_by_role("button", name="Confirmer et enregistrer").click()
        done = page.locator("main").inner_text()
        problems += look_at(page, "enregistree", screenshots)
        page.goto(base + path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
        refused = page.locator("main").inner_text()
        problems += look_at(page, "lien-modifie", screenshots)
        return {
            "pages": pages,
            "check": check,
            "done": done,
            "refused": refused,
            "problems": problems,
        }

    seen = chromium.look(declare)

    assert seen["problems"] == []
    assert seen["pages"] == 2  # the form, then one confirmation
    assert "2 participants, 186,67\u00a0h au total" in seen["check"]
    assert "Déclaration enregistrée" in seen["done"]
    assert "Lien non valide" in seen["refused"] and "Rien n'a été enregistré." in seen["refused"]
    with app.transaction() as session:
        totals = session.scalars(select(Declaration.total_hours)).all()
    assert [str(t) for t in totals] == ["186.67"]
    assert list(screenshots.glob("declaration-*-390.png"))
