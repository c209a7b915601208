"""A suspension withdraws the lot's ladder emails not yet left; the step withdrawn is sent again
after the resumption, with the dates the resumption gives.

The defect: a call queued by the 09:00 pass and not yet sent (``clauses mail send`` later, a
server down, a retry wait) still left after the lot was suspended at 10:00, with its old due
date, next to the suspension's email saying the dates move; once the lot resumed, the pass
found the call's key taken and went on to the reminders of a month never called. Now the call
is withdrawn in the suspension's transaction and called again after the resumption, under the
key of its second sending; an email a person cancelled is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_emails, ladders, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep, local_date
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.dispatch import dispatch_due
from workflow.services.ladder_keys import key_months
from workflow.services.outbox_corrections import cancel_email
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

MARCH = date(2026, 3, 1)
NBSP = "\u00a0"


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def mail_app(settings: Settings, clock: Clock, transport: MemoryTransport) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=transport)
    yield application
    application.close()


def advance(app: App, lot: Lot, event: ClauseEvent, at: datetime, reason: str | None) -> None:
    with app.transaction() as session:
        advance_clause(
            session, lot.clause_id, event, actor="test", reason=reason, now=at, publish=app.publish
        )


def of_kind(app: App, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def march_emails(app: App, lot: Lot, step: str) -> list[OutboxMessage]:
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        if parsed and (parsed.clause_id, parsed.step) == (lot.clause_id, step):
            found += [message] if MARCH in parsed.months else []
    return found


def delivered_subjects(transport: MemoryTransport) -> list[str]:
    return [str(m["Subject"]) for m in transport.parsed()]


def a_lot_called_at_nine(app: App) -> Lot:
    """Started on 2 March 2026; the pass of Wednesday 1 April 09:00 queues March's call (due
    10 April), not yet sent."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    calls = march_emails(app, lot, LadderStep.CALL)
    assert [m.state for m in calls] == ["pending"]
    return lot


def test_a_call_queued_before_the_suspension_never_leaves_and_is_sent_again_after_it(
    mail_app: App, transport: MemoryTransport, settings: Settings
) -> None:
    app = mail_app
    lot = a_lot_called_at_nine(app)
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 1), 10), "Fouilles archéologiques")

    (withdrawn,) = march_emails(app, lot, LadderStep.CALL)
    assert withdrawn.state == "cancelled"
    assert withdrawn.last_error == (
        f"Retiré{NBSP}: lot suspendu le 1er avril 2026 avant le départ de ce courriel{NBSP}; "
        "il sera envoyé de nouveau après la reprise, avec les dates qu'elle donne, si le mois "
        "est encore à déclarer."
    )
    # ``clauses mail send``: the suspension's email leaves, March's call does not.
    dispatch_due(app, paris(date(2026, 4, 1), 10, 5))
    subjects = delivered_subjects(transport)
    assert any(s.startswith("Clause d'insertion suspendue") for s in subjects), subjects
    assert not [s for s in subjects if "déclarer" in s.lower()], subjects
    # The suspension's email gives no date for March: it was never called.
    (suspended,) = of_kind(app, "company_lot_suspended")
    body = squash(suspended.body_text)
    assert "10 avril 2026" not in body, body
    assert "Aucune déclaration demandée avant la suspension n'est en attente" in body
    assert (
        "de mars et d'avril 2026, pas encore demandées, vous seront demandées après la reprise"
        in (body)
    ), body
    (ladder,) = [lad for lad in ladders(app) if lad.month == MARCH]
    assert (ladder.next_step, ladder.called_at) == (LadderStep.CALL, None)

    # Resumed on Monday 20 April at 10:00 (past the call hour): March is called the next
    # morning, due six working days later (as on 1 April for 10 April, Easter Monday
    # not counted).
    resumed_at = paris(date(2026, 4, 20), 10)
    advance(app, lot, ClauseEvent.RESUME, resumed_at, "Fouilles terminées")
    (resumed,) = of_kind(app, "company_lot_resumed")
    said = squash(resumed.body_text)
    assert (
        "Le 21 avril 2026, vous recevrez l'appel à déclarer les heures d'insertion du mois de "
        "mars 2026 réalisées par Bâtiments Test, déclaration à rendre au plus tard le "
        "29 avril 2026."
    ) in said, said
    # Two passes of one instance, then a second instance, at each moment.
    other = bootstrap(settings, clock=lambda: resumed_at, transport=transport)
    try:
        for moment in (
            paris(date(2026, 4, 20), 10, 1),
            paris(date(2026, 4, 21), 9),
            paris(date(2026, 4, 21), 9, 1),
        ):
            run_pass(app, moment, dispatch=False)
            run_pass(app, moment, dispatch=False)
            run_pass(other, moment, dispatch=False)
    finally:
        other.close()
    calls = march_emails(app, lot, LadderStep.CALL)
    assert [(m.key.rsplit(":", 1)[1], m.state) for m in calls] == [
        ("call", "cancelled"),
        ("call~2", "pending"),
    ]
    again = calls[1]
    assert local_date(again.created_at, app.settings.zone) == date(2026, 4, 21)
    assert "au plus tard le 29 avril 2026" in squash(again.subject), again.subject
    dispatch_due(app, paris(date(2026, 4, 21), 9, 2))
    assert len([s for s in delivered_subjects(transport) if "déclarer" in s.lower()]) == 1
    # The ladder goes on from the call that left: reminder 1, three working days after the
    # due date (1 May is a holiday), holds the company to that date.
    for day in (date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6)):
        run_pass(app, paris(day, 9), dispatch=False)
    (reminder,) = march_emails(app, lot, "reminder_1")
    assert local_date(reminder.created_at, app.settings.zone) == date(2026, 5, 5)
    assert reminder.key.endswith(":reminder_1")
    assert "29 avril 2026" in squash(reminder.body_text)


def test_a_reminder_queued_before_the_suspension_leaves_again_at_the_resumptions_pace(
    app: App,
) -> None:
    """March called on 1 April (due 10 April); reminder 1 queued on 15 April at 09:00, the lot
    suspended at 10:00 until 27 April: the reminder is sent again on 28 April, the suspended
    days not counted; never twice."""
    lot = a_lot_called_at_nine(app)
    dispatch_due(app, paris(date(2026, 4, 1), 9, 5))
    run_pass(app, paris(date(2026, 4, 15), 9), dispatch=False)
    (first,) = march_emails(app, lot, "reminder_1")
    assert first.state == "pending"
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 15), 10), None)
    (first,) = march_emails(app, lot, "reminder_1")
    assert first.state == "cancelled"
    # The company was called: March stays owed, with the date its call gave.
    body = squash(of_kind(app, "company_lot_suspended")[0].body_text)
    assert "- mars 2026 : attendue depuis le 10 avril 2026" in body, body
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 4, 27), 10), None)
    for day in (date(2026, 4, 27), date(2026, 4, 28), date(2026, 4, 29)):
        run_pass(app, paris(day, 9, 30), dispatch=False)
        run_pass(app, paris(day, 9, 30), dispatch=False)
    reminders = march_emails(app, lot, "reminder_1")
    assert [(m.key.rsplit(":", 1)[1], m.state) for m in reminders] == [
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "pending"),
    ]
    assert local_date(reminders[1].created_at, app.settings.zone) == date(2026, 4, 28)
    assert "10 avril 2026" in squash(reminders[1].body_text)


def test_an_email_a_person_cancelled_is_never_sent_again(app: App) -> None:
    """Two companies called at 09:00; the facilitator cancels the co-contractor's call
    (``clauses mail cancel``) at 09:30, the lot is suspended at 10:00: the holder's call,
    withdrawn by the service, is called again after the resumption; the one she cancelled
    never is."""
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2026, 12, 31),
        companies=("Titulaire", "Cotraitant"),
        at=paris(date(2026, 3, 2), 8),
    )
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    holder, partner = lot.company_ids
    calls = {key_months(m.key).company_id: m for m in march_emails(app, lot, LadderStep.CALL)}  # type: ignore[union-attr]
    with app.transaction() as session:
        cancel_email(
            session,
            calls[partner].id,
            actor="Camille Martin",
            reason="adresse d'un ancien salarié",
            now=paris(date(2026, 4, 1), 9, 30),
        )
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 4, 1), 10), None)
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 4, 20), 10), None)
    for day in (date(2026, 4, 20), date(2026, 4, 21), date(2026, 4, 22)):
        run_pass(app, paris(day, 9, 30), dispatch=False)
    found = sorted(
        (key_months(m.key).company_id, m.key.rsplit(":", 1)[1], m.state)  # type: ignore[union-attr]
        for m in march_emails(app, lot, LadderStep.CALL)
    )
    assert found == [
        (holder, "call", "cancelled"),
        (holder, "call~2", "pending"),
        (partner, "call", "cancelled"),
    ]
    with app.transaction() as session:
        note = session.get_one(OutboxMessage, calls[partner].id).last_error
    assert note is not None and note.startswith("Annulé par Camille Martin le 1er avril 2026")


def test_the_buyers_alert_queued_before_the_suspension_does_not_leave_for_a_suspended_lot(
    app: App,
) -> None:
    """Every step of March sent; its alert queued on 4 May 09:00 (fifteen working days after
    10 April), the lot suspended at 10:00: the alert is withdrawn, then sent again after the
    resumption, once, after the reminders."""
    lot = a_lot_called_at_nine(app)
    day = date(2026, 4, 1)
    while day <= date(2026, 5, 4):
        run_pass(app, paris(day, 9), dispatch=False)
        dispatch_due(app, paris(day, 9, 5)) if day != date(2026, 5, 4) else None
        day = date.fromordinal(day.toordinal() + 1)
    (alert,) = march_emails(app, lot, LadderStep.ESCALATION)
    assert alert.state == "pending", alert.key
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 5, 4), 10), None)
    (alert,) = march_emails(app, lot, LadderStep.ESCALATION)
    assert alert.state == "cancelled"
    dispatch_due(app, paris(date(2026, 5, 4), 10, 5))
    assert [m.state for m in march_emails(app, lot, LadderStep.ESCALATION)] == ["cancelled"]
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 5, 11), 10), None)
    day = date(2026, 5, 11)
    while day <= date(2026, 5, 20):
        run_pass(app, paris(day, 9, 30), dispatch=False)
        day = date.fromordinal(day.toordinal() + 1)
    alerts = march_emails(app, lot, LadderStep.ESCALATION)
    assert [m.key.rsplit(":", 1)[1] for m in alerts] == ["escalation", "escalation~2"]
    last_reminder = max(
        m.created_at for m in ladder_emails(app) if "reminder_" in m.key and "2026-03" in m.key
    )
    assert alerts[1].created_at > paris(date(2026, 5, 11), 10) > last_reminder
