"""A forged address after a finish shows nothing the finish did not do (CHANGELOG: « a forged
address shows nothing false »).

The page a finish leads to tells what it released from its address (``liberes``): the months,
the steps withdrawn or written again, the emails still asking a released month, by N°, each
linked to its page to cancel it. The address can be kept or typed: an email of another lot, a
N° that is no email, an email of this lot that does not ask the months named, a step the finish
did not withdraw, are not told (no link to cancel an unrelated email); the genuine address still
tells all; once the email is cancelled, the page no longer asks to cancel it.

On the real passes of a simulated clock, the real site; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration import test_web_finish_released as finished
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_finish_rewrites_reminder import (
    NBSP,
    october_and_november_waiting,
    paris,
    row,
)
from tests.integration.test_web_finish_released import (
    RELEASED,
    finish_on_the_page,
    message,
    nobody_to_write_to,
    read,
    site,
)
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App

pytestmark = pytest.mark.scenario

# The same fixtures as the pages of a genuine finish (its settings, its app on a memory outbox).
settings = finished.settings
app = finished.app

DONE = f"Clause passée à l'étape «{NBSP}suivi et bilan{NBSP}» ; l'historique le garde à votre nom."


def waiting_email(app: App, clause_id: int, company_id: int, months: str, step: str) -> int:
    """An email waiting in the outbox under a ladder key (``ladder_keys.step_key``); its N°."""
    with app.transaction() as session:
        email = OutboxMessage(
            key=f"reminder:{clause_id}:{company_id}:{months}:{step}",
            kind="declaration_reminder",
            clause_id=clause_id,
            recipients="Autre <autre@example.org>",
            subject="Rappel",
            body_text="Rappel",
            body_html="<p>Rappel</p>",
            state="pending",
            created_at=paris(date(2026, 12, 1), 9),
        )
        session.add(email)
        session.flush()
        return email.id


def told(client: TestClient, lot: Lot, *liberes: str) -> str:
    """The confirmation the lot's page shows for ``?fait=follow_up&liberes=…``, as read."""
    query = "&".join(f"liberes={part}" for part in liberes)
    page = client.get(f"/clauses/{lot.clause_id}?fait=follow_up&{query}")
    assert page.status_code == 200
    return read(message(page.text))


def test_a_forged_address_names_no_email_the_finish_did_not_leave_waiting(
    app: App, clock: Clock
) -> None:
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    old = row(app, old_key)
    nobody_to_write_to(app, lot)
    other = make_lot(app, companies=("Autre Entreprise",), at=paris(date(2026, 12, 1), 10))
    company = lot.company_ids[0]
    of_another_lot = waiting_email(
        app, other.clause_id, other.company_ids[0], "2026-11", "reminder_1"
    )
    october_only = waiting_email(app, lot.clause_id, company, "2026-10", "reminder_2")
    clock.set(paris(day, 10))
    client, csrf = site(app)
    page = finish_on_the_page(client, csrf, lot)
    genuine = (
        f"{RELEASED}{NBSP}; 1 courriel en attente demande encore novembre 2026 et n'a pas pu être "
        f"écrit à nouveau (rappel n° 1, courriel n°{NBSP}{old.id}){NBSP}: annulez-le depuis sa "
        f"page s'il ne doit pas partir («{NBSP}Annuler ce courriel{NBSP}»)."
    )
    assert read(message(page)) == f"{DONE} {genuine}"

    # The genuine address, typed again: the same.
    assert told(client, lot, f"{company}:2026-11::::reminder_1.{old.id}:2026-11") == (
        f"{DONE} {genuine}"
    )
    # An email of another lot, a N° that is no email, an email of this lot asking October only:
    # none is named, nor linked; nor is a step the finish did not withdraw.
    for forged in (
        f"{company}:2026-11::::reminder_1.{of_another_lot}:2026-11",
        f"{company}:2026-11::::reminder_1.99999999:2026-11",
        f"{company}:2026-11::::reminder_2.{october_only}:2026-11",
        f"{company}:2026-11::::reminder_1.{old.id},reminder_2.{october_only}:2026-11",
        f"{company}:2026-11:reminder_2:::reminder_1.{old.id}:2026-11",
        f"{company}:2026-11,2026-12::::reminder_1.{old.id}:2026-11,2026-12",
    ):
        said = told(client, lot, forged)
        assert said == DONE, (forged, said)
    for number in (of_another_lot, 99999999, october_only):
        page = client.get(
            f"/clauses/{lot.clause_id}?fait=follow_up"
            f"&liberes={company}:2026-11::::reminder_1.{number}:2026-11"
        )
        assert f"/courriels/{number}" not in page.text
        assert "Annuler ce courriel" not in read(message(page.text))

    # Cancelled since from its page: the page no longer asks to cancel it; the release stays.
    cancelled = client.post(
        f"/courriels/{old.id}/annuler",
        data={"csrf": csrf, "motif": "Novembre n'est plus demandé"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert row(app, old_key).state == "cancelled"
    assert told(client, lot, f"{company}:2026-11::::reminder_1.{old.id}:2026-11") == (
        f"{DONE} {RELEASED}."
    )
