"""``domain.calls_to_come``: when a month never called is called, and the date that call gives
(the rule the pass follows, read by ``declaration list`` and the monthly summary)."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from workflow.domain.calendar import CalendarRules, at_local
from workflow.domain.calls_to_come import call_to_come, due_of_call, usual_call_at

PARIS = ZoneInfo("Europe/Paris")
NINE = time(9, 0)
APR, MAY, JUN = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)


def test_a_call_planned_on_a_day_gone_leaves_at_the_next_call_time_never_before() -> None:
    planned = usual_call_at(APR, NINE, PARIS)  # Monday 4 May 2026 (1 May a holiday), 09:00
    assert planned == at_local(date(2026, 5, 4), NINE, PARIS)
    # Seen on Wednesday 10 June at 14:00: today's 09:00 has passed, Thursday's.
    afternoon = at_local(date(2026, 6, 10), time(14), PARIS)
    assert call_to_come(APR, planned, afternoon, NINE, PARIS) == at_local(
        date(2026, 6, 11), NINE, PARIS
    )
    # At 08:00: today's.
    morning = at_local(date(2026, 6, 10), time(8), PARIS)
    assert call_to_come(MAY, planned, morning, NINE, PARIS) == at_local(
        date(2026, 6, 10), NINE, PARIS
    )
    # On Friday 12 June at 14:00: Monday's.
    friday = at_local(date(2026, 6, 12), time(14), PARIS)
    assert call_to_come(MAY, planned, friday, NINE, PARIS) == at_local(
        date(2026, 6, 15), NINE, PARIS
    )
    # A month whose usual call is ahead waits for it (June's: Wednesday 1 July).
    assert call_to_come(JUN, planned, afternoon, NINE, PARIS) == at_local(
        date(2026, 7, 1), NINE, PARIS
    )


def test_one_call_gives_its_months_the_latest_of_their_dates() -> None:
    rules = CalendarRules()
    call = at_local(date(2026, 6, 11), NINE, PARIS)
    # April alone: its usual four working days (4 May -> 11 May, 8 May a holiday) from 11 June;
    # May: seven (1 June -> 10 June).
    assert due_of_call([APR], call, rules, PARIS) == date(2026, 6, 17)
    assert due_of_call([MAY], call, rules, PARIS) == date(2026, 6, 22)
    assert due_of_call([APR, MAY], call, rules, PARIS) == date(2026, 6, 22)
    # A call on time gives the contract's date.
    on_time = usual_call_at(MAY, NINE, PARIS)
    assert due_of_call([MAY], on_time, rules, PARIS) == date(2026, 6, 10)
