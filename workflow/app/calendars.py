"""Changing a buyer's notice preference and declaration calendar, or a lot's calendar, after
they were created: the lots whose calendar really changes get a history row, and their ladders
still running follow the new calendar, in the same transaction (``services.calendar_changes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, DeclarationLadder
from workflow.app.catalog import BuyerView, buyer_view
from workflow.app.clauses import Designation
from workflow.app.lookup import find_buyer, find_clause
from workflow.app.unit import unit_of_work
from workflow.domain.calendar import LadderDays, local_date, suspended_days
from workflow.domain.stages import Stage
from workflow.domain.vocabulary import NoticePreference
from workflow.runtime import App
from workflow.services import calendar_changes
from workflow.services.calendar_changes import CalendarChange, CalendarChanged
from workflow.services.declaration_views import held_due
from workflow.services.lot_calendars import suspensions
from workflow.services.notices import owed_due_dates
from workflow.settings import Settings


@dataclass(frozen=True)
class BuyerChanged:
    """The buyer after the change, and what changed (nothing when it had these settings)."""

    buyer: BuyerView
    result: CalendarChanged


def set_buyer(
    app: App,
    buyer: Designation,
    *,
    notice_preference: str | NoticePreference | None = None,
    calendar: CalendarChange | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> BuyerChanged:
    """Change a buyer's notice preference and calendar rules; they apply to its lots that do not
    set their own."""
    with unit_of_work(app, actor) as unit:
        found = find_buyer(unit.session, buyer)
        changed, result = calendar_changes.set_buyer(
            unit.session,
            found.id,
            notice_preference=notice_preference,
            calendar=calendar,
            actor=unit.actor,
            now=unit.now,
            settings=app.settings,
            reason=reason,
        )
        return BuyerChanged(buyer_view(changed), result)


@dataclass(frozen=True)
class LotCalendarChanged:
    clause_id: int
    result: CalendarChanged


def set_lot_calendar(
    app: App,
    clause: Designation,
    change: CalendarChange,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> LotCalendarChanged:
    """Set or clear a lot's own calendar rules (« défaut »: the buyer's apply again)."""
    with unit_of_work(app, actor) as unit:
        found = find_clause(unit.session, clause)
        result = calendar_changes.set_lot_calendar(
            unit.session,
            found.id,
            change,
            actor=unit.actor,
            now=unit.now,
            settings=app.settings,
            reason=reason,
        )
        return LotCalendarChanged(found.id, result)


def told_due_dates(
    session: Session, settings: Settings, ladders: Iterable[DeclarationLadder], at: datetime
) -> dict[tuple[int, int, date], date | None]:
    """The due date of each of these ladders' months as the company was or will be told it at
    ``at`` (``notices.owed_due_dates``, the one rule): its call's once called, pushed by the
    working days the lot spent suspended since; None while the lot is suspended and the month
    uncalled (« à la reprise »: no date was given, the call after the resumption gives one);
    else the date of the call to come. Never the date a ladder waiting for its call holds,
    which nobody was given. Keyed (lot, company, month).

    Batched for a buyer's hundreds of lots: one read of the lots' stages and suspensions for
    the called months (nearly all); the rule itself only for a month opened and not called
    yet on a lot at work (minutes between a pass's opening and its call)."""
    rows = list(ladders)
    clause_ids = {ladder.clause_id for ladder in rows}
    if not clause_ids:
        return {}
    zone = settings.zone
    today = local_date(at, zone)
    stretches = suspensions(session, clause_ids)
    suspended = set(
        session.scalars(
            select(Clause.id).where(
                Clause.id.in_(clause_ids), Clause.stage == Stage.SUSPENDED.value
            )
        )
    )
    told: dict[tuple[int, int, date], date | None] = {}
    waiting: set[tuple[int, int]] = set()
    for ladder in rows:
        key = (ladder.clause_id, ladder.company_id, ladder.month)
        if ladder.called_at is not None:
            days = LadderDays(suspended_days(stretches.get(ladder.clause_id, []), zone, today))
            told[key] = held_due(ladder, ladder.due_on, days, settings)
        elif ladder.clause_id in suspended:
            told[key] = None
        else:
            waiting.add((ladder.clause_id, ladder.company_id))
    for clause_id, company_id in sorted(waiting):
        clause = session.get_one(Clause, clause_id)
        for month, due_on in owed_due_dates(session, clause, company_id, settings, at).items():
            told.setdefault((clause_id, company_id, month), due_on)
    return told
