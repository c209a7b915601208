"""The terminated lots are read by one query (``services.terminations.terminated_lots``) that
gives the monthly summaries their termination day, planned end and history row, and the board
and ``clause list`` their date and reason (``app.terminated_lots.terminated_among``). On SQLite
and PostgreSQL, the lot of ``test_terminated_lot_readings`` (terminated effective 31 October).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_lot_terminated import REASON, app, settings
from tests.integration.test_terminated_lot_readings import terminated_lot
from workflow.adapters.orm import ClauseHistory
from workflow.app.terminated_lots import terminated_among
from workflow.bootstrap import App
from workflow.domain.terminations import Termination
from workflow.services.terminations import terminated_lots
from workflow.settings import Settings

__all__ = ["app", "settings"]  # the fixtures, imported to be used here


def test_one_query_tells_the_summaries_and_the_listings_of_a_termination(
    app: App, settings: Settings, clock: Clock
) -> None:
    clause_id, _ = terminated_lot(app, settings, clock)
    other = clause_id + 1_000  # no such lot: asked for, never found
    with app.transaction() as session:
        row = session.execute(
            select(ClauseHistory.at, ClauseHistory.id).where(
                ClauseHistory.clause_id == clause_id, ClauseHistory.event == "terminate"
            )
        ).one()
        found = terminated_lots(session, {clause_id, other})
        # The same lot when the database is told which lots to read.
        assert terminated_lots(session, {clause_id, other}, [clause_id, other]) == found
        listed = terminated_among(session, [clause_id, other])
    [lot] = found.values()
    assert list(found) == [clause_id]
    assert (lot.on, lot.reason, lot.at, lot.history_id) == (
        date(2026, 10, 31),
        REASON,
        row.at,
        row.id,
    )
    assert lot.planned_end is not None
    assert listed == {clause_id: Termination(date(2026, 10, 31), REASON)}
    assert lot.termination == listed[clause_id]
