"""A declaration cancelled on the eve of its alert date does not have the buyer alerted the next
morning.

Found by a walk-through: September called, reminded twice, declared before its alert date, then
cancelled by the facilitator (« envoyée sur le mauvais lot ») the day before that date; the
buyer was told the next morning that the company « n'a pas transmis sa déclaration » (an alert
precedes penalties), the company having had one day after learning of the cancellation. The
cancellation counts as the step before the alert: the company keeps the ladder's gap between
its last reminder and the alert (8 working days with reminders at 3 and 7, the alert at 15).
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import add_working_days, at_local, is_working_day, local_date
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)


def working_day_before(day: date) -> date:
    previous = day - timedelta(days=1)
    while not is_working_day(previous):
        previous -= timedelta(days=1)
    return previous


def test_the_alert_keeps_its_gap_after_a_cancellation_on_its_eve(app: App, clock: Clock) -> None:
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 10, 23))
    steps = [m.key.rsplit(":", 1)[1] for m in ladder_emails(app) if ":2026-09:" in m.key]
    assert steps == ["call", "reminder_1", "reminder_2"]
    with app.transaction() as session:
        september = session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.month == SEP)
        ).one()
        due_on = september.due_on
    alert_day = add_working_days(due_on, 15)
    # The working day before the alert date: declared two days before it, cancelled on the eve.
    eve = working_day_before(alert_day)
    declared_on = working_day_before(eve)
    simulate(app, date(2026, 10, 24), declared_on)
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))
    simulate(app, declared_on, eve)
    clock.set(at_local(eve, time(16), zone))
    cancelled = cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    assert cancelled.ladder is not None and cancelled.ladder.step == "escalation"
    simulate(app, add_working_days(eve, 1), add_working_days(eve, 12))

    [alert] = [m for m in ladder_emails(app) if m.key.endswith(":2026-09:escalation")]
    sent_on = local_date(alert.created_at, zone)
    assert sent_on == add_working_days(eve, 8)  # not the morning after the cancellation
    assert cancelled.ladder.at == alert.created_at  # the date the facilitator was given
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)


def test_reminder_1_keeps_its_gap_after_a_cancellation_past_the_due_date(
    app: App, clock: Clock
) -> None:
    """Declared on time, cancelled the day before its first reminder would leave: the company
    has the due date's usual gap (3 working days) after the cancellation before reminder 1."""
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 10, 2))
    with app.transaction() as session:
        due_on = (
            session.scalars(select(DeclarationLadder).where(DeclarationLadder.month == SEP))
            .one()
            .due_on
        )
    declare(app, lot, SEP, at_local(date(2026, 10, 2), time(11), zone))
    first_reminder = add_working_days(due_on, 3)
    eve = working_day_before(first_reminder)
    simulate(app, date(2026, 10, 3), eve)
    clock.set(at_local(eve, time(16), zone))
    cancelled = cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    assert cancelled.ladder is not None and cancelled.ladder.step == "reminder_1"
    simulate(app, add_working_days(eve, 1), add_working_days(eve, 6))

    [reminder] = [m for m in ladder_emails(app) if m.key.endswith(":2026-09:reminder_1")]
    assert local_date(reminder.created_at, zone) == add_working_days(eve, 3)
    assert cancelled.ladder.at == reminder.created_at


def test_a_cancellation_on_a_suspended_lot_promises_no_date(app: App, clock: Clock) -> None:
    """Nothing leaves while a lot is suspended: the company is not told that a reminder « partira
    le … » on a day nothing will leave, but that they take up again at the resumption."""
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 10, 2))
    declare(app, lot, SEP, at_local(date(2026, 10, 2), time(11), zone))
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.SUSPEND,
            actor="test",
            reason="fouilles",
            now=paris(date(2026, 10, 5), 10),
            publish=app.publish,
        )
    clock.set(paris(date(2026, 10, 14), 16))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    with app.transaction() as session:
        email = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_cancelled")
        ).one()
        text = squash(email.body_text)
    assert "Le lot est suspendu : aucun rappel ne part pendant la suspension." in text
    assert "partira le" not in text and "redemandera le" not in text
    # Due on 12 October, the lot suspended since the 5th: the date is pushed, not past.
    assert "d'ici le" in text and "dès que possible" not in text
