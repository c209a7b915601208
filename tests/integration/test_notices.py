"""Milestone notices, welcomes and receipts written by the event handler, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from tests.text import squash, visible
from workflow.adapters.mail.message import Mailbox, parse_recipients
from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    HeldNotice,
    Market,
    Operation,
    OutboxMessage,
    Outcome,
    Participant,
)
from workflow.adapters.templates import french_hours
from workflow.bootstrap import App
from workflow.domain.events import DomainEvent
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import ContractType, DeliveryMode, PartyRole
from workflow.services import clauses as clause_service
from workflow.services.declarations import LineInput, record_declaration
from workflow.services.notices import MASK

REFERENCES = ("P-2026-031", "P-2026-044")
MILESTONES = (
    "notice_identified",
    "notice_drafted",
    "notice_awarded",
    "notice_execution_started",
    "notice_suspended",
    "notice_resumed",
    "notice_execution_ended",
    "notice_final_report",
)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


@dataclass
class Territory:
    market_id: int
    holder_id: int
    partner_id: int
    holder_correspondent_id: int
    participant_ids: list[int]
    events: list[DomainEvent] = field(default_factory=list)


def make_territory(app: App, clock: Clock, *, preference: str = "each_milestone") -> Territory:
    now = clock()
    with app.transaction() as session:
        buyer = Buyer(
            name="Département de l'Exemple",
            kind="departement",
            notice_preference=preference,
            created_at=now,
            contacts=[
                BuyerContact(name="Claire Dupont", email="claire.dupont@example.org"),
                BuyerContact(name="Marc Petit", email="marc.petit@example.org"),
            ],
        )
        operation = Operation(buyer=buyer, name="Collège des Tilleuls", created_at=now)
        market = Market(operation=operation, reference="2026-014", title="Travaux")
        holder = Company(name="Bâtiments du Sud-Ouest", created_at=now)
        partner = Company(name="Menuiseries de l'Exemple", created_at=now)
        holder.correspondents = [
            Correspondent(name="Paul Lambert", email="paul.lambert@example.org")
        ]
        partner.correspondents = [Correspondent(name="Inès Moreau", email="ines@example.org")]
        participants = [
            Participant(reference=ref, criterion="long_term_jobseeker", created_at=now)
            for ref in REFERENCES
        ]
        session.add_all([market, holder, partner, *participants])
        session.flush()
        return Territory(
            market_id=market.id,
            holder_id=holder.id,
            partner_id=partner.id,
            holder_correspondent_id=holder.correspondents[0].id,
            participant_ids=[p.id for p in participants],
        )


class Walk:
    """Moves one clause through its life, keeping every event it published."""

    def __init__(self, app: App, clock: Clock, territory: Territory) -> None:
        self.app, self.clock, self.territory = app, clock, territory
        self.clause_id = 0

    def publish(self, session: Session, event: DomainEvent) -> None:
        self.territory.events.append(event)
        self.app.publish(session, event)

    def create(self) -> None:
        with self.app.transaction() as session:
            clause = clause_service.create_clause(
                session,
                session.get_one(Market, self.territory.market_id),
                lot_number="3",
                lot_title="Gros œuvre",
                params=clause_service.ClauseParameters(
                    amount_excl_tax=Decimal("3780000"),
                    labour_share=Decimal("0.5"),
                    insertion_rate=Decimal("0.075"),
                    hourly_cost=Decimal("30"),
                ),
                actor="Camille Martin",
                now=self.clock(),
                publish=self.publish,
            )
            self.clause_id = clause.id

    def advance(
        self,
        event: ClauseEvent,
        day: date,
        *,
        reason: str | None = None,
        end_date: date | None = None,
    ) -> None:
        self.clock.set(at(day))
        with self.app.transaction() as session:
            clause_service.advance_clause(
                session,
                self.clause_id,
                event,
                actor="Camille Martin",
                reason=reason,
                now=self.clock(),
                publish=self.publish,
                end_date=end_date,
            )

    def award(self, day: date) -> None:
        self.clock.set(at(day))
        with self.app.transaction() as session:
            clause_service.record_award(
                session,
                self.clause_id,
                parties=[
                    clause_service.PartyInput(
                        self.territory.holder_id,
                        PartyRole.HOLDER,
                        self.territory.holder_correspondent_id,
                        3500,
                    ),
                    # No correspondent named: the company's first one is welcomed.
                    clause_service.PartyInput(
                        self.territory.partner_id, PartyRole.CO_CONTRACTOR, None, 1225
                    ),
                ],
                start_date=date(2026, 3, 2),
                planned_end_date=date(2026, 6, 30),
                actor="Camille Martin",
                now=self.clock(),
                publish=self.publish,
            )

    def declare(self, month: date, hours: tuple[str, ...], day: date) -> None:
        self.clock.set(at(day))
        lines = [
            LineInput(pid, Decimal(h), DeliveryMode.DIRECT_HIRING, ContractType.CDD)
            for pid, h in zip(self.territory.participant_ids, hours, strict=False)
        ]
        with self.app.transaction() as session:
            record_declaration(
                session,
                clause_id=self.clause_id,
                company_id=self.territory.holder_id,
                month=month,
                lines=lines,
                actor="Paul Lambert",
                now=self.clock(),
                source="test",
                publish=self.publish,
            )
        # The receipt leaves within the minute: a month later, nothing of it waits to be
        # rewritten (``receipt_withdrawals.rewrite_others``).
        with self.app.transaction() as session:
            for row in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "declaration_receipt", OutboxMessage.state == "pending"
                )
            ):
                row.state, row.sent_at = "sent", self.clock()

    def whole_life(self) -> None:
        self.create()
        self.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
        self.advance(ClauseEvent.AWARD, date(2025, 12, 15))
        self.award(date(2026, 2, 9))
        self.advance(ClauseEvent.START, date(2026, 3, 2))
        self.declare(date(2026, 3, 1), ("120", "80.5"), date(2026, 4, 7))
        self.advance(ClauseEvent.SUSPEND, date(2026, 4, 15), reason="Fouilles archéologiques")
        self.advance(ClauseEvent.RESUME, date(2026, 5, 4), reason="Fouilles terminées")
        self.declare(date(2026, 4, 1), ("60",), date(2026, 5, 6))
        self.advance(ClauseEvent.FINISH, date(2026, 6, 26), end_date=date(2026, 6, 26))
        with self.app.transaction() as session:
            session.add(
                Outcome(
                    participant_id=self.territory.participant_ids[0],
                    clause_id=self.clause_id,
                    group="lasting_job",
                    type="cdi",
                    date=date(2026, 7, 1),
                )
            )
        self.clock.set(at(date(2026, 9, 15)))
        with self.app.transaction() as session:
            clause_service.record_final_report(
                session,
                self.clause_id,
                text=f"Très bon parcours de {REFERENCES[0].lower()}, embauché en CDI.",
                actor="Camille Martin",
                now=self.clock(),
                publish=self.publish,
            )
        self.advance(ClauseEvent.CLOSE, date(2026, 9, 30))


def outbox_rows(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def without_report_replaced(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """``rows`` but the emails written again: still waiting when the clause was started or
    closed (nothing is sent in these walks), the award's gave way to the same award saying the
    start (``notices.rewrite_award_notice``), each company's welcome to the same welcome
    written for the lot started (``notices.rewrite_welcomes_at_start``), the final report's to
    the same report saying the closure (``notices.rewrite_final_report``)."""
    why = (
        "Remplacé : le démarrage de l'exécution a été enregistré le ",
        "Remplacé : la clause a été clôturée le ",
    )
    replaced = [row for row in rows if (row.last_error or "").startswith(why)]
    awarded = (
        [("notice_awarded", "cancelled")] if any(r.kind == "notice_awarded" for r in rows) else []
    )
    # The walk's two companies, each welcomed at the award.
    welcomed = [("company_welcome", "cancelled")] * 2
    assert [(row.kind, row.state) for row in replaced] == [
        *awarded,
        *welcomed,
        ("notice_final_report", "cancelled"),
    ]
    return [row for row in rows if row not in replaced]


def test_it_sends_exactly_one_notice_per_milestone_to_every_buyer_contact(
    app: App, clock: Clock
) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.whole_life()

    rows = without_report_replaced(outbox_rows(app))
    kinds = Counter(row.kind for row in rows)
    assert {kind: kinds[kind] for kind in MILESTONES} == dict.fromkeys(MILESTONES, 1)
    assert kinds["notice_abandoned"] == 0
    buyer_rows = [row for row in rows if row.kind.startswith("notice_")]
    assert len(buyer_rows) == len(MILESTONES)
    for row in buyer_rows:
        assert row.recipients.splitlines() == [
            "Claire Dupont <claire.dupont@example.org>",
            "Marc Petit <marc.petit@example.org>",
        ]
        assert row.clause_id == walk.clause_id
        if row.kind == "notice_drafted":
            # Nothing was sent: still waiting when the award was recorded, it gave way to it.
            assert row.state == "cancelled"
            assert (row.last_error or "").startswith(
                "Remplacé : l'attribution du lot a été enregistrée le "
            )
        elif row.kind == "notice_suspended":
            # Still waiting when the lot resumed: withdrawn, the resumption's notice says both.
            assert row.state == "cancelled"
            assert (row.last_error or "").startswith("Retiré : le lot a repris le ")
        else:
            assert row.state == "pending"
    with app.transaction() as session:
        assert session.scalars(select(HeldNotice)).all() == []  # a buyer with contacts


def test_it_never_puts_a_participant_reference_in_a_buyer_email(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.whole_life()

    rows = outbox_rows(app)
    for row in rows:
        if not row.kind.startswith("notice_"):
            continue
        for part in (row.subject, row.body_text, row.body_html):
            assert not any(ref.lower() in part.lower() for ref in REFERENCES), row.kind
    report = next(row for row in rows if row.kind == "notice_final_report")
    assert MASK in report.body_text
    assert "embauché en CDI" in report.body_text
    assert "Emploi durable : 1" in report.body_text
    assert "Personnes en insertion : 2" in report.body_text
    # The company's own receipt may name its participants' references.
    receipt = next(row for row in rows if row.kind == "declaration_receipt")
    assert REFERENCES[0] in receipt.body_text


def test_it_reports_hours_done_against_the_target_from_the_declarations(
    app: App, clock: Clock
) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.whole_life()

    ended = next(row for row in outbox_rows(app) if row.kind == "notice_execution_ended")
    # 120 + 80,5 + 60 = 260,5 h of a 4 725 h target; May and June (ended on the 26th) are not
    # declared yet: the figures are today's, not the lot's.
    assert ended.subject.startswith(
        "Fin d'exécution : 260,50 h d'insertion déclarées à ce jour sur 4 725 h"
    )
    assert "Heures déclarées à ce jour : 260,50" in ended.body_text
    # Each company owes its months: the co-contractor's four are counted too.
    assert (
        "Déclarations mensuelles reçues : 2 sur 8 (4 mois × 2 entreprises), 6 encore attendues"
        in ended.body_text
    )
    said = squash(ended.body_text)
    assert (
        "6 déclarations mensuelles sont encore attendues : à ce jour, il manque "
        f"{french_hours(Decimal('4464.50'))} pour atteindre l'objectif, et le total ne sera "
        "connu qu'une fois celles-ci reçues." in said
    ), said
    assert "déclarées à ce jour" in squash(visible(ended.body_html or ""))


def test_it_welcomes_each_company_of_the_award_with_its_calendar(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.whole_life()

    welcomes = [
        row for row in without_report_replaced(outbox_rows(app)) if row.kind == "company_welcome"
    ]
    assert sorted((parse_recipients(row.recipients) for row in welcomes), key=str) == [
        [Mailbox("Inès Moreau", "ines@example.org")],
        [Mailbox("Paul Lambert", "paul.lambert@example.org")],
    ]
    holder = next(row for row in welcomes if "Paul Lambert" in row.recipients)
    text = holder.body_text
    assert "Bâtiments du Sud-Ouest est titulaire" in text
    assert "dont 3\u202f500\u00a0h confiées à votre entreprise" in text
    # March to June 2026; April's due date (Sunday 10 May) moves to Monday 11 May.
    for month, due in (
        ("mars 2026", "10 avril 2026"),
        ("avril 2026", "11 mai 2026"),
        ("mai 2026", "10 juin 2026"),
        ("juin 2026", "10 juillet 2026"),
    ):
        assert f"{month}" in text and f"au plus tard le {due}" in text
    assert "juillet 2026 " not in text
    assert "camille.martin@example.org" in text


def test_it_acknowledges_each_declaration_to_the_company(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.whole_life()

    receipts = [row for row in outbox_rows(app) if row.kind == "declaration_receipt"]
    assert [row.recipients for row in receipts] == ["Paul Lambert <paul.lambert@example.org>"] * 2
    march = receipts[0].body_text
    assert "pour mars 2026" in march
    assert "Total du mois : 200,50\u00a0h, 2 lignes" in march
    assert "Tous les mois ouverts sont déclarés sur ce lot." in march
    assert (
        "Prochaine déclaration : avril 2026, à déclarer à partir du 30 avril 2026 et au plus "
        "tard le "
        "11 mai 2026." in march
    )


def test_a_monthly_only_buyer_gets_no_milestone_but_its_final_report(
    app: App, clock: Clock
) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock, preference="monthly_only"))
    walk.whole_life()

    rows = without_report_replaced(outbox_rows(app))
    kinds = Counter(row.kind for row in rows)
    # Milestones are left to the monthly summary; the final report is the buyer's result. The
    # companies are told of the suspension and the resumption whatever the buyer chose.
    assert kinds == Counter(
        {
            "company_welcome": 2,
            "declaration_receipt": 2,
            "notice_final_report": 1,
            "company_lot_suspended": 2,
            "company_lot_resumed": 2,
        }
    )
    (report,) = [row for row in rows if row.kind == "notice_final_report"]
    assert "Bilan" in report.subject or "bilan" in report.body_text


def test_it_inserts_nothing_new_when_the_same_events_are_handled_again(
    app: App, clock: Clock
) -> None:
    clock.set(at(date(2025, 10, 6)))
    territory = make_territory(app, clock)
    walk = Walk(app, clock, territory)
    walk.whole_life()
    before = [(row.key, row.kind) for row in outbox_rows(app)]

    clock.set(at(date(2026, 12, 1)))
    with app.transaction() as session:
        for event in territory.events:
            app.publish(session, event)
    assert [(row.key, row.kind) for row in outbox_rows(app)] == before
    assert len({key for key, _ in before}) == len(before)


def test_it_tells_the_buyer_why_a_clause_was_abandoned(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.ABANDON, date(2025, 12, 1), reason="Consultation sans suite")

    rows = outbox_rows(app)
    assert [row.kind for row in rows] == ["notice_identified", "notice_abandoned"]
    assert "Motif indiqué : Consultation sans suite" in rows[1].body_text
    assert "1er décembre 2025" in rows[1].body_text


def test_it_holds_buyer_notices_when_the_buyer_has_no_contact(app: App, clock: Clock) -> None:
    """Nothing queued, nothing lost: each notice is held for the clock to release once the
    buyer has a contact (``test_held_notices``)."""
    clock.set(at(date(2025, 10, 6)))
    territory = make_territory(app, clock)
    with app.transaction() as session:
        buyer = session.scalars(select(Buyer)).one()
        buyer.contacts.clear()
    walk = Walk(app, clock, territory)
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))

    with app.transaction() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 0
        assert session.get_one(Clause, walk.clause_id).stage == "award"
        held = session.scalars(select(HeldNotice).order_by(HeldNotice.id)).all()
        assert [(row.kind, row.clause_id, row.outcome) for row in held] == [
            ("notice_identified", walk.clause_id, None),
            ("notice_drafted", walk.clause_id, None),
        ]
        assert held[1].key.startswith(f"notice:{walk.clause_id}:notice_drafted:h")
        assert held[1].held_at == at(date(2025, 12, 15))


def test_a_start_recorded_before_its_date_says_the_work_begins_then(app: App, clock: Clock) -> None:
    """The start recorded on 20 February for work starting on 2 March: the buyer reads that it
    begins on 2 March, not that it « a commencé » (a user trial read a future start in the past
    tense); recorded on the day, the notice says it has begun."""
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    walk.advance(ClauseEvent.START, date(2026, 2, 20))

    (started,) = [r for r in outbox_rows(app) if r.kind == "notice_execution_started"]
    text = squash(started.body_text)
    assert (
        "Gros œuvre\xa0» commence le 2 mars 2026 : la clause sociale "
        "d'insertion s'appliquera dès ce jour." in text
    ), text
    assert "a commencé" not in text
    assert "L'exécution commence le 2 mars 2026" in visible(started.body_html)
    assert "a commencé" not in visible(started.body_html)


def test_a_start_recorded_on_its_date_says_the_work_has_begun(app: App, clock: Clock) -> None:
    clock.set(at(date(2025, 10, 6)))
    walk = Walk(app, clock, make_territory(app, clock))
    walk.create()
    walk.advance(ClauseEvent.DRAFT, date(2025, 11, 3))
    walk.advance(ClauseEvent.AWARD, date(2025, 12, 15))
    walk.award(date(2026, 2, 9))
    walk.advance(ClauseEvent.START, date(2026, 3, 2))

    (started,) = [r for r in outbox_rows(app) if r.kind == "notice_execution_started"]
    assert "a commencé le 2 mars 2026 : la clause sociale d'insertion s'applique désormais" in (
        squash(started.body_text)
    )
    assert "L'exécution a commencé" in visible(started.body_html)
