"""An end corrected later on a lot whose months were reminded together (« clause end-date »).

The pass writes one email for the months of a company leaving together: the catch-up call of
2 December for October and November, then their reminders, under one key
(``reminder:<lot>:<company>:2026-10..2026-11:reminder_1``). Finished on the morning their first
reminder was queued, before it left, « le 30/09/2026 » (a typo for 30/11): both months released,
the reminder withdrawn (« Retiré … »). Corrected to 30/11, both are owed again at that reminder,
which the company never got: the facilitator reads the day it leaves for each, and the pass
sends it again, one email for both under the key of its second sending
(``…:2026-10..2026-11:reminder_1~2``), before any later step (a second reminder or the buyer's
alert telling of a reminder the company never got).

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL, with the
fixtures and helpers of ``test_end_date_correction``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.integration.test_end_date_correction import (
    COMPANY,
    NBSP,
    NOV,
    OCT,
    SEP,
    app,  # noqa: F401 (its fixtures: the buyer alerted 25 working days after the due date)
    correct,
    paris,
    run_cli,
    settings,  # noqa: F401
    steps_of,
)
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario


def test_a_reminder_of_two_months_withdrawn_by_the_finish_is_sent_again_for_both_when_owed_again(
    app: App,  # noqa: F811 (the fixture imported)
    settings: Settings,  # noqa: F811
    clock: Clock,
) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(date(2026, 12, 1), 10))
    declare(app, lot, SEP, paris(date(2026, 12, 1), 11))  # before any call: not reminded
    simulate(app, date(2026, 12, 1), date(2026, 12, 2))
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}"
    assert [m.key for m in ladder_emails(app)] == [f"{prefix}:2026-10..2026-11:call"]
    _, october, november = sorted(ladders(app), key=lambda ladder: ladder.month)
    assert (october.month, november.month) == (OCT, NOV)
    assert october.next_step == november.next_step == "reminder_1"
    assert october.next_step_at == november.next_step_at is not None
    assert october.due_on == november.due_on is not None
    due_on = october.due_on
    reminder_day = local_date(october.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)  # queued, not sent yet
    key = f"{prefix}:2026-10..2026-11:reminder_1"
    with app.transaction() as session:
        [state] = session.scalars(select(OutboxMessage.state).where(OutboxMessage.key == key)).all()
    assert state == "pending"

    code, said = run_cli(settings, clock, paris(reminder_day, 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "30/09/2026")  # fmt: skip
    assert code == 0 and "1 courriel en attente retiré (rappel n° 1)" in said, said

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    # Past the call hour of that day: the reminder leaves on the next working day's.
    again_on = reminder_day + timedelta(days=1)
    while again_on.weekday() >= 5:
        again_on += timedelta(days=1)
    standing = f"rappel n° 1 le {again_on:%d/%m/%Y} à 9\u00a0h, date limite le {due_on:%d/%m/%Y}"
    assert said.endswith(
        f"Octobre 2026 et novembre 2026 sont désormais demandés à {COMPANY}{NBSP}: l'exécution "
        f"s'est achevée le 30/11/2026{NBSP}; octobre 2026{NBSP}: {standing}{NBSP}; "
        f"novembre 2026{NBSP}: {standing}."
    ), said
    assert "relancez vous-même" not in said

    # Well past the day the buyer is alerted: the reminder again, for both, then the rest.
    simulate(app, reminder_day, date(2027, 3, 31))

    both = f"{prefix}:2026-10..2026-11:"
    grouped = [
        (m.key.removeprefix(both), m.state) for m in ladder_emails(app) if m.key.startswith(both)
    ]
    assert grouped == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
        ("reminder_2", "sent"),
        ("escalation", "sent"),
    ]
    for month in (OCT, NOV):
        steps = steps_of(app, month)
        assert [(step, state) for step, _, state, _ in steps] == [
            ("call", "sent"),
            ("reminder_1", "cancelled"),
            ("reminder_1", "sent"),
            ("reminder_2", "sent"),
            ("escalation", "sent"),
        ]
        times = [at for _, at, _, _ in steps]
        assert times == sorted(times) and len(set(times)) == 5
        assert times[2] == paris(again_on, 9)
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_reminder_the_finish_wrote_again_for_october_only_is_sent_for_november_when_owed(
    app: App,  # noqa: F811 (the fixture imported)
    settings: Settings,  # noqa: F811
    clock: Clock,
) -> None:
    """Finished « 31/10 »: the waiting reminder of October and November is written again for
    October alone, the first one « Remplacé ». Corrected to 30/11, November is owed again at
    that reminder, which it never got: a step the service replaced is not one a person
    cancelled, so the facilitator reads its day, the company is not told « je vous
    contacterai », and the pass sends it under November's own key."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(date(2026, 12, 1), 10))
    declare(app, lot, SEP, paris(date(2026, 12, 1), 11))
    simulate(app, date(2026, 12, 1), date(2026, 12, 2))
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}"
    _, october, _ = sorted(ladders(app), key=lambda ladder: ladder.month)
    due_on = october.due_on
    assert due_on is not None and october.next_step_at is not None
    reminder_day = local_date(october.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)  # queued, not sent yet

    code, said = run_cli(settings, clock, paris(reminder_day, 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    with app.transaction() as session:
        states = dict(
            session.execute(
                select(OutboxMessage.key, OutboxMessage.state).where(
                    OutboxMessage.key.startswith(prefix), OutboxMessage.kind != "declaration_call"
                )
            ).all()
        )
    assert states[f"{prefix}:2026-10..2026-11:reminder_1"] == "cancelled"
    assert states[f"{prefix}:2026-10:reminder_1"] == "pending"

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    again_on = reminder_day + timedelta(days=1)
    while again_on.weekday() >= 5:
        again_on += timedelta(days=1)
    assert "relancez vous-même" not in said, said
    assert said.endswith(
        f"novembre 2026{NBSP}: rappel n° 1 le {again_on:%d/%m/%Y} à 9\u00a0h, date limite le "
        f"{due_on:%d/%m/%Y}."
    ), said
    with app.transaction() as session:
        [told] = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "company_months_owed_again")
        ).all()
    assert "je vous contacterai" not in told, told

    simulate(app, reminder_day, again_on)

    november = [m for m in ladder_emails(app) if m.key == f"{prefix}:2026-11:reminder_1"]
    assert [(m.state, m.created_at) for m in november] == [("sent", paris(again_on, 9))]
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []
