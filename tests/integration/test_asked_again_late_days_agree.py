"""A month asked again after its declaration was cancelled is as late for the facilitator as for
the company: its reminder, ``declaration list`` (``expected_declarations``) and the day's tasks
(``digest``) count the working days late from the same day.

User trial (7 December 2026): February declared on 4 March, cancelled on 19 March, its due date
of 10 March past: the reminder of 24 March told the company « 3 jours ouvrés de retard » (asked
again « dès que possible » on 19 March), while the digest and ``declaration list`` of that
morning said 10, counted from 10 March. The ladder now keeps the day it was asked again
(``DeclarationLadder.asked_again_on``, migration 0030), and the facilitator's readers count
from the later of it and the due date (``held_due_dates.asked_again_due``). A cancellation
before the due date changes nothing: the month is late from its due date for everyone.
"""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import DeclarationLadder
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import at_local, local_date
from workflow.services.declaration_views import expected_declarations
from workflow.services.digest import _first_overdue, _overdue
from workflow.services.ticks import simulate

# On both databases: the dashboard reads these lots differently on PostgreSQL (``_first_overdue``).
pytestmark = [pytest.mark.scenario, pytest.mark.postgres]

SEP = date(2026, 9, 1)
LATE = re.compile(r"(\d+) jours? ouvrés? de retard")


def readings(app: App, lot_clause: int, company: int, day: date) -> tuple[int, int]:
    """(``declaration list``'s days late, the digest's) for September, at 10:00 on ``day``; the
    dashboard's first tasks (``_first_overdue``, which counts most lots by their due date in
    the database) say the digest's."""
    now = at_local(day, time(10), app.settings.zone)
    with app.transaction() as session:
        [line] = expected_declarations(
            session, app.settings, today=day, now=now, clause_id=lot_clause, month=SEP
        )
        [task] = [f for f in _overdue(session, day, app.settings) if f.row[0] == lot_clause]
        [first] = [
            f for f in _first_overdue(session, day, app.settings, 30)[0] if f.row[0] == lot_clause
        ]
    assert task.row[1] == company
    assert first.weight == task.weight
    return line.late_days, task.weight


@pytest.mark.parametrize("cancelled_on", [date(2026, 10, 20), date(2026, 10, 8)])
def test_the_reminder_the_list_and_the_digest_count_the_same_days(
    app: App, clock: Clock, cancelled_on: date
) -> None:
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    company = lot.company_ids[0]
    simulate(app, SEP, date(2026, 10, 5))
    declare(app, lot, SEP, paris(date(2026, 10, 6), 11))  # on time: due on 12 October
    simulate(app, date(2026, 10, 6), cancelled_on)
    clock.set(at_local(cancelled_on, time(16), zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=company,
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    with app.transaction() as session:
        ladder = session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.month == SEP)
        ).one()
        assert ladder.asked_again_on == cancelled_on
    before = {m.key for m in ladder_emails(app)}
    simulate(app, date(2026, 10, 21), date(2026, 11, 20))
    reminders = [
        m
        for m in ladder_emails(app)
        if m.key not in before and ":2026-09:" in m.key and "reminder" in m.key
    ]
    assert reminders, [m.key for m in ladder_emails(app)]
    for reminder in reminders:
        said = LATE.search(squash(reminder.body_text))
        assert said is not None, reminder.body_text
        day = local_date(reminder.created_at, zone)
        assert readings(app, lot.clause_id, company, day) == (int(said[1]), int(said[1])), (
            reminder.key,
            day,
        )
