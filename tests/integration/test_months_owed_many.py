"""The months owed, read for many companies of many lots at once, are each company's own.

The annual report asks which months of the year every company of every lot of a territory still
owes (``months_owed.owed_up_to_many``): one company at a time (``owed_up_to``, two statements
each) cost 1,215 statements and 1.3 s at 10^3 lots, minutes at 10^5. Read together, the
declarations and suspensions of one lot or one company must never leak into another's count:
each company gets exactly what its own call gives, whatever else is read with it and however
the lots are cut into lists.

The territory: the lot of ``test_company_left_suspended_month`` (suspended from 10 December
2026 to 8 February 2027, January suspended whole; the subcontractor left, last month February;
terminated, effective 31 March 2027), then closed; a second lot whose third company joined
during the works (from November 2026), suspended since 15 January 2027 and not resumed.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import SEP, _cli, local
from tests.integration.test_company_left_suspended_month import _lot
from workflow.adapters.orm import AwardParty, Clause, Company, Correspondent
from workflow.bootstrap import App
from workflow.domain.vocabulary import PartyRole
from workflow.services import months_owed
from workflow.services.clauses import PartyInput, record_award
from workflow.services.months_owed import Owing, owed_up_to, owed_up_to_many

pytestmark = pytest.mark.scenario

OCT, NOV, DEC = (date(2026, m, 1) for m in (10, 11, 12))
JAN, FEB, MAR = (date(2027, m, 1) for m in (1, 2, 3))
LASTS = (DEC, FEB, MAR, date(2027, 6, 30))


def _joined_late(app: App) -> Lot:
    """Alpha and Beta from September 2026, Gamma added on 10 November (owing from November);
    Alpha declares September and October, Gamma November; suspended on 15 January 2027."""
    lot = make_lot(app, start=SEP, end=date(2027, 12, 31), companies=("Alpha", "Beta"),
                   at=local(app, SEP, 9))  # fmt: skip
    at = local(app, date(2026, 11, 10), 9)
    with app.transaction() as session:
        gamma = Company(name="Gamma", created_at=at, correspondents=[
            Correspondent(name="Correspondant Gamma", email="gamma@example.org")
        ])  # fmt: skip
        session.add(gamma)
        session.flush()
        kept = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id).order_by(AwardParty.id)
        ).all()
        parties = [PartyInput(p.company_id, PartyRole(p.role), p.correspondent_id) for p in kept]
        parties.append(PartyInput(gamma.id, PartyRole.CO_CONTRACTOR, gamma.correspondents[0].id))
        record_award(session, lot.clause_id, parties=parties, start_date=SEP,
                     planned_end_date=date(2027, 12, 31), actor="test", now=at,
                     publish=app.publish, joining_from=NOV, zone=app.settings.zone)  # fmt: skip
        lot = Lot(lot.clause_id, (*lot.company_ids, gamma.id), lot.buyer_id)
    declare(app, lot, SEP, local(app, date(2026, 10, 5), 11))
    declare(app, lot, OCT, local(app, date(2026, 11, 5), 11))
    declare(app, lot, NOV, local(app, date(2026, 12, 4), 11), company=2)
    _cli(app, local(app, date(2027, 1, 15), 7), "clause", "advance", str(lot.clause_id),
         "suspendre", "--reason", "intempéries")  # fmt: skip
    return lot


def _owed(
    app: App, lots: list[Lot], last: date, now: datetime | None, *, released_too: bool = False
) -> tuple[dict[tuple[int, int], list[date]], dict[tuple[int, int], list[date]]]:
    """Each company's months, read all together and one company at a time."""
    zone = app.settings.zone
    with app.transaction() as session:
        pairs = [
            (session.get_one(Clause, p.clause_id), p)
            for p in session.scalars(
                select(AwardParty)
                .where(AwardParty.clause_id.in_([lot.clause_id for lot in lots]))
                .order_by(AwardParty.id)
            )
        ]
        together = owed_up_to_many(
            session, [Owing.of(c, p) for c, p in pairs], last, zone, now=now,
            released_too=released_too,
        )  # fmt: skip
        alone = {
            (clause.id, party.company_id): owed_up_to_many(
                session, [Owing.of(clause, party)], last, zone, now=now, released_too=released_too
            )[(clause.id, party.company_id)]
            for clause, party in pairs
        }
        # ``since``: the same lists, cut there.
        cut = owed_up_to_many(
            session, [Owing.of(c, p) for c, p in pairs], last, zone, now=now,
            released_too=released_too, since=DEC,
        )  # fmt: skip
        assert cut == {key: [m for m in months if m >= DEC] for key, months in together.items()}
        assert {
            (clause.id, party.company_id): owed_up_to(
                session, clause, party, last, zone, now=now, released_too=released_too
            )
            for clause, party in pairs
        } == alone
        return together, alone


def test_many_companies_read_together_get_what_each_one_alone_gets(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = _lot(app, terminated=True)
    late = _joined_late(app)
    holder, gone = left.company_ids
    alpha, beta, gamma = late.company_ids
    nows = (None, local(app, date(2027, 2, 20), 12), local(app, date(2027, 4, 13), 12))
    seen = {}
    for batch in (500, 1):  # one list of lots, then a list for each lot
        monkeypatch.setattr(months_owed, "IN_BATCH", batch)
        for last in LASTS:
            for now in nows:
                together, alone = _owed(app, [left, late], last, now)
                assert together == alone, (batch, last, now)
                seen[(last, now)] = together

    # What the rule says, as the emails name it: never January (suspended whole), never
    # after the company's last month (the subcontractor's February) or the termination.
    owed = seen[(date(2027, 6, 30), None)]
    assert owed[(left.clause_id, gone)] == [DEC, FEB]
    assert owed[(left.clause_id, holder)] == [DEC, FEB, MAR]
    # From the month it joined; January worked in part; after it, nothing while the
    # suspension runs on...
    assert owed[(late.clause_id, alpha)] == [NOV, DEC, JAN]
    assert owed[(late.clause_id, beta)] == [SEP, OCT, NOV, DEC, JAN]
    assert owed[(late.clause_id, gamma)] == [DEC, JAN]
    # ...counted up to ``now``: February and March suspended whole, April to June not.
    after = [date(2027, m, 1) for m in (4, 5, 6)]
    at_april = seen[(date(2027, 6, 30), nows[2])]
    assert at_april[(late.clause_id, gamma)] == [DEC, JAN, *after]
    assert at_april[(late.clause_id, beta)] == [SEP, OCT, NOV, DEC, JAN, *after]
    assert seen[(MAR, nows[1])][(late.clause_id, gamma)] == [DEC, JAN, FEB, MAR]

    # Closed: nothing is asked any more; ``released_too``, the months as they stood before.
    words = "clause", "report", str(left.clause_id), "--text", "Chantier arrêté."
    _cli(app, local(app, date(2027, 4, 14), 10), *words)
    _cli(app, local(app, date(2027, 4, 14), 11), "clause", "advance", str(left.clause_id),
         "cloturer")  # fmt: skip
    for last in LASTS:
        for now in nows:
            together, alone = _owed(app, [left, late], last, now)
            assert together == alone
            assert together[(left.clause_id, gone)] == []
            assert together[(left.clause_id, holder)] == []
            released, alone = _owed(app, [left, late], last, now, released_too=True)
            assert released == alone
            assert released == seen[(last, now)], (last, now)
