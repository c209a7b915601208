"""The arithmetic of the monthly summary and of the digest's pace rule.

Pure: figures in, figures out. Fractions are Decimals between 0 and 1 (the ``percent`` filter shows
them as percentages); ``None`` means "cannot be said" (no target, no dates), never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflow.domain.calendar import add_months, at_local, first_working_day, month_start

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


def fraction(done: Decimal | int, target: Decimal | int | None) -> Decimal | None:
    """``done / target``; None without a positive target. Not capped: 120 % is worth seeing."""
    if target is None or target <= 0:
        return None
    return Decimal(done) / Decimal(target)


def elapsed_fraction(start: date | None, end: date | None, on: date) -> Decimal | None:
    """How much of the period [start, end] (both days included) has passed at the end of ``on``.

    0 before the start, 1 from the end on; None when a date is missing or the period is reversed.
    """
    if start is None or end is None or end < start:
        return None
    total = (end - start).days + 1
    passed = (on - start).days + 1
    return min(ONE, max(ZERO, Decimal(passed) / Decimal(total)))


def is_behind(done: Decimal | int, target: int | None, elapsed: Decimal | None) -> bool:
    """The pace rule: behind when the share of hours done is below the share of time elapsed."""
    done_share = fraction(done, target)
    if done_share is None or elapsed is None:
        return False
    return done_share < elapsed


@dataclass(frozen=True)
class Progress:
    """Hours against the target for one clause or a group of clauses.

    ``expected`` is the hours the elapsed time calls for (target x elapsed fraction, summed over
    clauses): for a group, ``time_fraction`` is therefore the target-weighted share of time elapsed,
    which is what "percent of time elapsed" can mean for several contracts of different lengths.
    """

    clauses: int
    hours_target: int
    hours_month: Decimal
    hours_cumulated: Decimal
    expected: Decimal | None

    @property
    def target_fraction(self) -> Decimal | None:
        return fraction(self.hours_cumulated, self.hours_target)

    @property
    def time_fraction(self) -> Decimal | None:
        if self.expected is None:
            return None
        return fraction(self.expected, self.hours_target)

    @property
    def behind(self) -> bool:
        done, elapsed = self.target_fraction, self.time_fraction
        return done is not None and elapsed is not None and done < elapsed


def clause_progress(
    hours_target: int | None,
    hours_month: Decimal,
    hours_cumulated: Decimal,
    elapsed: Decimal | None,
) -> Progress:
    target = hours_target or 0
    expected = None if elapsed is None or not target else Decimal(target) * elapsed
    return Progress(1, target, hours_month, hours_cumulated, expected)


def combine_progress(parts: Iterable[Progress]) -> Progress:
    """Add clauses up; the expected hours only count clauses that have both a target and dates."""
    clauses, target = 0, 0
    month, cumulated = ZERO, ZERO
    expected: Decimal | None = None
    expected_target = 0
    for part in parts:
        clauses += part.clauses
        month += part.hours_month
        cumulated += part.hours_cumulated
        if part.expected is not None:
            expected = (expected or ZERO) + part.expected
            expected_target += part.hours_target
        target += part.hours_target
    if expected is not None and expected_target != target:
        # Clauses without dates: scale so the weighted share covers only the dated ones.
        expected = expected * Decimal(target) / Decimal(expected_target)
    return Progress(clauses, target, month, cumulated, expected)


def latest_due_month(now: datetime, summary_time: time, zone: ZoneInfo) -> date:
    """The last month whose summary is due at ``now``: M-1 from the first working day of M at
    ``summary_time`` local time, M-2 before that."""
    this_month = month_start(now.astimezone(zone).date())
    due_at = at_local(first_working_day(this_month), summary_time, zone)
    return add_months(this_month, -1 if now >= due_at else -2)


def months_to_summarise(
    latest_due: date, first_activity: date | None, last_done: date | None
) -> list[date]:
    """Months still owed a summary: after the last one done (or from the first month with any
    activity), up to ``latest_due``. A downtime thus yields each missed month once."""
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
