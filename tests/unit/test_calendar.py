"""The declaration calendar: working days, French holidays, Europe/Paris DST, the ladder's plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import (
    CalendarRules,
    Interval,
    LadderDays,
    RuleOverrides,
    RuleSource,
    add_working_days,
    at_local,
    call_gap,
    due_after_call,
    due_date,
    first_call_not_before,
    is_working_day,
    month_fully_within,
    month_schedule,
    months_between,
    planned_step_day,
    pushed_due,
    resolve_rules,
    sending_slot,
    step_offsets,
    suspended_days,
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


# --- the ladder as it really runs ---------------------------------------------------------------


MARCH = month_schedule(date(2026, 3, 1), RULES, PARIS)  # 1, 15, 21 April, 4 May at 07:00 UTC
NINE = time(9, 0)


def test_a_call_on_time_keeps_the_scheduled_due_date() -> None:
    # Wednesday 1 April -> Friday 10 April: 6 working days, Easter Monday (6 April) is not one.
    assert call_gap(MARCH, PARIS) == 6
    assert due_after_call(MARCH, date(2026, 4, 1), PARIS) == date(2026, 4, 10)


def test_a_late_call_gives_the_usual_working_days_from_the_day_it_left() -> None:
    # Called on Wednesday 22 April instead of 1 April: 6 working days later, Thursday 30 April.
    assert due_after_call(MARCH, date(2026, 4, 22), PARIS) == date(2026, 4, 30)


def test_steps_are_counted_from_the_due_date_of_the_call_really_sent() -> None:
    due = due_after_call(MARCH, date(2026, 4, 22), PARIS)
    plan = {
        name: planned_step_day(
            MARCH, RULES, name, due_on=due, called_on=date(2026, 4, 22), previous_on=None,
            days=LadderDays(),
        )
        for name in ("reminder_1", "reminder_2", "escalation")
    }  # fmt: skip
    # From 30 April: 1 May, 8 May, Ascension (14 May) and Whit Monday (25 May) are holidays.
    assert plan == {
        "reminder_1": date(2026, 5, 6),
        "reminder_2": date(2026, 5, 13),
        "escalation": date(2026, 5, 27),
    }


def test_after_a_stop_the_next_step_keeps_its_distance_from_the_step_sent_before_it() -> None:
    # Reminder 1 left on time (15 April), reminder 2 (due 21 April) only after a stop, on
    # 30 April: the alert waits 15 - 7 = 8 working days after it (15 May), not 4 May.
    day = planned_step_day(
        MARCH, RULES, "escalation", due_on=date(2026, 4, 10), called_on=date(2026, 4, 1),
        previous_on=date(2026, 4, 30), days=LadderDays(),
    )  # fmt: skip
    assert day == date(2026, 5, 15)


def test_suspended_working_days_push_the_due_date_and_the_steps() -> None:
    # Suspended from Monday 6 to Wednesday 8 April at noon: 7 and 8 April do not count
    # (Easter Monday never does).
    intervals = [Interval(utc(2026, 4, 6, 7), utc(2026, 4, 8, 10))]
    days = LadderDays(suspended_days(intervals, PARIS, date(2026, 5, 1)))
    assert sorted(days.suspended) == [date(2026, 4, 6), date(2026, 4, 7), date(2026, 4, 8)]
    assert pushed_due(date(2026, 4, 10), date(2026, 4, 1), days) == date(2026, 4, 14)
    first = planned_step_day(
        MARCH, RULES, "reminder_1", due_on=date(2026, 4, 10), called_on=date(2026, 4, 1),
        previous_on=None, days=days,
    )  # fmt: skip
    assert first == date(2026, 4, 17)
    assert days.between(date(2026, 4, 3), date(2026, 4, 10)) == 2  # 9 and 10 April


def test_a_running_suspension_counts_up_to_the_day_asked() -> None:
    days = suspended_days([Interval(utc(2026, 4, 6, 7), None)], PARIS, date(2026, 4, 9))
    assert max(days) == date(2026, 4, 9) and len(days) == 4


def test_a_step_found_late_leaves_at_the_call_time_never_at_the_hour_of_the_pass() -> None:
    planned = at_local(date(2026, 3, 2), NINE, PARIS)  # missed during a stop
    # A pass at 07:00 on Thursday 9 April: the step waits for 09:00 that day.
    assert sending_slot(planned, at_local(date(2026, 4, 9), time(7), PARIS), NINE, PARIS) == (
        at_local(date(2026, 4, 9), NINE, PARIS)
    )
    # A pass at 09:05 sends it now.
    at_905 = at_local(date(2026, 4, 9), time(9, 5), PARIS)
    assert sending_slot(planned, at_905, NINE, PARIS) <= at_905
    # A pass at 14:00 (a restart in the afternoon) holds it to 09:00 the next working day.
    assert sending_slot(planned, at_local(date(2026, 4, 10), time(14), PARIS), NINE, PARIS) == (
        at_local(date(2026, 4, 13), NINE, PARIS)  # 10 April is a Friday
    )
    # On a Saturday: Monday 09:00 (Easter Monday 6 April is a holiday: Tuesday).
    assert sending_slot(planned, at_local(date(2026, 4, 4), time(9), PARIS), NINE, PARIS) == (
        at_local(date(2026, 4, 7), NINE, PARIS)
    )
    # A step not due yet keeps its time.
    future = at_local(date(2026, 5, 4), NINE, PARIS)
    assert sending_slot(future, at_905, NINE, PARIS) == future


def test_the_call_time_stays_nine_local_across_the_march_dst_change() -> None:
    # Found on Saturday 28 March (winter time, 09:00 = 08:00 UTC), held to Monday 30 March,
    # the day after clocks go forward: 09:00 in Paris is 07:00 UTC.
    planned = utc(2026, 3, 27, 8)
    assert sending_slot(planned, utc(2026, 3, 28, 12), NINE, PARIS) == utc(2026, 3, 30, 7)
    # Counted in working days across the change, still at 09:00 local.
    due = due_after_call(month_schedule(date(2026, 2, 1), RULES, PARIS), date(2026, 3, 27), PARIS)
    # 6 working days, as 2 -> 10 March; Easter Monday 6 April does not count.
    assert due == date(2026, 4, 7)
    assert at_local(due, NINE, PARIS) == utc(2026, 4, 7, 7)


def test_a_company_is_not_called_the_day_its_lot_started() -> None:
    # Started on Wednesday 2 December at 08:00: first call on Thursday 3 at 09:00.
    assert first_call_not_before(utc(2026, 12, 2, 7), NINE, PARIS) == utc(2026, 12, 3, 8)
    # Started on a Friday evening: Monday.
    assert first_call_not_before(utc(2026, 12, 4, 18), NINE, PARIS) == utc(2026, 12, 7, 8)


def test_the_step_offsets_leave_out_reminders_past_the_escalation() -> None:
    rules = CalendarRules(reminder_offsets=(3, 7, 12), escalation_offset=10)
    assert step_offsets(rules) == {"reminder_1": 3, "reminder_2": 7, "escalation": 10}


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
