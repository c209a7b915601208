"""A clause's life: show it, list them, compute its hours, award it, move it through its stages,
record its final report, impose its hours or change the figures of its calculation.

Every argument naming a clause, a buyer, a market or a company takes its N° or what people know
of it (« 2026-014/01 », « Gers Habitat », a SIRET), through ``lookup``. Commands run in one
``unit_of_work``; queries read through ``reading`` and return the views of ``clause_views``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, false, func, literal, select, union_all
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import AwardParty, Clause, Market, Operation
from workflow.app.clause_views import ClauseDetail, ClauseSummary, detail_of, summary_of
from workflow.app.lookup import find_buyer, find_clause, find_company, find_market
from workflow.app.unit import reading, unit_of_work
from workflow.domain.calendar import local_date
from workflow.domain.events import AwardChange
from workflow.domain.hours import HoursCalculation, compute_hours
from workflow.domain.stages import ENDING_EVENTS, PIPELINE, PIPELINE_RANK, ClauseEvent, Stage
from workflow.domain.vocabulary import PartyRole
from workflow.emails.notices import Outstanding
from workflow.runtime import App
from workflow.services import clauses as clause_service
from workflow.services.clauses import PartyInput
from workflow.services.company_pauses import planned_end_passed
from workflow.services.declaration_views import (
    OWED_STATES,
    ExpectedDeclaration,
    expected_declarations,
)
from workflow.services.lot_ends import ReleasedMonths
from workflow.services.months_asked import Asked, calls_to_come, grouped, made_owed
from workflow.services.reminder_emails import LadderRewrite
from workflow.services.suspension_withdrawals import told_withdrawals

Designation = str | int


# --- queries ----------------------------------------------------------------------------------


def clause_detail(app: App, clause: Designation) -> ClauseDetail:
    """A clause as ``clause show`` gives it."""
    with reading(app) as session:
        return detail_of(session, find_clause(session, clause).id, app.settings)


def list_clauses(
    app: App,
    *,
    stage: Stage | None = None,
    market: Designation | None = None,
    buyer: Designation | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[ClauseSummary, ...]:
    """The clauses (one per lot), by stage in the pipeline's order then N°; only one stage,
    market or buyer if given; ``limit`` of them from the ``offset``-th (a page of the API).

    A page reads what it skips and what it shows, never the whole territory: sorting every
    clause by its stage's rank took 290 ms a page at 10^5 lots (BENCHMARKS.md, issue 12)."""
    with reading(app) as session:
        conditions: list[ColumnElement[bool]] = []
        if market is not None:
            conditions.append(Clause.market_id == find_market(session, market).id)
        if buyer is not None:
            buyer_id = find_buyer(session, buyer).id
            conditions.append(
                Clause.market_id.in_(
                    select(Market.id).join(Market.operation).where(Operation.buyer_id == buyer_id)
                )
            )
        if limit is not None:
            stages = [stage] if stage is not None else list(PIPELINE)
            statement = _page(session, stages, conditions, offset, limit)
        else:  # every clause (the command line's list): one sort, as asked
            if stage is not None:
                conditions.append(Clause.stage == stage.value)
            statement = (
                select(Clause)
                .where(*conditions)
                # By the pipeline's order (repérage first), not by the stage's English code.
                .order_by(case(PIPELINE_RANK, value=Clause.stage, else_=len(PIPELINE)), Clause.id)
                .offset(offset)
            )
        loaded = statement.options(
            selectinload(Clause.market).selectinload(Market.operation).selectinload(Operation.buyer)
        )
        return tuple(summary_of(c) for c in session.scalars(loaded))


def _page(
    session: Session,
    stages: list[Stage],
    conditions: list[ColumnElement[bool]],
    offset: int,
    limit: int,
) -> Select[Clause]:
    """The page's statement, stage after stage in the pipeline's order, each stage's clauses
    by N° (``ix_clauses_stage`` read in order on SQLite, the primary key's on PostgreSQL).

    The stages the offset passes over are counted first, each up to the offset (one statement
    reading index entries only); the page is then one statement over the stages from the one it
    starts in, each giving at most ``limit`` clauses: it is full whenever clauses follow, and a
    clause changing stage meanwhile moves the page's start by one, as it would between two
    pages."""
    start, skip = 0, offset
    if offset:
        for count in _counts_up_to(session, stages, conditions, offset):
            if count >= skip:
                break
            start, skip = start + 1, skip - count
    arms = []
    for rank, stage in enumerate(stages[start:], start):
        arm = (
            select(Clause.id.label("id"), literal(rank).label("rank"))
            .where(Clause.stage == stage.value, *conditions)
            .order_by(Clause.id)
            .offset(skip if rank == start else 0)
            .limit(limit)
            .subquery()
        )
        arms.append(select(arm.c.id, arm.c.rank))  # SQLite sorts no arm of a compound itself
    if not arms:  # the offset is past the last clause
        return select(Clause).where(false())
    page = (union_all(*arms) if len(arms) > 1 else arms[0]).subquery()
    return (
        select(Clause)
        .join(page, Clause.id == page.c.id)
        .order_by(page.c.rank, page.c.id)
        .limit(limit)
    )


def _counts_up_to(
    session: Session, stages: list[Stage], conditions: list[ColumnElement[bool]], bound: int
) -> list[int]:
    """The clauses of each stage, counted up to ``bound``: one statement, one snapshot."""
    counts = [
        select(func.count())
        .select_from(
            select(literal(1))
            .where(Clause.stage == stage.value, *conditions)
            .limit(bound)
            .subquery()
        )
        .scalar_subquery()
        for stage in stages
    ]
    return [int(count) for count in session.execute(select(*counts)).one()]


# --- the calculation note ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The four figures of the calculation note, each None when not given."""

    amount: Decimal | None = None
    labour_share: Decimal | None = None
    rate: Decimal | None = None
    hourly_cost: Decimal | None = None

    @property
    def empty(self) -> bool:
        return self == Figures()


def calculate_hours(
    amount: Decimal, labour_share: Decimal, rate: Decimal, hourly_cost: Decimal
) -> HoursCalculation:
    """The hours of insertion and their calculation note, nothing recorded."""
    return compute_hours(amount, labour_share, rate, hourly_cost)


def months_still_to_call(
    app: App, clause_id: int, claimed: Mapping[int, Iterable[date]]
) -> tuple[Asked, ...]:
    """Of the months ``claimed`` by company (what a change said it made owed, read back from
    the address of the page it led to), those of the lot whose call is still to come, with that
    call and the due date it gives, read now: a month called since, declared, or never owed is
    not told, whatever the address says."""
    wanted = {(company, month) for company, months in claimed.items() for month in months}
    if not wanted:
        return ()
    now = app.clock()
    with reading(app) as session:
        to_call = calls_to_come(session, app.settings, clause_id, now)
    return grouped((line for key, line in to_call.items() if key in wanted), app.settings)


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advanced:
    """A clause moved from one stage to another, at ``at``; with a finish, the months after the
    end no longer asked for (``released``, by company) and those it made owed (``asked``)."""

    clause_id: int
    from_stage: Stage
    to_stage: Stage
    at: datetime
    released: tuple[ReleasedMonths, ...] = ()
    #: With a suspension: what it withdrew of the lot's emails still waiting, one sentence by
    #: company (``suspension_withdrawals.withdrawn_sentence``); not in its history row, which the
    #: buyer's notice quotes as the reason.
    withdrawn: tuple[str, ...] = ()
    #: With a closure: the declarations still owed then, by company, that the closure no longer
    #: asks (the companies called for them are told).
    outstanding: tuple[Outstanding, ...] = ()
    #: With a finish: the months it made owed (an end after the planned one), by company and
    #: call to come (``months_asked``), read in its transaction.
    asked: tuple[Asked, ...] = ()
    #: With a resumption after the planned end, its end not recorded: that planned end, the
    #: companies being called for no month after its own until it is moved or the end recorded.
    past_planned_end: date | None = None


def outstanding_declarations(
    session: Session, app: App, clause_id: int, today: date
) -> tuple[Outstanding, ...]:
    """The declarations of the lot not received on ``today`` (late, or not yet due), by company
    in name order: those ``declaration list --missing`` gives."""
    return owed_by_company(
        expected_declarations(session, app.settings, today=today, clause_id=clause_id)
    )


def owed_by_company(lines: Iterable[ExpectedDeclaration]) -> tuple[Outstanding, ...]:
    """The months of ``lines`` still owed (late, or not yet due), by company in name order: what
    the final report and the closure name, and what a clause's page warns of before either."""
    by_company: dict[int, tuple[str, list[date]]] = {}
    for line in lines:
        if line.state in OWED_STATES:
            by_company.setdefault(line.company_id, (line.company, []))[1].append(line.month)
    return tuple(
        Outstanding(name, tuple(sorted(months)), company_id)
        for company_id, (name, months) in sorted(
            by_company.items(), key=lambda item: (item[1][0], item[0])
        )
    )


def outstanding_data(outstanding: Sequence[Outstanding]) -> list[dict[str, Any]]:
    """The declarations not received, by company, as machines read them: the
    ``declarations_non_recues`` of ``clause advance … clôturer --json``, of ``clause report
    --json`` and of the JSON API's answer to a closure. One shape for all three."""
    return [
        {"entreprise": o.company, "mois": [f"{m:%Y-%m}" for m in o.months]}
        for o in outstanding
        if o.months
    ]


def advance_clause(
    app: App,
    clause: Designation,
    event: ClauseEvent,
    *,
    reason: str | None = None,
    end_date: date | None = None,
    actor: str | None = None,
    end_field: str = "Date de fin d'exécution",
) -> Advanced:
    """Draft, award, start, finish, close, abandon, suspend or resume a clause; the notices the
    move causes are saved with it. An end date after today (in the settings' time zone) is
    refused, ``end_field`` naming it as the interface does (« --end-date », « date_fin »)."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        released: list[ReleasedMonths] = []
        today = local_date(unit.now, app.settings.zone)
        version: int | None = None
        outstanding: tuple[Outstanding, ...] = ()
        before = None
        if event in (ClauseEvent.CLOSE, *ENDING_EVENTS):
            # Lock first, then read: a declaration committed before the lock is received, one
            # recorded after it waits for this transaction. The version read under the lock is
            # the one the compare-and-set of the move is based on.
            version = clause_service.get_clause(unit.session, clause_id, for_update=True).version
        if event is ClauseEvent.CLOSE:
            outstanding = outstanding_declarations(unit.session, app, clause_id, today)
        elif event in ENDING_EVENTS:
            # An end after the planned one makes the months between them owed: what was to be
            # called before the finish, to name what it asks for.
            before = calls_to_come(unit.session, app.settings, clause_id, unit.now)
        advanced = clause_service.advance_clause(
            unit.session,
            clause_id,
            event,
            actor=unit.actor,
            reason=reason,
            now=unit.now,
            publish=unit.app.publish,
            expected_version=version,
            end_date=end_date,
            today=today,
            end_field=end_field,
            released=released,
            rewriter=LadderRewrite(unit.app),
            outstanding=outstanding,
            zone=unit.app.settings.zone,
        )
        asked = (
            made_owed(
                before, calls_to_come(unit.session, app.settings, clause_id, unit.now), app.settings
            )
            if before is not None
            else ()
        )
        return Advanced(
            clause_id,
            advanced.from_stage,
            advanced.to_stage,
            unit.now,
            tuple(released),
            told_withdrawals(unit.session),
            outstanding,
            asked,
            planned_end_passed(unit.session, clause_id, today)
            if event is ClauseEvent.RESUME
            else None,
        )


@dataclass(frozen=True)
class PartyChoice:
    """A company of the award as a person names it: N°, name or SIRET; its correspondent's N°
    (by default its only correspondent when it has one) and the hours it is given."""

    company: Designation
    role: PartyRole
    correspondent_id: int | None = None
    hours_share: int | None = None
    #: A correction given on the command line names only what changes: a correspondent or
    #: hours left out keep what the award records for that company (a facilitator who moves an
    #: end date must not wipe the holder's 3,925 h, and tell the buyer so). The web form shows
    #: the recorded values and sends them all: an empty field there clears.
    keep_recorded: bool = False


def _party_input(
    session: Session, choice: PartyChoice, recorded: dict[int, AwardParty]
) -> PartyInput:
    company = find_company(session, choice.company)
    correspondent, hours = choice.correspondent_id, choice.hours_share
    before = recorded.get(company.id) if choice.keep_recorded else None
    if before is not None:
        if correspondent is None:
            correspondent = before.correspondent_id
        if hours is None:
            hours = before.hours_share
    if correspondent is None and len(company.correspondents) == 1:
        correspondent = company.correspondents[0].id
    return PartyInput(
        company_id=company.id,
        role=choice.role,
        correspondent_id=correspondent,
        hours_share=hours,
    )


def award_clause(
    app: App,
    clause: Designation,
    *,
    parties: tuple[PartyChoice, ...],
    start_date: date,
    planned_end_date: date,
    actor: str | None = None,
    joining_from: date | None = None,
    reason: str | None = None,
    reason_field: str = "Motif",
) -> AwardRecorded:
    """Record who won the lot (exactly one holder, co-contractors, subcontractors) and when the
    work runs; recording it again corrects it (each change in the history, the buyer told once)
    or, with the same data, changes nothing. Returns what it did and the clause as it is then.
    During the works, the companies added declare from ``joining_from`` (a month; by default
    the current one). ``reason`` says why (optional), kept in the history row, never told to
    the buyer; ``reason_field`` names it as the interface does."""
    with unit_of_work(app, actor) as unit:
        found = find_clause(unit.session, clause)
        clause_id = found.id
        recorded = {p.company_id: p for p in found.parties}
        outcome = clause_service.apply_award(
            unit.session,
            clause_id,
            parties=[_party_input(unit.session, p, recorded) for p in parties],
            start_date=start_date,
            planned_end_date=planned_end_date,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
            joining_from=joining_from,
            zone=unit.app.settings.zone,
            reason=reason,
            reason_field=reason_field,
        )
        result, changes = outcome.result, outcome.changes
    return AwardRecorded(result, changes, clause_detail(app, clause_id))


@dataclass(frozen=True)
class AwardRecorded:
    """What ``award_clause`` did (first award, correction, nothing) and the clause after it."""

    result: clause_service.AwardResult
    changes: tuple[AwardChange, ...]
    detail: ClauseDetail


@dataclass(frozen=True)
class ReportRecorded:
    clause_id: int
    at: datetime
    #: The declarations not received when the report was recorded, by company: the report's
    #: figures (and the buyer's email) do not include them.
    outstanding: tuple[Outstanding, ...] = ()


def record_final_report(
    app: App, clause: Designation, text: str, *, actor: str | None = None
) -> ReportRecorded:
    """The final report of the operation, at the « suivi et bilan » stage."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        # The declarations not received yet: named in the history row, read back by the
        # buyer's email, which says its total does not include them. Read under the clause's
        # lock, as the closure reads them: a declaration committed meanwhile is not named.
        clause_service.get_clause(unit.session, clause_id, for_update=True)
        outstanding = outstanding_declarations(
            unit.session, app, clause_id, local_date(unit.now, app.settings.zone)
        )
        clause_service.record_final_report(
            unit.session,
            clause_id,
            text=text,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
            outstanding=outstanding,
        )
        return ReportRecorded(clause_id, unit.now, outstanding)


def impose_hours(
    app: App, clause: Designation, hours: int, *, reason: str, actor: str | None = None
) -> ClauseSummary:
    """Impose the hours of a clause (an amendment, an arbitration); the computed figure stays."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        changed = clause_service.set_hours_override(
            unit.session, clause_id, hours, reason=reason, actor=unit.actor, now=unit.now
        )
        return summary_of(changed)


@dataclass(frozen=True)
class FiguresChanged:
    """The clause after its figures changed, and the calculation note when it is complete."""

    clause: ClauseSummary
    calculation: HoursCalculation | None


def change_figures(
    app: App, clause: Designation, figures: Figures, *, actor: str | None = None
) -> FiguresChanged:
    """Change some figures of the calculation note (the others stay) and compute the hours again,
    in « repérage » or « calibrage et rédaction »."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        changed, calculation = clause_service.set_parameters(
            unit.session,
            clause_id,
            amount_excl_tax=figures.amount,
            labour_share=figures.labour_share,
            insertion_rate=figures.rate,
            hourly_cost=figures.hourly_cost,
            actor=unit.actor,
            now=unit.now,
        )
        return FiguresChanged(summary_of(changed), calculation)


@dataclass(frozen=True)
class PlannedEndSet:
    """The planned end of a lot before and after ``set_planned_end`` (equal: nothing changed),
    and the months the change made owed (``asked``)."""

    clause_id: int
    before: date
    after: date
    at: datetime
    #: The months a later end made owed (those past the old end, after their usual call), by
    #: company and call to come (``months_asked``), read in its transaction.
    asked: tuple[Asked, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_planned_end(
    app: App,
    clause: Designation,
    planned_end: date,
    *,
    reason: str,
    actor: str | None = None,
    field: str = "Fin prévue",
    reason_field: str = "Raison",
) -> PlannedEndSet:
    """Move the planned end of a lot awarded, in execution or suspended (an amendment), its
    reason kept in the history; the reminders follow it. ``field`` and ``reason_field`` name the
    date and the reason as the interface does."""
    with unit_of_work(app, actor) as unit:
        clause_id = find_clause(unit.session, clause).id
        # Lock first, then read what was to be called before the change: a later end makes the
        # months after the old one owed, named by what it asks for.
        clause_service.get_clause(unit.session, clause_id, for_update=True)
        before = calls_to_come(unit.session, app.settings, clause_id, unit.now)
        done = clause_service.set_planned_end(
            unit.session,
            clause_id,
            planned_end,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
            field=field,
            reason_field=reason_field,
        )
        asked = (
            made_owed(
                before, calls_to_come(unit.session, app.settings, clause_id, unit.now), app.settings
            )
            if done.before != done.after
            else ()
        )
        return PlannedEndSet(clause_id, done.before, done.after, unit.now, asked)
