"""The facilitator finishes a lot from its page in a real Chromium: the page it leads to says
November is no longer asked and names the reminder that could not be written again; its link
opens that email in the log, at its « Annuler ce courriel » form, where she cancels it. Each page
passes axe-core and is no wider than the window (``look_at``)."""

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
from tests.integration.test_finish_rewrites_reminder import (
    COMPANY,
    october_and_november_waiting,
    paris,
    row,
)
from tests.integration.test_web_finish_released import nobody_to_write_to
from workflow.adapters.mail.memory import MemoryTransport
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = [pytest.mark.slow, pytest.mark.scenario]

look_at = looker("achever")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Lot, str]]:
    """A lot whose reminder for October and November waits, its company with nobody to write
    to any more; its pages served on loopback; the lot and the reminder's key."""
    clock = Clock(paris(date(2026, 12, 1), 9))
    app = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    app.transport = MemoryTransport()
    lot, day, key = october_and_november_waiting(app, "reminder_1")
    nobody_to_write_to(app, lot)
    clock.set(paris(day, 10))
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
        yield app, f"http://127.0.0.1:{port}", lot, key
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def test_the_facilitator_finishes_a_lot_and_cancels_the_reminder_still_asking_november(
    chromium: Chromium, site: tuple[App, str, Lot, str], screenshots: Path
) -> None:
    app, base, lot, key = site
    email = row(app, key)

    def work(page: Any) -> dict[str, Any]:
        problems: list[str] = []
        sign_in(page, base + "/clauses", "camille")
        page.goto(f"{base}/clauses/{lot.clause_id}")
        page.get_by_label("Date de fin d'exécution").fill("2026-10-31")
        page.get_by_role("button", name="Avancer à l'étape suivante").click()
        problems += look_at(page, "fini", screenshots)
        told = page.locator("#message").inner_text()
        page.get_by_role("link", name=f"courriel n°\u00a0{email.id}").click()
        problems += look_at(page, "courriel", screenshots)
        url = page.url
        reason = page.get_by_label("Motif de l'annulation (le courriel ne partira pas)")
        in_view = reason.is_visible() and page.evaluate(
            "() => { const r = document.getElementById('motif').getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight; }"
        )
        reason.fill("Novembre n'est plus demandé")
        page.get_by_role("button", name="Annuler ce courriel").click()
        return {
            "problems": problems,
            "told": told,
            "url": url,
            "in_view": in_view,
            "after": page.locator("main").inner_text(),
        }

    seen = chromium.look(work)

    assert seen["problems"] == []
    told = " ".join(seen["told"].split())
    assert f"Novembre 2026 n'est plus demandé à {COMPANY}" in told, told
    assert (
        "1 courriel en attente demande encore novembre 2026 et n'a pas pu être écrit à nouveau "
        f"(rappel n° 1, courriel n° {email.id}) : annulez-le depuis sa page s'il ne doit pas "
        "partir (« Annuler ce courriel »)."
    ) in told.replace("\u00a0", " "), told
    assert "clauses mail" not in told
    assert seen["url"].endswith(f"/courriels/{email.id}#motif")
    assert seen["in_view"]
    assert "Courriel annulé : il ne partira pas." in seen["after"]
    assert row(app, key).state == "cancelled"
