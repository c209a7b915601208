"""Corrections of a clause's records on a real database (SQLite and PostgreSQL): a declaration
cancelled (its hours leave the figures, its month's reminders resume where they stood), an abandon
undone, an award recorded again. Each leaves its history row and ``clauses audit verify`` clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration._ladders import Lot, ladder_pass, ladders, make_lot
from tests.text import squash
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    OutboxMessage,
    Participant,
)
from workflow.adapters.templates import french_date
from workflow.app.clause_corrections import (
    LadderStanding,
    cancel_declaration,
    ladder_sentence,
    reopen_clause,
)
from workflow.bootstrap import App
from workflow.domain.calendar import is_working_day
from workflow.domain.events import EVENT_TYPES, AwardCorrected, DomainEvent
from workflow.domain.stages import ClauseEvent, Stage, reopened_stage
from workflow.domain.summary import summary_due_at
from workflow.domain.vocabulary import ContractType, DeliveryMode, PartyRole
from workflow.errors import InputRefused, NotFound, TransitionRefused
from workflow.services import notices
from workflow.services.audit import verify
from workflow.services.clauses import (
    AwardResult,
    ClauseParameters,
    PartyInput,
    advance_clause,
    apply_award,
    create_clause,
)
from workflow.services.declarations import LineInput, company_missing_months, record_declaration
from workflow.services.dispatch import dispatch_due
from workflow.services.reminder_emails import KINDS
from workflow.services.summaries import compile_for, summary_timing
from workflow.services.ticks import queue_work

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
REASON = "Heures déclarées sur le mauvais lot"


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def walk(app: App, first: date, last: date) -> None:
    """A ladder pass every working day at 09:00 in Paris (07:00 UTC in summer)."""
    day = first
    while day <= last:
        if is_working_day(day):
            ladder_pass(app, utc(day.year, day.month, day.day, 7))
            # The emails leave: one withdrawn unsent by a declaration is not a step sent.
            dispatch_due(app, utc(day.year, day.month, day.day, 7) + timedelta(minutes=5))
        day += timedelta(days=1)


def add_participants(app: App, *references: str) -> None:
    with app.transaction() as session:
        session.add_all(
            Participant(reference=r, criterion="long_term_jobseeker", created_at=utc(2026, 2, 2))
            for r in references
        )


def declare(
    app: App, lot: Lot, month: date, at: datetime, hours: Mapping[str, str], company: int = 0
) -> int:
    """A declaration through the real service (its receipt with it); its number."""
    with app.transaction() as session:
        ids = {p.reference: p.id for p in session.scalars(select(Participant))}
        declaration = record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[company],
            month=month,
            lines=[
                LineInput(ids[ref], Decimal(h), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
                for ref, h in hours.items()
            ],
            actor="Correspondant",
            now=at,
            source="test",
            publish=app.publish,
        )
        return declaration.id


def outbox(app: App) -> list[tuple[str, str]]:
    with app.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.key).order_by(OutboxMessage.id)
        )
        return [(kind, key) for kind, key in rows]


def all_left(app: App) -> None:
    """Every email waiting has left (the dispatcher sends within the minute)."""
    with app.transaction() as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.state == "pending")):
            row.state, row.sent_at = "sent", row.created_at


def mail_bodies(app: App) -> list[tuple[str, str]]:
    with app.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.body_text).order_by(OutboxMessage.id)
        )
        return [(kind, body) for kind, body in rows]


def march_steps(app: App, lot: Lot) -> list[tuple[str, datetime]]:
    """The ladder emails that covered March, step and moment, oldest first."""
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}:"
    with app.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.key, OutboxMessage.created_at)
            .where(OutboxMessage.kind.in_(KINDS), OutboxMessage.key.startswith(prefix))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        ).all()
    return [(key.rsplit(":", 1)[1], at) for key, at in rows if "2026-03" in key]


def history(app: App, clause_id: int) -> list[tuple[str, str | None, str, str | None, str]]:
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id)
            .order_by(ClauseHistory.id)
        )
        return [(r.event, r.from_stage, r.to_stage, r.reason, r.actor) for r in rows]


def declared(app: App) -> list[tuple[date, Decimal, int]]:
    with app.transaction() as session:
        return [
            (d.month, d.total_hours, len(d.lines))
            for d in session.scalars(select(Declaration).order_by(Declaration.month))
        ]


def hours_done(app: App, clause_id: int) -> Decimal:
    with app.transaction() as session:
        return notices.clause_results(session, session.get_one(Clause, clause_id)).hours_done


def _reference(lot: Lot) -> str:
    """The lot as people write it: « M-7/1 »."""
    with_app = _apps[lot.clause_id]
    with with_app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        return f"{clause.market.reference}/{clause.lot_number}"


_apps: dict[int, App] = {}


def make(app: App, **options: date) -> Lot:
    """A lot in execution from 2 March 2026 (``make_lot``), its holder « Bâtiments Test »."""
    lot = make_lot(app, **options)  # type: ignore[arg-type]
    _apps[lot.clause_id] = app
    return lot


def clean(app: App) -> None:
    report = verify(app)
    assert [f.line for f in report.findings] == []


# --- a declaration cancelled --------------------------------------------------------------------


def test_a_cancelled_declaration_goes_with_its_lines_and_its_hours_and_stays_in_the_history(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    add_participants(app, "P-1", "P-2")
    number = declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120", "P-2": "30.5"})
    all_left(app)  # a month apart: March's receipt left long before April was declared
    declare(app, lot, APRIL, utc(2026, 5, 4, 8), {"P-1": "100"})
    all_left(app)
    assert hours_done(app, lot.clause_id) == Decimal("250.5")
    sent = outbox(app)
    assert [k for k, _ in sent].count("declaration_receipt") == 2

    clock.set(utc(2026, 5, 6, 9))
    cancelled = cancel_declaration(
        app, clause=_reference(lot), company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert (cancelled.declaration_id, cancelled.clause_id, cancelled.company) == (
        number,
        lot.clause_id,
        "Bâtiments Test",
    )
    assert (cancelled.total_hours, cancelled.lines, cancelled.reason) == (
        Decimal("150.5"),
        2,
        REASON,
    )
    assert declared(app) == [(APRIL, Decimal("100"), 1)]
    with app.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DeclarationLine)) == 1
    assert history(app, lot.clause_id)[-1] == (
        "declaration_cancelled",
        "execution",
        "execution",
        f"déclaration n° {number} de mars 2026 de Bâtiments Test annulée "
        f"(150,50\u00a0h retirées) : {REASON}",
        "Camille Martin",
    )
    # The figures drop the cancelled hours; the receipt sent is not sent again: the company is
    # told of the cancellation, once (``test_cancellation_email``).
    assert hours_done(app, lot.clause_id) == Decimal("100")
    assert compile_for(app, APRIL).overall.progress.hours_cumulated == Decimal("100")
    assert outbox(app) == [
        *sent,
        (
            "declaration_cancelled",
            f"cancellation:{lot.clause_id}:{lot.company_ids[0]}:{number}:2026-05-06T09:00:00+00:00",
        ),
    ]
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        missing = company_missing_months(
            session, clause, lot.company_ids[0], now=clock(), zone=app.settings.zone
        )
    assert missing == [MARCH]
    clean(app)


def test_the_month_can_be_declared_again_and_gets_its_own_receipt(app: App, clock: Clock) -> None:
    lot = make(app)
    add_participants(app, "P-1")
    first = declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "120"})
    clock.set(utc(2026, 4, 6, 9))
    cancel_declaration(
        app, clause=lot.clause_id, company=lot.company_ids[0], month=MARCH, reason=REASON
    )
    second = declare(app, lot, MARCH, utc(2026, 4, 7, 8), {"P-1": "80"})

    receipts = [key for kind, key in outbox(app) if kind == "declaration_receipt"]
    assert [key.rsplit(":", 1)[0] for key in receipts] == [
        f"receipt:{first}:2026-04-03T08:00:00+00:00",
        f"receipt:{second}:2026-04-07T08:00:00+00:00",
    ]
    assert declared(app) == [(MARCH, Decimal("80"), 1)]
    assert hours_done(app, lot.clause_id) == Decimal("80")
    clean(app)


def test_the_ladder_resumes_where_it_stood_never_skipping_a_reminder(
    app: App, clock: Clock
) -> None:
    """Called on 1 April, declared on the 9th, cancelled on the 22nd at noon: the first
    reminder (due on the 15th) leaves at the next call time, the others at the ladder's pace."""
    lot = make(app)
    walk(app, date(2026, 4, 1), date(2026, 4, 1))  # the call queued and sent
    declare(app, lot, MARCH, utc(2026, 4, 9, 10), {})
    walk(app, date(2026, 4, 10), date(2026, 4, 22))
    assert march_steps(app, lot) == [("call", utc(2026, 4, 1, 7))]

    clock.set(utc(2026, 4, 22, 10))  # 12:00 in Paris: past the call hour
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert cancelled.ladder == LadderStanding(
        sent=("call",),
        step="reminder_1",
        step_label="rappel n° 1",
        # Cancelled on Wednesday 22 April: reminder 1 keeps the due date's 3 working days
        # after the cancellation, as after a due date (the company is told that day).
        at=utc(2026, 4, 27, 7),
        due_on=date(2026, 4, 10),
    )
    [ladder] = ladders(app)
    assert (ladder.declared_at, ladder.next_step, ladder.next_step_at) == (
        None,
        "reminder_1",
        utc(2026, 4, 27, 7),
    )
    walk(app, date(2026, 4, 23), date(2026, 5, 31))
    assert march_steps(app, lot) == [
        ("call", utc(2026, 4, 1, 7)),
        ("reminder_1", utc(2026, 4, 27, 7)),
        ("reminder_2", utc(2026, 5, 4, 7)),  # 7 - 3 = 4 working days after reminder 1 (1 May off)
        ("escalation", utc(2026, 5, 18, 7)),  # 15 - 7 = 8 after reminder 2 (8 and 14 May off)
    ]
    clean(app)


def test_a_month_declared_before_its_call_is_called_even_after_its_due_date(
    app: App, clock: Clock
) -> None:
    """Declared before its call, cancelled after its due date (10 April): the company was never
    asked for it, so it is called first, with a new due date (as a late call gives one), and
    its reminders and the buyer's alert are counted from that date: none precedes the call."""
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 3, 31, 15), {})
    ladder_pass(app, utc(2026, 4, 1, 7))
    assert march_steps(app, lot) == []

    clock.set(utc(2026, 4, 14, 16))  # due on 10 April
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert cancelled.ladder is not None
    assert (cancelled.ladder.sent, cancelled.ladder.step, cancelled.ladder.at) == (
        (),
        "call",
        utc(2026, 4, 15, 7),  # the next call time
    )
    assert ladder_sentence(cancelled.ladder, app.settings.zone) == (
        "Le mois est de nouveau attendu ; aucun appel à déclarer n'était parti pour lui : "
        "l'appel part le mercredi 15 avril 2026 à 9\u00a0h, avec sa date limite, et ses relances "
        "suivront."
    )
    walk(app, date(2026, 4, 15), date(2026, 6, 30))
    steps = march_steps(app, lot)
    assert [step for step, _ in steps] == ["call", "reminder_1", "reminder_2", "escalation"]
    assert steps[0] == ("call", utc(2026, 4, 15, 7))
    [ladder] = [lad for lad in ladders(app) if lad.month == MARCH]
    # The call's date: as many working days as an on-time call gives (1 May off).
    assert ladder.due_on > date(2026, 4, 15)
    assert all(at > steps[0][1] for _, at in steps[1:])
    assert steps[1][1] > datetime.combine(ladder.due_on, time(0), tzinfo=UTC)
    call = next(
        body
        for kind, body in mail_bodies(app)
        if kind == "declaration_call" and "mars 2026" in body
    )
    assert french_date(ladder.due_on) in squash(call)
    clean(app)


def test_a_month_declared_before_its_call_is_called_while_its_due_date_is_ahead(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 3, 31, 15), {})
    ladder_pass(app, utc(2026, 4, 1, 7))

    clock.set(utc(2026, 4, 2, 10))  # 12:00 in Paris: the call leaves at the next call time
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert cancelled.ladder is not None
    assert (cancelled.ladder.step, cancelled.ladder.step_label, cancelled.ladder.at) == (
        "call",
        "appel à déclaration",
        utc(2026, 4, 3, 7),
    )
    report = ladder_pass(app, utc(2026, 4, 3, 7))
    assert report.calls == 1
    assert march_steps(app, lot) == [("call", utc(2026, 4, 3, 7))]
    [ladder] = ladders(app)
    assert ladder.next_step == "reminder_1" and ladder.due_on >= date(2026, 4, 10)


def test_a_month_whose_every_step_was_sent_is_owed_again_without_a_new_step(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    walk(app, date(2026, 4, 1), date(2026, 5, 4))  # call, two reminders, the buyer alerted
    declare(app, lot, MARCH, utc(2026, 5, 5, 8), {})

    clock.set(utc(2026, 5, 6, 9))
    cancelled = cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )

    assert cancelled.ladder is not None
    assert cancelled.ladder.sent == ("call", "reminder_1", "reminder_2", "escalation")
    assert (cancelled.ladder.step, cancelled.ladder.at) == (None, None)
    march = next(lad for lad in ladders(app) if lad.month == MARCH)
    assert (march.declared_at, march.next_step, march.next_step_at) == (None, "done", None)
    before = march_steps(app, lot)
    walk(app, date(2026, 5, 6), date(2026, 5, 29))
    assert march_steps(app, lot) == before  # nothing sent twice
    clean(app)


def test_a_cancellation_is_refused_with_why_and_changes_nothing(app: App, clock: Clock) -> None:
    lot = make(app)
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {})
    clock.set(utc(2026, 5, 6, 9))
    before = (history(app, lot.clause_id), declared(app), outbox(app))

    with pytest.raises(NotFound) as refused:
        cancel_declaration(
            app, clause=lot.clause_id, company="Bâtiments Test", month=APRIL, reason=REASON
        )
    assert refused.value.message == (
        f"Aucune déclaration d'avril 2026 de Bâtiments Test pour la clause n° {lot.clause_id} "
        f"(marché {_reference(lot).split('/')[0]} lot 1 – Gros œuvre) : rien à annuler. "
        "Mois déclarés : mars 2026."
    )
    with pytest.raises(InputRefused, match=r"indiquez le motif \(--reason\)"):
        cancel_declaration(
            app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason="  "
        )
    with pytest.raises(NotFound, match=r"Entreprise «\sInconnue SA\s» introuvable"):
        cancel_declaration(
            app, clause=lot.clause_id, company="Inconnue SA", month=MARCH, reason=REASON
        )
    assert (history(app, lot.clause_id), declared(app), outbox(app)) == before


def test_the_audit_stays_clean_after_cancellations_with_receipts_and_summaries_sent(
    app: App, clock: Clock
) -> None:
    """April's receipt stated a cumul with March's hours, April's summary the hours of both.
    April is cancelled and declared again (SQLite gives its number again), then March."""
    lot = make(app)
    add_participants(app, "P-1", "P-2")
    # The service runs: each month is called on its day (a month first called on the summary's
    # morning would give a later due date, which the summary waits for).
    queue_work(app, utc(2026, 4, 1, 7) + timedelta(minutes=5))
    declare(app, lot, MARCH, utc(2026, 4, 3, 8), {"P-1": "100"})
    all_left(app)
    queue_work(app, utc(2026, 5, 4, 7) + timedelta(minutes=5))
    april = declare(app, lot, APRIL, utc(2026, 5, 4, 8), {"P-1": "50", "P-2": "10"})
    all_left(app)
    moment = summary_due_at(APRIL, summary_timing(app.settings))
    assert queue_work(app, moment).summaries >= 1
    clean(app)

    clock.set(moment + timedelta(days=1))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=APRIL, reason="Doublon"
    )
    again = declare(app, lot, APRIL, moment + timedelta(days=1, hours=1), {"P-1": "60"})
    all_left(app)
    clock.set(moment + timedelta(days=2))
    cancel_declaration(
        app, clause=lot.clause_id, company="Bâtiments Test", month=MARCH, reason=REASON
    )
    declare(app, lot, MARCH, moment + timedelta(days=2, hours=1), {"P-2": "80"})

    assert declared(app) == [(MARCH, Decimal("80"), 1), (APRIL, Decimal("60"), 1)]
    assert hours_done(app, lot.clause_id) == Decimal("140")
    if app.settings.database_url.startswith("sqlite"):
        assert again == april  # the number of the cancelled declaration, given again
    report = verify(app)
    assert [f.line for f in report.findings] == []
    assert report.receipts == 4 and report.declarations == 2
    # The summary sent before differs from today's figures for a reason the history gives.
    assert any("annulée le" in r.line for r in report.remarks), report.remarks

    # What the history says of a cancelled declaration is checked against its receipt.
    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.event == "declaration_cancelled",
                ClauseHistory.reason.startswith("déclaration n° 1 de mars"),
            )
        ).one()
        assert row.reason is not None
        row.reason = row.reason.replace("100\u00a0h retirées", "90\u00a0h retirées")
    problems = [f.problem for f in verify(app).findings]
    # (The audit's older messages keep ordinary spaces inside « », as test_audit pins them.)
    assert problems == [
        "« Total du mois » : le courriel disait « 100\u00a0h », l'historique du 03/04/2026 à "
        "10:00 dit « 90\u00a0h »",
        "« Cumul déclaré » : le courriel disait « 100\u00a0h », les déclarations enregistrées à "
        "cet instant disent « 90\u00a0h »",
    ]


# --- an abandon undone --------------------------------------------------------------------------


@dataclass(frozen=True)
class Territory:
    market_id: int
    holder_id: int
    holder_correspondent_id: int
    partner_id: int
    partner_correspondents: tuple[int, int]
    newcomer_id: int


def territory(app: App, *, preference: str = "each_milestone") -> Territory:
    now = utc(2026, 1, 5, 9)
    with app.transaction() as session:
        buyer = Buyer(
            name="Gers Habitat",
            notice_preference=preference,
            created_at=now,
            contacts=[BuyerContact(name="Anne Achat", email="anne@example.org")],
        )
        operation = Operation(buyer=buyer, name="Résidence des Tilleuls", created_at=now)
        market = Market(operation=operation, reference="2026-014", title="Travaux")
        holder = Company(name="Bâtiments Gascons", created_at=now)
        holder.correspondents = [Correspondent(name="Paul Lambert", email="paul@example.org")]
        partner = Company(name="Menuiseries du Gers", created_at=now)
        partner.correspondents = [
            Correspondent(name="Inès Moreau", email="ines@example.org"),
            Correspondent(name="Luc Martin", email="luc@example.org"),
        ]
        newcomer = Company(name="Peintures d'Auch", created_at=now)
        newcomer.correspondents = [Correspondent(name="Zoé Petit", email="zoe@example.org")]
        session.add_all([market, holder, partner, newcomer])
        session.flush()
        return Territory(
            market_id=market.id,
            holder_id=holder.id,
            holder_correspondent_id=holder.correspondents[0].id,
            partner_id=partner.id,
            partner_correspondents=(partner.correspondents[0].id, partner.correspondents[1].id),
            newcomer_id=newcomer.id,
        )


def new_clause(app: App, land: Territory, *until: ClauseEvent) -> int:
    with app.transaction() as session:
        clause = create_clause(
            session,
            session.get_one(Market, land.market_id),
            lot_number="01",
            lot_title="Gros œuvre",
            params=ClauseParameters(hours_override=700, override_reason="note de calcul"),
            actor="Camille Martin",
            now=utc(2026, 1, 5, 9),
            publish=app.publish,
        )
        for event in until:
            advance_clause(
                session,
                clause.id,
                event,
                actor="Camille Martin",
                reason="marché infructueux" if event is ClauseEvent.ABANDON else None,
                now=utc(2026, 1, 6, 9),
                publish=app.publish,
            )
        return clause.id


def stage_of(app: App, clause_id: int) -> tuple[str, int]:
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        return clause.stage, clause.version


@pytest.mark.parametrize(
    ("path", "stage"),
    [
        ((), Stage.IDENTIFICATION),
        ((ClauseEvent.DRAFT,), Stage.DRAFTING),
        ((ClauseEvent.DRAFT, ClauseEvent.AWARD), Stage.AWARD),
    ],
)
def test_an_abandon_undone_goes_back_to_the_stage_it_left(
    app: App, clock: Clock, path: tuple[ClauseEvent, ...], stage: Stage
) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, *path, ClauseEvent.ABANDON)
    _, version = stage_of(app, clause_id)
    dispatch_due(app, utc(2026, 1, 6, 10))  # the buyer was told of the abandon

    clock.set(utc(2026, 2, 2, 9))
    reopened = reopen_clause(app, "2026-014/01", reason="Consultation relancée", actor="Léa")

    assert (reopened.clause_id, reopened.from_stage, reopened.to_stage) == (
        clause_id,
        Stage.ABANDONED,
        stage,
    )
    assert stage_of(app, clause_id) == (stage.value, version + 1)
    assert history(app, clause_id)[-1] == (
        "reopen",
        "abandoned",
        stage.value,
        "Consultation relancée",
        "Léa",
    )
    notices_sent = [key for kind, key in outbox(app) if kind == "notice_reopened"]
    assert len(notices_sent) == 1
    with app.transaction() as session:
        body = session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "notice_reopened")
        )
    assert body is not None
    assert "Cet abandon est annulé : depuis le 2 février 2026" in body
    assert "Motif indiqué : Consultation relancée" in body
    clean(app)


def test_a_clause_whose_history_does_not_say_where_it_left_from_is_not_reopened(
    app: App, clock: Clock
) -> None:
    lot = make(app)
    with app.transaction() as session:
        # Abandoned in execution by a hand edit: no stage to go back to.
        clause = session.get_one(Clause, lot.clause_id)
        session.add(
            ClauseHistory(
                clause_id=clause.id,
                at=utc(2026, 2, 2, 10),
                actor="test",
                event="abandon",
                from_stage="execution",
                to_stage="abandoned",
                reason="essai",
            )
        )
        clause.stage = "abandoned"
    with pytest.raises(TransitionRefused, match="ne dit pas de quelle étape"):
        reopen_clause(app, lot.clause_id, reason="essai")


def test_a_reopened_award_starts_and_its_companies_are_called(app: App, clock: Clock) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    with app.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.ABANDON,
            actor="Camille Martin",
            reason="recours",
            now=utc(2026, 1, 26, 9),
            publish=app.publish,
        )
    clock.set(utc(2026, 2, 2, 9))
    reopen_clause(app, clause_id, reason="Recours rejeté")
    clock.set(utc(2026, 3, 2, 9))
    with app.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.START,
            actor="Camille Martin",
            reason=None,
            now=clock(),
            publish=app.publish,
        )
    report = ladder_pass(app, utc(2026, 4, 1, 7))
    assert report.calls == 2  # the holder and its co-contractor, for March
    # Their welcomes had not left at the abandon: withdrawn then (« vous n'avez rien à
    # déclarer » would have followed a welcome never read), each company is welcomed once,
    # as of the reopening; still waiting at the start (nothing is sent in this test), that
    # welcome is written again for the lot started (``rewrite_welcomes_at_start``).
    with app.transaction() as session:
        welcomes = session.execute(
            select(OutboxMessage.key, OutboxMessage.state, OutboxMessage.last_error)
            .where(OutboxMessage.kind == "company_welcome")
            .order_by(OutboxMessage.id)
        ).all()
    live = [key for key, state, _ in welcomes if state != "cancelled"]
    assert len(live) == 2
    assert all(key.endswith(utc(2026, 2, 2, 9).isoformat() + "~2") for key in live)
    reasons = [(reason or "") for _, state, reason in welcomes if state == "cancelled"]
    causes = ("Retiré : lot abandonné le 26/01/2026", "Remplacé : le démarrage de l'exécution")
    assert [next(c for c in causes if r.startswith(c)) for r in reasons] == [
        causes[0],
        causes[0],
        causes[1],
        causes[1],
    ], reasons
    clean(app)


def test_only_an_abandoned_clause_reopens_and_only_with_a_reason(app: App, clock: Clock) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT)
    before = (stage_of(app, clause_id), history(app, clause_id), outbox(app))

    with pytest.raises(TransitionRefused) as refused:
        reopen_clause(app, clause_id, reason="erreur")
    assert refused.value.command_line_message == (
        f"Clause n° {clause_id} (marché 2026-014 lot 01 – Gros œuvre) est à l'étape "
        "« calibrage et rédaction » : seule une clause abandonnée se rouvre. Pour la faire "
        "avancer : « clauses clause advance »."
    )
    assert refused.value.message.endswith(
        "Pour la faire avancer\u00a0: sa page, «\u00a0Étape suivante\u00a0»."
    )
    assert (stage_of(app, clause_id), history(app, clause_id), outbox(app)) == before

    with app.transaction() as session:
        advance_clause(
            session,
            clause_id,
            ClauseEvent.ABANDON,
            actor="Camille Martin",
            reason=None,
            now=utc(2026, 1, 7, 9),
            publish=app.publish,
        )
    abandoned = (stage_of(app, clause_id), history(app, clause_id), outbox(app))
    with pytest.raises(InputRefused, match=r"indiquez pourquoi la rouvrir \(--reason\)"):
        reopen_clause(app, clause_id, reason=" ")
    assert (stage_of(app, clause_id), history(app, clause_id), outbox(app)) == abandoned


def test_abandoned_twice_it_goes_back_to_the_latest_stage_and_the_audit_follows(
    app: App, clock: Clock
) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.ABANDON)
    clock.set(utc(2026, 1, 8, 9))
    assert reopen_clause(app, clause_id, reason="relance").to_stage is Stage.IDENTIFICATION
    with app.transaction() as session:
        for event, day in ((ClauseEvent.DRAFT, 9), (ClauseEvent.ABANDON, 12)):
            advance_clause(
                session,
                clause_id,
                event,
                actor="Camille Martin",
                reason=None,
                now=utc(2026, 1, day, 9),
                publish=app.publish,
            )
    clock.set(utc(2026, 1, 13, 9))
    assert reopen_clause(app, clause_id, reason="relance").to_stage is Stage.DRAFTING
    assert [row[:3] for row in history(app, clause_id)] == [
        ("identify", None, "identification"),
        ("abandon", "identification", "abandoned"),
        ("reopen", "abandoned", "identification"),
        ("draft", "identification", "drafting"),
        ("abandon", "drafting", "abandoned"),
        ("reopen", "abandoned", "drafting"),
    ]
    clean(app)
    # A reopen row that does not go back where the abandon came from is reported.
    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "reopen")
            .order_by(ClauseHistory.id.desc())
        ).first()
        assert row is not None
        row.to_stage = "award"
        session.get_one(Clause, clause_id).stage = "award"
    [finding] = verify(app).findings
    assert "réouverture de « abandonnée » vers « attribution »" in finding.problem
    assert "abandonnée à l'étape « calibrage et rédaction »" in finding.problem


# --- an award recorded again --------------------------------------------------------------------


def award(
    app: App,
    clause_id: int,
    land: Territory,
    *,
    at: datetime,
    holder_hours: int | None = 500,
    partner: PartyInput | None = None,
    extra: tuple[PartyInput, ...] = (),
    start: date = date(2026, 3, 2),
    end: date = date(2026, 12, 31),
) -> tuple[AwardResult, list[DomainEvent]]:
    events: list[DomainEvent] = []

    def publish(session: object, event: DomainEvent) -> None:
        events.append(event)
        app.publish(session, event)  # type: ignore[arg-type]

    if partner is None:
        partner = PartyInput(
            land.partner_id, PartyRole.CO_CONTRACTOR, land.partner_correspondents[0], 200
        )
    with app.transaction() as session:
        outcome = apply_award(
            session,
            clause_id,
            parties=[
                PartyInput(
                    land.holder_id, PartyRole.HOLDER, land.holder_correspondent_id, holder_hours
                ),
                partner,
                *extra,
            ],
            start_date=start,
            planned_end_date=end,
            actor="Camille Martin",
            now=at,
            publish=publish,
        )
        return outcome.result, events


def awards(app: App) -> list[tuple[str, str]]:
    return [
        (kind, key)
        for kind, key in outbox(app)
        if kind in ("notice_awarded", "notice_award_corrected", "company_welcome")
    ]


def test_the_same_award_again_changes_nothing_and_sends_nothing(app: App) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    first, _ = award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    sent, rows = awards(app), history(app, clause_id)
    assert first is AwardResult.RECORDED
    assert [kind for kind, _ in sent] == ["notice_awarded", "company_welcome", "company_welcome"]

    again, events = award(app, clause_id, land, at=utc(2026, 1, 21, 9))

    assert (again, events) == (AwardResult.UNCHANGED, [])
    assert (awards(app), history(app, clause_id)) == (sent, rows)
    with app.transaction() as session:
        assert session.get_one(Clause, clause_id).awarded_at == utc(2026, 1, 20, 9)
    clean(app)


def test_another_award_records_the_change_and_sends_one_corrected_notice(app: App) -> None:
    land = territory(app)
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    # The award notice left before the correction (one still waiting is written again as the
    # award stands instead: ``notices._award_rewritten``).
    with app.transaction() as session:
        left = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_awarded")
        ).one()
        left.state, left.sent_at = "sent", utc(2026, 1, 20, 10)
    before = awards(app)

    result, events = award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 22, 9),
        holder_hours=450,
        partner=PartyInput(
            land.partner_id, PartyRole.CO_CONTRACTOR, land.partner_correspondents[1], 200
        ),
        extra=(PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),),
        start=date(2026, 3, 16),
    )

    assert result is AwardResult.CORRECTED
    [event] = events
    assert isinstance(event, AwardCorrected)
    assert event.added_company_ids == (land.newcomer_id,)
    changes = [(c.what, c.before, c.after) for c in event.changes]
    assert changes == [
        ("Heures confiées à Bâtiments Gascons", "500\u00a0h", "450\u00a0h"),
        ("Correspondant de Menuiseries du Gers", "Inès Moreau", "Luc Martin"),
        ("Peintures d'Auch", "non attributaire", "sous-traitant, 50\u00a0h d'insertion"),
        ("Démarrage", "2 mars 2026", "16 mars 2026"),
    ]
    event_row = history(app, clause_id)[-1]
    assert event_row[:3] == ("award_corrected", "award", "award")
    assert event_row[3] == (
        "attribution corrigée : Heures confiées à Bâtiments Gascons : 500\u00a0h → 450\u00a0h ; "
        "Correspondant de Menuiseries du Gers : Inès Moreau → Luc Martin ; "
        "Peintures d'Auch : non attributaire → sous-traitant, 50\u00a0h d'insertion ; "
        "Démarrage : 2 mars 2026 → 16 mars 2026"
    )
    new = awards(app)[len(before) :]
    # The newcomer's welcome, then the waiting welcomes of the holder and the partner written
    # again (their start changed: services.award_company_notices).
    assert [kind for kind, _ in new] == ["notice_award_corrected", *["company_welcome"] * 3]
    assert new[1][1] == f"welcome:{clause_id}:{land.newcomer_id}:2026-01-22T09:00:00+00:00"
    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_award_corrected")
        ).one()
        welcome = session.scalars(select(OutboxMessage).where(OutboxMessage.key == new[1][1])).one()
        parties = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == clause_id).order_by(AwardParty.id)
        ).all()
        start = session.get_one(Clause, clause_id).start_date
    assert notice.recipients.endswith("<anne@example.org>")
    assert notice.subject.startswith("Attribution corrigée – ")
    assert "- Correspondant de Menuiseries du Gers : Inès Moreau → Luc Martin" in notice.body_text
    assert "- Peintures d'Auch (sous-traitant) : 50\u00a0h d'insertion" in notice.body_text
    assert "zoe@example.org" in welcome.recipients
    assert [(p.company_id, p.role, p.hours_share) for p in parties] == [
        (land.holder_id, "holder", 450),
        (land.partner_id, "co_contractor", 200),
        (land.newcomer_id, "subcontractor", 50),
    ]
    assert start == date(2026, 3, 16)
    clean(app)

    # The corrected award again: nothing.
    again, events = award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 23, 9),
        holder_hours=450,
        partner=PartyInput(
            land.partner_id, PartyRole.CO_CONTRACTOR, land.partner_correspondents[1], 200
        ),
        extra=(PartyInput(land.newcomer_id, PartyRole.SUBCONTRACTOR, None, 50),),
        start=date(2026, 3, 16),
    )
    assert (again, events) == (AwardResult.UNCHANGED, [])


def test_a_company_taken_out_or_swapped_is_said_and_the_holder_is_not_welcomed_again(
    app: App,
) -> None:
    land = territory(app, preference="monthly_summary")
    clause_id = new_clause(app, land, ClauseEvent.DRAFT, ClauseEvent.AWARD)
    award(app, clause_id, land, at=utc(2026, 1, 20, 9))
    before = awards(app)
    assert [kind for kind, _ in before] == ["company_welcome", "company_welcome"]

    result, events = award(
        app,
        clause_id,
        land,
        at=utc(2026, 1, 22, 9),
        partner=PartyInput(land.newcomer_id, PartyRole.CO_CONTRACTOR, None, 200),
    )

    assert result is AwardResult.CORRECTED
    [event] = events
    assert isinstance(event, AwardCorrected)
    assert [(c.what, c.before, c.after) for c in event.changes] == [
        (
            "Peintures d'Auch",
            "non attributaire",
            "cotraitant, 200\u00a0h d'insertion",
        ),
        (
            "Menuiseries du Gers",
            "cotraitant, 200\u00a0h d'insertion, correspondant : Inès Moreau",
            "retirée de l'attribution",
        ),
    ]
    # The buyer reads the monthly summary only: no notice; the newcomer alone is welcomed.
    new = awards(app)[len(before) :]
    assert new == [
        ("company_welcome", f"welcome:{clause_id}:{land.newcomer_id}:2026-01-22T09:00:00+00:00")
    ]
    clean(app)


@pytest.mark.parametrize("origin", [Stage.IDENTIFICATION, Stage.DRAFTING, Stage.AWARD])
def test_the_stage_machine_reopens_to_the_stage_of_the_abandon_only(origin: Stage) -> None:
    label = "Clause n° 7"
    assert reopened_stage(label, Stage.ABANDONED, origin.value) is origin
    for stage in set(Stage) - {Stage.ABANDONED}:
        with pytest.raises(TransitionRefused, match="seule une clause abandonnée se rouvre"):
            reopened_stage(label, stage, origin.value)
    for wrong in (None, "execution", "closed", "bogus"):
        with pytest.raises(TransitionRefused, match="ne dit pas de quelle étape"):
            reopened_stage(label, Stage.ABANDONED, wrong)


def test_every_event_type_is_known_to_the_recorders() -> None:
    names = {kind.__name__ for kind in EVENT_TYPES}
    assert {"ClauseReopened", "AwardCorrected", "DeclarationCancelled"} <= names
