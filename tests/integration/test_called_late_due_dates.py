"""A month whose call waits for its slot after a resumption is not « late » from a date nobody
was given.

A lot suspended from 14 January to 15 February: January's call could not leave on 1 February; it
is opened by the pass that follows the resumption (15 February, 10:00) and leaves the next
morning at 09:00. Between the two, ``declaration list`` said « en retard (0 jour ouvré) » with
the contract's due date (10 February, passed), and the day's tasks of 16 February at 08:00 told
the facilitator to chase the company for it, one hour before the company was asked. The due
date held in the database from the moment the month is opened is the one its call will give,
and the call, when it leaves, gives that same date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import at, paris, stage_change
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import DeclarationLadder
from workflow.app.declarations import declaration_list
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.services.declaration_views import DeclarationState
from workflow.services.digest import compile_digest
from workflow.services.ticks import run_pass, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

JAN, DEC = date(2027, 1, 1), date(2026, 12, 1)


@pytest.fixture
def mail_app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=MemoryTransport())
    yield application
    application.close()


def january(app: App, clause_id: int) -> DeclarationLadder:
    with app.transaction() as session:
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == clause_id, DeclarationLadder.month == JAN
            )
        ).one()
        session.expunge(ladder)
        return ladder


def test_a_month_opened_after_a_resumption_holds_its_calls_due_date_before_the_call_leaves(
    mail_app: App, clock: Clock
) -> None:
    lot = make_lot(
        mail_app, start=date(2026, 10, 1), end=date(2027, 6, 30), at=paris(date(2026, 10, 1), 10)
    )
    suspend = at(
        stage_change(lot.clause_id, ClauseEvent.SUSPEND, "fouilles"), paris(date(2027, 1, 14), 10)
    )
    resume = at(
        stage_change(lot.clause_id, ClauseEvent.RESUME, "reprise"), paris(date(2027, 2, 15), 10)
    )
    simulate(mail_app, date(2026, 10, 1), date(2027, 2, 15), actions=[suspend, resume])

    opened = january(mail_app, lot.clause_id)
    assert opened.called_at is None  # waiting for 16 February, 09:00
    assert opened.next_step_at == paris(date(2027, 2, 16), 9)
    # Seven working days from the call, as every call gives (the contract's date, 10 February,
    # has passed): 25 February.
    assert opened.due_on == date(2027, 2, 25)

    # What the facilitator reads in between: January expected, not late; December late.
    clock.set(paris(date(2027, 2, 16), 8))
    listed = declaration_list(mail_app, clause=lot.clause_id)
    states = {line.month: (line.state, line.due_on) for line in listed.lines}
    assert states[JAN] == (DeclarationState.TO_CALL, date(2027, 2, 25))
    assert states[DEC][0] is DeclarationState.LATE
    with mail_app.transaction() as session:
        digest = compile_digest(session, paris(date(2027, 2, 16), 8), mail_app.settings)
    [late] = [
        item
        for item in digest.items
        if item.clause_id == lot.clause_id and item.category == "declaration"
    ]
    # October to December (nobody declares here); January is not among them.
    assert late.title.startswith("Bâtiments Test : heures d'octobre à décembre 2026")
    assert late.detail.startswith("3 mois en retard")

    # The call leaves at 09:00 and gives the date already held.
    run_pass(mail_app, paris(date(2027, 2, 16), 9))
    called = january(mail_app, lot.clause_id)
    assert called.called_at is not None
    assert called.due_on == date(2027, 2, 25)
