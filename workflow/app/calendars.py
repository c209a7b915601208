"""Changing a buyer's notice preference and declaration calendar, or a lot's calendar, after
they were created: the lots whose calendar really changes get a history row, and their ladders
still running follow the new calendar, in the same transaction (``services.calendar_changes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from workflow.adapters.orm import DeclarationLadder
from workflow.app.catalog import BuyerView, buyer_view
from workflow.app.clauses import Designation
from workflow.app.lookup import find_buyer, find_clause
from workflow.app.unit import unit_of_work
from workflow.domain.vocabulary import NoticePreference
from workflow.runtime import App
from workflow.services import calendar_changes
from workflow.services.calendar_changes import CalendarChange, CalendarChanged
from workflow.services.held_due_dates import owed_due_dates_many
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
    ``at`` (``held_due_dates.owed_due_dates_many``, the one rule): its call's once called,
    pushed by the working days the lot spent suspended since; None while the lot is suspended
    and the month uncalled (« à la reprise »: no date was given, the call after the resumption
    gives one); else the date of the call to come. Never the date a ladder waiting for its call
    holds, which nobody was given. Keyed (lot, company, month).

    For a buyer's hundreds of lots at once, in as many statements as for one: the calendars
    and the calls to come are read only for a month opened and not called yet on a lot at work
    (minutes between a pass's opening and its call)."""
    wanted = {(ladder.clause_id, ladder.company_id, ladder.month) for ladder in ladders}
    owed = owed_due_dates_many(
        session, {(cid, company) for cid, company, _ in wanted}, settings, at, wanted=wanted
    )
    return {
        (cid, company, month): due_on
        for (cid, company), months in owed.items()
        for month, due_on in months.items()
    }
