"""A lot recorded late, its start back-dated, its planned end already past, its end not
recorded: not « achevée ».

Stop 31 made a lot past its planned end with no end recorded followed in the summaries (« mise en
œuvre – fin prévue le … dépassée ») rather than counted among the achieved. A lot recorded in May
with a start on 2 March and a planned end on 31 March has no history at the end of April: its stage
then was implied by its dates alone, and any end before the month's last day, planned or
recorded, implied follow-up. Its buyer read « 1 clause achevée avant avril 2026 » for works nobody
said had ended. Now only a recorded end (or a lot finished since) implies follow-up; a lot still
running with only its planned end past is in execution then, followed as stop 31 follows it.
"""

from __future__ import annotations

from datetime import date, datetime, time

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_summary_late_start import declare_hours
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.summaries import compile_for

MAR, APR = date(2026, 3, 1), date(2026, 4, 1)
STAGE = "mise en œuvre – fin prévue le 31/03/2026 dépassée"


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def _late_lot(app: App) -> Lot:
    """Recorded, awarded and started on 11 May, its works from 2 to 31 March; March declared."""
    recorded = local(app, date(2026, 5, 11), 9)
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2026, 3, 31), at=recorded)
    declare_hours(app, lot, MAR, "120", local(app, date(2026, 5, 12), 10))
    return lot


def test_a_back_dated_lot_past_its_planned_end_is_followed_not_achieved(app: App) -> None:
    lot = _late_lot(app)
    now = local(app, date(2026, 5, 25), 10)

    april = compile_for(app, APR, now=now)
    (line,) = [c for c in april.clauses if c.clause_id == lot.clause_id]
    assert (line.followed, line.stage_label) == (True, STAGE)
    assert april.earlier_clauses.clauses == 0
    assert april.overall.followed == 1
    # Nobody asks its company for April: neither missing nor expected.
    assert april.overall.declarations.expected == 0
    assert line.progress.hours_cumulated == 120

    # March, when its works were planned: followed, its declaration received.
    march = compile_for(app, MAR, now=now)
    (line,) = [c for c in march.clauses if c.clause_id == lot.clause_id]
    assert (line.followed, line.stage_label) == (True, "mise en œuvre")
    assert march.overall.declarations.received == 1

    # Its end recorded: April counts it among the achieved, as any lot ended in March.
    finished = local(app, date(2026, 5, 26), 10)
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="test",
            reason=None,
            now=finished,
            publish=app.publish,
            end_date=date(2026, 3, 31),
            today=finished.date(),
        )
    april = compile_for(app, APR, now=local(app, date(2026, 5, 27), 10))
    (line,) = [c for c in april.clauses if c.clause_id == lot.clause_id]
    assert not line.followed
    assert april.earlier_clauses.clauses == 1
    assert verify_database(app).findings == ()
