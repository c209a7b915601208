"""The facilitator records the final report and closes a lot from its page in a real Chromium,
while three declarations were never received: each form warns before she confirms, and the page
the closure leads to names the declarations no longer asked, by company. Each page passes
axe-core and is no wider than the window (``look_at``)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.browser.conftest import Chromium
from tests.browser.pages import PASSWORD, looker, sign_in
from tests.browser.test_online_declaration import free_port
from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_web_closure_owed_d import HOLDER, OTHER, a_lot_finished_with_months_owed
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.slow

look_at = looker("cloturer")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Lot]]:
    clock = Clock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock, handlers={})
    lot = a_lot_finished_with_months_owed(app, clock)
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


def test_the_facilitator_is_warned_before_the_report_and_the_closure_then_told_what_stops(
    chromium: Chromium, site: tuple[App, str, Lot], screenshots: Path
) -> None:
    _, base, lot = site

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/clauses", "camille")
        page.goto(f"{base}/clauses/{lot.clause_id}")
        problems += look_at(page, "avant", screenshots)
        before_report = page.locator("#bilan-attention").inner_text()
        before_closure = page.locator("#cloture-attention").inner_text()
        page.get_by_role("textbox", name="Bilan de l'opération").fill("Bonne collaboration.")
        page.get_by_role("button", name="Enregistrer le bilan").click()
        # Each form leads to another page: the next step acts on that one, not on the last.
        page.wait_for_url(re.compile(r"fait=bilan"))
        page.get_by_role("button", name="Avancer à l'étape suivante").click()
        page.wait_for_url(re.compile(r"fait=closed"))
        problems += look_at(page, "cloturee", screenshots)
        return {
            "problems": problems,
            "before_report": before_report,
            "before_closure": before_closure,
            "told": page.locator("#message").inner_text(),
            "warnings": page.locator(".notice").count(),
        }

    seen = chromium.look(work)

    def read(text: str) -> str:
        return " ".join(text.replace("\u00a0", " ").split())

    assert seen["problems"] == []
    owed = f"{HOLDER} (lot 1) : mars et avril 2026 {OTHER} (lot 1) : avril 2026"
    assert read(seen["before_report"]).startswith(
        "Attention : 3 déclarations mensuelles n'ont pas été reçues ; le bilan et le courriel "
        f"envoyé au donneur d'ordre donneront un total sans leurs heures, et nommeront ces "
        f"mois : {owed} "
    ), seen["before_report"]
    assert read(seen["before_closure"]).startswith(
        f"Attention : 3 déclarations mensuelles n'ont pas été reçues : {owed} Clôturer la "
        "clause arrêtera de les demander"
    ), seen["before_closure"]
    told = read(seen["told"])
    assert f"Déclarations plus demandées : {owed} Ces mois ne sont plus demandés" in told, told
    assert seen["warnings"] == 0
