"""The outbox through the application layer: what the facilitator reads of it, failed mail put
back in the queue, a sending pass, a preview by the lot's reference. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import Clock
from tests.integration.test_dispatch import queue, row
from workflow.adapters.mail import PermanentFailure
from workflow.adapters.mail.memory import MemoryTransport
from workflow.app import mail
from workflow.bootstrap import App
from workflow.errors import InputRefused, NotFound
from workflow.services import catalog
from workflow.services.clauses import ClauseParameters, create_clause, no_publish
from workflow.services.outbox import Recipient


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport


def test_the_outbox_reads_newest_first_with_every_state_counted(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    queue(app, "a", Recipient("Élodie Durand", "elodie@btp.fr"), now=clock.now)
    queue(app, "b", Recipient("Marc Roux", "marc@btp.fr"), Recipient("Léa", "lea@btp.fr"))

    found = mail.outbox_messages(app)

    assert [m.key for m in found.messages] == ["b", "a"]
    newest = found.messages[0]
    assert newest.recipients == "marc@btp.fr, lea@btp.fr"
    assert (newest.state, newest.state_label, newest.attempts) == ("pending", "en attente", 0)
    assert newest.next_attempt_at is not None and newest.sent_at is None
    counts = dict(found.counts)
    assert found.counts[0] == ("pending", 2) and sum(counts.values()) == 2
    assert {"sending", "sent", "failed", "dead", "uncertain"} <= set(counts)
    # A state in French as well as stored; none of that state here.
    assert mail.outbox_messages(app, states=["envoyé"]).messages == ()
    with pytest.raises(InputRefused, match="État de courriel"):
        mail.outbox_messages(app, states=["perdu"])


def test_refused_mail_goes_back_in_the_queue_due_at_once_and_leaves(
    app: App, clock: Clock, memory: MemoryTransport
) -> None:
    memory.script = lambda message: PermanentFailure("550 5.1.1 inconnu")
    queue(app, "a", now=clock.now)
    queue(app, "b", now=clock.now)
    refused = mail.send_due(app)
    assert (refused.sent, refused.failed, refused.outage) == (0, 2, False)
    assert refused.transport == memory.describe()

    memory.script = None
    clock.set(clock.now + timedelta(hours=1))
    first = mail.retry_message(app, row(app, "a").id)
    rest = mail.retry_failed(app)
    sent = mail.send_due(app)

    assert [r.id for r in first] == [row(app, "a").id] and [r.id for r in rest] == [
        row(app, "b").id
    ]
    assert first[0].state == "failed" and first[0].readdressed() is None
    assert sent.sent == 2 and len(memory.sent) == 2
    assert row(app, "a").state == row(app, "b").state == "sent"
    # Sent mail is not sent again, and a number that is no message is said to be missing.
    with pytest.raises(InputRefused, match="ne peut pas être renvoyé"):
        mail.retry_message(app, row(app, "a").id)
    with pytest.raises(NotFound, match="Courriel n° 999 introuvable"):
        mail.retry_message(app, 999)
    assert mail.retry_failed(app) == ()


def test_a_preview_takes_the_lot_by_its_market_reference(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    now = clock()
    with app.transaction() as session:
        buyer = catalog.add_buyer(session, name="Ville d'Auch", now=now, settings=app.settings)
        catalog.add_buyer_contact(session, buyer.id, name="Léa Roux", email="lea@auch.example")
        operation = catalog.add_operation(session, buyer.id, name="Piscine", now=now)
        market = catalog.add_market(session, operation.id, reference="2026-07", title="Travaux")
        clause_id = create_clause(
            session,
            market,
            lot_number="01",
            lot_title="Réhabilitation",
            params=ClauseParameters(hours_override=900, override_reason="Avenant"),
            actor="test",
            now=now,
            publish=no_publish,
        ).id

    by_reference = mail.preview_email(app, "notice_identified", "2026-07/1", out_dir=tmp_path / "a")
    by_number = mail.preview_email(app, "notice_identified", str(clause_id), out_dir=tmp_path / "b")

    assert by_reference.preview == by_number.preview
    assert [r.email for r in by_reference.preview.recipients] == ["lea@auch.example"]
    assert by_reference.preview.rendered.subject == (
        "Clause d'insertion repérée – Piscine, lot 01 – Réhabilitation"
    )
    assert by_reference.eml == tmp_path / "a" / "notice_identified.eml"
    assert by_reference.html.read_text(encoding="utf-8") == by_reference.preview.rendered.html
    with pytest.raises(NotFound, match="le marché 2026-07 a les lots 01"):
        mail.preview_email(app, "notice_identified", "2026-07/3", out_dir=tmp_path / "c")
