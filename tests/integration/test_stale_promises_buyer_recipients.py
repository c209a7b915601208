"""A buyer's resumption notice written again after a stop goes to every contact it was first
written to when the buyer has none left (SQLite and PostgreSQL).

The lot resumes on 20 May 2026 while the service is stopped: the notice, to the buyer's two
contacts, waits with the dates it promises. Both contacts are removed before the restart of
15 June; the notice, written again that day, still goes to both of them, not to the first only.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_company_pause_notices import a_lot_suspended_with_april_owed, advance
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import BuyerContact, OutboxMessage
from workflow.app import catalog, corrections
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "notice_resumed"
NBSP = "\u00a0"
SECOND = "Bernard Roux", "bernard.roux@example.org"


def rows(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == KIND).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def addressed(settings: Settings) -> list[set[str]]:
    """The addresses of each notice the dispatcher wrote to the mail folder, as the mail client
    reads its « To »."""
    found = []
    for path in sorted((settings.mail_dir / KIND).glob("*.eml")):
        message = email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        found.append({address for _, address in getaddresses(message.get_all("To", []))})
    return found


def test_a_resumption_notice_written_again_goes_to_every_first_reader_of_a_buyer_left_bare(
    app: App, clock: Clock, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    lot = a_lot_suspended_with_april_owed(app)
    catalog.add_buyer_contact(app, lot.buyer_id, name=SECOND[0], email=SECOND[1])
    with app.transaction() as session:
        contacts = session.scalars(
            select(BuyerContact)
            .where(BuyerContact.buyer_id == lot.buyer_id)
            .order_by(BuyerContact.id)
        ).all()
        everyone = {c.email for c in contacts}
        contact_ids = [c.id for c in contacts]
    assert len(everyone) == 2 and SECOND[1] in everyone

    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise du gros œuvre")
    [waiting] = rows(app)
    assert waiting.state == "pending" and waiting.promised_until is not None
    assert len(waiting.recipients.splitlines()) == 2

    # Both contacts leave the buyer while the service is stopped.
    clock.set(paris(date(2026, 6, 1), 10))
    for contact_id in contact_ids:
        corrections.delete_contact(app, contact_id, reason="ont quitté le service")

    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    first, again = rows(app)
    assert first.state == "cancelled" and (first.last_error or "").startswith(f"Remplacé{NBSP}:")
    assert again.key == f"{first.key}~2" and again.state == "sent"
    # Read by each of them, as the first one would have been.
    assert addressed(settings) == [everyone]
    assert again.recipients == first.recipients
