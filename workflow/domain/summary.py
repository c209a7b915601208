"""The arithmetic of the monthly summary and of the digest's pace rule.

Pure: figures in, figures out. Fractions are Decimals between 0 and 1 (the ``percent`` filter shows
them as percentages); ``None`` means "cannot be said" (no target, no dates), never zero.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from workflow.domain.calendar import add_months, add_working_days, at_local, due_date, month_start

if TYPE_CHECKING:
    from workflow.domain.monthly_summary import ClauseLine, Declarations

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
    #: Declarations owed for the months the hours are counted up to are not in: the hours that
    #: decide between « en retard » and « dans le rythme » are not known (``pace_of``).
    UNCONFIRMED = "unconfirmed"

    @property
    def label(self) -> str:
        return PACE_LABELS[self]


PACE_LABELS: dict[Pace, str] = {
    Pace.BEHIND: "en retard",
    Pace.ON_PACE: "dans le rythme",
    Pace.AHEAD: "en avance",
    Pace.UNCONFIRMED: "à confirmer",
}


def pace_of(
    done_share: Decimal | None,
    elapsed: Decimal | None,
    unreceived: int = 0,
    owed_share: Decimal | None = None,
) -> Pace | None:
    """The verdict for a share of the target done against a share of the time elapsed.

    Behind only when the hours are more than ``PACE_TOLERANCE`` below the time, ahead only when
    more than that above it; None when either side cannot be said.

    ``unreceived``: declarations owed for the months counted and not received (late, or not
    due yet). Their hours can only add to ``done_share``: ahead stays true without them, but
    neither « en retard » nor « dans le rythme » can be said, the verdict is to be confirmed
    (user trial: « 0 % des heures prévues réalisées pour 4 % du temps écoulé, dans le
    rythme » while both declarations of the lot's first month were missing).

    ``owed_share``: at most what they could add, in shares of the target (``owed_hours``): a
    scope still more than ``PACE_TOLERANCE`` behind with them is « en retard » whatever they
    bring. Without it, one month never declared would leave a lot far behind « à confirmer »
    to the end of its contract (review: « 3 % … pour 70 % du temps écoulé, rythme à
    confirmer »), and a territory, where some declaration is always owed, never behind.
    """
    if done_share is None or elapsed is None:
        return None
    if done_share > elapsed + PACE_TOLERANCE:
        return Pace.AHEAD
    if unreceived > 0:
        if owed_share is not None and done_share + owed_share < elapsed - PACE_TOLERANCE:
            return Pace.BEHIND
        return Pace.UNCONFIRMED
    if done_share < elapsed - PACE_TOLERANCE:
        return Pace.BEHIND
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

    ``unreceived``: the declarations the paced clauses owe for months up to the end the hours
    are counted to, not received (``unreceived_declarations``): hours ``paced_done`` may lack,
    so the pace is « à confirmer » unless ahead without them (``pace_of``). 0 unless set
    (``awaiting``): the hours alone do not know what is missing.
    """

    clauses: int
    hours_target: int
    hours_month: Decimal
    hours_cumulated: Decimal
    expected: Decimal | None
    paced_target: int = 0
    paced_done: Decimal = ZERO
    unreceived: int = 0
    #: At most the hours the ``unreceived`` declarations could add (``owed_hours``); None when
    #: not known: the pace is then « à confirmer » as soon as one is owed.
    owed: Decimal | None = None

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
        return pace_of(self.pace_fraction, self.time_fraction, self.unreceived, self.owed_share)

    @property
    def owed_share(self) -> Decimal | None:
        """``owed`` in shares of the paced target, as ``pace_of`` reads it."""
        if not self.unreceived or self.owed is None:
            return None
        return fraction(self.owed, self.paced_target)

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
    clauses, target, paced_target, unreceived = 0, 0, 0, 0
    month, cumulated, paced_done = ZERO, ZERO, ZERO
    expected: Decimal | None = None
    # Unknown as soon as one part's is: a bound cannot be added from parts without one.
    owed: Decimal | None = ZERO
    for part in parts:
        clauses += part.clauses
        month += part.hours_month
        cumulated += part.hours_cumulated
        target += part.hours_target
        if part.expected is not None:
            expected = (expected or ZERO) + part.expected
            paced_target += part.paced_target
            paced_done += part.paced_done
            unreceived += part.unreceived
            if part.unreceived:
                owed = None if owed is None or part.owed is None else owed + part.owed
    return Progress(
        clauses,
        target,
        month,
        cumulated,
        expected,
        paced_target,
        paced_done,
        unreceived,
        owed if unreceived else None,
    )


def unpaced(progress: Progress) -> Progress:
    """``progress`` with no pace to judge: its hours and target kept, no clause on either side
    of the pace (``time_fraction``, ``pace_fraction`` and ``pace`` None), as for clauses without
    dates. For a scope of a monthly summary none of whose declarations of the month was due
    yet (``monthly_summary.Figures``)."""
    return replace(
        progress, expected=None, paced_target=0, paced_done=ZERO, unreceived=0, owed=None
    )


def awaiting(progress: Progress, unreceived: int, owed: Decimal | None = None) -> Progress:
    """``progress`` whose paced clauses still owe ``unreceived`` declarations for the months
    its hours are counted up to (``Progress.unreceived``), which could add at most ``owed``
    hours (None: not known); as it is without a pace to judge."""
    if progress.expected is None or (progress.unreceived, progress.owed) == (unreceived, owed):
        return progress
    return replace(progress, unreceived=unreceived, owed=owed if unreceived else None)


def months_spanned(start: date, end: date) -> int:
    """The calendar months a period touches, both ends included (1 for a period in one month)."""
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


def monthly_share(target: int | None, start: date | None, end: date | None) -> Decimal | None:
    """A lot's target spread evenly over the months of its period: what one of its months'
    declarations could bring at most, by the pace's own measure (a lot that declares its
    share each month is exactly on pace). Its whole monthly share, though it may be split
    between several companies: an owed declaration is never credited less than it could add."""
    if target is None or start is None or end is None or end < start:
        return None
    return Decimal(target) / months_spanned(start, end)


def paced_lots(lines: Iterable[ClauseLine]) -> dict[int, Decimal | None]:
    """The clauses of ``lines`` whose pace is judged (a target and dates: ``clause_progress``),
    those whose missing declarations leave the pace to be confirmed, each with its
    ``monthly_share``: the most one of its owed declarations could add (``owed_hours``)."""
    return {
        line.clause_id: monthly_share(line.progress.hours_target, line.start_date, line.end_date)
        for line in lines
        if line.progress.expected is not None
    }


def owed_hours(declarations: Declarations, paced: Mapping[int, Decimal | None]) -> Decimal | None:
    """At most the hours the declarations ``unreceived_declarations`` counts could add: each
    credited with its lot's ``monthly_share``; None when one lot's share is not known."""
    owed = ZERO
    counts: dict[int, int] = {}
    for owed_one in (*declarations.missing, *declarations.pending, *declarations.earlier_pending):
        counts[owed_one.clause_id] = counts.get(owed_one.clause_id, 0) + 1
    for earlier in declarations.earlier:
        counts[earlier.clause_id] = counts.get(earlier.clause_id, 0) + len(earlier.months)
    for clause_id, count in counts.items():
        if clause_id not in paced:
            continue
        share = paced[clause_id]
        if share is None:
            return None
        owed += share * count
    return owed


def unreceived_declarations(declarations: Declarations, paced: Container[int]) -> int:
    """How many declarations of a monthly summary's scope the lots ``paced`` owe for the
    summary's month and the months before it, not received at its moment: the month's missing
    ones (late) and those not due yet, the earlier months' still missing and those still
    expected (« attendues, pas encore dues »). The pace of the month compares the hours
    declared up to its end with the time elapsed by then: each of these can still add hours
    to it. A lot without a target or dates is on neither side of the pace: its own missing
    declarations leave it as it is."""
    count = sum(
        1
        for owed in (*declarations.missing, *declarations.pending, *declarations.earlier_pending)
        if owed.clause_id in paced
    )
    return count + sum(len(e.months) for e in declarations.earlier if e.clause_id in paced)


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
