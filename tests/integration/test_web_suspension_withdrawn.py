"""A lot suspended from its web page says what the suspension withdrew of its waiting emails, as
``clauses clause advance N suspendre`` prints it (``test_suspension_tells_withdrawn``).

The user's case: November's first reminder was queued that morning and has not left when the
facilitator suspends the lot from its page (« Autres événements », suspendre). The page the form
leads to said only « Clause passée à l'étape « suspendue » »: nothing told her that the email she
may have seen waiting in the log would not leave, nor that it goes again after the resumption.
The page now tells it, per company, in the command's words. What it tells is read from the email
log, not from the address: an address kept or typed (``?fait=suspended``) tells nothing the last
suspension of that lot did not withdraw.

The real site, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_company_end_notices import november_reminder_queued, paris
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_suspension_tells_withdrawn import TOLD
from tests.integration.test_web_finish_released import message, read
from tests.text import visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app import clauses as clause_app
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SUSPENDED = f"Clause passée à l'étape «{NBSP}suspendue{NBSP}» ; l'historique le garde à votre nom."


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def site(app: App) -> tuple[TestClient, str]:
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def suspend_on_the_page(client: TestClient, csrf: str, lot: Lot) -> tuple[str, str]:
    """« Suspendre la clause » from the lot's « Actions », as its page offers it: the address
    the form leads to, and that page."""
    page = client.get(f"/clauses/{lot.clause_id}")
    assert re.search(r'name="evenement" value="suspend"', page.text), visible(page.text)
    sent = client.post(
        f"/clauses/{lot.clause_id}/evenement",
        data={"csrf": csrf, "evenement": "suspend", "motif_evenement": "Fouilles archéologiques"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, visible(sent.text)
    address = sent.headers["location"]
    shown = client.get(address)
    assert shown.status_code == 200
    return address, shown.text


def test_the_page_after_the_suspension_names_the_reminder_it_withdrew(
    app: App, clock: Clock
) -> None:
    lot, reminder, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 10))
    client, csrf = site(app)

    address, page = suspend_on_the_page(client, csrf, lot)

    # The command's sentence, word for word, under the confirmation.
    assert read(message(page)) == f"{SUSPENDED} {TOLD}", read(message(page))
    with app.transaction() as session:
        assert session.get_one(OutboxMessage, reminder).state == "cancelled"
    # The address says only that a suspension was done: no company, no email, no step.
    assert address == f"/clauses/{lot.clause_id}?fait=suspended#message"
    # The same address shown again (kept, reloaded) says the same: it is what the log holds.
    assert read(message(client.get(address).text)) == f"{SUSPENDED} {TOLD}"


def test_a_kept_address_tells_nothing_the_last_suspension_did_not_withdraw(
    app: App, clock: Clock
) -> None:
    lot, _, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 10))
    client, csrf = site(app)
    address, first = suspend_on_the_page(client, csrf, lot)
    assert read(message(first)) == f"{SUSPENDED} {TOLD}"

    # Resumed: the reminder goes again with the resumption's dates; the old address says so no
    # more (the lot is not suspended).
    clock.set(paris(reminder_day, 11))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.RESUME)
    resumed = read(message(client.get(address).text))
    # Suspended again the same day, with nothing waiting: nothing withdrawn is told, although
    # the email withdrawn in the morning keeps the same words in the log.
    clock.set(paris(reminder_day, 12))
    _, again = suspend_on_the_page(client, csrf, lot)

    assert resumed == SUSPENDED, resumed
    assert read(message(again)) == SUSPENDED, read(message(again))
