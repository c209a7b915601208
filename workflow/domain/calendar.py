"""Working days, French public holidays and the declaration calendar of one month.

All pure: dates in, dates and aware UTC datetimes out. Local wall-clock times (09:00 in Paris) are
turned into UTC here, once, so a DST change never moves a call to 08:00 or 10:00.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

import holidays

T = TypeVar("T")


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    # Metropolitan France; Alsace-Moselle's extra days are not counted (a setting could add them).
    return frozenset(holidays.country_holidays("FR", years=year).keys())


def is_holiday(day: date) -> bool:
    return day in _french_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, count: int) -> date:
    """The working day ``count`` working days after ``day`` (``day`` itself is not counted)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    remaining = count
    current = day
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how late a declaration is on ``end`` when due on ``start``."""
    if end <= start:
        return 0
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + timedelta(offset))
    )


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + (month.month - 1) + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, both included, as first days."""
    months = []
    current, end = month_start(first), month_start(last)
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


def first_working_day(month: date) -> date:
    return next_working_day(month_start(month))


def at_local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``moment`` on ``day`` in ``zone`` (09:00 stays 09:00 across DST)."""
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


class LadderStep:
    CALL = "call"
    REMINDER = "reminder"  # followed by its number: reminder_1, reminder_2...
    ESCALATION = "escalation"
    DONE = "done"


@dataclass(frozen=True)
class CalendarRules:
    """The rhythm of declarations: settings' defaults, possibly overridden per buyer or lot."""

    due_day: int = 10
    reminder_offsets: tuple[int, ...] = (3, 7)
    escalation_offset: int = 15
    call_time: time = time(9, 0)


@dataclass(frozen=True)
class ScheduledStep:
    name: str  # "call", "reminder_1", "reminder_2", "escalation"
    at: datetime


@dataclass(frozen=True)
class MonthSchedule:
    """When month ``month`` is called, due, reminded and escalated."""

    month: date
    due_on: date
    steps: tuple[ScheduledStep, ...]

    @property
    def call_at(self) -> datetime:
        return self.steps[0].at

    def step(self, name: str) -> ScheduledStep:
        for candidate in self.steps:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def due_date(month: date, due_day: int) -> date:
    """Month M is due on ``due_day`` of M+1 (the last day when shorter), moved to the next
    working day when it falls on a weekend or a public holiday."""
    following = add_months(month_start(month), 1)
    last = calendar.monthrange(following.year, following.month)[1]
    return next_working_day(following.replace(day=max(1, min(due_day, last))))


def month_schedule(month: date, rules: CalendarRules, zone: ZoneInfo) -> MonthSchedule:
    """Call on the first working day of M+1, reminders and escalation counted in working days
    after the due date, every step at ``rules.call_time`` local time."""
    month = month_start(month)
    following = add_months(month, 1)
    due_on = due_date(month, rules.due_day)
    steps = [
        ScheduledStep(
            LadderStep.CALL, at_local(first_working_day(following), rules.call_time, zone)
        )
    ]
    # A reminder on or after the escalation day would reach the company after its buyer was
    # alerted: such offsets are dropped so the ladder only ever climbs.
    offsets = [o for o in rules.reminder_offsets if o < rules.escalation_offset]
    for number, offset in enumerate(offsets, start=1):
        day = add_working_days(due_on, offset)
        steps.append(
            ScheduledStep(f"{LadderStep.REMINDER}_{number}", at_local(day, rules.call_time, zone))
        )
    escalation_day = add_working_days(due_on, rules.escalation_offset)
    steps.append(
        ScheduledStep(LadderStep.ESCALATION, at_local(escalation_day, rules.call_time, zone))
    )
    return MonthSchedule(month=month, due_on=due_on, steps=tuple(steps))


class RuleSource(StrEnum):
    """The level a rule of a lot's calendar comes from."""

    LOT = "lot"
    BUYER = "buyer"
    DEFAULT = "default"


@dataclass(frozen=True)
class RuleOverrides:
    """The rules one level (a lot, or its buyer) sets itself; None leaves it to the level above."""

    due_day: int | None = None
    reminder_offsets: tuple[int, ...] | None = None
    escalation_offset: int | None = None


@dataclass(frozen=True)
class ExplainedCalendar:
    """A lot's (or a buyer's) calendar and, for each rule, the level it comes from."""

    rules: CalendarRules
    due_day_from: RuleSource
    reminders_from: RuleSource
    escalation_from: RuleSource

    @property
    def dropped_reminders(self) -> tuple[int, ...]:
        """Reminders on or after the escalation day: ``month_schedule`` never sends them."""
        return tuple(o for o in self.rules.reminder_offsets if o >= self.rules.escalation_offset)


def _pick(levels: Sequence[tuple[RuleSource, T | None]], default: T) -> tuple[T, RuleSource]:
    for source, value in levels:
        if value is not None:
            return value, source
    return default, RuleSource.DEFAULT


def resolve_rules(
    defaults: CalendarRules,
    *,
    lot: RuleOverrides | None = None,
    buyer: RuleOverrides | None = None,
) -> ExplainedCalendar:
    """The one place a lot's rules are decided: each rule is the lot's, else its buyer's, else
    ``defaults`` (the settings). Without ``lot``, the calendar a buyer gives to its lots that set
    nothing themselves. The call time is always the default's."""
    lot, buyer = lot or RuleOverrides(), buyer or RuleOverrides()
    day, day_from = _pick(
        [(RuleSource.LOT, lot.due_day), (RuleSource.BUYER, buyer.due_day)], defaults.due_day
    )
    offsets, offsets_from = _pick(
        [(RuleSource.LOT, lot.reminder_offsets), (RuleSource.BUYER, buyer.reminder_offsets)],
        defaults.reminder_offsets,
    )
    escalation, escalation_from = _pick(
        [(RuleSource.LOT, lot.escalation_offset), (RuleSource.BUYER, buyer.escalation_offset)],
        defaults.escalation_offset,
    )
    return ExplainedCalendar(
        rules=CalendarRules(
            due_day=day,
            reminder_offsets=offsets,
            escalation_offset=escalation,
            call_time=defaults.call_time,
        ),
        due_day_from=day_from,
        reminders_from=offsets_from,
        escalation_from=escalation_from,
    )


@dataclass(frozen=True)
class StepPlan:
    """What one pass does to one ladder: the step it sends, the steps it skips, what comes next."""

    send: ScheduledStep
    skipped: tuple[ScheduledStep, ...]
    following: ScheduledStep | None


def plan_step(schedule: MonthSchedule, current: str, now: datetime) -> StepPlan:
    """Choose the step to send now for a ladder waiting on step ``current``.

    Normally one step is due and it is sent. After a long downtime several may be due at once:
    a company must hear the call before anything else (it is the first time it is told about
    this month), otherwise only the latest due step is sent, because three reminders in one
    minute help nobody. Steps already past when the chosen one leaves are skipped; the caller
    logs them.
    """
    steps = schedule.steps
    names = [s.name for s in steps]
    if current in names:
        start = names.index(current)
    else:
        # The calendar changed under the ladder (fewer reminders): resume at the latest step due.
        due_now = [i for i, s in enumerate(steps) if i > 0 and s.at <= now]
        start = due_now[-1] if due_now else 1
    due = [s for s in steps[start:] if s.at <= now] or [steps[start]]
    if due[0] is not steps[start]:
        due.insert(0, steps[start])
    send = steps[start] if steps[start].name == LadderStep.CALL else due[-1]
    skipped = tuple(s for s in due if s is not send)
    index = steps.index(send)
    following = next((s for s in steps[index + 1 :] if s.at > now), None)
    return StepPlan(send=send, skipped=skipped, following=following)


def reminder_count(schedule: MonthSchedule) -> int:
    return sum(1 for s in schedule.steps if reminder_number(s.name) is not None)


_REMINDER_NAME = re.compile(rf"{LadderStep.REMINDER}_([1-9][0-9]*)", re.ASCII)


def reminder_number(name: str) -> int | None:
    """3 for ``reminder_3``; None for any other step name."""
    found = _REMINDER_NAME.fullmatch(name)
    return int(found.group(1)) if found else None


def replan_step(current: str, old: MonthSchedule, new: MonthSchedule) -> ScheduledStep | None:
    """The step of ``new`` that a ladder waiting on step ``current`` of ``old`` waits on now,
    when the lot's calendar changes under it; None for a ladder done (it waits on nothing).

    Progress is counted in steps sent, never in dates: a ladder waiting on its call still waits
    on it; one that has sent k reminders waits on reminder k + 1 if the new calendar has one,
    else on the escalation. No step is sent twice (its email key carries its name) and none
    already sent is sent again. The time is the new calendar's, even if already past: the next
    pass then sends it (the latest one only, as after a downtime, see ``plan_step``).

    Every name gets an answer, so a calendar change never stops on one ladder: a name this code
    never writes (a row edited by hand) waits on the first step after the call, which is where
    ``plan_step`` resumes such a ladder anyway (the latest step due, or the first reminder).
    """
    if current == LadderStep.DONE:
        return None
    if current == LadderStep.CALL:
        return new.step(LadderStep.CALL)
    number = reminder_number(current)
    if number is not None:
        sent = number - 1
    elif current == LadderStep.ESCALATION:
        sent = reminder_count(old)
    else:
        return new.steps[1]
    if sent < reminder_count(new):
        return new.step(f"{LadderStep.REMINDER}_{sent + 1}")
    return new.step(LadderStep.ESCALATION)


@dataclass(frozen=True)
class Interval:
    """A stretch of time, ``end`` None while it lasts (a suspension still running)."""

    start: datetime
    end: datetime | None


def month_fully_within(month: date, intervals: Sequence[Interval], zone: ZoneInfo) -> bool:
    """True when every moment of ``month`` (local time) lies inside one of ``intervals``: a month
    the clause spent entirely suspended, which nobody is asked to declare."""
    begin = at_local(month_start(month), time(0), zone)
    end = at_local(add_months(month_start(month), 1), time(0), zone)
    return any(i.start <= begin and (i.end is None or i.end >= end) for i in intervals)
