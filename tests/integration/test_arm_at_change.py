"""A company is armed (given its first call) by the change that makes it callable, in that
change's transaction; the pass sweeps for companies never armed only once a day.

Issue 12: swept on every pass, each company never armed had its lot looked up, 4,729 of them at
10^5 lots (mostly lots awarded and not started), so a pass with nothing to do grew with the
territory. Now: the start of the lot (or its award corrected, its end moved, a resumption)
arms its companies; a company that gets its first correspondent is armed then; the first pass of
each day still arms whatever was written outside the services.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, event, select, update

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_planned_end import paris, scheduled_calls
from workflow.adapters.orm import AwardParty, Correspondent, DeclarationLadder
from workflow.app import catalog as catalog_app
from workflow.app import corrections as corrections_app
from workflow.bootstrap import App
from workflow.services.ticks import queue_work

pytestmark = pytest.mark.scenario

START = date(2026, 10, 1)
OCTOBER = date(2026, 10, 1)


def party_call(app: App, lot: Lot) -> tuple[date | None, datetime | None]:
    with app.transaction() as session:
        row = session.execute(
            select(AwardParty.next_call_month, AwardParty.next_call_at).where(
                AwardParty.clause_id == lot.clause_id
            )
        ).one()
        return row[0], row[1]


def unarm(app: App, lot: Lot, *, without_correspondent: bool = False) -> None:
    """Write outside the services: the party as if never armed (and, asked, nobody to write to)."""
    with app.transaction() as session:
        session.execute(
            update(AwardParty)
            .where(AwardParty.clause_id == lot.clause_id)
            .values(next_call_at=None, next_call_month=None)
        )
        if without_correspondent:
            session.execute(
                update(AwardParty)
                .where(AwardParty.clause_id == lot.clause_id)
                .values(correspondent_id=None)
            )
            session.execute(
                delete(Correspondent).where(Correspondent.company_id.in_(lot.company_ids))
            )


def party_reads(app: App, now: datetime) -> tuple[int, list[str]]:
    """What a pass's queueing part armed, and its statements that read the parties never armed."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, parameters: object,
               context: object, many: bool) -> None:  # fmt: skip
        if "FROM award_parties" in statement and "next_call_month IS NULL" in statement:
            sent.append(statement)

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        armed = queue_work(app, now).ladders.armed
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    return armed, sent


def test_the_start_of_a_lot_arms_its_companies_without_a_pass(app: App) -> None:
    """No pass has run: the company already has its first call, October's, at the moment the
    pass would have given it."""
    lot = make_lot(app, start=START, end=date(2026, 12, 31), at=paris(START, 10))

    october = scheduled_calls(app, lot, [OCTOBER])[OCTOBER]
    assert party_call(app, lot) == (OCTOBER, october)


def test_a_company_given_its_first_correspondent_is_armed_then(app: App) -> None:
    """A company with nobody to write to is not armed, by the start or by the passes; the
    correspondent added, it is armed in that transaction, and called on the usual day."""
    lot = make_lot(app, start=START, end=date(2026, 12, 31), at=paris(START, 10))
    unarm(app, lot, without_correspondent=True)

    armed, _ = party_reads(app, paris(date(2026, 10, 5), 10))  # the day's sweep: nobody to call
    assert armed == 0
    assert party_call(app, lot) == (None, None)

    catalog_app.add_correspondent(
        app, lot.company_ids[0], name="Zoé Martin", email="zoe@batiments.example"
    )

    october = scheduled_calls(app, lot, [OCTOBER])[OCTOBER]
    assert party_call(app, lot) == (OCTOBER, october)
    queue_work(app, october)
    with app.transaction() as session:
        months = session.scalars(
            select(DeclarationLadder.month).where(DeclarationLadder.clause_id == lot.clause_id)
        ).all()
    assert months == [OCTOBER]


def test_the_pass_sweeps_for_companies_never_armed_once_a_day(app: App) -> None:
    """A party written outside the services (never armed) waits for the next day's first pass;
    the other passes of the day do not read the parties never armed at all."""
    lot = make_lot(app, start=START, end=date(2026, 12, 31), at=paris(START, 10))
    day = date(2026, 10, 5)

    armed, reads = party_reads(app, paris(day, 9))
    assert (armed, len(reads)) == (0, 1)  # the day's sweep: one read, nothing to arm
    unarm(app, lot)

    for hour in (10, 14, 23):
        armed, reads = party_reads(app, paris(day, hour))
        assert (armed, reads) == (0, [])
    assert party_call(app, lot) == (None, None)

    armed, reads = party_reads(app, paris(date(2026, 10, 6), 0))
    assert armed == 1 and reads
    october = scheduled_calls(app, lot, [OCTOBER])[OCTOBER]
    assert party_call(app, lot) == (OCTOBER, october)


def test_a_duplicate_merged_into_a_company_with_nobody_to_write_to_arms_it(app: App) -> None:
    """The lot's company has no correspondent; its duplicate has one. Merged into it, the
    duplicate's correspondent moves over and the company is armed in the merge's transaction,
    without waiting for the next day's sweep."""
    lot = make_lot(app, start=START, end=date(2026, 12, 31), at=paris(START, 10))
    unarm(app, lot, without_correspondent=True)
    queue_work(app, paris(date(2026, 10, 5), 9))  # the day's sweep done: nobody to call
    assert party_call(app, lot) == (None, None)
    duplicate = catalog_app.add_company(app, "Bâtiments Test (doublon)", city="Auch")
    catalog_app.add_correspondent(
        app, duplicate.id, name="Zoé Martin", email="zoe@batiments.example"
    )
    assert party_call(app, lot) == (None, None)  # the duplicate's correspondent is not its own

    corrections_app.merge_companies(app, duplicate.id, into=lot.company_ids[0], reason="doublon")

    october = scheduled_calls(app, lot, [OCTOBER])[OCTOBER]
    assert party_call(app, lot) == (OCTOBER, october)
