"""The buyer's alert before formal notice says the suspension it leaves out of the days late.

User trial: lot suspended on 19 October 2026 and resumed on 16 November; September, due on
12 October, still missing on 1 December. The buyer read « Elle était attendue le 12 octobre
2026 : 15 jours ouvrés de retard aujourd'hui » – about 35 working days at face value, the
suspended ones taken out silently. The alert now says which suspension is left out and how many
working days it takes away, so that the figure can be checked against the calendar.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_suspension_withdraws_ladder import advance
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.scenario

SEPTEMBER = "2026-09"


def passes(app: App, first: date, last: date) -> None:
    """The service's 09:00 pass (its emails sent) on every working day from ``first`` to ``last``."""
    day = first
    while day <= last:
        if is_working_day(day):
            run_pass(app, paris(day, 9))
        day = date.fromordinal(day.toordinal() + 1)


def test_the_alert_says_the_suspension_its_days_late_leave_out(app: App, clock: Clock) -> None:
    lot = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 6, 30), at=paris(date(2026, 8, 25), 10)
    )
    passes(app, date(2026, 10, 1), date(2026, 10, 16))
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 10, 19), 8), "Intempéries")
    passes(app, date(2026, 10, 19), date(2026, 11, 13))
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 11, 16), 8), "Reprise")
    passes(app, date(2026, 11, 16), date(2026, 12, 1))

    with app.transaction() as session:
        alerts = [
            (m.created_at, m.body_text, m.body_html)
            for m in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "declaration_escalation",
                    OutboxMessage.key.like(f"%{SEPTEMBER}%"),
                )
            )
        ]
    assert len(alerts) == 1
    _, text, html = alerts[0]
    assert (
        "Elle était attendue le 12 octobre 2026 : 15 jours ouvrés de retard aujourd'hui, hors "
        "suspension du 19 octobre au 16 novembre 2026 (20 jours ouvrés non comptés)."
    ) in squash(text)
    assert "hors suspension du 19 octobre au 16 novembre 2026 (20 jours ouvrés" in squash(html)
