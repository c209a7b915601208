"""After a long stop of the service, a month's summary waits for the due dates its calls gave.

Found by a walk-through: the service stopped from 18 September to 19 October; September's calls
left at the restart with a due date of 28 October, and September's summary left on 22 October,
every declaration « pas encore due », 0 h for the month, never sent again. DOMAIN: a summary of
M « cannot leave before the declaration deadline of M ». It now leaves the summary delay after
the earliest due date its companies were given, as any month does after the calendar's.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import add_working_days, at_local
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)


def test_a_summary_after_a_long_stop_waits_for_the_due_dates_its_calls_gave(app: App) -> None:
    lots = [
        make_lot(app, start=date(2026, 3, 2), end=date(2027, 3, 31), at=paris(date(2026, 3, 2), 10))
        for _ in range(2)
    ]
    simulate(app, date(2026, 3, 2), date(2026, 9, 17), dispatch=False)
    # Stopped from 18 September to 19 October: September's calls (due 1 October) leave late.
    simulate(app, date(2026, 10, 19), date(2026, 11, 20), dispatch=False)

    settings = app.settings
    with app.transaction() as session:
        earliest = session.scalar(
            select(func.min(DeclarationLadder.due_on)).where(DeclarationLadder.month == SEP)
        )
        summaries = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like("summary:2026-09:%"))
        ).all()
    assert earliest is not None and earliest > date(2026, 10, 19)  # given at the restart
    assert {m.key for m in summaries} == {
        "summary:2026-09:facilitator",
        *(f"summary:2026-09:buyer:{lot.buyer_id}" for lot in lots),
    }
    allowed = at_local(
        add_working_days(earliest, settings.summary_delay_days),
        settings.summary_time,
        settings.zone,
    )
    for message in summaries:
        assert message.created_at == allowed, message.key
        # Nobody declared: every company is late by then, none « pas encore due ».
        assert "pas encore due" not in message.body_text
        assert "2 manquantes" in message.body_text or "1 manquante" in message.body_text
    assert verify_database(app).findings == ()
