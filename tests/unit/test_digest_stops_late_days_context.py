"""The digest names the suspension a late month's days leave out from the lot's stretches
(``digest._Stops.ladder_days``): the days of the stretches that touch the span only, not a set of
every suspended day of the lot. The buyer's alert reads them from every suspended day
(``LadderDays`` of ``suspended_days``): both must say the same figure and the same spans.

Checked on stretches drawn at random (seeded): running and ended, overlapping, touching, within
a day, across weekends, holidays and years.
"""

from __future__ import annotations

import random
from datetime import timedelta

from tests.unit.test_digest_suspended_stretches_perf import PARIS, TODAY, _stretches
from workflow.domain.calendar import LadderDays, suspended_days
from workflow.emails.ladder import late_days_context
from workflow.services.digest import _Stops


def test_the_stretches_touching_a_span_tell_what_every_suspended_day_tells() -> None:
    draw = random.Random(31)
    named = 0
    for _ in range(60):
        stretches = _stretches(draw)
        days = LadderDays(suspended_days(stretches, PARIS, TODAY))
        stops = _Stops(stretches, PARIS, TODAY)
        for _ in range(10):
            due_on = TODAY - timedelta(days=draw.randint(0, 520))
            today = TODAY + timedelta(days=draw.randint(-400, 10))
            told = late_days_context(stops.ladder_days(due_on, today), due_on, today)
            assert told == late_days_context(days, due_on, today), (stretches, due_on, today)
            assert told["late_days"] == stops.between(due_on, today)
            named += told["late_days_except"] is not None
    # The draw does reach months whose days late leave a suspension out.
    assert named > 50
