"""The annual report counts a month never received only once the due date the company is held
to has passed: its call's date pushed by the days the lot spent suspended after the call.

User trial: the lot of ``test_lot_terminated`` (two companies from September 2026) is suspended
on 5 November 2026, after October's call (2 November) and before its due date, and resumes on
19 November. The co-contractor never declares October. Every reader dates its October with
the call's date pushed by the suspended working days (``notices.owed_due_dates``, the emails,
``declaration list``): the company is told it has until then. The report compiled between the
call's bare date and that pushed date counted the month missing all the same (it compared the
ladder's raw ``due_on``): a funder read as late a declaration nobody had asked for yet. Now it
counts the month the day after the pushed date, as the ladder's reminders do.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.integration._ladders import declare, make_lot
from tests.integration.test_annual_report_gaps import annual
from tests.integration.test_company_left_site import _cli
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import OCT, SEP, app, settings
from workflow.adapters.orm import Clause, DeclarationLadder
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.services.notices import owed_due_dates
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures, imported to be used here

SUSPENDED_ON, RESUMED_ON = date(2026, 11, 5), date(2026, 11, 19)


def test_a_month_whose_due_date_a_suspension_pushed_is_not_missing_before_that_date(
    app: App, settings: Settings
) -> None:
    # ``running_lot``'s lot and declarations, the suspension in between.
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10),
                   companies=("Titulaire", "Cotraitant"))  # fmt: skip
    advance = "clause", "advance", str(lot.clause_id)
    simulate(
        app,
        SEP,
        date(2026, 11, 30),
        actions=[
            TimedAction(paris(date(2026, 10, 5), 11), "sep-t",
                        lambda a, at: declare(a, lot, SEP, at)),
            TimedAction(paris(date(2026, 10, 6), 11), "sep-c",
                        lambda a, at: declare(a, lot, SEP, at, company=1)),
            TimedAction(paris(SUSPENDED_ON, 7), "suspendre",
                        lambda a, at: _cli(a, at, *advance, "suspendre", "--reason", "intempéries")),
            TimedAction(paris(SUSPENDED_ON, 11), "oct-t", lambda a, at: declare(a, lot, OCT, at)),
            TimedAction(paris(RESUMED_ON, 7), "reprendre",
                        lambda a, at: _cli(a, at, *advance, "reprendre")),
        ],
    )  # fmt: skip
    co_contractor = lot.company_ids[1]
    with app.transaction() as session:
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == lot.clause_id,
                DeclarationLadder.company_id == co_contractor,
                DeclarationLadder.month == OCT,
            )
        ).one()
        assert ladder.called_at is not None
        called_on, bare = local_date(ladder.called_at, settings.zone), ladder.due_on
        clause = session.get_one(Clause, lot.clause_id)
        held = owed_due_dates(session, clause, co_contractor, settings, paris(RESUMED_ON, 12))
    # Called before the suspension, due during it: the date the company is held to is later.
    assert called_on < SUSPENDED_ON <= bare < RESUMED_ON, (called_on, bare)
    pushed = held[OCT]
    assert pushed is not None and pushed > RESUMED_ON, pushed

    # Past the bare date, not the pushed one: not missing (it was counted before: 1).
    for day in (bare + timedelta(days=1), RESUMED_ON, pushed):
        report = annual(app, paris(day, 18))
        assert report.undeclared_months == 0, (day, report.undeclared)
    # The day after the pushed date: missing, the co-contractor's October only.
    report = annual(app, paris(pushed + timedelta(days=1), 9))
    assert report.undeclared_months == 1, report.undeclared
    assert [(u.clause_id, u.companies, u.months) for u in report.undeclared] == [
        (lot.clause_id, 1, 1)
    ]
