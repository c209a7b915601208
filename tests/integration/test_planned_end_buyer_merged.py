"""The buyer's notice of a planned end moved twice before it left: one notice, the whole move
(SQLite and PostgreSQL, through the real outbox and the file transport).

The defect: a lot to 30 June 2027, extended at 10:00 to 31 August, at 11:00 to 31 October, no
delivery between: the companies read one email (« du 30 juin 2027 au 31 octobre 2027 ») while the
buyer got two, the first saying « au 31 août 2027 », false when read. Now the buyer's first
notice, still waiting, is withdrawn with its reason, and the second says the whole move from the
end the buyer last read, with each step's reason; brought back to the end the buyer knows before
anything left, the buyer reads nothing.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_planned_end_company_notices import END, EXTENDED, HOLDER, START, local
from tests.text import squash
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app import clauses as clause_app
from workflow.bootstrap import App
from workflow.domain.events import PlannedEndMoved
from workflow.services.audit import verify
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

KIND = "notice_planned_end"
OCTOBER = date(2027, 10, 31)
REPLACED = (
    "Remplacé : la fin prévue du lot a de nouveau changé le 15 février 2027 avant le départ de "
    "ce courriel ; l'avis suivant dit le changement entier, depuis la fin prévue que le "
    "donneur d'ordre connaît."
)


def notices(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == KIND).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def received(settings: Settings) -> list[EmailMessage]:
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / KIND).glob("*.eml"))
    ]


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return squash(body.get_content())


def test_moved_twice_before_the_notice_left_the_buyer_reads_the_whole_move_once(
    app: App, clock: Clock, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    events: list[PlannedEndMoved] = []
    app.subscribe(PlannedEndMoved, lambda _app, _session, event: events.append(event))
    for hour, end, reason in (
        (10, EXTENDED, "avenant n° 4 : intempéries"),
        (11, OCTOBER, "avenant n° 5 : lot de finitions ajouté"),
    ):
        clock.set(local(app, date(2027, 2, 15), hour))
        clause_app.set_planned_end(app, lot.clause_id, end, reason=reason, actor="Léa")

    first, second = notices(app)
    assert (first.state, first.last_error) == ("cancelled", REPLACED)
    assert second.state == "pending"
    # Each move handled again: nothing withdrawn, nothing written.
    with app.transaction() as session:
        for event in list(events):
            app.publish(session, event)
    assert [(n.key, n.state) for n in notices(app)] == [
        (first.key, "cancelled"),
        (second.key, "pending"),
    ]

    dispatch_due(app, local(app, date(2027, 2, 15), 12))
    [message] = received(settings)
    text = plain(message)
    assert (
        "La fin prévue du lot 1 «\u00a0Gros œuvre\u00a0» passe du 30 juin 2027 au 31 octobre "
        in (text)
    ), text
    assert "31 août 2027" in text  # only as the first step, with its reason
    assert (
        "Elle a été modifiée 2 fois avant le départ de mon message sur la première "
        "modification ; ce message-ci les dit toutes : "
        "- fin prévue fixée au 31 août 2027 : motif indiqué : avenant n° 4 : intempéries "
        "- fin prévue fixée au 31 octobre 2027 : motif indiqué : avenant n° 5 : lot de "
        "finitions ajouté"
    ) in text, text
    assert "passe du 31 août 2027" not in text
    # July to October asked in addition, as the companies read it.
    for month in ("juillet", "août", "septembre", "octobre"):
        assert f"{month} 2027" in text, text
    assert verify(app).ok


def test_moved_back_before_the_notice_left_the_buyer_reads_nothing(
    app: App, clock: Clock, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    clock.set(local(app, date(2027, 2, 15), 10))
    clause_app.set_planned_end(app, lot.clause_id, EXTENDED, reason="avenant n° 4", actor="Léa")
    clock.set(local(app, date(2027, 2, 15), 14))
    clause_app.set_planned_end(app, lot.clause_id, END, reason="avenant annulé", actor="Léa")
    [first] = notices(app)
    assert first.state == "cancelled"
    assert first.last_error == (
        "Retiré : la fin prévue du lot est revenue le 15 février 2027 au 30 juin 2027, celle "
        "que le donneur d'ordre connaît, avant le départ de ce courriel."
    )
    dispatch_due(app, local(app, date(2027, 2, 15), 15))
    assert received(settings) == []

    # Moved again the next day: the buyer, told nothing yet, reads 30 June → 31 October.
    clock.set(local(app, date(2027, 2, 16), 9))
    clause_app.set_planned_end(app, lot.clause_id, OCTOBER, reason="avenant n° 5", actor="Léa")
    dispatch_due(app, local(app, date(2027, 2, 16), 9) + timedelta(minutes=5))
    [message] = received(settings)
    assert "passe du 30 juin 2027 au 31 octobre 2027" in plain(message), plain(message)
    assert verify(app).ok


def test_a_notice_that_left_is_the_end_the_buyer_knows(
    app: App, clock: Clock, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    clock.set(local(app, date(2027, 2, 15), 10))
    clause_app.set_planned_end(app, lot.clause_id, EXTENDED, reason="avenant n° 4", actor="Léa")
    dispatch_due(app, local(app, date(2027, 2, 15), 10) + timedelta(minutes=5))
    clock.set(local(app, date(2027, 2, 15), 11))
    clause_app.set_planned_end(app, lot.clause_id, OCTOBER, reason="avenant n° 5", actor="Léa")
    dispatch_due(app, local(app, date(2027, 2, 15), 11) + timedelta(minutes=5))
    first, second = received(settings)
    assert "passe du 30 juin 2027 au 31 août 2027" in plain(first)
    assert "passe du 31 août 2027 au 31 octobre 2027" in plain(second)
    assert "Motif indiqué : avenant n° 5" in plain(second)
    assert [n.state for n in notices(app)] == ["sent", "sent"]


def test_a_move_undone_before_its_notice_left_is_not_told_with_the_next_one(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Review: extended to 31 August, moved back to 30 June (the end the buyer knows), then to
    31 October the next day: the buyer reads one move, 30 June → 31 October, never the undone
    « avenant n° 4 » as a step of it."""
    app.transport = FileTransport(settings.mail_dir)
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    clock.set(local(app, date(2027, 2, 15), 10))
    clause_app.set_planned_end(app, lot.clause_id, EXTENDED, reason="avenant n° 4", actor="Léa")
    clock.set(local(app, date(2027, 2, 15), 14))
    clause_app.set_planned_end(app, lot.clause_id, END, reason="avenant annulé", actor="Léa")
    clock.set(local(app, date(2027, 2, 16), 9))
    clause_app.set_planned_end(app, lot.clause_id, OCTOBER, reason="avenant n° 5", actor="Léa")
    dispatch_due(app, local(app, date(2027, 2, 16), 9) + timedelta(minutes=5))

    [message] = received(settings)
    text = plain(message)
    assert "passe du 30 juin 2027 au 31 octobre 2027" in text
    assert "31 août" not in text and "avenant n° 4" not in text
    assert "modifiée" not in text
    assert "avenant n° 5" in text
    assert [finding.line for finding in verify(app).findings] == []
