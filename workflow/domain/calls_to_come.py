"""A month whose call has not left yet: when the service will call it, and the due date that
call will give.

A month becomes owed before anyone asks for it: a lot's end recorded, or its planned end moved
later, after the months past the old end (their calls were parked, ``reminders.rearm_lot``); a
late start; a resumption. Until its call leaves, it is neither late nor missing: the company
was given no date. What every reader says of it (``declaration list``, the monthly summary's
« appel prévu le … ») is read here, by the rule the pass itself follows
(``reminders._open_batch``): the call planned for the company (``AwardParty.next_call_at``, or
the month's ladder opened and waiting for its slot) leaves at its sending slot seen from now
(``calendar.sending_slot``: today's call time if it has not passed, else the next working
day's), never before the month's usual call (the first working day of the following month); it
gives the due date of a late call (``calendar.due_after_call``), the latest of those of the
months it lists. Nothing here reads a database or a clock: ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from workflow.domain.calendar import (
    CalendarRules,
    add_months,
    at_local,
    due_after_call,
    first_working_day,
    local_date,
    month_schedule,
    month_start,
    sending_slot,
)


def usual_call_at(month: date, call_time: time, zone: ZoneInfo) -> datetime:
    """The month's call when everything runs on time: the first working day of the following
    month, at the call time (``month_schedule``'s first step)."""
    return at_local(first_working_day(add_months(month_start(month), 1)), call_time, zone)


def call_to_come(
    month: date, planned: datetime, now: datetime, call_time: time, zone: ZoneInfo
) -> datetime:
    """When the call of ``month``, not sent yet, leaves, seen at ``now``: the later of its usual
    call and the sending slot of the call planned for it (``planned``: the company's next call,
    for this month or an earlier one, or its ladder's waiting call). Never a moment already past:
    a call planned before ``now`` (a party re-armed at the dates of months long gone) leaves at
    the next pass's slot."""
    return max(usual_call_at(month, call_time, zone), sending_slot(planned, now, call_time, zone))


def due_of_call(
    months: Iterable[date], call_at: datetime, rules: CalendarRules, zone: ZoneInfo
) -> date:
    """The one due date a call leaving at ``call_at`` gives the months it lists: for each, the
    scheduled date or, the call being late, the usual number of working days after it
    (``due_after_call``); the latest of them, as the pass writes it in each month's ladder."""
    called_on = local_date(call_at, zone)
    return max(
        due_after_call(month_schedule(month, rules, zone), called_on, zone) for month in months
    )
