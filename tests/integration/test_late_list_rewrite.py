"""A call or a reminder still waiting in the outbox no longer names as late a month the company
has just declared.

The user's case: Bâtiments Gascons never sent September (due 12 October, reminded twice). On
Monday 2 November the mail server is down: the October call, written at 9:00, waits in the
outbox saying « Par ailleurs, la déclaration de septembre 2026, attendue le 12 octobre 2026, ne
m'est toujours pas parvenue … ». At 10:00 the company declares September. The call left the
next morning, when the server answered again, still saying September was missing: false. It is
now written again in the declaration's transaction, without September, and leaves in place of
the first one, which the facilitator finds withdrawn in the email log with its reason
(« Remplacé : septembre 2026, qu'il disait encore en retard, a été déclaré le … »).

On the real passes and dispatcher of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, make_lot
from tests.integration.test_call_names_late_months import named_late
from workflow.adapters.mail import Accepted, ConnectionFailure, DeliveryError, OutgoingMessage
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.emails.envelope import OutboxState
from workflow.services.reminder_emails import key_months, ladder_history
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
AUG, SEP, OCT = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
MONDAY = date(2026, 11, 2)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


class Server:
    """The mail server, reachable or not."""

    def __init__(self) -> None:
        self.down = False

    def __call__(self, message: OutgoingMessage) -> Accepted | DeliveryError | None:
        if self.down:
            return ConnectionFailure("serveur SMTP injoignable : connexion refusée", "refused")
        return None


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def app(settings: Settings, clock: Clock, server: Server) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport(server))
    yield application
    application.close()


def transport(app: App) -> MemoryTransport:
    assert isinstance(app.transport, MemoryTransport)
    return app.transport


def delivered_text(app: App, key: str) -> str:
    """The plain text part of the message delivered under ``key``."""
    [message] = [
        parsed
        for sent, parsed in zip(transport(app).sent, transport(app).parsed(), strict=True)
        if sent.key == key
    ]
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def calls_of(app: App, lot: Lot, month: date) -> list[OutboxMessage]:
    found = []
    for email in ladder_emails(app):
        parsed = key_months(email.key)
        if parsed is not None and parsed.step == "call" and parsed.months == (month,):
            assert email.clause_id == lot.clause_id
            found.append(email)
    return found


def declaring(lot: Lot, month: date, at: datetime) -> TimedAction:
    def run(app: App, when: datetime) -> None:
        declare(app, lot, month, when)

    return TimedAction(at=at, label=f"déclaration {month:%Y-%m}", run=run)


def server_down_on_monday(app: App, server: Server) -> Lot:
    """September never declared; the server down from Monday 2 November on."""
    lot = make_lot(
        app, start=SEP, end=date(2027, 6, 30), companies=("Bâtiments Gascons",), at=paris(SEP, 8)
    )
    simulate(app, SEP, date(2026, 11, 1))
    server.down = True
    return lot


def test_the_october_call_waiting_leaves_without_september_once_september_is_declared(
    app: App, server: Server
) -> None:
    lot = server_down_on_monday(app, server)
    simulate(app, MONDAY, MONDAY, actions=[declaring(lot, SEP, paris(MONDAY, 10))])
    server.down = False
    simulate(app, date(2026, 11, 3), date(2026, 11, 3))

    [first, again] = calls_of(app, lot, OCT)
    # The first one, written at 9:00 while the server was down, named September as late.
    assert first.created_at == paris(MONDAY, 9)
    assert (
        "Par ailleurs, la déclaration de septembre 2026, attendue le 12 octobre 2026, ne m'est "
        "toujours pas parvenue (relancée deux fois" in first.body_text
    )
    # Withdrawn in the declaration's transaction; the facilitator reads why in the email log.
    assert first.state == OutboxState.CANCELLED
    assert first.last_error == (
        f"Remplacé{NBSP}: septembre 2026, qu'il disait encore en retard, a été déclaré le "
        f"2 novembre 2026{NBSP}; le même courriel, écrit à nouveau sans ce mois, part à sa "
        "place."
    )
    # Written again for October, the same moment, to the same person: its next sending's key.
    assert again.key == f"{first.key}~2"
    assert again.created_at == first.created_at
    assert again.recipients == first.recipients
    assert again.subject == first.subject
    assert again.state == OutboxState.SENT
    assert named_late(again.body_text) == {}
    assert "Par ailleurs" not in again.body_text
    assert "septembre 2026" not in again.body_text
    assert "d'octobre 2026" in again.body_text
    # What the company read: October asked, nothing about September.
    assert transport(app).keys().count(again.key) == 1
    assert first.key not in [m.key for m in transport(app).sent]
    text = delivered_text(app, again.key)
    assert "septembre" not in text
    assert "Par ailleurs" not in text
    # The call October got is the one written again (the buyer's alert and the digest read it).
    with app.transaction() as session:
        history = ladder_history(session, [lot.clause_id])
    october = history[(lot.clause_id, lot.company_ids[0], OCT)]
    assert [(e.key, e.state) for e in october if e.step == "call"] == [
        (again.key, OutboxState.SENT)
    ]


def test_a_waiting_call_naming_another_month_still_late_keeps_its_words(
    app: App, server: Server
) -> None:
    """A lot started in August: the October call names August and September late; September
    declared, it is written again naming August alone, in one sentence."""
    lot = make_lot(
        app, start=AUG, end=date(2027, 6, 30), companies=("Bâtiments Gascons",), at=paris(AUG, 8)
    )
    simulate(app, AUG, date(2026, 11, 1))
    server.down = True
    simulate(app, MONDAY, MONDAY, actions=[declaring(lot, SEP, paris(MONDAY, 10))])
    server.down = False
    simulate(app, date(2026, 11, 3), date(2026, 11, 3))

    [first, again] = calls_of(app, lot, OCT)
    assert set(named_late(first.body_text)) == {AUG, SEP}
    assert first.state == OutboxState.CANCELLED
    assert (first.last_error or "").startswith(
        f"Remplacé{NBSP}: septembre 2026, qu'il disait encore en retard, a été déclaré le "
    )
    assert named_late(again.body_text) == {AUG: named_late(first.body_text)[AUG]}
    assert "Par ailleurs, la déclaration d'août 2026, attendue le " in again.body_text
    text = delivered_text(app, again.key).replace("\r\n", "\n")
    assert named_late(text) == {AUG: date(2026, 9, 10)}
    assert "déclaration de septembre" not in text


def test_a_waiting_call_not_naming_the_month_declared_is_left_as_written(
    app: App, server: Server
) -> None:
    """September declared on time: the October call waiting names nothing late. October
    declared while it waits: withdrawn, not written again."""
    lot = make_lot(
        app, start=SEP, end=date(2027, 6, 30), companies=("Bâtiments Gascons",), at=paris(SEP, 8)
    )
    simulate(
        app, SEP, date(2026, 11, 1), actions=[declaring(lot, SEP, paris(date(2026, 10, 5), 10))]
    )
    server.down = True
    simulate(app, MONDAY, MONDAY)
    [call] = calls_of(app, lot, OCT)
    assert call.state == OutboxState.PENDING
    before = call.body_text
    declare(app, lot, OCT, paris(MONDAY, 15))
    with app.transaction() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.key.like(f"{call.key.split('~')[0]}%"))
            )
        )
    assert [(r.key, r.state, r.body_text) for r in rows] == [
        (call.key, OutboxState.CANCELLED, before)
    ]
    assert (rows[0].last_error or "").startswith("Retiré : le mois a été déclaré")
