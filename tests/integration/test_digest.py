"""The facilitator's task digest on both backends: items, their order, and when it is sent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.bootstrap import App
from workflow.services.digest import Category, compile_digest, queue_daily_digest

# Monday 30 March 2026, 08:00 in Paris: the first working day in summer time (CEST, UTC+2).
NOW = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
TODAY = date(2026, 3, 30)
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


@dataclass
class Built:
    clauses: dict[str, int]
    emails: dict[str, int]


def spaces(text: str) -> str:
    """French formatting puts non-breaking spaces in numbers; compare with plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _clause(market: Market, lot: str, stage: str, since: datetime, **values: object) -> Clause:
    return Clause(
        market=market,
        lot_number=lot,
        lot_title=f"Lot {lot}",
        stage=stage,
        version=1,
        stage_changed_at=since,
        created_at=T0,
        **values,
    )


def _email(key: str, state: str, **values: object) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        kind="declaration_call",
        recipients="Jean Dupont <jean@example.org>",
        subject=f"Sujet {key}",
        body_text="",
        body_html="",
        state=state,
        attempts=5,
        next_attempt_at=None,
        created_at=T0,
        **values,
    )


def build(app: App) -> Built:
    with app.transaction() as session:
        buyer = Buyer(name="Département du Gers", created_at=T0)
        market = Market(
            operation=Operation(buyer=buyer, name="Collège", created_at=T0), reference="2025-001"
        )
        session.add(market)
        late = _clause(
            market, "1", "execution", T0, hours_computed=900,
            start_date=date(2025, 10, 1), planned_end_date=date(2026, 12, 31),
        )  # fmt: skip
        on_time = _clause(
            market, "2", "execution", T0, hours_computed=900,
            start_date=date(2025, 10, 1), planned_end_date=date(2026, 12, 31),
        )  # fmt: skip
        behind = _clause(
            market, "3", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=20),
        )  # fmt: skip
        on_pace = _clause(
            market, "4", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=20),
        )  # fmt: skip
        ending_later = _clause(
            market, "5", "execution", T0, hours_computed=1000,
            start_date=date(2025, 10, 1), planned_end_date=TODAY + timedelta(days=31),
        )  # fmt: skip
        drafting = _clause(market, "6", "drafting", NOW - timedelta(days=100))
        fresh = _clause(market, "7", "identification", NOW - timedelta(days=10))
        award = _clause(market, "8", "award", NOW - timedelta(days=5), hours_computed=300)
        report = _clause(market, "9", "follow_up", NOW - timedelta(days=20), end_date=TODAY)
        reported = _clause(market, "10", "follow_up", NOW - timedelta(days=20), final_report_at=NOW)
        clauses = {
            "late": late, "on_time": on_time, "behind": behind, "on_pace": on_pace,
            "ending_later": ending_later, "drafting": drafting, "fresh": fresh, "award": award,
            "report": report, "reported": reported,
        }  # fmt: skip
        session.add_all(clauses.values())
        company = Company(name="Bâtir Gascogne", created_at=T0)
        other = Company(name="Routes du Sud", created_at=T0)
        session.add_all([company, other])
        session.flush()
        person = Correspondent(
            company=company, name="Jean Dupont", email="jean@example.org", phone="05 62 00 00 01"
        )
        session.add(person)
        session.flush()
        session.add(
            AwardParty(
                clause_id=late.id, company_id=company.id, role="holder", correspondent_id=person.id
            )
        )

        def ladder(clause: Clause, who: Company, month: date, due: date, **values: object) -> None:
            session.add(
                DeclarationLadder(
                    clause_id=clause.id, company_id=who.id, month=month, due_on=due, **values
                )
            )

        ladder(
            late, company, date(2026, 1, 1), date(2026, 2, 10),
            next_step="done", next_step_at=None, escalated_at=datetime(2026, 3, 3, 8, tzinfo=UTC),
        )  # fmt: skip
        ladder(
            late, company, date(2026, 2, 1), date(2026, 3, 10),
            next_step="reminder_2", next_step_at=datetime(2026, 3, 19, 8, tzinfo=UTC),
        )  # fmt: skip
        ladder(
            on_time, other, date(2026, 2, 1), date(2026, 3, 10),
            next_step="done", next_step_at=None, declared_at=datetime(2026, 3, 9, tzinfo=UTC),
        )  # fmt: skip
        ladder(
            on_time, other, date(2026, 3, 1), TODAY,
            next_step="call", next_step_at=None,
        )  # due today: not late yet  # fmt: skip

        for clause, hours in ((behind, "100"), (on_pace, "950"), (ending_later, "0")):
            session.add(
                Declaration(
                    clause_id=clause.id, company_id=other.id, month=date(2026, 2, 1),
                    total_hours=Decimal(hours), recorded_at=T0, recorded_by="test",
                )
            )  # fmt: skip
        failed = _email("a", "failed", last_error="550 boîte inconnue")
        dead = _email(
            "b", "dead", last_error="Abandon après 5 tentatives",
            refused_recipients="jean@example.org",
        )  # fmt: skip
        session.add_all([failed, dead, _email("c", "sent"), _email("d", "pending")])
        session.flush()
        return Built(
            clauses={name: c.id for name, c in clauses.items()},
            emails={"failed": failed.id, "dead": dead.id},
        )


def test_it_lists_what_needs_the_facilitator_most_urgent_first(app: App) -> None:
    built = build(app)
    with app.transaction() as session:
        digest = compile_digest(session, NOW, app.settings)
    assert digest.day == TODAY and digest.working_day
    assert [(i.category, i.clause_id) for i in digest.items] == [
        (Category.EMAIL, None),  # dead: nothing will retry it
        (Category.EMAIL, None),
        (Category.DECLARATION, built.clauses["late"]),
        (Category.PACE, built.clauses["behind"]),
        (Category.AWARD, built.clauses["award"]),
        (Category.FINAL_REPORT, built.clauses["report"]),
        (Category.WAITING, built.clauses["drafting"]),
    ]
    dead, failed, declaration, pace, award, report, waiting = (
        replace(i, title=spaces(i.title), detail=spaces(i.detail), action=spaces(i.action))
        for i in digest.items
    )
    assert f"n° {built.emails['dead']}" in dead.action
    assert "adresses refusées : jean@example.org" in dead.detail
    assert "550 boîte inconnue" in failed.detail
    assert "janvier 2026 à février 2026" in declaration.title
    assert "Bâtir Gascogne" in declaration.title
    assert "48 jours de retard" in declaration.detail  # due on 10 February
    assert "alerte avant mise en demeure envoyée" in declaration.detail
    assert "Jean Dupont, jean@example.org, 05 62 00 00 01" in declaration.action
    assert declaration.days == 48
    assert "dans 20 jours" in pace.title and "100 h réalisées sur 1 000 h" in pace.detail
    assert "titulaire" in award.detail and "date de démarrage" in award.detail
    assert f"clauses clause advance {built.clauses['report']} cloturer" in report.action
    assert "depuis 100 jours (seuil : 90 jours)" in waiting.detail.lower()


def test_it_queues_one_digest_on_a_working_day_at_its_hour(app: App) -> None:
    build(app)
    assert queue_daily_digest(app, NOW - timedelta(minutes=1)) == 0  # 07:59 in Paris
    assert queue_daily_digest(app, NOW) == 1
    assert queue_daily_digest(app, NOW + timedelta(hours=3)) == 0
    with app.transaction() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "facilitator_digest")
        ).all()
        assert [m.key for m in messages] == ["digest:2026-03-30"]
        message = messages[0]
        assert message.recipients == "Camille Martin <camille.martin@example.org>"
        assert "30 mars 2026" in message.subject and "7 points" in message.subject
        text = message.body_text
        assert text.index("Courriels non distribués") < text.index("Déclarations d'heures")
        assert "Bilans à envoyer" in message.body_html


@pytest.mark.parametrize(
    "day",
    [
        datetime(2026, 3, 28, 9, 0, tzinfo=UTC),  # a Saturday
        datetime(2026, 5, 1, 9, 0, tzinfo=UTC),  # Labour Day, a Friday
        datetime(2026, 4, 6, 9, 0, tzinfo=UTC),  # Easter Monday
    ],
)
def test_it_sends_no_digest_on_weekends_and_holidays(app: App, day: datetime) -> None:
    build(app)
    assert queue_daily_digest(app, day) == 0
    with app.transaction() as session:
        assert (
            session.scalars(
                select(OutboxMessage.key).where(OutboxMessage.kind == "facilitator_digest")
            ).all()
            == []
        )


def test_it_sends_nothing_when_there_is_nothing_to_do(app: App) -> None:
    with app.transaction() as session:
        assert compile_digest(session, NOW, app.settings).items == ()
    assert queue_daily_digest(app, NOW) == 0
    with app.transaction() as session:
        assert session.scalars(select(OutboxMessage.key)).all() == []


def test_it_does_not_back_fill_missed_days(app: App) -> None:
    build(app)
    # Down on Monday, back on Tuesday at noon: only Tuesday's digest.
    assert queue_daily_digest(app, datetime(2026, 3, 31, 10, 0, tzinfo=UTC)) == 1
    with app.transaction() as session:
        keys = session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.kind == "facilitator_digest")
        ).all()
    assert keys == ["digest:2026-03-31"]


def test_it_reads_the_digest_hour_in_winter_time_too(app: App) -> None:
    build(app)
    # Friday 27 March 2026, still winter time (CET, UTC+1): 08:00 local is 07:00 UTC.
    assert queue_daily_digest(app, datetime(2026, 3, 27, 6, 59, tzinfo=UTC)) == 0
    assert queue_daily_digest(app, datetime(2026, 3, 27, 7, 0, tzinfo=UTC)) == 1
