"""Changing a buyer's notice preference and declaration calendar, or a lot's calendar, after
they were created: the lots whose calendar really changes get a history row, and their ladders
still running follow the new calendar, in the same transaction (``services.calendar_changes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.app.catalog import BuyerView, buyer_view
from workflow.app.clauses import Designation
from workflow.app.lookup import find_buyer, find_clause
from workflow.app.unit import unit_of_work
from workflow.domain.vocabulary import NoticePreference
from workflow.runtime import App
from workflow.services import calendar_changes
from workflow.services.calendar_changes import CalendarChange, CalendarChanged


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
