"""The time elapsed of a lot counts only the days it could be worked: the days it spent
suspended are out of the time passed and of its period (``elapsed_fraction``), counted as the
ladders count them (``suspended_days``: every local date a suspension touched)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflow.domain.calendar import Interval, suspended_days
from workflow.domain.summary import Pace, clause_progress, combine_progress, elapsed_fraction

PARIS = ZoneInfo("Europe/Paris")
START, END = date(2025, 11, 1), date(2026, 10, 31)  # twelve months, 365 days


def days(first: date, last: date) -> frozenset[date]:
    return frozenset(first + timedelta(n) for n in range((last - first).days + 1))


# Suspended from 2 February to 4 May 2026 included: 27 + 31 + 30 + 4 = 92 days.
SUSPENDED = days(date(2026, 2, 2), date(2026, 5, 4))


def test_the_suspended_days_are_out_of_the_time_passed_and_of_the_period() -> None:
    assert len(SUSPENDED) == 92
    # End of June: 242 days since the start, 92 of them suspended; 365 - 92 workable in all.
    assert elapsed_fraction(START, END, date(2026, 6, 30), SUSPENDED) == Decimal(150) / 273
    # Without the suspension: 242 / 365 (66 %), a lot on its workable pace read behind.
    assert elapsed_fraction(START, END, date(2026, 6, 30)) == Decimal(242) / 365
    # During the suspension the time stands still.
    stopped = [elapsed_fraction(START, END, date(2026, m, 28), SUSPENDED) for m in (2, 3, 4)]
    assert stopped == [Decimal(93) / 273] * 3
    assert elapsed_fraction(START, END, date(2026, 2, 1), SUSPENDED) == Decimal(93) / 273


def test_the_bounds_are_kept() -> None:
    assert elapsed_fraction(START, END, date(2025, 10, 31), SUSPENDED) == 0
    assert elapsed_fraction(START, END, END, SUSPENDED) == 1
    assert elapsed_fraction(START, END, date(2027, 3, 1), SUSPENDED) == 1
    # Suspended days outside the period change nothing.
    outside = days(date(2025, 9, 1), date(2025, 10, 31)) | days(date(2026, 11, 1), date(2027, 1, 1))
    for on in (date(2026, 1, 31), date(2026, 6, 30)):
        assert elapsed_fraction(START, END, on, outside) == elapsed_fraction(START, END, on)
    # A period suspended from end to end has no time to be behind in.
    assert elapsed_fraction(START, END, date(2026, 6, 30), days(START, END)) is None
    assert elapsed_fraction(None, END, date(2026, 6, 30), SUSPENDED) is None


def test_a_suspension_counts_every_local_date_it_touched_a_running_one_up_to_the_day() -> None:
    # Suspended on 2 February at 10:00 in Paris, resumed on 4 May at 10:00: 92 dates.
    stretch = Interval(
        datetime(2026, 2, 2, 9, 0, tzinfo=UTC), datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    )
    assert suspended_days([stretch], PARIS, date(2026, 7, 14)) == SUSPENDED
    # Still running: counted up to the summary's day (14 July), nothing after it.
    running = suspended_days([Interval(stretch.start, None)], PARIS, date(2026, 7, 14))
    assert running == days(date(2026, 2, 2), date(2026, 7, 14))
    assert elapsed_fraction(START, END, date(2026, 6, 30), running) == Decimal(93) / (365 - 163)


def test_a_lot_on_its_workable_pace_is_on_pace_and_the_total_adds_its_parts_up() -> None:
    june = date(2026, 6, 30)
    suspended = clause_progress(
        500, Decimal(0), Decimal(275), elapsed_fraction(START, END, june, SUSPENDED)
    )
    never = clause_progress(1000, Decimal(0), Decimal(660), elapsed_fraction(START, END, june))
    assert suspended.pace is Pace.ON_PACE  # 55 % for 54.9 %
    assert never.pace is Pace.ON_PACE  # 66 % for 66.3 %
    total = combine_progress([suspended, never])
    expected = 500 * (Decimal(150) / 273) + 1000 * (Decimal(242) / 365)
    assert total.expected == expected
    assert total.time_fraction == expected / 1500
