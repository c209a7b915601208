"""The email of a cancelled declaration never says its alert date « comme annoncé dans mon
dernier rappel » when the alert moved.

User trial (7 December 2026): February's second reminder announced the buyer's alert for 1
April; the declaration arrived, was cancelled on 6 April, and the month was asked again from
that day: the cancellation email said « je devrai en informer le Département … le 16 avril 2027,
comme annoncé dans mon dernier rappel », a date that reminder never gave. It now says the date
the ladder holds, which is when the alert leaves, and claims nothing of the reminder.
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
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.adapters.templates import french_date
from workflow.app.clause_corrections import cancel_declaration
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep, at_local, local_date
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)
ALERT = re.compile(r"je devrai en informer .*? le (\d+(?:er)? \S+ \d{4})")


def test_the_alert_date_after_a_cancellation_is_the_one_that_holds(app: App, clock: Clock) -> None:
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 6, 30), at=paris(SEP, 10))
    company = lot.company_ids[0]
    simulate(app, SEP, date(2026, 10, 21))  # the call, reminders 1 (15 Oct) and 2 (21 Oct)
    (second,) = [m for m in ladder_emails(app) if m.key.endswith(":2026-09:reminder_2")]
    announced = ALERT.search(squash(second.body_text))
    assert announced is not None, second.body_text
    declare(app, lot, SEP, paris(date(2026, 10, 22), 11))
    simulate(app, date(2026, 10, 22), date(2026, 10, 27))
    clock.set(at_local(date(2026, 10, 27), time(16), zone))
    cancel_declaration(
        app,
        clause=lot.clause_id,
        company=company,
        month=SEP,
        reason="Déclaration envoyée sur le mauvais lot",
        actor="Camille Martin",
    )
    with app.transaction() as session:
        ladder = session.scalars(select(DeclarationLadder)).one()
        assert ladder.next_step == LadderStep.ESCALATION
        assert ladder.next_step_at is not None
        alert_on = local_date(ladder.next_step_at, zone)
        (cancelled,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_cancelled")
        )
        text, page = squash(cancelled.body_text), squash(cancelled.body_html or "")
    said = ALERT.search(text)
    assert said is not None, text
    assert said[1] == french_date(alert_on)
    # The alert moved with the month asked again: the reminder gave another day.
    assert announced[1] != said[1]
    assert "comme annoncé" not in text and "comme annoncé" not in page

    # And the alert leaves that day, not the day the reminder gave.
    simulate(app, date(2026, 10, 28), alert_on)
    alerts = [m for m in ladder_emails(app) if m.key.endswith(":2026-09:escalation")]
    assert [local_date(m.created_at, zone) for m in alerts] == [alert_on]
