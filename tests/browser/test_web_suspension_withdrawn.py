"""The facilitator suspends a lot from its page in a real Chromium while November's first
reminder waits in the outbox: the page the form leads to says, for the company, that the
reminder was withdrawn and that it goes again after the resumption, in the words of ``clauses
clause advance N suspendre``. The page passes axe-core and is no wider than the window
(``look_at``)."""

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
from tests.integration.test_company_end_notices import november_reminder_queued, paris
from tests.integration.test_suspension_tells_withdrawn import TOLD
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site

pytestmark = [pytest.mark.slow, pytest.mark.scenario]

look_at = looker("suspendre")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[App, str, Lot, int]]:
    """A lot whose November reminder waits, its pages served on loopback; the lot and the
    reminder's N°."""
    clock = Clock(paris(date(2026, 9, 1), 9))
    app = bootstrap(make_settings(tmp_path, sqlite_url, escalation_offset=25), clock=clock)
    app.transport = MemoryTransport()
    lot, reminder, day, _ = november_reminder_queued(app)
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
        yield app, f"http://127.0.0.1:{port}", lot, reminder
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.close()


def test_the_facilitator_suspends_a_lot_and_reads_the_reminder_it_withdrew(
    chromium: Chromium, site: tuple[App, str, Lot, int], screenshots: Path
) -> None:
    app, base, lot, reminder = site

    def work(page: Any) -> dict[str, Any]:
        sign_in(page, base + "/clauses", "camille")
        page.goto(f"{base}/clauses/{lot.clause_id}")
        page.get_by_label("Motif (obligatoire, gardé à l'historique)").fill(
            "Fouilles archéologiques"
        )
        page.get_by_role("button", name="Suspendre la clause").click()
        problems = look_at(page, "suspendue", screenshots)
        return {"problems": problems, "told": page.locator("#message").inner_text()}

    seen = chromium.look(work)

    assert seen["problems"] == []
    told = " ".join(seen["told"].split())
    assert told.startswith("Clause passée à l'étape « suspendue »"), told
    assert told.endswith(" ".join(TOLD.split())), told
    with app.transaction() as session:
        assert session.get_one(OutboxMessage, reminder).state == "cancelled"
