"""A declaration cancelled gives the company the step its declaration withdrew before it left.

The defect: March's call queued by the 09:00 pass was withdrawn when March was declared at
10:00 (« Retiré : le mois a été déclaré … »); the declaration cancelled at 11:00, the ladder
resumed on reminder 1, the row's ``called_at`` counting the call as sent: the company was
reminded of a call it never received, and the buyer alerted on that basis. Likewise a
reminder 1 withdrawn so was skipped, the ladder going on with reminder 2. Now a step counts
as sent when one of its emails was not withdrawn by the service, or when it passed with no one
to write to; the step that never left goes first, then the ladder continues.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.orm import AwardParty, Correspondent, OutboxMessage
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep, local_date
from workflow.services.dispatch import dispatch_due
from workflow.services.ladder_keys import key_months
from workflow.services.reminders import LadderResumption
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.scenario

MARCH = date(2026, 3, 1)


def march_steps(app: App, lot: Lot) -> list[tuple[str, str, date]]:
    """March's ladder emails of the holder: (step and sending, state, local day queued)."""
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        if parsed is None or parsed.clause_id != lot.clause_id or MARCH not in parsed.months:
            continue
        found.append(
            (
                message.key.rsplit(":", 1)[1],
                message.state,
                local_date(message.created_at, app.settings.zone),
            )
        )
    return found


def cancel_march(app: App, clock: Clock, lot: Lot, day: date) -> LadderResumption:
    clock.set(paris(day, 11))
    cancelled = cancel_declaration(
        app,
        clause=lot.clause_id,
        company=lot.company_ids[0],
        month=MARCH,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    assert cancelled.ladder is not None
    return cancelled.ladder


def passes(app: App, first: date, last: date) -> None:
    """The 09:00 pass of every day from ``first`` to ``last``, each sending the outbox."""
    day = first
    while day <= last:
        run_pass(app, paris(day, 9), dispatch=False)
        dispatch_due(app, paris(day, 9, 5))
        day = date.fromordinal(day.toordinal() + 1)


def withdrawn_note(app: App, lot: Lot, step: str) -> str:
    with app.transaction() as session:
        for message in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
            parsed = key_months(message.key)
            if parsed and parsed.clause_id == lot.clause_id and parsed.step == step:
                return message.last_error or ""
    return ""


def assert_in_ladder_order(steps: list[tuple[str, str, date]]) -> None:
    """Every step that left (not withdrawn) in ladder order, never twice."""
    order = [LadderStep.CALL, "reminder_1", "reminder_2", LadderStep.ESCALATION]
    left = [(s.split("~")[0], on) for s, state, on in steps if state != "cancelled"]
    names = [name for name, _ in left]
    assert names == order[: len(names)], steps
    days = [on for _, on in left]
    assert days == sorted(days), steps


def test_a_call_withdrawn_by_the_declaration_is_sent_after_its_cancellation(
    app: App, clock: Clock
) -> None:
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    # Wednesday 1 April 09:00: March's call queued, not sent yet; March declared at 10:00.
    run_pass(app, paris(date(2026, 4, 1), 9), dispatch=False)
    declare(app, lot, MARCH, paris(date(2026, 4, 1), 10))
    assert march_steps(app, lot) == [("call", "cancelled", date(2026, 4, 1))]
    assert withdrawn_note(app, lot, LadderStep.CALL).startswith("Retiré : le mois a été déclaré")

    resumed = cancel_march(app, clock, lot, date(2026, 4, 1))
    # The company never got the call: it is called, not reminded.
    assert resumed.sent == ()
    assert resumed.step == LadderStep.CALL
    assert resumed.at == paris(date(2026, 4, 2), 9)
    (march,) = [lad for lad in ladders(app) if lad.month == MARCH]
    assert (march.next_step, march.called_at, march.escalated_at) == (LadderStep.CALL, None, None)

    passes(app, date(2026, 4, 2), date(2026, 5, 31))
    steps = march_steps(app, lot)
    assert [(s, state) for s, state, _ in steps] == [
        ("call", "cancelled"),
        ("call~2", "sent"),
        ("reminder_1", "sent"),
        ("reminder_2", "sent"),
        ("escalation", "sent"),
    ], steps
    assert steps[1][2] == date(2026, 4, 2)
    assert_in_ladder_order(steps)
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings)


def test_a_reminder_withdrawn_by_the_declaration_is_sent_before_the_next_one(
    app: App, clock: Clock
) -> None:
    """March called on 1 April (due 10 April), reminder 1 queued on 15 April 09:00 and
    withdrawn when March was declared at 10:00; the declaration cancelled at 11:00: reminder 1
    leaves again (its second sending), then reminder 2, then the alert."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    passes(app, date(2026, 4, 1), date(2026, 4, 14))
    run_pass(app, paris(date(2026, 4, 15), 9), dispatch=False)
    assert [(s, state) for s, state, _ in march_steps(app, lot)] == [
        ("call", "sent"),
        ("reminder_1", "pending"),
    ]
    declare(app, lot, MARCH, paris(date(2026, 4, 15), 10))
    resumed = cancel_march(app, clock, lot, date(2026, 4, 15))
    assert resumed.sent == (LadderStep.CALL,)
    assert resumed.step == "reminder_1"

    passes(app, date(2026, 4, 16), date(2026, 6, 15))
    steps = march_steps(app, lot)
    assert [(s, state) for s, state, _ in steps] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
        ("reminder_2", "sent"),
        ("escalation", "sent"),
    ], steps
    assert_in_ladder_order(steps)
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings)


def test_a_step_with_no_one_to_write_to_still_counts_as_passed(app: App, clock: Clock) -> None:
    """Reminder 1 passed with no one to write to (the company's correspondent gone): no email,
    and the cancellation of a later declaration does not send it again; the ladder goes on."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    passes(app, date(2026, 4, 1), date(2026, 4, 2))
    with app.transaction() as session:
        party = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id)
        ).one()
        party.correspondent_id = None
        for correspondent in session.scalars(
            select(Correspondent).where(Correspondent.company_id == party.company_id)
        ):
            session.delete(correspondent)
    passes(app, date(2026, 4, 3), date(2026, 4, 16))
    assert [(s, state) for s, state, _ in march_steps(app, lot)] == [("call", "sent")]
    (march,) = [lad for lad in ladders(app) if lad.month == MARCH]
    assert march.next_step == "reminder_2"
    declare(app, lot, MARCH, paris(date(2026, 4, 16), 10))
    resumed = cancel_march(app, clock, lot, date(2026, 4, 16))
    assert resumed.sent == (LadderStep.CALL, "reminder_1")
    assert resumed.step == "reminder_2"
