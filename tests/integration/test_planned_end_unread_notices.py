"""A company's email about its lot's planned end that never left told it nothing: the next move's
email tells the whole move from the end it last really read (SQLite and PostgreSQL).

A lot to 30 June 2027, extended on 15 February to 31 August: the server refuses the company's
email (a full mailbox), or gives up after its retries, or the facilitator takes it back. Extended
again on 10 March to 31 October: the company, which still believes 30 June, reads « du 30 juin
2027 au 31 octobre 2027 », July to October asked in addition, never « du 31 août »; the email that
did not leave is withdrawn, so that a retry cannot send the old move after the new one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

import pytest

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_planned_end_company_notices import (
    END,
    EXTENDED,
    EXTENDED_REASON,
    HOLDER,
    START,
    emails,
    listed,
    local,
)
from tests.text import squash
from workflow.adapters.mail import (
    Accepted,
    DeliveryError,
    MailConnection,
    MailTransport,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from workflow.app import clauses as clause_app
from workflow.bootstrap import App
from workflow.services.dispatch import MAX_ATTEMPTS, dispatch_due
from workflow.services.outbox import OutboxState
from workflow.services.outbox_corrections import cancel_email

pytestmark = pytest.mark.scenario

KIND = "company_planned_end"
OCTOBER = date(2027, 10, 31)


class _Refusing(MailConnection):
    def __init__(self, error: DeliveryError) -> None:
        self.error = error

    async def send(self, message: OutgoingMessage) -> Accepted:
        if message.kind == KIND:
            raise self.error
        return Accepted()


class RefusingTransport(MailTransport):
    """Accepts every email but the company's planned-end ones, which it refuses with ``error``."""

    def __init__(self, error: DeliveryError) -> None:
        self.error = error

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        yield _Refusing(self.error)

    def describe(self) -> str:
        return "refusing"


def refused(app: App, clause_id: int, at: datetime) -> None:
    dispatch_due(app, at, transport=RefusingTransport(PermanentFailure("550 boîte pleine")))


def given_up(app: App, clause_id: int, at: datetime) -> None:
    # Each attempt a day after the last: past every retry delay, until the last one gives up.
    for attempt in range(MAX_ATTEMPTS):
        transport = RefusingTransport(TransientFailure("451 réessayez plus tard"))
        dispatch_due(app, at + timedelta(days=attempt), transport=transport)


def taken_back(app: App, clause_id: int, at: datetime) -> None:
    [row] = emails(app, clause_id)
    with app.transaction() as session:
        cancel_email(session, row.id, actor="Léa", reason="à vérifier", now=at)


@pytest.mark.parametrize(
    ("fate", "state"),
    [
        (refused, OutboxState.FAILED.value),
        (given_up, OutboxState.DEAD.value),
        (taken_back, OutboxState.CANCELLED.value),
    ],
    ids=["refused", "given-up", "taken-back"],
)
def test_a_move_whose_email_never_left_is_told_again_with_the_next_one(
    app: App, clock: Clock, fate: Callable[[App, int, datetime], None], state: str
) -> None:
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    holder = lot.company_ids[0]
    clock.set(local(app, date(2027, 2, 15), 10))
    clause_app.set_planned_end(app, lot.clause_id, EXTENDED, reason=EXTENDED_REASON, actor="Léa")
    [first] = emails(app, lot.clause_id, holder)
    assert "passe du 30 juin 2027 au 31 août 2027" in squash(first.body_text)

    fate(app, lot.clause_id, local(app, date(2027, 2, 15), 11))
    [first] = emails(app, lot.clause_id, holder)
    assert first.state == state and first.sent_at is None

    clock.set(local(app, date(2027, 3, 10), 10))
    clause_app.set_planned_end(app, lot.clause_id, OCTOBER, reason="avenant n° 5", actor="Léa")

    first, second = emails(app, lot.clause_id, holder)
    text = squash(second.body_text)
    # What the company last read is its welcome's end: the whole move is told.
    assert "passe du 30 juin 2027 au 31 octobre 2027" in text
    assert "31 août" not in text
    assert list(listed(second.body_text)) == [date(2027, m, 1) for m in (7, 8, 9, 10)]
    assert second.subject.startswith("Fin prévue reportée au 31 octobre 2027 : mois de juillet")
    assert second.state == OutboxState.PENDING.value
    # The one that never left can no longer be sent by a retry.
    assert first.state == OutboxState.CANCELLED.value
    assert (first.last_error or "").startswith(
        "Annulé par Léa"
        if state == OutboxState.CANCELLED.value
        else "Remplacé : la fin prévue du lot a de nouveau changé le 10 mars 2027"
    )
