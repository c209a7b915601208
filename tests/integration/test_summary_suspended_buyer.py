"""A buyer whose lots are all suspended still gets its monthly summary.

FAILS until ``services.summaries._clauses`` counts a lot suspended at the end of the month
among the ones whose buyer is written to (see the report of task C): today only execution and
follow-up do, so a buyer whose one lot was suspended mid-April, with no hours declared in April,
hears nothing in May, while the facilitator's summary lists that lot as « suspendue ». The
buyer, told of the suspension by its notice, then reads no figure for months.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import ladder_pass, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import Buyer, OutboxMessage
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.summary import summary_due_at
from workflow.emails.summaries import KIND_BUYER, KIND_FACILITATOR
from workflow.services.clauses import advance_clause
from workflow.services.summaries import queue_monthly_summaries, summary_timing

pytestmark = pytest.mark.scenario

APRIL = date(2026, 4, 1)


def test_a_buyer_whose_only_lot_is_suspended_gets_its_summary(app: App, clock: Clock) -> None:
    started = paris(date(2026, 3, 2), 8)
    make_lot(app, start=date(2026, 3, 2), at=started)  # another buyer's, in execution
    suspended = make_lot(app, start=date(2026, 3, 2), at=started)
    # March's calls, on 1 April: April's summary waits for a due date given to a company.
    ladder_pass(app, paris(date(2026, 4, 1), 9))
    with app.transaction() as session:
        advance_clause(
            session,
            suspended.clause_id,
            ClauseEvent.SUSPEND,
            actor="test",
            reason="Fouilles archéologiques",
            now=paris(date(2026, 4, 15), 10),
            publish=app.publish,
        )
        name = session.get_one(Buyer, suspended.buyer_id).name
    # April's call of the lot still in execution (1 May is a holiday); the suspended lot's
    # waits for its resumption.
    ladder_pass(app, paris(date(2026, 5, 4), 9))
    due = summary_due_at(APRIL, summary_timing(app.settings))
    clock.set(due)
    queue_monthly_summaries(app, due)
    with app.transaction() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.in_((KIND_FACILITATOR, KIND_BUYER)))
        ).all()
        facilitator = [squash(m.body_text) for m in messages if m.kind == KIND_FACILITATOR]
        buyers = [squash(m.body_text) for m in messages if m.kind == KIND_BUYER]
    # The facilitator's summary already lists the lot, suspended.
    assert len(facilitator) == 1 and name in facilitator[0]
    mine = [text for text in buyers if f"vos marchés ({name})" in text]
    assert len(mine) == 1, f"no April summary for {name}: {len(buyers)} buyer summaries"
    assert "suspendue" in mine[0]
