"""``clauses audit verify`` finds nothing wrong after whole scenarios the service lives through:
a late start (its summaries name the catch-up call to come) and a suspension spanning a summary
(its months called at the resumption). Every summary email is recompiled at its moment and
compared cell by cell: what it said of declarations not due yet must be what the rows give.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import at, paris, stage_change
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario


def problems(app: App) -> list[str]:
    report = verify_database(app)
    assert report.summaries > 0  # the scenario did send summaries, and they were read
    return [str(finding) for finding in report.findings]


def test_a_late_start_leaves_nothing_for_the_audit(app: App) -> None:
    make_lot(
        app,
        start=date(2026, 9, 1),
        end=date(2027, 6, 30),
        companies=("Bâtiments Test", "Peintures Test"),
        at=paris(date(2026, 12, 2), 8),
    )
    simulate(app, date(2026, 12, 2), date(2027, 1, 22), dispatch=False)

    assert problems(app) == []


def test_a_suspension_over_a_summary_leaves_nothing_for_the_audit(app: App) -> None:
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 11, 30), at=paris(date(2026, 3, 2), 10)
    )
    suspend = at(
        stage_change(lot.clause_id, ClauseEvent.SUSPEND, "fouilles"), paris(date(2026, 6, 15), 10)
    )
    resume = at(
        stage_change(lot.clause_id, ClauseEvent.RESUME, "reprise"), paris(date(2026, 7, 27), 10)
    )
    simulate(app, date(2026, 3, 2), date(2026, 9, 30), actions=[suspend, resume])

    # June's summary leaves while the lot is suspended: its call waits for the resumption, on
    # a date nobody knows yet (its scheduled 1 July is past, the 28 July of the resumption is
    # not known yet); the audit, compiling it again in September, reads the same words.
    with app.transaction() as session:
        june = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key == "summary:2026-06:facilitator")
        ).one()
        sent_on = june.created_at
        text = squash(june.body_text)
    assert paris(date(2026, 6, 15), 10) < sent_on < paris(date(2026, 7, 27), 10)
    assert "1 pas encore due : Bâtiments Test (" in text
    assert "lot suspendu, appel à la reprise)" in text
    assert "appel prévu le" not in text
    assert problems(app) == []


def test_a_suspension_after_the_call_gives_no_date_that_will_move(app: App) -> None:
    """September called on 1 October (due the 12th), the lot suspended on the 8th: the summary
    of 22 October cannot give a due date (it moves with the suspension, resumed on 5 November);
    the audit, compiling it again in December, reads the same words."""
    lot = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 3, 31), at=paris(date(2026, 9, 1), 10)
    )
    suspend = at(
        stage_change(lot.clause_id, ClauseEvent.SUSPEND, "fouilles"), paris(date(2026, 10, 8), 10)
    )
    resume = at(
        stage_change(lot.clause_id, ClauseEvent.RESUME, "reprise"), paris(date(2026, 11, 5), 10)
    )
    simulate(app, date(2026, 9, 1), date(2026, 12, 15), actions=[suspend, resume])

    with app.transaction() as session:
        september = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key == "summary:2026-09:facilitator")
        ).one()
        text = squash(september.body_text)
    assert paris(date(2026, 10, 8), 10) < september.created_at < paris(date(2026, 11, 5), 10)
    assert "1 pas encore due : Bâtiments Test (" in text
    assert "lot suspendu, échéance reportée à la reprise)" in text
    assert problems(app) == []
