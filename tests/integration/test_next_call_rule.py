"""The date a notice announces for a month not called yet is the one rule of the next call
(``held_due_dates.next_call_dates_many``), read for all the companies of a lot at once.

Lots of two companies (holder Bâtiments Garonne, co-contractor Gimone Second Œuvre SAS) and one
of the holder alone start 1 September 2026; October is called on Monday 2 November, due Tuesday
10 November. Lots 1 and 2 of ``test_held_due_dates_batched`` are suspended on Wednesday 4
November, lot 1 resumes on Friday 6 November (October then due Monday 16 November), lot 2 is
still suspended; the others work on. On Monday 30 November, November is not called yet (its call
leaves on Tuesday 1 December, due Thursday 10 December); one lot's holder declared it that
morning, the day it opened: its next call asks December (due Monday 11 January 2027).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration._ladders import declare, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, local
from tests.integration.test_held_due_dates_batched import NOVEMBER, OCTOBER, _lots, statements
from workflow.adapters.orm import Clause
from workflow.bootstrap import App
from workflow.services import notices
from workflow.services.held_due_dates import next_call_dates_many

pytestmark = pytest.mark.scenario

DECEMBER = date(2026, 12, 1)


def test_a_notice_dates_the_month_to_call_for_every_company_in_the_statements_of_one(
    app: App,
) -> None:
    made = local(app, date(2026, 8, 25), 9)
    alone = make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER,), at=made).clause_id
    early = make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, GONE), at=made)
    resumed, suspended, working, _ = _lots(app)
    on = date(2026, 11, 30)
    at = local(app, on, 15)
    declare(app, early, NOVEMBER, local(app, on, 9))
    holder, partner = early.company_ids
    with app.transaction() as session:
        lots = {c.id: c for c in session.scalars(select(Clause))}
        with statements(app) as one:
            notices.announced_due_dates(lots[alone], app.settings, on, instant=at)
        with statements(app) as two:
            told = notices.announced_due_dates(lots[working], app.settings, on, instant=at)
        # Two companies cost what one does (each company's next call read apart took five
        # statements more).
        assert len(lots[working].parties) == 2 and len(two) == len(one), (one, two)
        assert (told[OCTOBER], told[NOVEMBER]) == (date(2026, 11, 10), date(2026, 12, 10))

        # Each company its own next call: the holder who declared November is asked December,
        # its co-contractor November; nothing is called on the lot still suspended.
        pairs = [(c.id, p.company_id) for c in lots.values() for p in c.parties]
        coming = next_call_dates_many(session, pairs, app.settings, at)
        assert coming[(early.clause_id, holder)] == {DECEMBER: date(2027, 1, 11)}
        assert coming[(early.clause_id, partner)] == {NOVEMBER: date(2026, 12, 10)}
        assert not [pair for pair in coming if pair[0] == suspended]
        # The notice of that lot announces each month at the latest date of its companies.
        said = notices.announced_due_dates(lots[early.clause_id], app.settings, on, instant=at)
        assert (said[NOVEMBER], said[DECEMBER]) == (date(2026, 12, 10), date(2027, 1, 11))

        # The same rule as the due dates the companies are told (``owed_due_dates``).
        for cid in (resumed, working, early.clause_id):
            said = notices.announced_due_dates(lots[cid], app.settings, on, instant=at)
            owed = [
                notices.owed_due_dates(session, lots[cid], p.company_id, app.settings, at)
                for p in lots[cid].parties
            ]
            for month in (OCTOBER, NOVEMBER, DECEMBER):
                dates = [o[month] for o in owed if o.get(month) is not None]
                assert said[month] == max(d for d in dates if d is not None), (cid, month)
        assert notices.announced_due_dates(lots[resumed], app.settings, on, instant=at)[
            OCTOBER
        ] == date(2026, 11, 16)
