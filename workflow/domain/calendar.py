"""Working days, French public holidays and the declaration calendar of one month.

All pure: dates in, dates and aware UTC datetimes out. Local wall-clock times (09:00 in Paris) are
turned into UTC here, once, so a DST change never moves a call to 08:00 or 10:00.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
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


@lru_cache(maxsize=8192)
def add_working_days(day: date, count: int) -> date:
    """The working day ``count`` working days after ``day`` (``day`` itself is not counted).

    Cached: a month-start burst asks the same few due dates plus offsets for every company
    (28,000 calls for 700 calls sent, a third of a second walking the same days)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    remaining = count
    current = day
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


@lru_cache(maxsize=8192)
def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how late a declaration is on ``end`` when due on ``start``.

    Kept: a digest asks it for thousands of ladders that share a few due dates and one today."""
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


def month_runs(months: Iterable[date]) -> list[list[date]]:
    """``months`` (first days) in order, cut where one does not follow the one before."""
    runs: list[list[date]] = []
    for month in sorted(set(months)):
        if runs and add_months(runs[-1][-1], 1) == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return runs


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


class LadderStep(StrEnum):
    """Where a month's ladder stands. The reminders between the call and the alert are
    numbered (``reminder_step(2)`` is ``reminder_2``): their count is a setting, so they are
    names built by ``reminder_step`` and read back by ``reminder_number``, not members."""

    CALL = "call"
    ESCALATION = "escalation"
    DONE = "done"


#: The stem of a numbered reminder's step name.
REMINDER_PREFIX = "reminder"


def reminder_step(number: int) -> str:
    """``reminder_2``: the name of the second reminder's step."""
    return f"{REMINDER_PREFIX}_{number}"


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


@lru_cache(maxsize=4096)
def month_schedule(month: date, rules: CalendarRules, zone: ZoneInfo) -> MonthSchedule:
    """Call on the first working day of M+1, reminders and escalation counted in working days
    after the due date, every step at ``rules.call_time`` local time.

    Cached (its arguments and its result are immutable): a burst computes the same few
    schedules for every company of the territory."""
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
        steps.append(ScheduledStep(reminder_step(number), at_local(day, rules.call_time, zone)))
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


# --- the ladder as it really ran -------------------------------------------------------------
#
# ``month_schedule`` is the plan of a month when everything happens on time. What the company is
# really sent depends on what really happened: the call may leave late (a late start, a stop of the
# service, a suspension), the lot may be suspended between two steps. The functions below compute
# each step from the step actually sent before it, so the buyer's alert can never overtake the
# company's call and reminders.


@dataclass(frozen=True)
class LadderDays:
    """The days a ladder counts: French working days on which the lot was not suspended.

    A working day the lot spent suspended, wholly or in part, does not count (the company could
    not be asked to declare that day, and the escalation is serious enough to err on the late
    side): such days push the due date, the reminders and the escalation later.
    """

    suspended: frozenset[date] = frozenset()

    def counts(self, day: date) -> bool:
        return is_working_day(day) and day not in self.suspended

    def add(self, day: date, count: int) -> date:
        """The counted day ``count`` counted days after ``day`` (``day`` itself not counted)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        current = day
        while count:
            current += timedelta(days=1)
            if self.counts(current):
                count -= 1
        return current

    def between(self, start: date, end: date) -> int:
        """Counted days in (start, end]: how late a month due on ``start`` is on ``end``."""
        if end <= start:
            return 0
        suspended = sum(1 for day in self.suspended if start < day <= end and is_working_day(day))
        return working_days_between(start, end) - suspended


def suspended_days(intervals: Sequence[Interval], zone: ZoneInfo, until: date) -> frozenset[date]:
    """The local dates touched by a suspension (a running one counts up to ``until``)."""
    days: set[date] = set()
    for interval in intervals:
        first = local_date(interval.start, zone)
        last = local_date(interval.end, zone) if interval.end is not None else max(until, first)
        days.update(first + timedelta(n) for n in range((last - first).days + 1))
    return frozenset(days)


def call_gap(schedule: MonthSchedule, zone: ZoneInfo) -> int:
    """Working days between the scheduled call and the due date (7 for most months)."""
    return working_days_between(local_date(schedule.call_at, zone), schedule.due_on)


def due_after_call(schedule: MonthSchedule, called_on: date, zone: ZoneInfo) -> date:
    """The due date a call sent on ``called_on`` gives.

    A call on time gives the scheduled due date. A call that leaves late gives the company the
    same number of working days it would have had (``call_gap``) from the day it really left:
    a date the company could not meet is no date, and every later step (reminders, the buyer's
    alert) is counted from it. Never earlier than the scheduled due date (the contract's date).
    """
    return max(schedule.due_on, add_working_days(called_on, call_gap(schedule, zone)))


def pushed_due(due_on: date, called_on: date, days: LadderDays) -> date:
    """``due_on`` (the date the call gave) moved later by the suspended working days between the
    call and it: the company keeps as many usable days as the call promised."""
    return days.add(called_on, working_days_between(called_on, due_on))


def planned_step_day(
    schedule: MonthSchedule,
    rules: CalendarRules,
    step: str,
    *,
    due_on: date,
    called_on: date,
    previous_on: date | None,
    days: LadderDays,
) -> date:
    """The day ``step`` (a reminder or the escalation) is due, from what really happened.

    - from the due date of the call actually sent (``due_on``, pushed by suspended days): the
      configured number of counted days after it;
    - and never sooner after the step sent before it (``previous_on``) than the configured gap
      between the two: after a long stop the steps follow each other at the ladder's pace from
      the restart instead of leaving together.
    """
    offsets = step_offsets(rules)
    names = [s.name for s in schedule.steps]
    index = names.index(step)
    effective = pushed_due(due_on, called_on, days)
    day = days.add(effective, offsets[step])
    previous = names[index - 1]
    if previous_on is not None and previous != LadderStep.CALL:
        day = max(day, days.add(previous_on, offsets[step] - offsets[previous]))
    return day


def step_offsets(rules: CalendarRules) -> dict[str, int]:
    """Working days after the due date of each step but the call (reminders past the
    escalation dropped, as ``month_schedule`` drops them)."""
    kept = [o for o in rules.reminder_offsets if o < rules.escalation_offset]
    offsets = {reminder_step(n): o for n, o in enumerate(kept, start=1)}
    offsets[LadderStep.ESCALATION] = rules.escalation_offset
    return offsets


def first_call_not_before(armed_at: datetime, call_time: time, zone: ZoneInfo) -> datetime:
    """The first call of a party leaves at the call time of the first working day after the day
    it was armed (its lot started, its welcome sent): a company that just heard of its clause
    is not called, reminded and welcomed in one morning."""
    day = next_working_day(local_date(armed_at, zone) + timedelta(days=1))
    return at_local(day, call_time, zone)


#: How long after the call time a pass may still send the day's steps: the service passes every
#: minute, so a step due at 09:00 leaves at 09:00 or a few minutes after; a pass later than this
#: (a restart at 14:00, a resumption at 10:00) holds the steps to the next call time.
CALL_WINDOW = timedelta(hours=1)


def sending_slot(planned: datetime, now: datetime, call_time: time, zone: ZoneInfo) -> datetime:
    """When a step planned at ``planned`` leaves, seen from a pass at ``now``; at or before
    ``now`` means now.

    Every step leaves on a working day in the hour that starts at the call time, local time
    (``CALL_WINDOW``). A step planned in the future waits for its time. A step whose time has
    passed (a stop of the service, a late start, a resumption) leaves now if the pass is in
    today's call hour, else at the next call time: never at 07:00 because a pass happened to
    run at 07:00, nor at 14:00 because the service was restarted then.
    """
    if planned > now:
        return planned
    today = local_date(now, zone)
    today_call = at_local(today, call_time, zone)
    if is_working_day(today):
        if today_call <= now < today_call + CALL_WINDOW:
            return max(planned, today_call)
        if now < today_call:
            return today_call
    return at_local(next_working_day(today + timedelta(days=1)), call_time, zone)


def reminder_count(schedule: MonthSchedule) -> int:
    return sum(1 for s in schedule.steps if reminder_number(s.name) is not None)


_REMINDER_NAME = re.compile(rf"{REMINDER_PREFIX}_([1-9][0-9]*)", re.ASCII)


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
    never writes (a row edited by hand) waits on the first step after the call.
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
        return new.step(reminder_step(sent + 1))
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


def opens_on(month: date) -> date:
    """The day month ``month`` can first be declared: its last working day. Before that the
    month is not worked through, and declaring it would stop its call before it is due."""
    day = add_months(month_start(month), 1) - timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class CatchUp:
    """The first call of a lot started late: the months it will ask for together, the day it
    leaves and the one due date it gives them."""

    months: tuple[date, ...]
    call_on: date
    due_on: date


def expected_due_dates(
    start_month: date,
    end_month: date,
    rules: CalendarRules,
    zone: ZoneInfo,
    started_at: datetime,
) -> tuple[dict[date, date], CatchUp | None]:
    """The due date each month of the lot will be given, as the ladder will give it
    (``reminders.arm_parties`` then the call): the first call leaves at the later of the first
    month's scheduled call and ``first_call_not_before(started_at)``; every month whose call is
    due by then goes in it, with one date, the latest ``due_after_call`` of theirs; the later
    months keep their scheduled date (their calls leave on time). Pure.

    ``started_at`` is when the lot entered (or, for a welcome sent at award, at the earliest
    enters) execution. The CatchUp is None when the first call leaves on its schedule.
    """
    months = months_between(month_start(start_month), month_start(end_month))
    if not months:
        return {}, None
    schedules = {m: month_schedule(m, rules, zone) for m in months}
    first_call = max(
        schedules[months[0]].call_at,
        first_call_not_before(started_at, rules.call_time, zone),
    )
    call_on = local_date(first_call, zone)
    grouped = [m for m in months if schedules[m].call_at <= first_call]
    due_on = max(due_after_call(schedules[m], call_on, zone) for m in grouped)
    dates = {m: schedules[m].due_on for m in months}
    dates.update({m: due_on for m in grouped})
    late = len(grouped) > 1 or due_on != schedules[grouped[0]].due_on
    return dates, CatchUp(tuple(grouped), call_on, due_on) if late else None
