"""Builders shared by the service-clock tests: a lot in execution, through the real services."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

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
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.domain.vocabulary import PartyRole
from workflow.services.clauses import (
    ClauseParameters,
    PartyInput,
    advance_clause,
    create_clause,
    record_award,
)
from workflow.services.declarations import record_declaration
from workflow.services.reminders import KINDS, LadderReport, arm_parties, climb_due_ladders
from workflow.services.reminders import open_due_ladders as open_ladders

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Lot:
    clause_id: int
    company_ids: tuple[int, ...]
    buyer_id: int


def make_lot(
    app: App,
    *,
    start: date = date(2026, 3, 2),
    end: date = date(2026, 12, 31),
    companies: Sequence[str] = ("Bâtiments Test",),
    at: datetime | None = None,
    buyer_due_day: int | None = None,
    lot_offsets: str | None = None,
    buyer_contacts: bool = True,
    started: bool = True,
) -> Lot:
    """A lot with a holder (and co-contractors), awarded and started at ``at`` (with
    ``started=False``, awarded only: its start is to record)."""
    at = at or datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    n = next(_numbers)
    with app.transaction() as session:
        buyer = Buyer(
            name=f"Donneur d'ordre {n}",
            created_at=at,
            declaration_due_day=buyer_due_day,
            contacts=(
                [BuyerContact(name=f"Acheteur {n}", email=f"acheteur{n}@example.org")]
                if buyer_contacts
                else []
            ),
        )
        operation = Operation(buyer=buyer, name=f"Opération {n}", created_at=at)
        market = Market(operation=operation, reference=f"M-{n}", title="Travaux")
        firms = [
            Company(
                name=name,
                created_at=at,
                correspondents=[
                    Correspondent(name=f"Correspondant {n}-{i}", email=f"c{n}-{i}@example.org")
                ],
            )
            for i, name in enumerate(companies)
        ]
        session.add_all([buyer, operation, market, *firms])
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
        clause.reminder_offsets = lot_offsets
        for event in (ClauseEvent.DRAFT, ClauseEvent.AWARD):
            advance_clause(
                session, clause.id, event, actor="test", reason=None, now=at, publish=app.publish
            )
        parties = [
            PartyInput(
                company_id=firm.id,
                role=PartyRole.HOLDER if i == 0 else PartyRole.CO_CONTRACTOR,
                correspondent_id=firm.correspondents[0].id,
            )
            for i, firm in enumerate(firms)
        ]
        record_award(
            session,
            clause.id,
            parties=parties,
            start_date=start,
            planned_end_date=end,
            actor="test",
            now=at,
            publish=app.publish,
        )
        if started:
            advance_clause(
                session,
                clause.id,
                ClauseEvent.START,
                actor="test",
                reason=None,
                now=at,
                publish=app.publish,
            )
        return Lot(clause.id, tuple(f.id for f in firms), buyer.id)


def ladder_pass(app: App, now: datetime) -> LadderReport:
    """Steps (a) and (b) of a pass: no digest, no summary, no dispatch."""
    report = LadderReport()
    report.armed = arm_parties(app, now)
    open_ladders(app, now, report)
    climb_due_ladders(app, now, report)
    return report


def declare(app: App, lot: Lot, month: date, at: datetime, company: int = 0) -> None:
    """A zero-hour declaration through the real service."""
    with app.transaction() as session:
        record_declaration(
            session,
            clause_id=lot.clause_id,
            company_id=lot.company_ids[company],
            month=month,
            lines=[],
            actor="test",
            now=at,
            source="test",
            publish=app.publish,
        )


def ladder_emails(app: App) -> list[OutboxMessage]:
    """The call, reminder and escalation rows, oldest first."""
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.in_(KINDS))
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def ladder_keys(app: App) -> list[str]:
    return [m.key for m in ladder_emails(app)]


def ladders(app: App) -> list[DeclarationLadder]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(DeclarationLadder).order_by(
                    DeclarationLadder.month, DeclarationLadder.company_id
                )
            )
        )
