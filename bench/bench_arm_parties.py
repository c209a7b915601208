"""The arming query of a pass, before and after issue 12's partial index, in the same run.

``reminders.arm_parties`` asked, on every pass, for every party with no call planned (at 10^5
lots some 45,000 parked past their lot's end, plus the few thousand never armed), each one's lot
joined to catch an end moved later. It now asks only for the parties never armed, from
``ix_award_parties_unarmed`` (migration 0016), the parked ones being armed again by the change
that moves the end (``reminders.rearm_lot``). Both statements, as the pass sends them, alternated
on the same connection, each in a transaction rolled back; medians of 9 after 3 warm-ups::

    .venv/bin/python bench/bench_arm_parties.py postgresql://…/h7_100k
"""

import statistics
import sys
import time
from typing import Any

from sqlalchemy import create_engine, func, or_, select

from workflow.adapters.db import normalise_url
from workflow.adapters.orm import AwardParty, Clause
from workflow.services import reminders

#: The statement before issue 12's change (``git show e1cafb8:workflow/services/reminders.py``).
OLD = (
    select(AwardParty)
    .join(Clause, Clause.id == AwardParty.clause_id)
    .where(
        Clause.stage.in_(reminders.CALLING_STAGES),
        Clause.start_date.is_not(None),
        AwardParty.next_call_at.is_(None),
        or_(
            AwardParty.next_call_month.is_(None),
            AwardParty.next_call_month <= func.coalesce(Clause.end_date, Clause.planned_end_date),
        ),
        reminders._has_correspondent(),
    )
    .order_by(AwardParty.id)
    .limit(reminders.BATCH_SIZE)
    .with_for_update(skip_locked=True, of=AwardParty)
)


def main(url: str, runs: int = 9, warm_ups: int = 3) -> None:
    engine = create_engine(normalise_url(url))
    statements: dict[str, Any] = {"avant": OLD, "après": reminders.arm_statement()}
    timings: dict[str, list[float]] = {name: [] for name in statements}
    found: dict[str, int] = {}
    with engine.connect() as connection:
        for run in range(warm_ups + runs):
            for name, statement in statements.items():
                began = time.perf_counter()
                found[name] = len(connection.execute(statement).all())
                elapsed = time.perf_counter() - began
                connection.rollback()
                if run >= warm_ups:
                    timings[name].append(elapsed * 1000)
    for name, values in timings.items():
        print(
            f"{name:>6} : médiane {statistics.median(values):7.2f} ms "
            f"(min {min(values):.2f}, max {max(values):.2f}), {found[name]} entreprises à armer"
        )
    ratio = statistics.median(timings["avant"]) / statistics.median(timings["après"])
    print(f"rapport avant / après : {ratio:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
