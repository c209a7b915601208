"""What a person reads of a clause: one row of a list, or the whole of it with its companies,
its calendar, its history, the hours declared against its target and the final report.

Views are frozen dataclasses built inside the session that read them, so nothing is loaded
lazily (nor written) once the session is closed. The entry points turn them into text or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import AwardParty, Clause, Declaration, Market, Operation
from workflow.domain.calendar import ExplainedCalendar
from workflow.domain.stages import ClauseEvent, Stage, allowed_events
from workflow.domain.vocabulary import PartyRole
from workflow.services.lot_calendars import clause_calendar
from workflow.settings import Settings

#: The precision of ``ClauseDetail.completion`` (a ratio: 0.5079 is 50,79 %), cut and never
#: rounded up, so a target missed by a few minutes never reads as reached.
COMPLETION_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class ClauseSummary:
    """A clause (one lot) as a list shows it."""

    id: int
    buyer: str
    operation: str
    market: str
    lot_number: str
    lot_title: str
    stage: Stage
    hours_computed: int | None
    hours_override: int | None
    hours_target: int | None
    version: int


@dataclass(frozen=True)
class PartyView:
    """A company bound by the clause, its correspondent, the hours it was given and declared."""

    company_id: int
    company: str
    role: PartyRole
    correspondent: str | None
    email: str | None
    hours_share: int | None
    hours_done: Decimal
    #: Its last month on the lot when its departure was recorded (« company-left »): it shows
    #: on the lot's page and in ``clause show`` (user trial, 7 December 2026: only the history
    #: said so, the company listed with its hours as if still on the site).
    last_month: date | None = None


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    actor: str
    event: str
    from_stage: Stage | None
    to_stage: Stage
    reason: str | None


@dataclass(frozen=True)
class ClauseDetail:
    """Everything ``clause show`` gives: the figures of the calculation, the companies, the
    dates, the calendar and where each rule comes from, the events allowed now, the history,
    the hours declared so far against the target and the final report."""

    summary: ClauseSummary
    amount_excl_tax: Decimal | None
    labour_share: Decimal | None
    insertion_rate: Decimal | None
    hourly_cost: Decimal | None
    override_reason: str | None
    start_date: date | None
    planned_end_date: date | None
    end_date: date | None
    final_report_at: datetime | None
    final_report: str | None
    parties: tuple[PartyView, ...]
    allowed_events: tuple[ClauseEvent, ...]
    history: tuple[HistoryRow, ...]
    calendar: ExplainedCalendar
    #: The sum of every monthly declaration of the lot, all companies together.
    hours_done: Decimal

    @property
    def id(self) -> int:
        return self.summary.id

    @property
    def completion(self) -> Decimal | None:
        """The hours done over the target (1 is the target reached), to the ten-thousandth cut
        down; None without a target."""
        target = self.summary.hours_target
        if not target:
            return None
        return (self.hours_done / Decimal(target)).quantize(COMPLETION_PLACES, ROUND_DOWN)


def summary_of(clause: Clause) -> ClauseSummary:
    operation = clause.market.operation
    return ClauseSummary(
        id=clause.id,
        buyer=operation.buyer.name,
        operation=operation.name,
        market=clause.market.reference,
        lot_number=clause.lot_number,
        lot_title=clause.lot_title,
        stage=Stage(clause.stage),
        hours_computed=clause.hours_computed,
        hours_override=clause.hours_override,
        hours_target=clause.hours_target,
        version=clause.version,
    )


def load_clause(session: Session, clause_id: int) -> Clause:
    """The clause with its history and companies, in one round of queries. The rows already in
    the session are read again, so a command that just changed the clause sees its change."""
    return session.scalars(
        select(Clause)
        .where(Clause.id == clause_id)
        .options(
            selectinload(Clause.market)
            .selectinload(Market.operation)
            .selectinload(Operation.buyer),
            selectinload(Clause.history),
            selectinload(Clause.parties).selectinload(AwardParty.company),
            selectinload(Clause.parties).selectinload(AwardParty.correspondent),
        )
        .execution_options(populate_existing=True)
    ).one()


def detail_of(session: Session, clause_id: int, settings: Settings) -> ClauseDetail:
    clause = load_clause(session, clause_id)
    declared = {
        company_id: Decimal(hours or 0)
        for company_id, hours in session.execute(
            select(Declaration.company_id, func.sum(Declaration.total_hours))
            .where(Declaration.clause_id == clause.id)
            .group_by(Declaration.company_id)
        )
    }
    return ClauseDetail(
        summary=summary_of(clause),
        amount_excl_tax=clause.amount_excl_tax,
        labour_share=clause.labour_share,
        insertion_rate=clause.insertion_rate,
        hourly_cost=clause.hourly_cost,
        override_reason=clause.override_reason,
        start_date=clause.start_date,
        planned_end_date=clause.planned_end_date,
        end_date=clause.end_date,
        final_report_at=clause.final_report_at,
        final_report=clause.final_report,
        parties=tuple(
            PartyView(
                company_id=party.company_id,
                company=party.company.name,
                role=PartyRole(party.role),
                correspondent=party.correspondent.name if party.correspondent else None,
                email=party.correspondent.email if party.correspondent else None,
                hours_share=party.hours_share,
                hours_done=declared.get(party.company_id, Decimal(0)),
                last_month=party.last_month,
            )
            for party in clause.parties
        ),
        allowed_events=tuple(allowed_events(Stage(clause.stage))),
        history=tuple(
            HistoryRow(
                at=row.at,
                actor=row.actor,
                event=row.event,
                from_stage=Stage(row.from_stage) if row.from_stage else None,
                to_stage=Stage(row.to_stage),
                reason=row.reason,
            )
            for row in clause.history
        ),
        calendar=clause_calendar(clause, settings),
        # Every declaration of the lot counts, a company's no longer bound included.
        hours_done=sum(declared.values(), Decimal(0)),
    )
