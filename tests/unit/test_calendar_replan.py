"""``replan_step``: where a running ladder stands when its lot's calendar changes under it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.calendar import (
    CalendarRules,
    month_schedule,
    reminder_count,
    reminder_number,
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


def test_a_ladder_done_waits_on_nothing() -> None:
    assert replan_step("done", OLD, OLD) is None


@pytest.mark.parametrize("name", ["reminder_x", "reminder", "reminder_0", "reminder_²", "sent"])
def test_a_name_it_never_writes_waits_on_the_first_step_after_the_call(name: str) -> None:
    # Where ``plan_step`` resumes such a ladder anyway; a row edited by hand never stops a change.
    new = month_schedule(MARCH, CalendarRules(due_day=3), PARIS)
    step = replan_step(name, OLD, new)
    assert step is not None and (step.name, step.at) == ("reminder_1", at(9))
    assert reminder_number(name) is None


def test_it_reads_the_number_of_a_reminder() -> None:
    assert [reminder_number(n) for n in ("reminder_1", "reminder_12", "call", "escalation")] == [
        1,
        12,
        None,
        None,
    ]


def test_it_replans_across_the_summer_time_change_and_easter_monday() -> None:
    # February is due on 10 March: reminders 13 and 19 March, escalation on 31 March. The due day
    # moves to the 20th (a Friday): reminder 2 falls on Tuesday 31 March, two days after clocks
    # went forward (Sunday 29 March), and the escalation 15 working days after the 20th skips
    # Easter Monday (6 April). Every step stays at 09:00 in Paris: 08:00 UTC, then 07:00 UTC.
    february = date(2026, 2, 1)
    old = month_schedule(february, CalendarRules(), PARIS)
    new = month_schedule(february, CalendarRules(due_day=20), PARIS)
    assert old.step("reminder_2").at == datetime(2026, 3, 19, 8, 0, tzinfo=UTC)

    waiting_first = replan_step("reminder_1", old, new)
    waiting_second = replan_step("reminder_2", old, new)
    waiting_escalation = replan_step("escalation", old, new)

    assert waiting_first is not None and waiting_first.name == "reminder_1"
    assert waiting_first.at == datetime(2026, 3, 25, 8, 0, tzinfo=UTC)  # still winter time
    assert waiting_second is not None and waiting_second.name == "reminder_2"
    assert waiting_second.at == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # summer time
    assert waiting_escalation is not None and waiting_escalation.name == "escalation"
    assert waiting_escalation.at == at(13)  # Monday 13 April, not 10 April: Easter Monday
    for step in (waiting_first, waiting_second, waiting_escalation):
        assert step.at.astimezone(PARIS).time() == time(9, 0)
