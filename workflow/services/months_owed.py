"""The months a company of a lot still owes up to a last month, as the call ladder asks them.

Two emails list them, each month with its due date: the company that left the site
(``departure_notices``, up to its last month) and each company of a terminated lot
(``termination_notices``, up to the termination); the buyer's notice of the termination names
them too. All read them here, with the ladder's own rule (``reminders._open_batch`` and
``_climb_batch``, ``declarations.missing_months``): from the company's first month on the lot
(``first_month_of``) up to the last month asked, never after its own last month on the lot
(``AwardParty.last_month``) nor the lot's end (its recorded end, else its planned one, as
``LotCalendar.end_month``); neither declared nor spent whole in a suspension of the lot (never
called: « month fully suspended, not called »). A lot closed no longer asks for any (its months
« plus demandée », ``declaration_views``), an abandoned one never did.

Before, the departure's email counted every undeclared month: a company leaving a lot that had
been suspended for a whole month was told it still owed that month, which nobody would ever ask.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from workflow.adapters.orm import AwardParty, Clause
from workflow.domain.calendar import Interval, month_fully_within, month_start, months_between
from workflow.domain.stages import FINAL_STAGES, Stage
from workflow.services.declarations import declared_months_of
from workflow.services.lot_calendars import first_month_of, suspensions


def owed_up_to(
    session: Session,
    clause: Clause,
    party: AwardParty,
    last: date,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
) -> list[date]:
    """The months of ``party`` from its first on the lot up to ``last`` (any day of it) that it
    has not declared and that the ladder asks, or will ask, of it (module docstring): those it
    still owes, called already or to be called, in order.

    ``now``: a suspension still running is counted up to it, a month it has not covered whole
    yet being owed if the works resume before that month ends (the ladder decides when it
    opens it); None: as the lot's history holds it (a terminated lot has none running)."""
    if Stage(clause.stage) in FINAL_STAGES:
        return []
    start = month_start(clause.start_date) if clause.start_date else None
    first = first_month_of(party.first_month, start)
    if first is None:
        return []
    end = month_start(last)
    if party.last_month is not None:
        end = min(end, month_start(party.last_month))
    lot_end = clause.end_date or clause.planned_end_date
    if lot_end is not None:
        end = min(end, month_start(lot_end))
    declared = {month_start(m) for m in declared_months_of(session, clause.id, party.company_id)}
    suspended = suspensions(session, [clause.id]).get(clause.id, [])
    if now is not None:
        suspended = [Interval(i.start, now) if i.end is None else i for i in suspended]
    return [
        month
        for month in months_between(first, end)
        if month not in declared and not month_fully_within(month, suspended, zone)
    ]
