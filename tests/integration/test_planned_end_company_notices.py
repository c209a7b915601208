"""The companies told when their lot's planned end moves (an amendment, ``clauses lot set-end``),
on SQLite and PostgreSQL.

A lot from 1 October 2026 to 30 June 2027, a holder and a co-contractor that left the site after
December 2026. Cut on 15 February 2027 to 30 April: the holder reads that May and June are no
longer asked and that April is its last declaration, due on the date April's call then gives;
extended on 10 March to 31 August: it reads May to August asked in addition, each with the date
its call then gives; the company gone is told neither. Handled again, nothing is written twice;
moved twice before the email left, the company reads the whole move once; a lot awarded, not
started, is told its welcome's calendar changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, make_lot
from tests.text import squash, visible
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Company,
    Correspondent,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.app import clauses as clause_app
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.events import PlannedEndMoved
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services import planned_end_company_notices, ticks
from workflow.services.clauses import (
    ClauseParameters,
    PartyInput,
    advance_clause,
    create_clause,
    record_award,
)
from workflow.services.ladder_keys import key_months
from workflow.services.outbox import OutboxState
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

KIND = "company_planned_end"
HOLDER, GONE = "Gimone BTP", "Menuiseries Sud"
START, END = date(2026, 10, 1), date(2027, 6, 30)
CUT, EXTENDED = date(2027, 4, 30), date(2027, 8, 31)
CUT_REASON, EXTENDED_REASON = "avenant n° 3 : travaux réduits", "avenant n° 4 : intempéries"
MONTHS = {
    name: n
    for n, name in enumerate(
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        start=1,
    )
}


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def _cli(app: App, at: datetime, *args: str) -> str:
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(cli, list(args), obj=state)
    finally:
        app.clock = real_clock
    assert result.exit_code == 0, result.output
    return result.output


def _month(text: str) -> date:
    name, year = text.split()
    return date(int(year), MONTHS[name], 1)


def _day(text: str) -> date:
    day, name, year = text.split()
    return date(int(year), MONTHS[name], 1 if day == "1er" else int(day))


def emails(app: App, clause_id: int, company_id: int | None = None) -> list[OutboxMessage]:
    with app.transaction() as session:
        query = select(OutboxMessage).where(
            OutboxMessage.kind == KIND, OutboxMessage.clause_id == clause_id
        )
        if company_id is not None:
            query = query.where(OutboxMessage.key.like(f"%:company-{company_id}@%"))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def listed(text: str) -> dict[date, date]:
    found: dict[date, date] = {}
    for month, day, rest in re.findall(
        r"(\w+ \d{4})\s+à envoyer au plus tard le (1er|\d+) (\w+ \d{4})", text
    ):
        found[_month(month)] = _day(f"{day} {rest}")
    return found


def calls_sent(app: App, clause_id: int, company_id: int) -> dict[date, date]:
    """Each month whose call left to the company, with the due date its ladder holds."""
    with app.transaction() as session:
        called: set[date] = set()
        for key in session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.state == OutboxState.SENT.value,
            )
        ):
            covered = key_months(key)
            if covered is not None and covered.company_id == company_id:
                called.update(covered.months)
        return {
            month: due_on
            for month, due_on in session.execute(
                select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                    DeclarationLadder.clause_id == clause_id,
                    DeclarationLadder.company_id == company_id,
                )
            )
            if month in called and due_on is not None
        }


def _lived(app: App) -> tuple[Lot, list[PlannedEndMoved]]:
    """The lot, its co-contractor gone after December (recorded on 5 January 2027), cut on
    15 February, extended on 10 March; the holder declares each month on the 3rd of the
    next, the passes run to 20 September 2027."""
    lots: list[Lot] = []
    events: list[PlannedEndMoved] = []
    app.subscribe(PlannedEndMoved, lambda _app, _session, event: events.append(event))

    def start(app: App, at: datetime) -> None:
        lots.append(make_lot(app, start=START, end=END, companies=(HOLDER, GONE), at=at))

    def leave(app: App, at: datetime) -> None:
        args = ("clause", "company-left", str(lots[0].clause_id), "--company", GONE)
        _cli(app, at, *args, "--last-month", "12/2026", "--reason", "sa part est finie")

    def set_end(end: date, reason: str) -> Callable[[App, datetime], None]:
        def run(app: App, at: datetime) -> None:
            clause_app.set_planned_end(app, lots[0].clause_id, end, reason=reason, actor="Léa")

        return run

    actions = [TimedAction(local(app, START, 8), "lot", start)]
    for month in [date(2026, m, 1) for m in (10, 11, 12)]:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        for index in (0, 1):
            actions.append(
                TimedAction(
                    local(app, following, 11 + index),
                    f"{index} {month:%Y-%m}",
                    lambda app, at, month=month, index=index: declare(
                        app, lots[0], month, at, company=index
                    ),
                )
            )
    actions += [
        TimedAction(local(app, date(2027, 1, 5), 15), "départ", leave),
        TimedAction(local(app, date(2027, 2, 15), 10), "cut", set_end(CUT, CUT_REASON)),
        TimedAction(local(app, date(2027, 3, 10), 10), "ext", set_end(EXTENDED, EXTENDED_REASON)),
    ]
    simulate(app, START, date(2027, 9, 20), actions=actions)
    return lots[0], events


def test_each_company_still_on_site_reads_the_months_and_dates_the_calls_then_give(
    app: App,
) -> None:
    lot, events = _lived(app)
    holder, gone = lot.company_ids
    cut, extended = emails(app, lot.clause_id, holder)
    assert {e.state for e in (cut, extended)} == {OutboxState.SENT.value}
    # The company gone after December is asked none of the months concerned: no word.
    assert emails(app, lot.clause_id, gone) == []
    called = calls_sent(app, lot.clause_id, holder)

    text = squash(cut.body_text)
    assert cut.subject.startswith("Fin prévue avancée au 30 avril 2027 : mois de mai et de juin")
    assert "passe du 30 juin 2027 au 30 avril 2027 (changement enregistré le 15 février" in text
    assert f"Motif indiqué : {CUT_REASON}." in text
    assert (
        "Les mois de mai et de juin 2027, après la nouvelle fin prévue, ne vous seront pas" in text
    )
    said = re.search(r"celle d'avril 2027, à envoyer au plus tard le (\S+ \S+ \d{4})", text)
    assert said is not None
    # April's call, sent on 3 May (after the extension too), gave that very date.
    assert _day(said.group(1)) == called[date(2027, 4, 1)]
    assert "Les mois jusqu'à avril 2027 ne changent pas" in text
    assert visible(cut.body_html).count("30 avril 2027") >= 1

    text = extended.body_text
    assert extended.subject.startswith(
        "Fin prévue reportée au 31 août 2027 : mois de mai à août 2027 demandés en plus"
    )
    assert "passe du 30 avril 2027 au 31 août 2027" in squash(text)
    added = listed(text)
    assert list(added) == [date(2027, m, 1) for m in (5, 6, 7, 8)]
    # Each date the email gives is the one the call that then left gave.
    assert {m: called[m] for m in added} == added
    assert visible(extended.body_html).count("à envoyer au plus tard le") == 4

    # Handled again, nothing is written twice; the audit knows the kind.
    before = len(emails(app, lot.clause_id))
    for event in events:
        with app.transaction() as session:
            planned_end_company_notices.tell_companies(app, session, event)
    assert len(emails(app, lot.clause_id)) == before == 2
    assert verify_database(app).findings == ()


def test_moved_twice_before_the_email_left_the_company_reads_the_whole_move_once(
    app: App, clock: Clock
) -> None:
    """Extended at 10:00 to 31 August, at 11:00 to 31 October, no pass between: the first email
    is withdrawn, the second tells 30 June → 31 October, July to October; brought back to
    30 June at 14:00, the company has nothing to read; handled again, nothing new."""
    lot = make_lot(app, start=START, end=END, companies=(HOLDER,), at=local(app, START, 8))
    events: list[PlannedEndMoved] = []
    app.subscribe(PlannedEndMoved, lambda _app, _session, event: events.append(event))
    holder = lot.company_ids[0]
    for hour, end in ((10, EXTENDED), (11, date(2027, 10, 31))):
        clock.set(local(app, date(2027, 2, 15), hour))
        clause_app.set_planned_end(app, lot.clause_id, end, reason=EXTENDED_REASON, actor="Léa")

    first, second = emails(app, lot.clause_id, holder)
    assert first.state == OutboxState.CANCELLED.value
    assert (first.last_error or "").startswith("Remplacé : la fin prévue du lot a de nouveau")
    assert second.state == OutboxState.PENDING.value
    assert "passe du 30 juin 2027 au 31 octobre 2027" in squash(second.body_text)
    assert list(listed(second.body_text)) == [date(2027, m, 1) for m in (7, 8, 9, 10)]

    clock.set(local(app, date(2027, 2, 15), 14))
    clause_app.set_planned_end(app, lot.clause_id, END, reason="avenant annulé", actor="Léa")
    assert [e.state for e in emails(app, lot.clause_id, holder)] == [
        OutboxState.CANCELLED.value
    ] * 2

    # Cut the next day: the company, told nothing yet, reads 30 June → 30 April.
    clock.set(local(app, date(2027, 2, 16), 9))
    clause_app.set_planned_end(app, lot.clause_id, CUT, reason=CUT_REASON, actor="Léa")
    *_, last = emails(app, lot.clause_id, holder)
    assert last.state == OutboxState.PENDING.value
    assert "passe du 30 juin 2027 au 30 avril 2027" in squash(last.body_text)

    states = [(e.key, e.state) for e in emails(app, lot.clause_id)]
    for event in events:
        with app.transaction() as session:
            planned_end_company_notices.tell_companies(app, session, event)
    # Handled again, each move writes nothing and withdraws nothing (not the cut's email).
    assert [(e.key, e.state) for e in emails(app, lot.clause_id)] == states
    assert len(states) == 3
    assert verify_database(app).findings == ()


def _awarded(app: App, at: datetime) -> Lot:
    """A lot awarded to one company (welcomed), from 1 October 2026 to 30 June 2027, not
    started."""
    with app.transaction() as session:
        buyer = Buyer(
            name="Donneur d'ordre A",
            created_at=at,
            contacts=[BuyerContact(name="Acheteur A", email="acheteur-a@example.org")],
        )
        operation = Operation(buyer=buyer, name="Opération A", created_at=at)
        market = Market(operation=operation, reference="M-A", title="Travaux")
        firm = Company(
            name=HOLDER,
            created_at=at,
            correspondents=[Correspondent(name="Jeanne Gimone", email="jeanne@example.org")],
        )
        session.add_all([buyer, operation, market, firm])
        session.flush()
        clause = create_clause(
            session,
            market,
            lot_number="1",
            lot_title="Gros œuvre",
            params=ClauseParameters(hours_override=500, override_reason="essai"),
            actor="test",
            now=at,
            publish=app.publish,
        )
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            advance_clause(
                session, clause.id, event, actor="test", reason=None, now=at, publish=app.publish
            )
        record_award(
            session,
            clause.id,
            parties=[
                PartyInput(
                    company_id=firm.id,
                    role=PartyRole.HOLDER,
                    correspondent_id=firm.correspondents[0].id,
                )
            ],
            start_date=START,
            planned_end_date=END,
            actor="test",
            now=at,
            publish=app.publish,
        )
        return Lot(clause.id, (firm.id,), buyer.id)


def test_a_company_awarded_not_started_is_told_its_welcomes_calendar_changed(
    app: App, clock: Clock
) -> None:
    at = local(app, date(2026, 9, 1), 10)
    clock.set(at)
    lot = _awarded(app, at)
    with app.transaction() as session:
        (welcome,) = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "company_welcome", OutboxMessage.clause_id == lot.clause_id
            )
        ).all()
        welcomed = listed(welcome.body_text)
    assert date(2027, 6, 1) in welcomed

    clock.set(local(app, date(2026, 9, 10), 10))
    clause_app.set_planned_end(app, lot.clause_id, CUT, reason=CUT_REASON, actor="Léa")
    ticks.run_pass(app, local(app, date(2026, 9, 10), 12))  # the cut's email leaves
    clock.set(local(app, date(2026, 9, 11), 10))
    clause_app.set_planned_end(app, lot.clause_id, EXTENDED, reason=EXTENDED_REASON, actor="Léa")
    cut, extended = emails(app, lot.clause_id)
    assert cut.state == OutboxState.SENT.value

    text = squash(cut.body_text)
    assert (
        "Les mois de mai et de juin 2027, après la nouvelle fin prévue, ne vous seront pas "
        "demandés, contrairement au calendrier que je vous avais donné" in text
    )
    said = re.search(r"celle d'avril 2027, à envoyer au plus tard le (\S+ \S+ \d{4})", text)
    assert said is not None and _day(said.group(1)) == welcomed[date(2027, 4, 1)]

    added = listed(extended.body_text)
    assert list(added) == [date(2027, m, 1) for m in (5, 6, 7, 8)]
    # The welcome's own dates for May and June, the contract's for July and August.
    assert {m: added[m] for m in (date(2027, 5, 1), date(2027, 6, 1))} == {
        m: welcomed[m] for m in (date(2027, 5, 1), date(2027, 6, 1))
    }
    assert "Ces dates complètent le calendrier que je vous ai donné." in extended.body_text
    # Not started: the calls of the added months wait for the start (it read as if they would
    # leave whatever happened).
    assert (
        "Les mois de mai à août 2027 vous seront demandés en plus, chacun par un appel à déclarer "
        "au début du mois suivant, une fois l'exécution commencée :"
    ) in squash(extended.body_text), extended.body_text
    assert verify_database(app).findings == ()
