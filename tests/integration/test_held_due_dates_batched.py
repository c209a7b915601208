"""The due dates the companies are held to, read for many lots at once in as many statements as
for one, and the same as each lot x company read alone.

Four lots (holder Bâtiments Garonne, co-contractor Gimone Second Œuvre SAS) start 1 September
2026; October is called on Monday 2 November, due Tuesday 10 November. Lots 1 and 2 are
suspended on Wednesday 4 November, lot 1 resumes on Friday 6 November (October then due on
Monday 16 November, the 11th a holiday), lot 2 is still suspended on 20 November (its October
pushed to the day after its resumption, its November « à la reprise »); lots 3 and 4 work on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.integration._ladders import make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from workflow.adapters.orm import Clause, DeclarationLadder
from workflow.app.calendars import told_due_dates
from workflow.bootstrap import App
from workflow.services import notices
from workflow.services.held_due_dates import owed_due_dates_many
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def _lots(app: App) -> list[int]:
    ids: list[int] = []

    def lots(app: App, at: datetime) -> None:
        for _ in range(4):
            lot = make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, GONE), at=at)
            ids.append(lot.clause_id)

    def suspend(app: App, at: datetime) -> None:
        for cid in ids[:2]:
            _cli(app, at, "clause", "advance", str(cid), "suspendre", "--reason", "Intempéries")

    def resume(app: App, at: datetime) -> None:
        _cli(app, at, "clause", "advance", str(ids[0]), "reprendre")

    simulate(
        app,
        date(2026, 8, 25),
        date(2026, 11, 20),
        actions=[
            TimedAction(local(app, date(2026, 8, 25), 10), "lots", lots),
            TimedAction(local(app, date(2026, 11, 4), 8), "suspendre", suspend),
            TimedAction(local(app, date(2026, 11, 6), 14), "reprendre", resume),
        ],
    )
    return ids


def test_many_lots_cost_the_statements_of_one_and_give_each_its_own_dates(app: App) -> None:
    ids = _lots(app)
    at = local(app, date(2026, 11, 20), 15)
    with app.transaction() as session:
        clauses = list(session.scalars(select(Clause).where(Clause.id.in_(ids))))
        pairs = [(c.id, p.company_id) for c in clauses for p in c.parties]
        with statements(app) as one:
            alone = owed_due_dates_many(session, pairs[:1], app.settings, at)
        with statements(app) as many:
            batched = owed_due_dates_many(session, pairs, app.settings, at)
        assert len(pairs) == 8 and len(many) == len(one), (one, many)
        for clause in clauses:
            for party in clause.parties:
                single = notices.owed_due_dates(session, clause, party.company_id, app.settings, at)
                assert batched[(clause.id, party.company_id)] == single
        assert alone[pairs[0]] == batched[pairs[0]]
        # Each lot's holder (its companies are its own, the holder made first).
        holder = {c.id: min(p.company_id for p in c.parties) for c in clauses}
        resumed, suspended, working = (batched[(cid, holder[cid])] for cid in ids[:3])
        assert resumed[OCTOBER] == date(2026, 11, 16), resumed
        assert working[OCTOBER] == date(2026, 11, 10), working
        # Still suspended on 20 November: October pushed by every working day since the 4th
        # (the 11th a holiday), November asked at the resumption.
        assert suspended[OCTOBER] == date(2026, 11, 27) and suspended[NOVEMBER] is None

        # The calendar page's reading: every running month of the four lots, as few
        # statements as for one lot's.
        running = list(session.scalars(select(DeclarationLadder)))
        with statements(app) as one:
            told_due_dates(session, app.settings, [r for r in running if r.clause_id == ids[0]], at)
        with statements(app) as many:
            told = told_due_dates(session, app.settings, running, at)
        assert len(many) == len(one), (one, many)
        for ladder in running:
            key = (ladder.clause_id, ladder.company_id, ladder.month)
            assert told[key] == batched[key[:2]][ladder.month]
