"""An award corrected before its notice left: the buyer reads one award notice, as the award
stands (SQLite and PostgreSQL, through the real outbox and the file transport).

The defect: awarded on 20 January, corrected on 22 January (the holder's hours, a
subcontractor added, the start moved), nothing delivered between: the buyer got the award notice
with the first figures and, in the same minute, « Attribution corrigée » about a notice it had
not read yet. Now the waiting award notice is withdrawn, its reason kept, and written again as
the award stands; no correction notice is written. An award notice that left is followed by
the correction, as before.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date
from email.message import EmailMessage

from sqlalchemy import select

from tests.integration.test_clause_corrections import (
    Territory,
    award,
    clean,
    new_clause,
    territory,
    utc,
)
from tests.text import squash
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.events import DomainEvent
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.clauses import PartyInput
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

KINDS = ("notice_awarded", "notice_award_corrected")


def buyer_notices(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.in_(KINDS)).order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
        return list(found)


def received(settings: Settings, kind: str) -> list[EmailMessage]:
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / kind).glob("*.eml"))
    ]


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return squash(body.get_content())


def corrected(app: App, clause_id: int, land: Territory) -> list[DomainEvent]:
    """The holder's hours 500 → 450, a subcontractor added, the start moved to 16 March."""
    _, events = award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 22, 9),
        holder_hours=450,
        extra=(PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),),
        start=date(2026, 3, 16),
    )
    return events


def test_an_award_corrected_before_its_notice_left_is_told_once_as_it_stands(
    app: App, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    events = corrected(app, clause_id, land)

    first, again = buyer_notices(app)
    assert (first.kind, first.state) == ("notice_awarded", "cancelled")
    assert first.last_error == (
        "Remplacé : l'attribution du lot a été corrigée le 22 janvier 2026 avant le départ de ce "
        "courriel ; l'avis d'attribution, écrit d'après l'attribution corrigée, part à sa place."
    )
    assert (again.kind, again.key, again.state) == ("notice_awarded", f"{first.key}~2", "pending")
    # The correction handled again: nothing withdrawn, nothing written.
    with app.transaction() as session:
        for event in events:
            app.publish(session, event)
    assert [(n.key, n.state) for n in buyer_notices(app)] == [
        (first.key, "cancelled"),
        (again.key, "pending"),
    ]

    dispatch_due(app, utc(2026, 1, 22, 10))
    assert received(settings, "notice_award_corrected") == []
    [message] = received(settings, "notice_awarded")
    text = plain(message)
    assert str(message["Subject"]).startswith("Marché attribué à Bâtiments Gascons – ")
    assert "corrig" not in text.lower(), text
    # The award as it stands: the holder's 450 hours, the subcontractor, the start of 16 March.
    assert "450\u00a0h" in text, text
    assert "500\u00a0h" not in text, text
    assert "Peintures d'Auch" in text, text
    assert "16 mars 2026" in text, text
    assert "2 mars 2026" not in text, text
    clean(app)


def test_an_award_notice_that_left_is_followed_by_the_correction(
    app: App, settings: Settings
) -> None:
    app.transport = FileTransport(settings.mail_dir)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    dispatch_due(app, utc(2026, 1, 20, 10))
    corrected(app, clause_id, land)
    dispatch_due(app, utc(2026, 1, 22, 10))
    assert [(n.kind, n.state) for n in buyer_notices(app)] == [
        ("notice_awarded", "sent"),
        ("notice_award_corrected", "sent"),
    ]
    [told] = received(settings, "notice_award_corrected")
    assert "500\u00a0h → 450\u00a0h" in plain(told), plain(told)
    clean(app)


def test_a_first_correction_handled_again_after_a_second_one_left_writes_nothing(
    app: App, settings: Settings
) -> None:
    """Review: two corrections before the award notice left (``~2`` then ``~3``), ``~3`` sent;
    the first correction's events handled again must not write an « Attribution corrigée »
    about a change the buyer never read (it read the award as it stands)."""
    app.transport = FileTransport(settings.mail_dir)
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    events = corrected(app, clause_id, land)
    award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 22, 10),
        holder_hours=400,
        extra=(PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),),
        start=date(2026, 3, 16),
    )
    dispatch_due(app, utc(2026, 1, 22, 11))
    before = [(n.key, n.kind, n.state) for n in buyer_notices(app)]
    assert [state for _, _, state in before] == ["cancelled", "cancelled", "sent"]

    with app.transaction() as session:
        for event in events:
            app.publish(session, event)

    assert [(n.key, n.kind, n.state) for n in buyer_notices(app)] == before
    [message] = received(settings, "notice_awarded")
    assert "400\u00a0h" in plain(message)
    clean(app)
