"""The arithmetic of the monthly summary and of the digest's pace rule.

Pure: figures in, figures out. Fractions are Decimals between 0 and 1 (the ``percent`` filter shows
them as percentages); ``None`` means "cannot be said" (no target, no dates), never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflow.domain.calendar import add_months, add_working_days, at_local, due_date, month_start

ZERO = Decimal(0)
ONE = Decimal(1)


class AgeBand(StrEnum):
    UNDER_26 = "under_26"
    FROM_26_TO_49 = "26_49"
    FROM_50 = "50_plus"
    UNKNOWN = "unknown"


AGE_BAND_LABELS: dict[AgeBand, str] = {
    AgeBand.UNDER_26: "Moins de 26 ans",
    AgeBand.FROM_26_TO_49: "26 à 49 ans",
    AgeBand.FROM_50: "50 ans et plus",
    AgeBand.UNKNOWN: "Non renseigné",
}


def age_band(birth_year: int | None, reference_year: int) -> AgeBand:
    """The band of someone born in ``birth_year`` during ``reference_year``.

    Only the birth year is kept (GDPR), so the age is the difference of years: someone born in
    2000 counts as 26 for the whole of 2026. Reports need bands, not birthdays.
    """
    if birth_year is None or birth_year > reference_year:
        return AgeBand.UNKNOWN
    age = reference_year - birth_year
    if age < 26:
        return AgeBand.UNDER_26
    if age < 50:
        return AgeBand.FROM_26_TO_49
    return AgeBand.FROM_50


def month_end(month: date) -> date:
    """The last day of ``month``'s month."""
    return date.fromordinal(add_months(month_start(month), 1).toordinal() - 1)


def last_month_due(today: date, due_day: int) -> date:
    """The latest month whose declaration was due before ``today`` (its first day).

    The pace of a clause seen on a day (the digest, a clause's page) compares the hours declared
    up to the end of this month with the time elapsed up to that same end: like with like, as
    the monthly summary does. Against the time elapsed *today*, a clause on pace would read one
    to two months behind every day, since the month in course and the last one cannot all be
    declared yet."""
    month = add_months(month_start(today), -1)
    while due_date(month, due_day) >= today:
        month = add_months(month, -1)
    return month


def fraction(done: Decimal | int, target: Decimal | int | None) -> Decimal | None:
    """``done / target``; None without a positive target. Not capped: 120 % is worth seeing."""
    if target is None or target <= 0:
        return None
    return Decimal(done) / Decimal(target)


def days_suspended(suspended: AbstractSet[date], start: date | None, end: date | None) -> int:
    """How many of the days ``suspended`` fall in [start, end] (both included): the days left out
    of a lot's period by ``elapsed_fraction``, said beside a pace so a reader checking it against
    the dates finds the same figure; 0 without both dates."""
    if start is None or end is None:
        return 0
    return sum(1 for day in suspended if start <= day <= end)


def elapsed_fraction(
    start: date | None,
    end: date | None,
    on: date,
    suspended: AbstractSet[date] = frozenset(),
) -> Decimal | None:
    """How much of the period [start, end] (both days included) has passed at the end of ``on``.

    Counted in the days the lot could be worked: the days in ``suspended`` (the local dates a
    suspension touched, ``workflow.domain.calendar.suspended_days``: a running one up to the
    summary's day) count neither in the time passed nor in the period. A lot of twelve months
    suspended from its fourth to its sixth has, at the end of the sixth, 3 of its 9 workable
    months behind it, not 6 of 12: no work was possible while it was suspended.

    0 before the start, 1 from the end on; None when a date is missing, the period is reversed
    or every day of it was suspended (no time to be behind in).
    """
    if start is None or end is None or end < start:
        return None
    total = (end - start).days + 1
    passed = (on - start).days + 1
    if suspended:
        stop = min(on, end)
        total -= days_suspended(suspended, start, end)
        passed -= days_suspended(suspended, start, stop)
        if total <= 0:
            return None
    return min(ONE, max(ZERO, Decimal(passed) / Decimal(total)))


#: How far (in shares of the target, 0.05 = 5 points) the hours done may stray from the time
#: elapsed before the pace is called "en retard" or "en avance". Why 5 points: hours arrive in
#: monthly lumps (holidays, a participant starting mid-month, a seasonal site), and one month is
#: already 8.3 points of a one-year clause; below 5 points the gap is noise a facilitator cannot
#: act on (the demo's April 2026 read "7,2 % réalisées pour 7,2 % du temps écoulé, en retard"),
#: above it, it is more than half a month of a one-year clause behind: worth a call.
PACE_TOLERANCE = Decimal("0.05")


class Pace(StrEnum):
    """The "rythme" verdict: hours done against time elapsed, with ``PACE_TOLERANCE``."""

    BEHIND = "behind"
    ON_PACE = "on_pace"
    AHEAD = "ahead"

    @property
    def label(self) -> str:
        return PACE_LABELS[self]


PACE_LABELS: dict[Pace, str] = {
    Pace.BEHIND: "en retard",
    Pace.ON_PACE: "dans le rythme",
    Pace.AHEAD: "en avance",
}


def pace_of(done_share: Decimal | None, elapsed: Decimal | None) -> Pace | None:
    """The verdict for a share of the target done against a share of the time elapsed.

    Behind only when the hours are more than ``PACE_TOLERANCE`` below the time, ahead only when
    more than that above it; None when either side cannot be said.
    """
    if done_share is None or elapsed is None:
        return None
    if done_share < elapsed - PACE_TOLERANCE:
        return Pace.BEHIND
    if done_share > elapsed + PACE_TOLERANCE:
        return Pace.AHEAD
    return Pace.ON_PACE


def is_behind(done: Decimal | int, target: int | None, elapsed: Decimal | None) -> bool:
    """The pace rule (summaries and digest alike): the share of hours done is more than
    ``PACE_TOLERANCE`` below the share of time elapsed."""
    return pace_of(fraction(done, target), elapsed) is Pace.BEHIND


@dataclass(frozen=True, slots=True)
class Progress:
    """Hours against the target for one clause or a group of clauses.

    Two comparisons, each over one set of clauses:

    - ``target_fraction``: all the hours declared (``hours_cumulated``) over all the targets
      (``hours_target``): what "% de l'objectif" says, and what a reader can check by dividing
      the two figures printed next to it.
    - the pace ("rythme"): over the *paced* clauses only, those with a target and both dates, the
      share of their target done by the end of the month (``paced_done / paced_target``) against
      the share of their time elapsed at that same end (``expected / paced_target``, where
      ``expected`` is target x elapsed fraction summed over them). Like with like: a clause
      without dates neither adds hours to one side nor time to the other.
    """

    clauses: int
    hours_target: int
    hours_month: Decimal
    hours_cumulated: Decimal
    expected: Decimal | None
    paced_target: int = 0
    paced_done: Decimal = ZERO

    @property
    def target_fraction(self) -> Decimal | None:
        return fraction(self.hours_cumulated, self.hours_target)

    @property
    def time_fraction(self) -> Decimal | None:
        if self.expected is None:
            return None
        return fraction(self.expected, self.paced_target)

    @property
    def pace_fraction(self) -> Decimal | None:
        """The share of the paced clauses' target done: the side ``time_fraction`` is set against."""
        if self.expected is None:
            return None
        return fraction(self.paced_done, self.paced_target)

    @property
    def pace(self) -> Pace | None:
        """The "rythme" verdict (see ``pace_of``); None when it cannot be said."""
        return pace_of(self.pace_fraction, self.time_fraction)

    @property
    def behind(self) -> bool:
        return self.pace is Pace.BEHIND


def clause_progress(
    hours_target: int | None,
    hours_month: Decimal,
    hours_cumulated: Decimal,
    elapsed: Decimal | None,
) -> Progress:
    target = hours_target or 0
    if elapsed is None or not target:
        return Progress(1, target, hours_month, hours_cumulated, None)
    expected = Decimal(target) * elapsed
    return Progress(1, target, hours_month, hours_cumulated, expected, target, hours_cumulated)


def combine_progress(parts: Iterable[Progress]) -> Progress:
    """Add clauses up; the pace only counts the clauses that have both a target and dates."""
    clauses, target, paced_target = 0, 0, 0
    month, cumulated, paced_done = ZERO, ZERO, ZERO
    expected: Decimal | None = None
    for part in parts:
        clauses += part.clauses
        month += part.hours_month
        cumulated += part.hours_cumulated
        target += part.hours_target
        if part.expected is not None:
            expected = (expected or ZERO) + part.expected
            paced_target += part.paced_target
            paced_done += part.paced_done
    return Progress(clauses, target, month, cumulated, expected, paced_target, paced_done)


def unpaced(progress: Progress) -> Progress:
    """``progress`` with no pace to judge: its hours and target kept, no clause on either side
    of the pace (``time_fraction``, ``pace_fraction`` and ``pace`` None), as for clauses without
    dates. For a scope of a monthly summary none of whose declarations of the month was due
    yet (``monthly_summary.Figures``)."""
    return replace(progress, expected=None, paced_target=0, paced_done=ZERO)


@dataclass(frozen=True)
class SummaryTiming:
    """When the summary of a month leaves: ``delay`` working days after the month's due date
    (general calendar: ``due_day`` of the following month, moved to a working day), at ``at``
    local time in ``zone``."""

    due_day: int
    delay: int
    at: time
    zone: ZoneInfo


def summary_due_at(month: date, timing: SummaryTiming) -> datetime:
    """The instant the summary of ``month`` is due."""
    day = add_working_days(due_date(month, timing.due_day), timing.delay)
    return at_local(day, timing.at, timing.zone)


def latest_due_month(now: datetime, timing: SummaryTiming) -> date:
    """The last month whose summary is due at ``now`` (see ``summary_due_at``).

    The summary of M leaves in M+1, or in M+2 when a late due day and a long delay push it
    there: start from the current month (never due yet) and step back until one is due.
    """
    month = month_start(now.astimezone(timing.zone).date())
    while summary_due_at(month, timing) > now:
        month = add_months(month, -1)
    return month


def months_to_summarise(
    latest_due: date, first_activity: date | None, last_done: date | None
) -> list[date]:
    """Months not summarised yet: after the last one done (or from the first month with any
    activity), up to ``latest_due``. The service sends the last one only and records the others
    as skipped (see ``workflow.services.summaries.queue_monthly_summaries``)."""
    if first_activity is None:
        return []
    start = month_start(first_activity)
    if last_done is not None:
        start = max(start, add_months(month_start(last_done), 1))
    months = []
    current = start
    while current <= latest_due:
        months.append(current)
        current = add_months(current, 1)
    return months
