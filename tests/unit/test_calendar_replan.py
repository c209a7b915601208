"""``replan_step``: where a running ladder stands when its lot's calendar changes under it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import (
    CalendarRules,
    month_schedule,
    reminder_count,
    replan_step,
)

PARIS = ZoneInfo("Europe/Paris")
MARCH = date(2026, 3, 1)
OLD = month_schedule(MARCH, CalendarRules(), PARIS)  # due 10 April, reminders J+3, J+7, J+15


def at(day: int, month: int = 4) -> datetime:
    return datetime(2026, month, day, 7, 0, tzinfo=UTC)  # 09:00 in Paris (summer time)


def test_it_keeps_a_ladder_waiting_on_its_call_on_the_call() -> None:
    new = month_schedule(MARCH, CalendarRules(due_day=3), PARIS)
    step = replan_step("call", OLD, new)
    assert (step.name, step.at) == ("call", at(1))  # the call never depends on the lot's rules


def test_it_moves_the_next_reminder_to_the_new_due_date() -> None:
    # Due on Friday 3 April; Easter Monday (6 April) is not a working day.
    new = month_schedule(MARCH, CalendarRules(due_day=3), PARIS)
    step = replan_step("reminder_1", OLD, new)
    assert (step.name, step.at) == ("reminder_1", at(9))


def test_it_goes_to_the_escalation_when_the_new_calendar_has_fewer_reminders() -> None:
    new = month_schedule(MARCH, CalendarRules(reminder_offsets=(3,)), PARIS)
    step = replan_step("reminder_2", OLD, new)
    assert (step.name, step.at) == ("escalation", at(4, 5))  # 1 May is a holiday


def test_it_sends_a_reminder_added_after_those_already_sent() -> None:
    new = month_schedule(MARCH, CalendarRules(reminder_offsets=(3, 7, 9)), PARIS)
    assert reminder_count(OLD) == 2 and reminder_count(new) == 3
    step = replan_step("escalation", OLD, new)
    assert (step.name, step.at) == ("reminder_3", at(23))


def test_it_waits_on_the_escalation_when_no_reminder_is_added() -> None:
    new = month_schedule(MARCH, CalendarRules(escalation_offset=20), PARIS)
    step = replan_step("escalation", OLD, new)
    assert (step.name, step.at) == ("escalation", at(12, 5))  # 1 and 8 May are holidays


def test_it_keeps_the_new_time_even_when_already_past() -> None:
    # Due day moved from the 10th to the 1st: reminder 2 would have gone on 13 April.
    new = month_schedule(MARCH, CalendarRules(due_day=1), PARIS)
    step = replan_step("reminder_2", OLD, new)
    assert (step.name, step.at) == ("reminder_2", at(13))


def test_it_counts_a_reminder_the_old_calendar_no_longer_has() -> None:
    # Someone already shortened the list by hand: reminder 3 means two were sent.
    new = month_schedule(MARCH, CalendarRules(reminder_offsets=(3, 7, 9)), PARIS)
    assert replan_step("reminder_3", OLD, new).name == "reminder_3"


@pytest.mark.parametrize("step", ["done", "reminder_x", "reminder"])
def test_it_refuses_a_step_that_is_not_waiting(step: str) -> None:
    with pytest.raises(ValueError, match="no step"):
        replan_step(step, OLD, OLD)
