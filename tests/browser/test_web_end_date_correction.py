"""The facilitator corrects, from the lot's page in a real Chromium, the end of the work she
recorded wrong (31/10 for 30/11): a date before the start is refused next to its field, then the
right date says November is asked again, with its reminder and due date. Each page passes
axe-core and is no wider than the window (``look_at``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import free_port
from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_end_date_correction import (
    COMPANY,
    a_lot_finished_a_month_too_early,
    paris,
)
from workflow.adapters.orm import Clause
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = [pytest.mark.slow, pytest.mark.scenario]

look_at = looker("fin-execution")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Lot]]:
    """A lot finished « le 31/10/2026 » on 3 December, its pages served on loopback the next
    day."""
    clock = Clock(paris(date(2026, 9, 1), 9))
    settings = make_settings(tmp_path, sqlite_url, escalation_offset=25)
    app = bootstrap(settings, clock=clock)
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
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
        yield app, f"http://127.0.0.1:{port}", lot
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def test_the_facilitator_corrects_the_end_and_reads_november_asked_again(
    chromium: Chromium, site: tuple[App, str, Lot], screenshots: Path
) -> None:
    app, base, lot = site

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/clauses", "camille")
        page.goto(f"{base}/clauses/{lot.clause_id}")
        problems += look_at(page, "formulaire", screenshots)
        field = page.locator("#fin_execution")
        filled = field.input_value()
        field.fill("2026-08-31")
        page.locator("#motif_fin_execution").fill("Erreur de saisie")
        page.get_by_role("button", name="Corriger la date de fin").click()
        problems += look_at(page, "refus", screenshots)
        refused = page.locator("#fin_execution-refus").inner_text()
        described = page.locator("#fin_execution").get_attribute("aria-describedby")
        page.locator("#fin_execution").fill("2026-11-30")
        page.get_by_role("button", name="Corriger la date de fin").click()
        problems += look_at(page, "corrigee", screenshots)
        return {
            "problems": problems,
            "filled": filled,
            "refused": refused,
            "described": described,
            "told": page.locator("#message").inner_text(),
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    assert seen["filled"] == "2026-10-31"
    assert seen["described"] == "fin_execution-refus"
    refused = " ".join(seen["refused"].replace("\u00a0", " ").split())
    assert refused == (
        "Rien n'a été fait : Date de fin d'exécution : le 31/08/2026 est avant le démarrage "
        "(01/09/2026)."
    ), refused
    told = " ".join(seen["told"].replace("\u00a0", " ").split())
    assert told.startswith(
        "Date de fin d'exécution corrigée du 31/10/2026 au 30/11/2026 ; l'historique garde le "
        f"motif à votre nom. Novembre 2026 est désormais demandé à {COMPANY} : l'exécution "
        "s'est achevée le 30/11/2026 ; novembre 2026 : rappel n° 1 le "
    ), told
    assert "--end-date" not in told
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).end_date == date(2026, 11, 30)
