"""The facilitator's board of clauses by stage, and what a clause's own page shows.

The board counts the clauses of each stage in one GROUP BY and reads at most ``OVERVIEW_SIZE``
cards per stage (``PAGE_SIZE`` on the pages of one stage), each a handful of columns (no ORM object is loaded per clause): it stays fast with
tens of thousands of lots. Its search matches as ``search`` and ``lookup`` do (case, accents,
dashes and apostrophes do not count) but narrows the board instead of listing every kind of
record: a lot is found by its own text, its market's, its operation's, its buyer's or one of its
companies' (``search_text``, the column ``search`` matches, kept normalised on every write), so
the board finds the lots of whatever ``search`` finds among those five kinds. The database
matches them (one ``LIKE`` per kind, no name read into Python) and gathers the N° found in one
set, which the counts and the cards of every stage are taken from. A card of a lot whose contract
was terminated says « Marché résilié le … » (``terminated_lots``: one query for the cards shown).

A clause's page is ``clause_detail`` (what ``clause show`` prints), the months its companies owe
(``declaration list --clause``), the hours declared per month against the straight pace
(``domain.pace_chart``) counted in the days the lot could be worked, as the monthly summary and
the digest count them (the days it spent suspended are out: one read of its suspensions), the
next step of its life, taken by ``clauses.advance_clause``, and the
other actions its stage allows (``ClauseActions``: the award, the final report, the hours imposed,
the figures of the calculation, suspending or abandoning), each done by the function of
``workflow.app.clauses`` the CLI command calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select, union
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    Company,
    Correspondent,
    Declaration,
    Market,
    Operation,
)
from workflow.adapters.reports import pace_phrase
from workflow.adapters.search_text import FIELDS, lot_fields
from workflow.app.clause_views import ClauseDetail, detail_of
from workflow.app.clauses import Advanced, PartyChoice, advance_clause, calculate_hours
from workflow.app.declarations import Totals, totals
from workflow.app.lookup import find_company, normalized
from workflow.app.search import MIN_LENGTH, normal
from workflow.app.terminated_lots import terminated_among
from workflow.app.unit import reading
from workflow.domain.calendar import local_date, suspended_days
from workflow.domain.events import AwardChange
from workflow.domain.hours import HoursCalculation
from workflow.domain.pace_chart import PaceRow, expected_by, pace_rows, pace_svg
from workflow.domain.stages import (
    FINAL_STAGES,
    LABELS,
    TRANSITIONS,
    ClauseEvent,
    Stage,
    allowed_events,
)
from workflow.domain.summary import (
    awaiting,
    clause_progress,
    days_suspended,
    elapsed_fraction,
    last_month_due,
    month_end,
    monthly_share,
)
from workflow.domain.terminations import Termination
from workflow.domain.vocabulary import PartyRole
from workflow.errors import InputRefused, NotFound, TransitionRefused
from workflow.runtime import App
from workflow.services.calendar_changes import calendar_lines
from workflow.services.clauses import (
    AWARD_CORRECTED,
    AWARD_STAGES,
    PARAMETER_STAGES,
    award_changes_of,
)
from workflow.services.declaration_views import (
    OWED_STATES,
    ExpectedDeclaration,
    expected_declarations,
)
from workflow.services.lot_calendars import suspensions

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

#: What no record holds (every input refuses them): dropped from the text searched. Tabs and
#: line breaks are whitespace, folded into spaces with the rest (``normalized``).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: The five stages of a clause's life, one column each, in the order it goes through them.
BOARD_STAGES = (
    Stage.IDENTIFICATION,
    Stage.DRAFTING,
    Stage.AWARD,
    Stage.EXECUTION,
    Stage.FOLLOW_UP,
)
#: The others, shown after them when they hold a clause.
OTHER_STAGES = (Stage.SUSPENDED, Stage.CLOSED, Stage.ABANDONED)
#: Cards per stage on one page of the board.
PAGE_SIZE = 50
#: Cards per stage when every stage is shown: enough to recognise a stage's clauses, few enough
#: that eight stages stay one screen per stage on a phone (the rest is a link away).
OVERVIEW_SIZE = 20
#: The events that move a clause on in its life (not aside: abandon, suspend).
FORWARD_EVENTS = frozenset(
    {
        ClauseEvent.DRAFT,
        ClauseEvent.AWARD,
        ClauseEvent.START,
        ClauseEvent.FINISH,
        ClauseEvent.CLOSE,
        ClauseEvent.RESUME,
    }
)


# --- the board --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A clause as the board shows it."""

    id: int
    market: str
    lot_number: str
    lot_title: str
    buyer: str
    #: The company holding the lot once awarded.
    holder: str | None
    hours_target: int | None
    #: Every monthly declaration of the lot added up, as ``ClauseDetail.hours_done``.
    hours_done: Decimal
    #: A lot ended by a termination (``terminated_lots``): never read as a normal end.
    terminated: Termination | None = None

    @property
    def ended_said(self) -> str | None:
        """« Marché résilié le 15/11/2026 » for a lot ended by a termination, else None."""
        if self.terminated is None:
            return None
        return f"Marché résilié le {self.terminated.on:%d/%m/%Y}"

    @property
    def reference(self) -> str:
        """« 2026-014/01 », as the market's documents write a lot."""
        return f"{self.market}/{self.lot_number}" if self.lot_number else self.market


@dataclass(frozen=True)
class Column:
    stage: Stage
    label: str
    #: The clauses of the stage the filters keep, all of them.
    count: int
    cards: tuple[Card, ...]
    #: The page of the stage shown (1 the first).
    page: int
    #: The only stage shown (pages of ``PAGE_SIZE``), or one of all (its first ``OVERVIEW_SIZE``).
    single: bool

    @property
    def first(self) -> int:
        """The rank of the first card shown (1-based), for « 51 à 100 sur 4 644 »."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.single else 1

    @property
    def after(self) -> int:
        """The clauses of the stage after the cards shown."""
        return max(0, self.count - self.first + 1 - len(self.cards))

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))


@dataclass(frozen=True)
class BuyerChoice:
    id: int
    name: str


@dataclass(frozen=True)
class Board:
    #: What the board was narrowed to.
    stage: Stage | None
    buyer_id: int | None
    text: str
    page: int
    columns: tuple[Column, ...]
    buyers: tuple[BuyerChoice, ...]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.columns)


def check_search(text: str) -> str:
    """The search text, stripped; refused (naming the field) when too short to mean anything.
    Control characters are left out, as ``search`` does: no record holds one (every input
    refuses them), and PostgreSQL refuses a NUL inside a query."""
    text = _CONTROL.sub("", text).strip()
    if text and len(normalized(text).replace(" ", "")) < MIN_LENGTH:
        raise InputRefused(
            f"Recherche «\u00a0{text}\u00a0»\u00a0: donnez au moins {MIN_LENGTH} lettres ou chiffres."
        )
    return text


def _search_condition(session: Session, text: str) -> ColumnElement[bool]:
    """The clauses whose lot (reference, title, trade), market (reference, title), operation
    (name, place), buyer, or one of whose companies (name, SIRET with or without spaces) hold
    ``text`` (``check_search``'s): the fields ``search`` matches for each of these kinds, in
    their ``search_text``."""
    wanted = normalized(text)
    digits = re.sub(r"\s", "", text)
    # Matched literally (``\\`` escapes), as ``search`` does: « 100 % » or « lot_2 » are letters.
    pattern = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def holds(model: Any) -> ColumnElement[bool]:
        written: ColumnElement[bool] = model.search_text.like(pattern, escape="\\")
        unwritten = _unwritten(session, model, wanted)
        return or_(written, model.id.in_(unwritten)) if unwritten else written

    companies = holds(Company)
    if digits.isdigit():  # a SIRET read aloud, spaces left out
        companies = or_(Company.siret.like(f"%{digits}%"), companies)
    # The N° of the lots found, one set from each kind: the lots' texts are read alone, without
    # joining 10^5 lots to their markets first; the small tables' matches go through the
    # indexes of their lots.
    found = [
        select(Clause.id).where(holds(Clause)),
        select(Clause.id).where(Clause.market_id.in_(select(Market.id).where(holds(Market)))),
        _joined(select(Clause.id)).where(
            Market.operation_id.in_(select(Operation.id).where(holds(Operation)))
        ),
        _joined(select(Clause.id)).where(
            Operation.buyer_id.in_(select(Buyer.id).where(holds(Buyer)))
        ),
        select(AwardParty.clause_id).where(
            AwardParty.company_id.in_(select(Company.id).where(companies))
        ),
    ]
    reference, slash, lot = text.strip().rpartition("/")
    # « 2026-014 / 01 »: a market's lot, spaces around the slash (its text holds « 2026 014/01 »).
    if slash and reference.strip() and lot.strip():
        found.append(
            _joined(select(Clause.id)).where(
                Market.reference == reference.strip(), Clause.lot_number == lot.strip()
            )
        )
    return Clause.id.in_(union(*found))


def _unwritten(session: Session, model: Any, wanted: str) -> list[int]:
    """The N° of the records of ``model`` whose ``search_text`` is NULL (a write that bypassed
    the ORM and forgot it) and whose searched fields hold ``wanted``: found all the same, as
    ``search`` finds them. Read from an empty partial index: no row, in the usual case."""
    texts: list[tuple[int, tuple[str | None, ...]]]
    if model is Clause:
        rows = session.execute(
            select(Clause.id, Market.reference, Clause.lot_number, Clause.lot_title, Clause.trade)
            .join(Market, Clause.market_id == Market.id)
            .where(Clause.search_text.is_(None))
            .order_by(Clause.id)
        )
        texts = [(row.id, lot_fields(*row[1:])) for row in rows]
    else:
        records = session.scalars(
            select(model).where(model.search_text.is_(None)).order_by(model.id)
        )
        texts = [(record.id, FIELDS[model](record)) for record in records]
    return [i for i, fields in texts if any(wanted in normal(f) for f in fields if f)]


def _filters(buyer_id: int | None) -> list[ColumnElement[bool]]:
    """The conditions of the filters (on the clauses joined to their market and operation)."""
    return [Operation.buyer_id == buyer_id] if buyer_id is not None else []


def _joined(statement: S) -> S:
    return statement.join(Market, Clause.market_id == Market.id).join(
        Operation, Market.operation_id == Operation.id
    )


def clause_board(
    app: App,
    *,
    stage: Stage | None = None,
    buyer_id: int | None = None,
    text: str = "",
    page: int = 1,
) -> Board:
    """The clauses by stage, narrowed to a stage, a buyer, a search; each stage's count and its
    first ``OVERVIEW_SIZE`` cards (the ``page``-th ``PAGE_SIZE`` ones when one stage is chosen),
    by N°."""
    text = check_search(text)
    page = max(1, page)
    with reading(app) as session:
        buyers = tuple(
            BuyerChoice(i, name)
            for i, name in session.execute(select(Buyer.id, Buyer.name).order_by(Buyer.name))
        )
        if buyer_id is not None and buyer_id not in {b.id for b in buyers}:
            raise InputRefused(f"Donneur d'ordre\u00a0: aucun n'a le N° {buyer_id}.")
        size = PAGE_SIZE if stage is not None else OVERVIEW_SIZE
        offset = (page - 1) * PAGE_SIZE if stage is not None else 0
        if text:
            counts, chosen = _matched(session, buyer_id, text, offset, size)
        else:
            counts, chosen = _by_stage(session, _filters(buyer_id), stage, offset, size)
        shown = (
            [stage]
            if stage is not None
            else list(BOARD_STAGES) + [s for s in OTHER_STAGES if counts.get(s.value)]
        )
        ids = [i for each in shown for i in chosen.get(each.value, [])]
        cards = _card_rows(session, ids)
        rows = {each: [cards[i] for i in chosen.get(each.value, [])] for each in shown}
        holders, done = _holders_and_hours(session, ids)
        # The lots shown that were terminated: one query for all of them.
        terminated = terminated_among(session, ids)
    columns = tuple(
        Column(
            stage=each,
            label=LABELS[each],
            count=counts.get(each.value, 0),
            cards=tuple(
                Card(
                    id=i,
                    market=reference,
                    lot_number=lot,
                    lot_title=title,
                    buyer=buyer,
                    holder=holders.get(i),
                    hours_target=override if override is not None else computed,
                    hours_done=done.get(i, Decimal(0)),
                    terminated=terminated.get(i),
                )
                for i, lot, title, computed, override, reference, buyer in rows[each]
            ),
            page=page if stage is not None else 1,
            single=stage is not None,
        )
        for each in shown
    )
    return Board(stage, buyer_id, text, page, columns, buyers)


CardRow = tuple[int, str, str, int | None, int | None, str, str]


def _by_stage(
    session: Session,
    conditions: list[ColumnElement[bool]],
    stage: Stage | None,
    offset: int,
    size: int,
) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Without a search: the count of each stage in one GROUP BY, then the N° of the cards of
    each stage shown, from the index on the stage (``size`` of them from ``offset``)."""
    counting = select(Clause.stage, func.count()).select_from(Clause)
    if conditions:
        counting = _joined(counting)
    counts: dict[str, int] = {
        code: number
        for code, number in session.execute(counting.where(*conditions).group_by(Clause.stage))
    }
    codes = [stage.value] if stage is not None else [s.value for s in BOARD_STAGES + OTHER_STAGES]
    chosen: dict[str, list[int]] = {}
    for code in codes:
        if not counts.get(code):
            continue
        picking = select(Clause.id).select_from(Clause)
        if conditions:
            picking = _joined(picking)
        chosen[code] = list(
            session.scalars(
                picking.where(Clause.stage == code, *conditions)
                .order_by(Clause.id)
                .offset(offset)
                .limit(size)
            )
        )
    return counts, chosen


def _matched(
    session: Session, buyer_id: int | None, text: str, offset: int, size: int
) -> tuple[dict[str, int], dict[str, list[int]]]:
    """With a search: each stage's count and the N° of its cards shown (``size`` from
    ``offset``), in one query: the lots found are gathered once, not once per stage, and only
    the cards shown come back (with each stage's first, which carries its count when the page
    asked for holds none), not the ten thousand N° a common word finds."""
    found = select(
        Clause.id,
        Clause.stage,
        func.row_number().over(partition_by=Clause.stage, order_by=Clause.id).label("rank"),
        func.count().over(partition_by=Clause.stage).label("count"),
    ).where(_search_condition(session, text))
    if buyer_id is not None:  # the only condition that needs the lots' operations
        found = _joined(found).where(*_filters(buyer_id))
    ranked = found.subquery()
    counts: dict[str, int] = {}
    chosen: dict[str, list[int]] = {}
    for clause_id, code, rank, count in session.execute(
        select(ranked)
        .where(or_(ranked.c.rank == 1, ranked.c.rank.between(offset + 1, offset + size)))
        .order_by(ranked.c.id)
    ):
        counts[code] = count
        if offset < rank <= offset + size:
            chosen.setdefault(code, []).append(clause_id)
    return counts, chosen


def _card_rows(session: Session, ids: Sequence[int]) -> dict[int, CardRow]:
    """What a card shows of each clause, in one query."""
    if not ids:
        return {}
    return {
        row[0]: (row[0], row[1], row[2], row[3], row[4], row[5], row[6])
        for row in session.execute(
            _joined(
                select(
                    Clause.id,
                    Clause.lot_number,
                    Clause.lot_title,
                    Clause.hours_computed,
                    Clause.hours_override,
                    Market.reference,
                    Buyer.name,
                ).select_from(Clause)
            )
            .join(Buyer, Operation.buyer_id == Buyer.id)
            .where(Clause.id.in_(ids))
        )
    }


def _holders_and_hours(
    session: Session, ids: Sequence[int]
) -> tuple[dict[int, str], dict[int, Decimal]]:
    if not ids:
        return {}, {}
    holders = {
        clause_id: name
        for clause_id, name in session.execute(
            select(AwardParty.clause_id, Company.name)
            .join(Company, AwardParty.company_id == Company.id)
            .where(AwardParty.clause_id.in_(ids), AwardParty.role == PartyRole.HOLDER.value)
        )
    }
    done = {
        clause_id: Decimal(hours or 0)
        for clause_id, hours in session.execute(
            select(Declaration.clause_id, func.sum(Declaration.total_hours))
            .where(Declaration.clause_id.in_(ids))
            .group_by(Declaration.clause_id)
        )
    }
    return holders, done


# --- a clause's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClausePage:
    """Everything a clause's page shows, read at one moment (``today``, a local date)."""

    detail: ClauseDetail
    today: date
    #: The calculation note when the four figures are there.
    calculation: HoursCalculation | None
    #: Each company x month owed or declared, oldest month first (``declaration list``).
    declarations: tuple[ExpectedDeclaration, ...]
    months: tuple[Totals, ...]
    total: Totals
    #: The calendar's rules, each with where it comes from (as ``clause show`` prints them).
    calendar_rules: tuple[str, ...]
    #: The months of the chart and its table, and the SVG itself.
    pace: tuple[PaceRow, ...]
    chart: str
    #: The latest month whose declarations were due before today (``last_month_due``): the pace
    #: compares what was declared up to its end with what the straight pace expects by then.
    pace_month: date
    #: The hours declared for the months up to ``pace_month`` included.
    hours_through: Decimal
    #: Where the straight pace expects the lot by the end of ``pace_month`` (None without
    #: target/dates), counted in the days it could be worked.
    expected_today: Decimal | None
    #: The share of its time passed at the end of ``pace_month``, without the days it spent
    #: suspended (``elapsed_fraction``, as the monthly summary counts it); None without dates.
    elapsed: Decimal | None
    #: Its days of work (start to end) touched by a suspension, a running one up to today: out
    #: of the time passed and of the period.
    days_suspended: int
    #: « 55,0 % des heures prévues réalisées pour 54,9 % du temps écoulé, dans le rythme »: the
    #: pace at the end of ``pace_month`` in the words of the monthly summary of that month;
    #: « … rythme à confirmer (1 déclaration non reçue) » while a declaration of a month up to
    #: ``pace_month`` is still owed (``owed_through``).
    pace_said: str | None
    #: The event « Avancer à l'étape suivante » takes, None at a final stage.
    next_event: ClauseEvent | None
    #: What else the stage allows, and the award as recorded (to fill in its form again).
    actions: ClauseActions
    award_lines: tuple[AwardLine, ...]

    @property
    def last_award_changes(self) -> tuple[AwardChange, ...]:
        """What the latest correction of the award changed, read back from its history row."""
        for row in reversed(self.detail.history):
            if row.event == AWARD_CORRECTED:
                return award_changes_of(row.reason)
        return ()

    @property
    def pace_end(self) -> date | None:
        """The work's end the pace aims at: its real end once known, else the planned one."""
        return self.detail.end_date or self.detail.planned_end_date

    @property
    def gap(self) -> Decimal | None:
        """Hours declared up to the last month due minus the pace's expectation at its end:
        ahead when positive."""
        if self.expected_today is None:
            return None
        return self.hours_through - self.expected_today

    @property
    def next_stage(self) -> Stage | None:
        if self.next_event is None:
            return None
        return next_stage_of(self.detail.summary.stage)


@dataclass(frozen=True)
class ClauseActions:
    """The actions the stage of a clause allows, as the services would accept them: the award
    at « attribution » (corrected until the works end: « mise en œuvre », « suspendue »), the
    final report at « suivi et bilan », the figures of the calculation
    in « repérage » and « calibrage et rédaction », the hours imposed until the clause is closed
    or abandoned, and the events of its stage other than the next one (suspend, abandon)."""

    award: bool
    final_report: bool
    impose_hours: bool
    figures: bool
    side_events: tuple[ClauseEvent, ...]
    #: The planned end moves (an amendment) while the work runs or is suspended; at the award,
    #: the award's own form changes it (and tells the buyer).
    planned_end: bool = False

    @property
    def any(self) -> bool:
        return (
            self.award
            or self.final_report
            or self.impose_hours
            or self.figures
            or bool(self.side_events)
            or self.planned_end
        )


def actions_of(stage: Stage) -> ClauseActions:
    forward = next_event(stage)
    return ClauseActions(
        award=stage in AWARD_STAGES,
        final_report=stage is Stage.FOLLOW_UP,
        impose_hours=stage not in FINAL_STAGES,
        figures=stage in PARAMETER_STAGES,
        side_events=tuple(e for e in allowed_events(stage) if e is not forward),
        planned_end=stage in (Stage.EXECUTION, Stage.SUSPENDED),
    )


@dataclass(frozen=True)
class AwardLine:
    """A company of the award as recorded, with what its form needs: its N° (which designates
    it without doubt), its correspondent's N° and the correspondents it could have instead."""

    company_id: int
    company: str
    siret: str | None
    role: PartyRole
    correspondent_id: int | None
    hours_share: int | None
    #: (N°, name) of each correspondent of the company.
    correspondents: tuple[tuple[int, str], ...]


def _award_lines(session: Session, clause_id: int) -> tuple[AwardLine, ...]:
    """The parties of the award, the holder first, then by N°."""
    parties = session.execute(
        select(
            AwardParty.company_id,
            Company.name,
            Company.siret,
            AwardParty.role,
            AwardParty.correspondent_id,
            AwardParty.hours_share,
        )
        .join(Company, AwardParty.company_id == Company.id)
        .where(AwardParty.clause_id == clause_id)
        .order_by(AwardParty.id)
    ).all()
    if not parties:
        return ()
    people: dict[int, list[tuple[int, str]]] = {}
    for company_id, person_id, name in session.execute(
        select(Correspondent.company_id, Correspondent.id, Correspondent.name)
        .where(Correspondent.company_id.in_([p[0] for p in parties]))
        .order_by(Correspondent.id)
    ):
        people.setdefault(company_id, []).append((person_id, name))
    lines = [
        AwardLine(
            company_id=company_id,
            company=name,
            siret=siret,
            role=PartyRole(role),
            correspondent_id=correspondent_id,
            hours_share=hours_share,
            correspondents=tuple(people.get(company_id, ())),
        )
        for company_id, name, siret, role, correspondent_id, hours_share in parties
    ]
    return tuple(sorted(lines, key=lambda line: line.role is not PartyRole.HOLDER))


@dataclass(frozen=True)
class TypedParty:
    """A company of the award form as the person typed it; ``field`` names its line."""

    field: str
    company: str
    role: PartyRole
    correspondent_id: int | None = None
    hours_share: int | None = None


def resolve_parties(app: App, typed: Sequence[TypedParty]) -> tuple[PartyChoice, ...]:
    """Each company found as ``find_company`` finds it (N°, SIRET or name), designated by its N°
    for ``award_clause``; a company not found, or found more than once, is refused with the
    name of its line, so the person knows which one to correct."""
    chosen = []
    with reading(app) as session:
        for party in typed:
            try:
                company = find_company(session, party.company)
            except InputRefused as refused:
                # The field's own name says where to look: the refusal without its hint.
                raise InputRefused(f"{party.field}\u00a0: {refused.said}") from None
            chosen.append(
                PartyChoice(company.id, party.role, party.correspondent_id, party.hours_share)
            )
    return tuple(chosen)


def next_event(stage: Stage) -> ClauseEvent | None:
    """The event that moves a clause of ``stage`` on in its life; None from a final stage."""
    return next((e for e in allowed_events(stage) if e in FORWARD_EVENTS), None)


def next_stage_of(stage: Stage) -> Stage | None:
    event = next_event(stage)
    return TRANSITIONS[(stage, event)][0] if event is not None else None


def _the_clause(session: Session, clause_id: int) -> Clause:
    found = session.get(Clause, clause_id)
    if found is None:
        raise NotFound(f"Clause n° {clause_id} introuvable.")
    return found


def owed_through(lines: Sequence[ExpectedDeclaration], month: date) -> int:
    """The declarations of months up to ``month`` still owed (late, not due yet, or their call
    to come: ``OWED_STATES``): hours the pace at the end of ``month`` may lack, as the monthly
    summary counts them (``summary.unreceived_declarations``)."""
    return sum(1 for line in lines if line.month <= month and line.state in OWED_STATES)


def clause_page(app: App, clause_id: int) -> ClausePage:
    """The clause N° ``clause_id`` (``NotFound`` if none) with its calendar, history and pace."""
    today = local_date(app.clock(), app.settings.zone)
    with reading(app) as session:
        _the_clause(session, clause_id)
        detail = detail_of(session, clause_id, app.settings)
        award_lines = _award_lines(session, clause_id)
        lines = tuple(
            expected_declarations(session, app.settings, today=today, clause_id=clause_id)
        )
        declared = {
            month: Decimal(hours or 0)
            for month, hours in session.execute(
                select(Declaration.month, func.sum(Declaration.total_hours))
                .where(Declaration.clause_id == clause_id)
                .group_by(Declaration.month)
            )
        }
        stretches = suspensions(session, [clause_id]).get(clause_id, [])
    calculation = None
    figures = (detail.amount_excl_tax, detail.labour_share, detail.insertion_rate)
    if all(f is not None for f in figures) and detail.hourly_cost is not None:
        try:
            calculation = calculate_hours(*figures, detail.hourly_cost)  # type: ignore[arg-type]
        except InputRefused:
            calculation = None  # figures the note refuses: the page shows them as they are
    target = detail.summary.hours_target
    start, end = detail.start_date, detail.end_date or detail.planned_end_date
    pace_month = last_month_due(today, detail.calendar.rules.due_day)
    # The days no work was possible, a suspension still running counting up to today: out of
    # the time the pace counts, as in the monthly summary and the digest.
    off = suspended_days(stretches, app.settings.zone, today)
    rows = pace_rows(declared, target, start, end, until=today, suspended=off)
    summary = detail.summary
    lot = f" lot {summary.lot_number}" if summary.lot_number else ""
    chart = pace_svg(
        rows,
        target,
        start,
        end,
        title=f"Heures déclarées et rythme attendu, clause n° {summary.id} "
        f"(marché {summary.market}{lot} – {summary.lot_title})",
        suspended=off,
    )
    hours_through = sum((h for m, h in declared.items() if m <= pace_month), Decimal(0))
    elapsed = elapsed_fraction(start, end, month_end(pace_month), off)
    months = sorted({line.month for line in lines})
    # As the monthly summary judges it: the declarations still owed up to the month the pace
    # is said at, each able to bring at most the lot's monthly share (``summary.pace_of``).
    owed, share = owed_through(lines, pace_month), monthly_share(target, start, end)
    return ClausePage(
        detail=detail,
        today=today,
        calculation=calculation,
        declarations=lines,
        months=tuple(totals(m, (ln for ln in lines if ln.month == m)) for m in months),
        total=totals(None, lines),
        calendar_rules=tuple(calendar_lines(detail.calendar)),
        pace=rows,
        chart=chart,
        pace_month=pace_month,
        hours_through=hours_through,
        expected_today=expected_by(month_end(pace_month), target, start, end, off),
        elapsed=elapsed,
        days_suspended=days_suspended(off, start, end),
        pace_said=pace_phrase(
            awaiting(
                clause_progress(target, Decimal(0), hours_through, elapsed),
                owed,
                None if share is None else share * owed,
            )
        ),
        next_event=next_event(summary.stage),
        actions=actions_of(summary.stage),
        award_lines=award_lines,
    )


def advance_to_next(
    app: App,
    clause_id: int,
    *,
    seen_stage: str,
    end_date: date | None = None,
    reason: str | None = None,
    actor: str,
) -> Advanced:
    """Move the clause to its next stage, as ``clause advance`` does with the matching event,
    provided it is still at ``seen_stage`` (the stage its page showed): a form sent twice, or
    after someone else moved it, does nothing instead of moving it two steps."""
    with reading(app) as session:
        stage = Stage(_the_clause(session, clause_id).stage)
    if seen_stage != stage.value:
        raise TransitionRefused(
            f"La clause n° {clause_id} est passée à l'étape «\u00a0{LABELS[stage]}\u00a0» depuis que sa "
            "page a été affichée\u00a0: rien n'a été fait. Rechargez la page pour voir où elle en est."
        )
    event = next_event(stage)
    if event is None:
        raise TransitionRefused(
            f"La clause n° {clause_id} est à l'étape «\u00a0{LABELS[stage]}\u00a0»\u00a0: il n'y a pas d'étape "
            "suivante."
        )
    return advance_clause(
        app,
        clause_id,
        event,
        reason=(reason or "").strip() or None,
        end_date=end_date if event is ClauseEvent.FINISH else None,
        actor=actor,
    )
