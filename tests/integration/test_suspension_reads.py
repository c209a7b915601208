"""The suspended stretches of lots read from their history (``lot_calendars.suspensions``).

Read through a partial index whose predicate is written into the query by hand: these tests pin
that the rows read are exactly the stage changes into and out of « suspendu », for a few lots
(looked up one by one) and for many (every suspension of the territory, filtered here)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.integration._ladders import make_lot
from workflow.adapters.orm import ClauseHistory
from workflow.bootstrap import App
from workflow.domain.calendar import Interval
from workflow.domain.stages import Stage
from workflow.services import lot_calendars
from workflow.services.lot_calendars import suspensions

EXECUTION, SUSPENDED = Stage.EXECUTION.value, Stage.SUSPENDED.value


def at(day: int, month: int = 5) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


def write(app: App, clause_id: int, *moves: tuple[datetime, str | None, str]) -> None:
    with app.transaction() as session:
        for when, before, after in moves:
            session.add(
                ClauseHistory(
                    clause_id=clause_id,
                    at=when,
                    actor="test",
                    event="note",
                    from_stage=before,
                    to_stage=after,
                )
            )


def test_it_reads_stretches_and_ignores_what_happens_within_a_stage(app: App) -> None:
    suspended = make_lot(app).clause_id
    noted = make_lot(app, companies=("Autre Entreprise",)).clause_id
    write(
        app,
        suspended,
        (at(4), EXECUTION, SUSPENDED),
        # A note written while suspended (from « suspendu » to « suspendu »): no stage change.
        (at(11), SUSPENDED, SUSPENDED),
        (at(18), SUSPENDED, EXECUTION),
        (at(1, 6), EXECUTION, SUSPENDED),
    )
    # A lot noted while in execution, and one with a note on the suspended stage only.
    write(app, noted, (at(6), EXECUTION, EXECUTION), (at(7), SUSPENDED, SUSPENDED))
    expected = {suspended: [Interval(at(4), at(18)), Interval(at(1, 6), None)]}
    with app.transaction() as session:
        assert dict(suspensions(session, [suspended, noted])) == expected


def test_many_lots_read_every_suspension_and_keep_those_asked(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    lots = [make_lot(app, companies=(f"Entreprise {n}",)).clause_id for n in range(4)]
    for n, lot in enumerate(lots):
        write(app, lot, (at(4 + n), EXECUTION, SUSPENDED), (at(20), SUSPENDED, EXECUTION))
    asked = lots[:3]
    with app.transaction() as session:
        one_by_one = dict(suspensions(session, asked))
        monkeypatch.setattr(lot_calendars, "MANY_LOTS", 1)  # as with thousands of lots
        all_at_once = dict(suspensions(session, asked))
    assert (
        one_by_one
        == all_at_once
        == {lot: [Interval(at(4 + n), at(20))] for n, lot in enumerate(asked)}
    )


def test_the_query_reads_through_the_partial_index_on_sqlite(app: App) -> None:
    if app.engine.dialect.name != "sqlite":
        return  # PostgreSQL's plans are checked by test_query_plans
    with app.transaction() as session:
        plan = session.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT clause_id FROM clause_history WHERE "
                "from_stage IS NOT to_stage AND (to_stage = 'suspended' OR from_stage = "
                "'suspended') ORDER BY clause_id, at, id"
            )
        ).all()
    assert "ix_clause_history_suspensions" in str(plan)
