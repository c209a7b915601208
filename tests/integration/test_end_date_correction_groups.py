"""An end corrected later on a lot whose months were reminded together (« clause end-date »).

The pass writes one email for the months of a company leaving together: the catch-up call of
2 December for October and November, then their reminders, under one key
(``reminder:<lot>:<company>:2026-10..2026-11:reminder_1``). Finished on the morning their first
reminder was queued, before it left, « le 30/09/2026 » (a typo for 30/11): both months released,
the reminder withdrawn. Corrected to 30/11, both are owed again at that reminder, which the pass
cannot send again (its key is the withdrawn email's): the facilitator is told to remind the
company himself, and the pass never sends a later step for those months, a second reminder or
the buyer's alert telling of a reminder the company never got.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL, with the
fixtures and helpers of ``test_end_date_correction``.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.integration.test_end_date_correction import (
    COMPANY,
    NBSP,
    NOV,
    OCT,
    SEP,
    app,  # noqa: F401 (its fixtures: the buyer alerted 25 working days after the due date)
    correct,
    paris,
    run_cli,
    settings,  # noqa: F401
    steps_of,
)
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.services.ticks import simulate
from workflow.settings import Settings


def test_a_reminder_of_two_months_withdrawn_by_the_finish_stops_both_when_owed_again(
    app: App,  # noqa: F811 (the fixture imported)
    settings: Settings,  # noqa: F811
    clock: Clock,
) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(date(2026, 12, 1), 10))
    declare(app, lot, SEP, paris(date(2026, 12, 1), 11))  # before any call: not reminded
    simulate(app, date(2026, 12, 1), date(2026, 12, 2))
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}"
    assert [m.key for m in ladder_emails(app)] == [f"{prefix}:2026-10..2026-11:call"]
    _, october, november = sorted(ladders(app), key=lambda ladder: ladder.month)
    assert (october.month, november.month) == (OCT, NOV)
    assert october.next_step == november.next_step == "reminder_1"
    assert october.next_step_at == november.next_step_at is not None
    reminder_day = local_date(october.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)  # queued, not sent yet
    key = f"{prefix}:2026-10..2026-11:reminder_1"
    with app.transaction() as session:
        [(withdrawn, state)] = session.execute(
            select(OutboxMessage.id, OutboxMessage.state).where(OutboxMessage.key == key)
        ).all()
    assert state == "pending"

    code, said = run_cli(settings, clock, paris(reminder_day, 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "30/09/2026")  # fmt: skip
    assert code == 0 and "1 courriel en attente retiré (rappel n° 1)" in said, said

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    blocked = (
        f"son rappel n° 1 avait été retiré avant de partir (courriel n°{NBSP}{withdrawn}) et "
        "ne peut pas être envoyé de nouveau par les relances automatiques, qui s'arrêtent là "
        f"pour ce mois{NBSP}: relancez vous-même l'entreprise"
    )
    assert f"octobre 2026{NBSP}: {blocked}" in said, said
    assert f"novembre 2026{NBSP}: {blocked}" in said, said
    assert f"{COMPANY}" in said and "rappel n° 1 le" not in said, said

    # Well past the day the buyer would have been alerted: nothing after the call.
    simulate(app, reminder_day, date(2027, 3, 31))

    for month in (OCT, NOV):
        assert [(step, state) for step, _, state, _ in steps_of(app, month)] == [
            ("call", "sent"),
            ("reminder_1", "cancelled"),
        ]
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []
