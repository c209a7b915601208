"""A company whose calls were over (past its lot's end) is called again by the change that moves
the end later, in that change's transaction: the pass itself looks only at the companies never
called (issue 12: at 10^5 lots, the tens of thousands of parked companies of finished lots were
looked up on every pass).

The changes that move the end later: an amendment (``lot set-end``, tested end to end in
``test_planned_end``) and a finish later than planned (« achever --end-date »). (An award is
recorded again only before the start, when no company has been called.)
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, select

from tests.integration._ladders import Lot, ladder_pass, make_lot
from tests.integration.test_planned_end import calls_by_month, paris, scheduled_calls
from workflow.adapters.dialects import is_postgresql
from workflow.adapters.orm import AwardParty
from workflow.app import clauses as clause_app
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.reminders import arm_parties
from workflow.services.ticks import TimedAction, simulate

CALLED = [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]


def parties(app: App, lot: Lot) -> list[tuple[date | None, object]]:
    with app.transaction() as session:
        rows = session.execute(
            select(AwardParty.next_call_month, AwardParty.next_call_at)
            .where(AwardParty.clause_id == lot.clause_id)
            .order_by(AwardParty.id)
        ).all()
        return [(month, at) for month, at in rows]


def finished(lot: Lot, end: date, moment_day: date) -> TimedAction:
    def run(app: App, _: object) -> None:
        clause_app.advance_clause(app, lot.clause_id, ClauseEvent.FINISH, end_date=end)

    return TimedAction(at=paris(moment_day, 10), label="achever", run=run)


def test_a_lot_finished_later_than_planned_is_called_for_the_months_worked_after_its_planned_end(
    app: App,
) -> None:
    """Planned to end on 31 December 2026, its calls over in January; the work really ended on
    20 February 2027, recorded on 25 February: January is called at once (catch-up), February on
    its usual day, nothing after."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    finish = finished(lot, date(2027, 2, 20), date(2027, 2, 25))

    simulate(app, date(2026, 11, 2), date(2027, 5, 10), actions=[finish], dispatch=False)

    calls = calls_by_month(app, lot)
    assert sorted(calls) == [*CALLED, date(2027, 1, 1), date(2027, 2, 1)]
    february = scheduled_calls(app, lot, [date(2027, 2, 1)])[date(2027, 2, 1)]
    assert paris(date(2027, 2, 25), 10) < calls[date(2027, 1, 1)] < february
    assert calls[date(2027, 2, 1)] == february


def test_the_change_that_moves_the_end_arms_the_parked_company_itself(app: App) -> None:
    """No pass between the amendment and the check: the company parked past the old end has its
    next call, for the first month added, at that month's usual call time."""
    lot = make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
                   at=paris(date(2026, 10, 1), 10))  # fmt: skip
    simulate(app, date(2026, 11, 2), date(2027, 1, 20), dispatch=False)
    assert parties(app, lot) == [(date(2027, 1, 1), None)]  # parked: its calls are over

    clause_app.set_planned_end(app, lot.clause_id, date(2027, 3, 31), reason="avenant n° 2")

    january = scheduled_calls(app, lot, [date(2027, 1, 1)])[date(2027, 1, 1)]
    assert parties(app, lot) == [(date(2027, 1, 1), january)]
    # Moved earlier again, before the month is called: the pass parks it, and nothing is called.
    clause_app.set_planned_end(app, lot.clause_id, date(2026, 12, 31), reason="avenant n° 3")
    report = ladder_pass(app, paris(date(2027, 2, 3), 10))
    assert report.opened == 0 and report.calls == 0
    assert parties(app, lot) == [(date(2027, 1, 1), None)]


def test_the_pass_reads_the_companies_never_armed_from_their_partial_index(app: App) -> None:
    """The statement ``arm_parties`` sends is answered from ``ix_award_parties_unarmed``."""
    make_lot(app, start=date(2026, 10, 1), end=date(2026, 12, 31),
             at=paris(date(2026, 10, 1), 10))  # fmt: skip
    sent: list[tuple[str, object]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object,
               context: object, many: bool) -> None:  # fmt: skip
        if "FROM award_parties" in statement and "next_call_month IS NULL" in statement:
            sent.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        arm_parties(app, paris(date(2026, 11, 2), 10))
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    assert sent
    statement, parameters = sent[0]
    with app.engine.connect() as connection:
        if is_postgresql(connection):
            connection.exec_driver_sql("SET enable_seqscan = off")
            explained = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        else:
            explained = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(str(row) for row in explained)
    assert "ix_award_parties_unarmed" in plan, plan
