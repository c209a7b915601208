"""``clauses web --now``: the clock starts at the moment given and moves with real time, so two
actions a minute apart on the pages are recorded a minute apart (a stopped clock gave a
declaration and its correction the same instant, and the audit then misread them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflow.runtime import running_from


def test_the_clock_starts_at_the_moment_and_moves_with_real_time() -> None:
    seconds = [100.0]
    moment = datetime(2027, 3, 31, 18, 0, tzinfo=UTC)
    clock = running_from(moment, real=lambda: seconds[0])
    assert clock() == moment
    seconds[0] = 161.5
    later = clock()
    assert later == moment + timedelta(seconds=61.5)
    assert later > moment


def test_two_readings_in_a_row_never_go_back() -> None:
    clock = running_from(datetime(2027, 3, 31, 18, 0, tzinfo=UTC))
    first, second = clock(), clock()
    assert second >= first
