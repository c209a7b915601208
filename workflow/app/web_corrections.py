"""What the correction pages of the dashboard read that the commands of ``corrections`` and
``clause_corrections`` do not give: a record by the N° in its address (never a name that happens
to hold the digits), a market and a lot as their forms show them, the owner of what the search
finds, one history row as a sentence, and a merge tried then undone to show what it would move.

The CLI has no dry run of a merge: the page runs the very merge of ``services.merges`` in a
transaction that is rolled back, so what it announces (and what it refuses) is what the merge
will do, never a second account of it that could drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    Operation,
    Participant,
    RecordHistory,
)
from workflow.app.calendars import told_due_dates
from workflow.app.corrections import BuyerCard, CompanyCard, Merge
from workflow.app.corrections import buyer_card as buyer_card_of
from workflow.app.corrections import company_card as company_card_of
from workflow.app.search import SearchResult, search
from workflow.app.unit import reading, unit_of_work
from workflow.domain.calendar import ExplainedCalendar, LadderStep, RuleSource
from workflow.domain.stages import FINAL_STAGES, LABELS, Stage
from workflow.domain.vocabulary import NoticePreference
from workflow.emails.ladder import step_label
from workflow.errors import NotFound
from workflow.runtime import App
from workflow.services import merges, record_history
from workflow.services.catalog import offsets_text
from workflow.services.corrections import RecordKind
from workflow.services.declaration_cancellations import CANCELLING_STAGES
from workflow.services.lot_calendars import SOURCE_LABELS, Overrides, explain_calendar
from workflow.services.record_history import HistoryEntry
from workflow.settings import Settings

T = TypeVar("T")

__all__ = [
    "CalendarRule",
    "CalendarSheet",
    "CorrectionSearch",
    "DeclaredMonth",
    "LotLine",
    "LotSheet",
    "MarketSheet",
    "MergePreview",
    "RunningLadder",
    "buyer_calendar",
    "buyer_sheet",
    "company_sheet",
    "correction_search",
    "history_line",
    "lot_calendar",
    "lot_sheet",
    "market_sheet",
    "merge_preview",
]


# --- the search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionSearch:
    """``search.search``'s result, with the buyer or company each contact, correspondent and
    operation belongs to: their corrections are made from their owner's page."""

    result: SearchResult
    #: (kind, N°) → (owner's kind, owner's N°), for ``contact``, ``correspondent``, ``operation``.
    owners: dict[tuple[str, int], tuple[str, int]]


def correction_search(app: App, text: str) -> CorrectionSearch:
    result = search(app, text)
    wanted: dict[str, list[int]] = {}
    for found in result.found:
        wanted.setdefault(found.kind, []).append(found.id)
    owners: dict[tuple[str, int], tuple[str, int]] = {}
    with reading(app) as session:
        for kind, id_column, owner_column, owner_kind in (
            ("contact", BuyerContact.id, BuyerContact.buyer_id, "buyer"),
            ("correspondent", Correspondent.id, Correspondent.company_id, "company"),
            ("operation", Operation.id, Operation.buyer_id, "buyer"),
        ):
            ids = wanted.get(kind)
            if not ids:
                continue
            for record_id, owner_id in session.execute(
                select(id_column, owner_column).where(id_column.in_(ids))
            ):
                owners[(kind, record_id)] = (owner_kind, owner_id)
    return CorrectionSearch(result, owners)


# --- a record by its N° -------------------------------------------------------------------------


#: The largest N° a record can have (a 32-bit key): a longer one in an address is no record, and
#: PostgreSQL would refuse to compare it.
LARGEST_NUMBER = 2**31 - 1


def _possible_number(record_id: int) -> bool:
    return 0 < record_id <= LARGEST_NUMBER


def _get(session: Session, model: type[T], record_id: int, **options: Any) -> T | None:
    if not _possible_number(record_id):
        return None
    return session.get(model, record_id, **options)


def _missing(session: Session, app: App, kind: RecordKind, record_id: int, what: str) -> NotFound:
    """Where the record went (merged, deleted), else that no record has this N°."""
    gone = (
        record_history.farewell(session, kind, record_id) if _possible_number(record_id) else None
    )
    if gone is not None:
        return NotFound(record_history.farewell_text(gone, app.settings.zone))
    return NotFound(f"Aucun{what} n° {record_id} : la recherche retrouve une fiche par son nom.")


def company_sheet(app: App, company_id: int) -> CompanyCard:
    """The company N° ``company_id``'s card (``clauses company show``)."""
    with reading(app) as session:
        company = _get(session, Company, company_id)
        if company is None:
            raise _missing(session, app, RecordKind.COMPANY, company_id, "e entreprise")
        return record_history.company_card(session, company)


def buyer_sheet(app: App, buyer_id: int) -> BuyerCard:
    """The buyer N° ``buyer_id``'s card (``clauses buyer show``)."""
    with reading(app) as session:
        buyer = _get(session, Buyer, buyer_id)
        if buyer is None:
            raise _missing(session, app, RecordKind.BUYER, buyer_id, " donneur d'ordre")
        return record_history.buyer_card(session, buyer)


@dataclass(frozen=True)
class LotLine:
    id: int
    lot_number: str
    title: str
    stage: str


@dataclass(frozen=True)
class MarketSheet:
    id: int
    reference: str
    title: str
    operation: str
    buyer_id: int
    buyer: str
    lots: tuple[LotLine, ...]
    operation_id: int = 0
    history: tuple[HistoryEntry, ...] = ()


def _own_history(session: Session, kind: RecordKind, record_id: int) -> tuple[HistoryEntry, ...]:
    """The corrections of this very record, oldest first (its owner's card lists them too)."""
    rows = session.scalars(
        select(RecordHistory)
        .where(RecordHistory.entity == kind.value, RecordHistory.entity_id == record_id)
        .order_by(RecordHistory.id)
    )
    return tuple(record_history.history_entry(row) for row in rows)


def market_sheet(app: App, market_id: int) -> MarketSheet:
    with reading(app) as session:
        market = _get(
            session,
            Market,
            market_id,
            options=[joinedload(Market.operation).joinedload(Operation.buyer)],
        )
        if market is None:
            raise _missing(session, app, RecordKind.MARKET, market_id, " marché")
        lots = session.scalars(
            select(Clause).where(Clause.market_id == market.id).order_by(Clause.id)
        ).all()
        return MarketSheet(
            id=market.id,
            reference=market.reference,
            title=market.title,
            operation=market.operation.name,
            buyer_id=market.operation.buyer_id,
            buyer=market.operation.buyer.name,
            lots=tuple(
                LotLine(c.id, c.lot_number, c.lot_title, LABELS[Stage(c.stage)]) for c in lots
            ),
            operation_id=market.operation_id,
            history=_own_history(session, RecordKind.MARKET, market.id),
        )


@dataclass(frozen=True)
class DeclaredMonth:
    """A declaration of the lot, which the cancel form can withdraw."""

    company_id: int
    company: str
    month: date
    total_hours: Decimal
    recorded_at: datetime
    validated: bool


@dataclass(frozen=True)
class LotSheet:
    id: int
    #: « 2026-014/01 », as people write it and the commands take it.
    reference: str
    market_id: int
    market: str
    operation: str
    buyer: str
    lot_number: str
    title: str
    trade: str
    stage: Stage
    stage_label: str
    declarations: tuple[DeclaredMonth, ...]
    operation_id: int = 0
    buyer_id: int = 0
    #: (N°, reference, hours) of each participant declared on the lot, by reference.
    participants: tuple[tuple[int, str, Decimal], ...] = ()

    @property
    def abandoned(self) -> bool:
        return self.stage is Stage.ABANDONED

    @property
    def cancellable(self) -> bool:
        """Its declarations may still be withdrawn (the final report not sent)."""
        return self.stage in CANCELLING_STAGES

    @property
    def companies(self) -> tuple[tuple[int, str], ...]:
        """The companies that declared, each once, in the order they first appear."""
        seen: dict[int, str] = {}
        for line in self.declarations:
            seen.setdefault(line.company_id, line.company)
        return tuple(seen.items())


def _lot_with_buyer(session: Session, clause_id: int) -> Clause | None:
    """The lot N° ``clause_id`` with its market, operation and buyer read in the same query."""
    return _get(
        session,
        Clause,
        clause_id,
        options=[
            joinedload(Clause.market).joinedload(Market.operation).joinedload(Operation.buyer)
        ],
    )


def lot_sheet(app: App, clause_id: int) -> LotSheet:
    """The lot N° ``clause_id`` (its clause's N°), with the declarations it received."""
    with reading(app) as session:
        clause = _lot_with_buyer(session, clause_id)
        if clause is None:
            raise NotFound(
                f"Aucun lot (clause n° {clause_id}) : la recherche retrouve un lot par sa "
                "référence ou son intitulé."
            )
        rows = session.execute(
            select(Declaration, Company.name)
            .join(Company, Company.id == Declaration.company_id)
            .where(Declaration.clause_id == clause.id)
            .order_by(Declaration.month, Company.name)
        ).all()
        number = f"/{clause.lot_number}" if clause.lot_number else ""
        stage = Stage(clause.stage)
        return LotSheet(
            id=clause.id,
            reference=f"{clause.market.reference}{number}",
            market_id=clause.market_id,
            market=clause.market.reference,
            operation=clause.market.operation.name,
            buyer=clause.market.operation.buyer.name,
            lot_number=clause.lot_number,
            title=clause.lot_title,
            trade=clause.trade,
            stage=stage,
            stage_label=LABELS[stage],
            declarations=tuple(
                DeclaredMonth(
                    d.company_id,
                    name,
                    d.month,
                    Decimal(d.total_hours),
                    d.recorded_at,
                    d.validated_at is not None,
                )
                for d, name in rows
            ),
            operation_id=clause.market.operation_id,
            buyer_id=clause.market.operation.buyer_id,
            participants=lot_participants(session, clause.id),
        )


def lot_participants(session: Session, clause_id: int) -> tuple[tuple[int, str, Decimal], ...]:
    """(N°, reference, hours) of each participant declared on the lot, by reference."""
    rows = session.execute(
        select(Participant.id, Participant.reference, func.sum(DeclarationLine.hours))
        .join(DeclarationLine, DeclarationLine.participant_id == Participant.id)
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .where(Declaration.clause_id == clause_id)
        .group_by(Participant.id, Participant.reference)
        .order_by(Participant.reference)
    ).all()
    return tuple((number, reference, Decimal(hours)) for number, reference, hours in rows)


def history_line(app: App, history_id: int) -> HistoryEntry | None:
    """One row of the record history as ``show`` tells it; None when there is none."""
    with reading(app) as session:
        row = _get(session, RecordHistory, history_id)
        return None if row is None else record_history.history_entry(row)


# --- a merge, tried and undone ------------------------------------------------------------------


@dataclass(frozen=True)
class MergePreview:
    """The two cards and what the merge would do, nothing of it kept."""

    source: BuyerCard | CompanyCard
    target: BuyerCard | CompanyCard
    merge: Merge


class _Undone(Exception):
    """Carries the merge out of the transaction it rolls back."""

    def __init__(self, merge: Merge) -> None:
        super().__init__("merge undone")
        self.merge = merge


def merge_preview(
    app: App,
    kind: RecordKind,
    source: str | int,
    *,
    into: int,
    actor: str | None = None,
) -> MergePreview:
    """What merging ``source`` (N°, name or SIRET) into the record N° ``into`` would move and
    fill; its refusal (the same record twice, two SIRET, a lot shared…) as the merge says it."""
    card: Callable[[App, str | int], BuyerCard | CompanyCard]
    target: BuyerCard | CompanyCard
    if kind is RecordKind.COMPANY:
        card = company_card_of
        target = company_sheet(app, into)
    elif kind is RecordKind.BUYER:
        card = buyer_card_of
        target = buyer_sheet(app, into)
    else:
        raise ValueError(f"no merge of {kind}")
    found = card(app, source)
    try:
        with unit_of_work(app, actor) as unit:
            session = unit.session
            if kind is RecordKind.COMPANY:
                merge = merges.merge_companies(
                    session, session.get_one(Company, found.id), session.get_one(Company, into),
                    reason=None, actor=unit.actor, now=unit.now, publish=unit.app.publish,
                )  # fmt: skip
            else:
                merge = merges.merge_buyers(
                    session, session.get_one(Buyer, found.id), session.get_one(Buyer, into),
                    reason=None, actor=unit.actor, now=unit.now,
                )  # fmt: skip
            raise _Undone(merge)
    except _Undone as undone:
        return MergePreview(found, target, undone.merge)


# --- a lot's or a buyer's declaration calendar, as its form shows it ---------------------------


@dataclass(frozen=True)
class CalendarRule:
    """One rule of the calendar form: what the record sets itself, what applies and from where,
    and what applies once its own value is dropped (« défaut »)."""

    #: The form's field, named as the keyword of ``CalendarChange``.
    name: str
    label: str
    #: The record's own value as typed in the form (« 5 », « 3,7 »); "" when it sets none.
    own: str
    #: The value in force, in words (« le 10 du mois suivant », « J+3, J+7 »).
    applied: str
    #: Where the value in force comes from: « lot », « donneur d'ordre », « réglage général ».
    source: str
    #: What applies without the record's own value, with where it comes from.
    fallback: str


@dataclass(frozen=True)
class RunningLadder:
    """A month whose reminders are running: they follow a change of the calendar."""

    month: date
    company: str
    #: The date the company was or will be given (``calendars.told_due_dates``); None: its
    #: suspended lot has not called the month, it is asked at the resumption (« à la reprise »).
    due_on: date | None
    step_label: str
    #: When the next step leaves, in the settings' zone.
    at: datetime | None
    #: The lot is suspended: no step leaves before it resumes, whatever ``at`` says (the
    #: page says « après la reprise du chantier », never a time that passes silently).
    suspended: bool = False


@dataclass(frozen=True)
class CalendarSheet:
    """The calendar of a lot (``level`` « lot ») or a buyer (« buyer ») as its form shows it."""

    level: str
    rules: tuple[CalendarRule, ...]
    #: The level « défaut » goes back to: « donneur d'ordre » for a lot, « réglage général »
    #: for a buyer.
    above: str
    #: The buyer's notice preference as the form's choice (« chaque-etape », « mensuel »).
    notices: str = ""
    #: Reminders that would never go out with the rules in force (after the escalation).
    dropped: str = ""
    #: Why the calendar no longer changes (a closed or abandoned lot); "" when it does.
    frozen: str = ""
    #: The running months a change would move (a lot's own, a buyer's lots').
    running: tuple[RunningLadder, ...] = ()
    #: A buyer's lots still open (a change applies to those that do not set the rule).
    open_lots: int = 0


#: What a buyer's notice preference is typed as in the form (the words of ``--notices``).
NOTICE_CHOICES: dict[NoticePreference, str] = {
    NoticePreference.EACH_MILESTONE: "chaque-etape",
    NoticePreference.MONTHLY_ONLY: "mensuel",
}


def _due_day_words(day: int) -> str:
    return f"le {'1er' if day == 1 else day} du mois suivant"


def _calendar_rules(
    own: Overrides, applied: ExplainedCalendar, fallback: ExplainedCalendar
) -> tuple[CalendarRule, ...]:
    def source(origin: RuleSource) -> str:
        return SOURCE_LABELS[origin]

    a, f = applied.rules, fallback.rules
    return (
        CalendarRule(
            "due_day",
            "Jour d'échéance des déclarations",
            "" if own.due_day is None else str(own.due_day),
            _due_day_words(a.due_day),
            source(applied.due_day_from),
            f"{_due_day_words(f.due_day)} ({source(fallback.due_day_from)})",
        ),
        CalendarRule(
            "reminder_offsets",
            "Jours de rappel",
            own.reminder_offsets or "",
            offsets_text(a.reminder_offsets),
            source(applied.reminders_from),
            f"{offsets_text(f.reminder_offsets)} ({source(fallback.reminders_from)})",
        ),
        CalendarRule(
            "escalation_offset",
            "Délai de signalement au donneur d'ordre",
            "" if own.escalation_offset is None else str(own.escalation_offset),
            f"J+{a.escalation_offset}",
            source(applied.escalation_from),
            f"J+{f.escalation_offset} ({source(fallback.escalation_from)})",
        ),
    )


def _running(
    session: Session, clause_ids: list[int], settings: Settings, at: datetime
) -> tuple[RunningLadder, ...]:
    """The months still running on these lots (not declared, escalation not sent), the ones
    ``calendar_changes`` re-plans, each with the due date its company was or will be given."""
    if not clause_ids:
        return ()
    zone = settings.zone
    rows = session.execute(
        select(DeclarationLadder, Company.name)
        .join(Company, Company.id == DeclarationLadder.company_id)
        .where(
            DeclarationLadder.clause_id.in_(clause_ids),
            DeclarationLadder.declared_at.is_(None),
            DeclarationLadder.next_step != LadderStep.DONE,
        )
        .order_by(DeclarationLadder.month, Company.name, DeclarationLadder.id)
    ).all()
    told = told_due_dates(session, settings, [ladder for ladder, _ in rows], at)
    suspended = set(
        session.scalars(
            select(Clause.id).where(
                Clause.id.in_(clause_ids), Clause.stage == Stage.SUSPENDED.value
            )
        )
    )
    return tuple(
        RunningLadder(
            ladder.month,
            name,
            told.get((ladder.clause_id, ladder.company_id, ladder.month), ladder.due_on),
            step_label(ladder.next_step),
            ladder.next_step_at.astimezone(zone) if ladder.next_step_at else None,
            suspended=ladder.clause_id in suspended,
        )
        for ladder, name in rows
    )


def _dropped(calendar: ExplainedCalendar) -> str:
    return offsets_text(calendar.dropped_reminders) if calendar.dropped_reminders else ""


def lot_calendar(app: App, clause_id: int) -> CalendarSheet:
    """The lot N° ``clause_id``'s calendar: its own rules, its buyer's, the general setting."""
    with reading(app) as session:
        clause = _lot_with_buyer(session, clause_id)
        if clause is None:
            raise NotFound(f"Aucun lot (clause n° {clause_id}).")
        buyer = Overrides.of(clause.market.operation.buyer)
        own = Overrides.of(clause)
        applied = explain_calendar(app.settings, buyer=buyer, lot=own)
        stage = Stage(clause.stage)
        return CalendarSheet(
            level="lot",
            rules=_calendar_rules(own, applied, explain_calendar(app.settings, buyer=buyer)),
            above="donneur d'ordre",
            dropped=_dropped(applied),
            frozen=(
                f"À l'étape «\u00a0{LABELS[stage]}\u00a0», le calendrier des déclarations de ce "
                "lot ne sert plus et ne change plus."
                if stage in FINAL_STAGES
                else ""
            ),
            running=_running(session, [clause.id], app.settings, app.clock()),
        )


def buyer_calendar(app: App, buyer_id: int) -> CalendarSheet:
    """The buyer N° ``buyer_id``'s notice preference and calendar, and its open lots' running
    months (those that follow its rules move with a change)."""
    with reading(app) as session:
        buyer = _get(session, Buyer, buyer_id)
        if buyer is None:
            raise _missing(session, app, RecordKind.BUYER, buyer_id, " donneur d'ordre")
        own = Overrides.of(buyer)
        applied = explain_calendar(app.settings, buyer=own)
        lots = list(
            session.scalars(
                select(Clause.id)
                .join(Market, Market.id == Clause.market_id)
                .join(Operation, Operation.id == Market.operation_id)
                .where(
                    Operation.buyer_id == buyer.id,
                    Clause.stage.not_in([s.value for s in FINAL_STAGES]),
                )
            )
        )
        return CalendarSheet(
            level="buyer",
            rules=_calendar_rules(own, applied, explain_calendar(app.settings, buyer=Overrides())),
            above="réglage général",
            notices=NOTICE_CHOICES[NoticePreference(buyer.notice_preference)],
            dropped=_dropped(applied),
            running=_running(session, lots, app.settings, app.clock()),
            open_lots=len(lots),
        )
