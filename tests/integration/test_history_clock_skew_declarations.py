"""A declaration recorded (kept, or cancelled) by an instance whose clock is behind the one that
started the lot: its history row still follows the start, and the declaration is dated as it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from tests.integration.test_history_clock_skew import (
    AWARDED,
    advance,
    award,
    history,
    lot_at_award,
)
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.declaration_cancellations import cancel_declaration
from workflow.services.declarations import record_declaration
from workflow.services.end_date_corrections import correct_end_date

#: Instance A starts the lot; B, its clock three minutes behind, records March a minute later.
STARTED = datetime(2026, 4, 2, 10, 5, tzinfo=UTC)
B_CLOCK = datetime(2026, 4, 2, 10, 3, tzinfo=UTC)


def test_a_declaration_recorded_behind_the_clock_follows_the_start_it_came_after(app: App) -> None:
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    advance(app, lot, ClauseEvent.START, STARTED)
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_id,
            month=date(2026, 3, 1),
            lines=[],
            actor="instance B",
            now=B_CLOCK,
            source="test",
            publish=app.publish,
        )
    with app.transaction() as session:
        cancel_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_id,
            month=date(2026, 3, 1),
            reason="Mois erroné",
            actor="instance B",
            now=B_CLOCK,
            settings=app.settings,
            publish=app.publish,
        )
    rows = history(app, lot)
    assert [r.event for r in rows][-3:] == ["start", "declaration", "declaration_cancelled"]
    assert {r.at for r in rows[-3:]} == {STARTED}
    assert verify_database(app).findings == ()


def test_a_declaration_kept_behind_the_clock_is_dated_as_its_row(app: App) -> None:
    """The declaration stays: its recording instant, its row's and its event's are one (the
    audit finds the row that records it at that instant, the receipt its key)."""
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    advance(app, lot, ClauseEvent.START, STARTED)
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_id,
            month=date(2026, 3, 1),
            lines=[],
            actor="instance B",
            now=B_CLOCK,
            source="test",
            publish=app.publish,
        )
    rows = history(app, lot)
    assert [r.event for r in rows][-2:] == ["start", "declaration"]
    assert {r.at for r in rows[-2:]} == {STARTED}
    assert verify_database(app).findings == ()


def test_an_end_corrected_behind_the_clock_is_told_from_its_row(app: App) -> None:
    """A finishes the lot on 2 April at 10:05 (end 31 March); B, three minutes behind, corrects
    the end to 27 March a minute later: the buyer's notice finds its row, the audit its key."""
    lot = lot_at_award(app)
    award(app, lot, AWARDED)
    advance(app, lot, ClauseEvent.START, AWARDED)
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="instance A",
            reason=None,
            now=STARTED,
            publish=app.publish,
            end_date=date(2026, 3, 31),
            today=date(2026, 4, 2),
        )
    with app.transaction() as session:
        correct_end_date(
            session,
            lot.clause_id,
            date(2026, 3, 27),
            reason="date du procès-verbal",
            actor="instance B",
            now=B_CLOCK,
            today=date(2026, 4, 2),
            settings=app.settings,
            publish=app.publish,
        )
    rows = history(app, lot)
    assert [r.event for r in rows][-2:] == ["finish", "end_date_corrected"]
    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_end_corrected")
        ).one()
    assert notice.key.endswith(f":h{rows[-1].id}")
    assert "s'est achevée le 27 mars 2026." in notice.body_text
    assert verify_database(app).findings == ()
