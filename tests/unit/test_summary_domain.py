from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.summary import (
    AgeBand,
    Progress,
    age_band,
    clause_progress,
    combine_progress,
    elapsed_fraction,
    fraction,
    is_behind,
    latest_due_month,
    month_end,
    months_to_summarise,
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


def test_it_says_behind_when_hours_lag_the_time_elapsed() -> None:
    assert is_behind(Decimal(40), 100, Decimal("0.5"))
    assert not is_behind(Decimal(50), 100, Decimal("0.5"))
    assert not is_behind(Decimal(0), None, Decimal("0.5"))
    assert not is_behind(Decimal(0), 100, None)


def test_it_weighs_time_elapsed_by_each_clause_target() -> None:
    big = clause_progress(1000, Decimal(10), Decimal(300), Decimal("0.5"))
    small = clause_progress(100, Decimal(5), Decimal(100), Decimal("1"))
    total = combine_progress([big, small])
    assert total == Progress(2, 1100, Decimal(15), Decimal(400), Decimal(600))
    assert total.time_fraction == Decimal(600) / Decimal(1100)
    assert total.target_fraction == Decimal(400) / Decimal(1100)
    assert total.behind


def test_it_leaves_undated_clauses_out_of_the_time_weighting() -> None:
    dated = clause_progress(1000, Decimal(0), Decimal(500), Decimal("0.5"))
    undated = clause_progress(1000, Decimal(0), Decimal(0), None)
    total = combine_progress([dated, undated])
    assert total.hours_target == 2000
    assert total.time_fraction == Decimal("0.5")


def test_it_has_nothing_to_say_about_no_clause() -> None:
    empty = combine_progress([])
    assert empty.target_fraction is None and empty.time_fraction is None
    assert not empty.behind


def test_it_makes_the_previous_month_due_on_the_first_working_day_at_the_summary_hour() -> None:
    seven = time(7, 0)
    # 1 April 2026 is a Wednesday, in summer time: 07:00 in Paris is 05:00 UTC.
    assert latest_due_month(datetime(2026, 4, 1, 4, 59, tzinfo=UTC), seven, PARIS) == date(
        2026, 2, 1
    )
    assert latest_due_month(datetime(2026, 4, 1, 5, 0, tzinfo=UTC), seven, PARIS) == date(
        2026, 3, 1
    )


def test_it_skips_holidays_and_weekends_before_the_first_working_day() -> None:
    seven = time(7, 0)
    # 1 November 2026 is a Sunday and a holiday: Monday the 2nd, winter time (06:00 UTC).
    assert latest_due_month(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), seven, PARIS) == date(
        2026, 9, 1
    )
    assert latest_due_month(datetime(2026, 11, 2, 5, 59, tzinfo=UTC), seven, PARIS) == date(
        2026, 9, 1
    )
    assert latest_due_month(datetime(2026, 11, 2, 6, 0, tzinfo=UTC), seven, PARIS) == date(
        2026, 10, 1
    )


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
