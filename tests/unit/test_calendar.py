"""The declaration calendar: working days, French holidays, Europe/Paris DST, the ladder's plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import (
    CalendarRules,
    Interval,
    RuleOverrides,
    RuleSource,
    add_working_days,
    at_local,
    due_date,
    is_working_day,
    month_fully_within,
    month_schedule,
    months_between,
    plan_step,
    resolve_rules,
    working_days_between,
)
from workflow.services.ticks import simulation_instants
from workflow.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
RULES = CalendarRules()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def steps(month: date, rules: CalendarRules = RULES) -> dict[str, datetime]:
    return {s.name: s.at for s in month_schedule(month, rules, PARIS).steps}


# --- working days and holidays ----------------------------------------------------------------


def test_it_knows_french_public_holidays_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 5, 1))  # Friday, fête du Travail
    assert not is_working_day(date(2026, 11, 11))  # Wednesday, Armistice
    assert not is_working_day(date(2026, 5, 14))  # Ascension
    assert not is_working_day(date(2026, 5, 9))  # a Saturday
    assert is_working_day(date(2026, 5, 12))


def test_it_moves_a_due_date_on_a_weekend_or_a_holiday_to_the_next_working_day() -> None:
    assert due_date(date(2026, 3, 1), 10) == date(2026, 4, 10)  # a Friday: kept
    assert due_date(date(2026, 4, 1), 10) == date(2026, 5, 11)  # Sunday 10 May -> Monday
    assert due_date(date(2026, 4, 1), 1) == date(2026, 5, 4)  # 1 May (Fri) then a weekend
    assert due_date(date(2026, 10, 1), 11) == date(2026, 11, 12)  # 11 November -> Thursday


def test_it_counts_reminders_in_working_days_across_holidays() -> None:
    april = steps(date(2026, 4, 1))
    # Due Monday 11 May; 14 May is Ascension, so three working days later is Friday 15.
    assert april["reminder_1"] == utc(2026, 5, 15, 7)
    october = steps(date(2026, 10, 1))
    # Due Tuesday 10 November; the 11th is a holiday: 12, 13, 16 November.
    assert october["reminder_1"] == utc(2026, 11, 16, 8)
    assert add_working_days(date(2026, 11, 10), 1) == date(2026, 11, 12)
    assert working_days_between(date(2026, 11, 10), date(2026, 11, 16)) == 3


def test_a_due_day_beyond_the_end_of_a_short_month_is_its_last_day() -> None:
    assert due_date(date(2027, 1, 1), 31) == date(2027, 3, 1)  # 28 Feb 2027 is a Sunday


def test_it_lists_the_months_of_an_execution_both_ends_included() -> None:
    assert months_between(date(2026, 11, 16), date(2027, 1, 5)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


# --- Europe/Paris DST -------------------------------------------------------------------------


def test_a_nine_oclock_call_stays_at_nine_local_across_the_march_change() -> None:
    assert steps(date(2026, 2, 1))["call"] == utc(2026, 3, 2, 8)  # CET, UTC+1
    assert steps(date(2026, 3, 1))["call"] == utc(2026, 4, 1, 7)  # CEST, UTC+2
    # The day after the change (Sunday 29 March 2026): 09:00 is 07:00 UTC.
    assert at_local(date(2026, 3, 30), time(9), PARIS) == utc(2026, 3, 30, 7)
    assert at_local(date(2026, 3, 27), time(9), PARIS) == utc(2026, 3, 27, 8)


def test_a_nine_oclock_step_stays_at_nine_local_across_the_october_change() -> None:
    september = steps(date(2026, 9, 1))
    assert september["reminder_2"] == utc(2026, 10, 21, 7)  # still summer time
    assert september["escalation"] == utc(2026, 11, 2, 8)  # winter time since 25 October
    assert at_local(date(2026, 10, 26), time(9), PARIS) == utc(2026, 10, 26, 8)


def test_the_service_plays_each_local_time_once_on_the_days_the_clocks_change() -> None:
    settings = Settings(timezone="Europe/Paris")
    march = simulation_instants(date(2026, 3, 27), date(2026, 3, 30), settings)
    october = simulation_instants(date(2026, 10, 23), date(2026, 10, 26), settings)
    # Friday: 07:00, 08:00, 09:00 local; weekend: one pass at 09:00; Monday: three again.
    assert march == [
        utc(2026, 3, 27, 6),
        utc(2026, 3, 27, 7),
        utc(2026, 3, 27, 8),
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 5),
        utc(2026, 3, 30, 6),
        utc(2026, 3, 30, 7),
    ]
    assert october[-3:] == [utc(2026, 10, 26, 6), utc(2026, 10, 26, 7), utc(2026, 10, 26, 8)]
    assert utc(2026, 10, 25, 8) in october and len(set(october)) == len(october)


def test_a_time_in_the_hour_skipped_or_repeated_by_dst_is_still_one_instant() -> None:
    assert at_local(date(2026, 3, 29), time(2, 30), PARIS) == utc(2026, 3, 29, 1, 30)
    assert at_local(date(2026, 10, 25), time(2, 30), PARIS) == utc(2026, 10, 25, 0, 30)


# --- rules ------------------------------------------------------------------------------------


def test_the_lot_override_wins_over_the_buyer_which_wins_over_the_default() -> None:
    calendar = resolve_rules(
        RULES,
        lot=RuleOverrides(reminder_offsets=(2,)),
        buyer=RuleOverrides(due_day=15, reminder_offsets=(4, 8)),
    )
    rules = calendar.rules
    assert (rules.due_day, rules.reminder_offsets, rules.escalation_offset) == (15, (2,), 15)
    assert (calendar.due_day_from, calendar.reminders_from, calendar.escalation_from) == (
        RuleSource.BUYER,
        RuleSource.LOT,
        RuleSource.DEFAULT,
    )


def test_a_buyer_alone_gives_its_rules_and_the_defaults_fill_the_rest() -> None:
    calendar = resolve_rules(
        CalendarRules(call_time=time(8, 30)), buyer=RuleOverrides(escalation_offset=20)
    )
    assert calendar.rules == CalendarRules(escalation_offset=20, call_time=time(8, 30))
    assert (calendar.due_day_from, calendar.escalation_from) == (
        RuleSource.DEFAULT,
        RuleSource.BUYER,
    )
    assert resolve_rules(RULES).rules == RULES


def test_it_names_the_reminders_that_would_come_after_the_escalation() -> None:
    calendar = resolve_rules(RULES, lot=RuleOverrides(escalation_offset=7))
    assert calendar.dropped_reminders == (7,)


def test_a_reminder_on_or_after_the_escalation_is_dropped() -> None:
    rules = CalendarRules(reminder_offsets=(3, 7, 12), escalation_offset=10)
    assert list(steps(date(2026, 3, 1), rules)) == [
        "call",
        "reminder_1",
        "reminder_2",
        "escalation",
    ]


# --- what a pass sends ------------------------------------------------------------------------


MARCH = month_schedule(date(2026, 3, 1), RULES, PARIS)  # 1, 15, 21 April, 4 May at 07:00 UTC


def test_it_sends_the_step_that_is_due_and_schedules_the_next() -> None:
    plan = plan_step(MARCH, "reminder_1", utc(2026, 4, 15, 7))
    assert plan.send.name == "reminder_1" and plan.skipped == ()
    assert plan.following is not None and plan.following.name == "reminder_2"


def test_after_downtime_it_sends_only_the_latest_due_step() -> None:
    plan = plan_step(MARCH, "reminder_1", utc(2026, 4, 30, 12))
    assert plan.send.name == "reminder_2"
    assert [s.name for s in plan.skipped] == ["reminder_1"]
    assert plan.following is not None and plan.following.name == "escalation"


def test_a_late_call_goes_first_and_the_past_reminders_are_skipped() -> None:
    plan = plan_step(MARCH, "call", utc(2026, 4, 22, 10))
    assert plan.send.name == "call"
    assert [s.name for s in plan.skipped] == ["reminder_1", "reminder_2"]
    assert plan.following is not None and plan.following.name == "escalation"


def test_the_last_step_leaves_nothing_to_follow() -> None:
    plan = plan_step(MARCH, "escalation", utc(2026, 5, 4, 7))
    assert plan.send.name == "escalation" and plan.following is None


def test_a_step_the_calendar_no_longer_has_resumes_at_the_latest_due() -> None:
    plan = plan_step(MARCH, "reminder_3", utc(2026, 4, 22, 10))
    assert plan.send.name == "reminder_2"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2026, 4, 14, 8), utc(2026, 7, 10, 8), [False, True, True, False]),
        (utc(2026, 4, 14, 8), None, [False, True, True, True]),
    ],
)
def test_a_month_spent_entirely_suspended_is_recognised(
    start: datetime, end: datetime | None, expected: list[bool]
) -> None:
    months = [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)]
    intervals = [Interval(start, end)]
    assert [month_fully_within(m, intervals, PARIS) for m in months] == expected
