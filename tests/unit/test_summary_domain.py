from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.summary import (
    PACE_TOLERANCE,
    AgeBand,
    Pace,
    Progress,
    SummaryTiming,
    age_band,
    clause_progress,
    combine_progress,
    days_suspended,
    elapsed_fraction,
    fraction,
    is_behind,
    latest_due_month,
    month_end,
    months_to_summarise,
    pace_of,
    summary_due_at,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (2001, AgeBand.UNDER_26),  # 25 in 2026
        (2000, AgeBand.FROM_26_TO_49),  # 26 in 2026
        (1977, AgeBand.FROM_26_TO_49),  # 49
        (1976, AgeBand.FROM_50),  # 50
        (None, AgeBand.UNKNOWN),
        (2030, AgeBand.UNKNOWN),  # a typo, not a negative age
    ],
)
def test_it_puts_people_in_age_bands_from_their_birth_year(born: int | None, band: AgeBand) -> None:
    assert age_band(born, 2026) is band


def test_it_finds_the_last_day_of_a_month_leap_years_included() -> None:
    assert month_end(date(2026, 2, 1)) == date(2026, 2, 28)
    assert month_end(date(2028, 2, 14)) == date(2028, 2, 29)
    assert month_end(date(2026, 12, 1)) == date(2026, 12, 31)


def test_it_gives_no_percentage_without_a_target() -> None:
    assert fraction(Decimal(10), None) is None
    assert fraction(Decimal(10), 0) is None
    assert fraction(Decimal(150), 100) == Decimal("1.5")  # above the target is worth seeing


def test_it_measures_elapsed_time_with_both_ends_included() -> None:
    start, end = date(2026, 1, 1), date(2026, 1, 10)
    assert elapsed_fraction(start, end, date(2025, 12, 31)) == 0
    assert elapsed_fraction(start, end, date(2026, 1, 1)) == Decimal("0.1")
    assert elapsed_fraction(start, end, date(2026, 1, 5)) == Decimal("0.5")
    assert elapsed_fraction(start, end, date(2026, 1, 10)) == 1
    assert elapsed_fraction(start, end, date(2026, 3, 1)) == 1
    assert elapsed_fraction(None, end, date(2026, 1, 5)) is None
    assert elapsed_fraction(end, start, date(2026, 1, 5)) is None


def test_it_counts_the_suspended_days_of_the_period_it_leaves_out() -> None:
    start, end = date(2026, 1, 1), date(2026, 1, 10)
    # Two days before the start, three inside, one after the end: only the three are out.
    off = {date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 4), date(2026, 1, 5)}
    off |= {date(2026, 1, 10), date(2026, 1, 11)}
    assert days_suspended(off, start, end) == 3
    assert days_suspended(off, None, end) == 0
    # The figure said beside a pace is the one the pace left out: 7 workable days, 3 passed
    # at the end of the 5th (the 4th and 5th were suspended).
    assert elapsed_fraction(start, end, date(2026, 1, 5), off) == Decimal(3) / Decimal(7)


def test_it_says_behind_when_hours_lag_the_time_elapsed() -> None:
    assert is_behind(Decimal(40), 100, Decimal("0.5"))
    assert not is_behind(Decimal(50), 100, Decimal("0.5"))
    # Within the tolerance of 5 points: on pace, not behind.
    assert not is_behind(Decimal(45), 100, Decimal("0.5"))
    assert is_behind(Decimal("44.9"), 100, Decimal("0.5"))
    assert not is_behind(Decimal(0), None, Decimal("0.5"))
    assert not is_behind(Decimal(0), 100, None)


def test_it_weighs_time_elapsed_by_each_clause_target() -> None:
    big = clause_progress(1000, Decimal(10), Decimal(300), Decimal("0.5"))
    small = clause_progress(100, Decimal(5), Decimal(100), Decimal("1"))
    total = combine_progress([big, small])
    assert total == Progress(
        2, 1100, Decimal(15), Decimal(400), Decimal(600), paced_target=1100, paced_done=Decimal(400)
    )
    assert total.time_fraction == Decimal(600) / Decimal(1100)
    assert total.target_fraction == Decimal(400) / Decimal(1100)
    assert total.behind


def test_it_leaves_undated_clauses_out_of_the_time_weighting() -> None:
    dated = clause_progress(1000, Decimal(0), Decimal(500), Decimal("0.5"))
    undated = clause_progress(1000, Decimal(0), Decimal(0), None)
    total = combine_progress([dated, undated])
    assert total.hours_target == 2000
    assert total.target_fraction == Decimal("0.25")  # every hour over every target
    assert total.time_fraction == Decimal("0.5")
    # Like with like: half the dated clause's target done in half its time is on pace; the
    # undated clause's target must not drag the done side down while adding no time.
    assert total.pace_fraction == Decimal("0.5")
    assert not total.behind


def test_it_paces_hours_without_a_target_apart() -> None:
    # Hours declared on a clause without a target count in the cumulated figure, not in the pace.
    paced = clause_progress(1000, Decimal(0), Decimal(300), Decimal("0.5"))
    untargeted = clause_progress(None, Decimal(0), Decimal(700), Decimal("0.5"))
    total = combine_progress([paced, untargeted])
    assert total.hours_cumulated == 1000 and total.target_fraction == 1
    assert total.pace_fraction == Decimal("0.3")
    assert total.behind


def test_it_has_nothing_to_say_about_no_clause() -> None:
    empty = combine_progress([])
    assert empty.target_fraction is None and empty.time_fraction is None
    assert not empty.behind


TIMING = SummaryTiming(due_day=10, delay=8, at=time(7, 0), zone=PARIS)


def test_it_sends_the_summary_the_working_day_after_the_last_reminder() -> None:
    # March 2026 is due on Friday 10 April; reminders 3 and 7 working days later (15 and 21
    # April); the summary the working day after the last one, Wednesday 22 April at 07:00 in
    # Paris (summer time, 05:00 UTC).
    assert summary_due_at(date(2026, 3, 1), TIMING) == datetime(2026, 4, 22, 5, 0, tzinfo=UTC)
    assert latest_due_month(datetime(2026, 4, 22, 4, 59, tzinfo=UTC), TIMING) == date(2026, 2, 1)
    assert latest_due_month(datetime(2026, 4, 22, 5, 0, tzinfo=UTC), TIMING) == date(2026, 3, 1)
    # Never before the due date: on the first working day of April, February is the last one.
    assert latest_due_month(datetime(2026, 4, 1, 12, 0, tzinfo=UTC), TIMING) == date(2026, 2, 1)


def test_it_counts_working_days_over_holidays_and_winter_time() -> None:
    # October 2026 is due on Tuesday 10 November; Wednesday the 11th is Armistice Day, so 8
    # working days later is Monday 23 November, 07:00 CET = 06:00 UTC.
    assert summary_due_at(date(2026, 10, 1), TIMING) == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert latest_due_month(datetime(2026, 11, 23, 5, 59, tzinfo=UTC), TIMING) == date(2026, 9, 1)
    assert latest_due_month(datetime(2026, 11, 23, 6, 0, tzinfo=UTC), TIMING) == date(2026, 10, 1)


def test_it_can_push_a_summary_two_months_on() -> None:
    # Due on the 28th and 20 working days later: December's summary leaves in late February.
    late = SummaryTiming(due_day=28, delay=20, at=time(7, 0), zone=PARIS)
    due = summary_due_at(date(2026, 12, 1), late)
    assert due.date().month == 2
    assert latest_due_month(due, late) == date(2026, 12, 1)
    assert latest_due_month(due - timedelta(microseconds=1), late) == date(2026, 11, 1)


def test_it_owes_each_missed_month_once_and_nothing_before_the_first_activity() -> None:
    march = date(2026, 3, 1)
    assert months_to_summarise(march, None, None) == []
    assert months_to_summarise(march, date(2026, 1, 20), None) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert months_to_summarise(march, date(2025, 6, 1), date(2026, 1, 1)) == [
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert months_to_summarise(march, date(2025, 6, 1), march) == []


def test_it_gives_the_pace_a_tolerance_of_five_points_either_way() -> None:
    assert Decimal("0.05") == PACE_TOLERANCE
    half = Decimal("0.5")
    assert pace_of(Decimal("0.449"), half) is Pace.BEHIND
    assert pace_of(Decimal("0.45"), half) is Pace.ON_PACE
    assert pace_of(Decimal("0.55"), half) is Pace.ON_PACE
    assert pace_of(Decimal("0.551"), half) is Pace.AHEAD
    assert pace_of(None, half) is None and pace_of(half, None) is None
    assert [p.label for p in Pace] == ["en retard", "dans le rythme", "en avance", "à confirmer"]
    # The demo's April 2026: 7,22 % of the hours for 7,24 % of the time is on pace.
    april = clause_progress(10000, Decimal(0), Decimal(722), Decimal("0.0724"))
    assert april.pace is Pace.ON_PACE and not april.behind
