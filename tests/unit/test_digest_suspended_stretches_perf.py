"""The day's tasks count a suspended lot's days from its stretches (issue 12, the dashboard at
10^5 lots): ``digest._Stops`` gives what ``LadderDays`` of ``suspended_days`` gives (a month's
due date pushed by the suspended working days after its call, the days a month is late, whether
a suspended day follows a call before its due date), without a set of every suspended day.

Checked against the domain's own functions on stretches drawn at random (seeded): running and
ended, overlapping, touching, within a day, across weekends, holidays and years.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflow.domain.calendar import Interval, LadderDays, pushed_due, suspended_days
from workflow.services.digest import _Stops, _working_days_in

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 20)


def _instant(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=PARIS)


def _stretches(draw: random.Random) -> list[Interval]:
    stretches = []
    for _ in range(draw.randint(0, 4)):
        start = TODAY - timedelta(days=draw.randint(0, 500))
        if draw.random() < 0.3:
            end = None  # still running: up to today
        else:
            end = _instant(start + timedelta(days=draw.randint(-1, 90)), draw.choice((0, 9, 23)))
        stretches.append(Interval(_instant(start, draw.choice((0, 8, 17, 23))), end))
    return stretches


def test_a_lot_s_stretches_give_what_its_suspended_days_give() -> None:
    draw = random.Random(12)
    for _ in range(150):
        stretches = _stretches(draw)
        days = LadderDays(suspended_days(stretches, PARIS, TODAY))
        stops = _Stops(stretches, PARIS, TODAY)
        for _ in range(20):
            called_on = TODAY - timedelta(days=draw.randint(0, 520))
            due_on = called_on + timedelta(days=draw.randint(0, 40))
            touched = any(called_on < day <= due_on for day in days.suspended)
            assert stops.touches(called_on, due_on) == touched, (stretches, called_on, due_on)
            assert stops.pushed(due_on, called_on) == pushed_due(due_on, called_on, days), (
                stretches,
                called_on,
                due_on,
            )
            start = due_on - timedelta(days=draw.randint(0, 30))
            end = TODAY + timedelta(days=draw.randint(-400, 10))
            assert stops.between(start, end) == days.between(start, end), (stretches, start, end)


def test_working_days_counted_from_the_table_are_the_calendar_s() -> None:
    from workflow.domain.calendar import working_days_between

    draw = random.Random(5)
    pairs = [(date(1999, 12, 20), date(2000, 1, 10)), (date(2026, 12, 24), date(2027, 1, 2))]
    for _ in range(300):
        after = date(2024, 1, 1) + timedelta(days=draw.randint(0, 1500))
        pairs.append((after, after + timedelta(days=draw.randint(-5, 400))))
    for after, through in pairs:
        assert _working_days_in(after, through) == working_days_between(after, through)
