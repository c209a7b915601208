"""The monthly summary ("synthèse mensuelle"): figures compiled in SQL, emails queued once a month.

Every figure is an SQL aggregate (``GROUP BY``, ``SUM``, ``COUNT(DISTINCT)``), the same on SQLite and
PostgreSQL; Python only folds the aggregated rows into tables. A summary of month M is compiled
*as known at an instant* ``now`` (the moment the email is written, or the moment the CLI runs):
a declaration counts once it was recorded at or before ``now`` (``Declaration.recorded_at``; a
declaration corrected later carries the correction's instant). So the email and
``clauses summary --month M`` run at the same moment show the same figures, and a summary
compiled later shows what arrived since. Without ``now``, every recorded declaration counts.

What each figure covers (a *scope* is the whole territory, or one buyer's clauses; "up to M"
means every month from the first one to M included):

- **Heures du mois / heures cumulées**: ``Declaration.total_hours`` of M / of the months up to M,
  over *every* clause of the scope whatever its stage now or then (execution, follow-up,
  closed...). The cumulated figure therefore never loses the past, and equals the sum of the
  rows of the "heures par mois" table, which runs from the scope's first declared month to M.
- **Which clauses a summary of M covers** (one rule for every figure: counted clauses, target,
  pace, expected and missing declarations, stages). The service asks a lot's companies for every
  month from its start date, whenever the lot was recorded or started (the ladders do); the
  summary follows the same months. So a clause *started by the end of M* counts in M: its start
  date is on or before M's last day and its stage at the end of M is started (execution,
  suspended, follow-up or closed), even if it was recorded or started later. Its stage at the
  end of M (``_stage_then``): the one in its history then if the history says it was started
  then; else, if it is started by ``now``, the one its dates imply (execution from the start
  date, follow-up after the end date); else its history then (identification, drafting,
  award), or its current stage for a clause recorded without history. A clause recorded after
  ``now`` is in nothing (as known at ``now``). Among the counted clauses, those not ended before
  M began (end date, actual else planned, on or after M's first day; or hours in M) are
  *followed in M* and listed one by one; the others ("achevées avant le mois") are added up on
  one line, their hours and target kept. Any clause with hours declared up to M is counted too.
  The target is ``COALESCE(override, computed)``.
- **% de l'objectif**: hours cumulated over the target, both over the counted clauses.
- **Rythme**: over the counted clauses that have a target and both dates, the share of their
  target done by the end of M against the share of their time elapsed at the end of M
  (target-weighted), never against today (see ``workflow.domain.summary.Progress``).
- **Déclarations attendues / manquantes** for M: one per company bound to a lot (holder,
  co-contractor, subcontractor) of a clause followed in M by the rule above and not abandoned
  by ``now``, M not spent entirely suspended. Missing: no declaration of M recorded by
  ``now``. Companies are named (buyers may read them), participants never.
- **Participants**: active = a declaration line in M; new = their first line in the scope is in
  M; cumulated = a line up to M. Counted once per scope, by criterion, sex and age band.
- **Hours by delivery mode**: declaration lines, in M and up to M.
- **Contracts by type**: distinct participant x contract type, seen in M and up to M.
- **Outcomes**: ``Outcome`` rows dated in M, and up to its end, grouped by ``Outcome.type`` in
  SQL and folded into reporting groups at reading time by ``group_of`` (the ``outcome_groups``
  setting over the default mapping; the stored ``Outcome.group`` is not read). Outcomes tied
  to no clause count only in the overall scope. Outcomes have no recording instant: one
  recorded after the summary with a date in M changes the figures compiled after it.
- **Stages** (clauses by stage, each clause's stage, the buyers written to): the stage at the
  end of M by the rule above, read from the append-only ``clause_history`` (its latest row
  before the month's end, in the configured time zone) or implied by the dates of a clause
  started later with an earlier start date. Clauses that were not there at the end of M and are
  not started now (identified later, say) are left out.

The summary of M is queued once M's declarations are due and the reminders have had their
effect: ``summary_delay`` working days after the due date of the general calendar (default: the
working day after the last reminder), at ``summary_time`` (see ``summary_timing``). A pass sends
the summary of the *latest* due month only, once at least one clause is followed in it (by the
rule above, so a clause recorded in December with a September start brings October's summary
at the next pass, November's on its day). Older months never sent (a first start with
back-dated clauses, a long downtime) are not sent in a burst weeks late, the next summary carries
the cumulated figures: they are claimed as skipped (``periodic_runs`` job
``monthly_summary_skipped``) and logged (``summary.skipped``); ``clauses summary --month M``
produces any of them on demand.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Outcome,
    Participant,
    PeriodicRun,
)
from workflow.domain.calendar import add_months, month_fully_within, month_start
from workflow.domain.events import require_aware
from workflow.domain.outcomes import OutcomeType, group_of
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.stages import Stage
from workflow.domain.summary import (
    AGE_BAND_LABELS,
    PACE_TOLERANCE,
    Progress,
    SummaryTiming,
    age_band,
    clause_progress,
    combine_progress,
    elapsed_fraction,
    latest_due_month,
    month_end,
    months_to_summarise,
)
from workflow.domain.vocabulary import (
    CONTRACT_LABELS,
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    OUTCOME_GROUP_LABELS,
    SEX_LABELS,
    UNKNOWN,
    UNKNOWN_LABEL,
    category_label,
)
from workflow.errors import NotFound
from workflow.services.outbox import Recipient, queue_email

if TYPE_CHECKING:
    from workflow.bootstrap import App
    from workflow.settings import Settings

log = logging.getLogger(__name__)

JOB = "monthly_summary"
KIND_FACILITATOR = "monthly_summary"
KIND_BUYER = "monthly_summary_buyer"
#: Months shown in the chart of hours per month (the table has them all).
CHART_MONTHS = 12
#: Stages of a lot whose work has begun: its companies owe their monthly declarations.
STARTED = (
    Stage.EXECUTION.value,
    Stage.SUSPENDED.value,
    Stage.FOLLOW_UP.value,
    Stage.CLOSED.value,
)


# --- The summary, as a tree of frozen dataclasses -------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One line of a breakdown: a category with its figure in the month and cumulated."""

    code: str
    label: str
    month: Decimal
    cumulated: Decimal


@dataclass(frozen=True)
class OutcomeCount:
    """Outcomes of one type, with the reporting group it folds into."""

    code: str
    label: str
    group: str
    group_label: str
    month: int
    cumulated: int


@dataclass(frozen=True)
class ParticipantCount:
    code: str
    label: str
    new: int
    active: int
    cumulated: int


@dataclass(frozen=True)
class StageCount:
    code: str
    label: str
    clauses: int


@dataclass(frozen=True)
class MissingDeclaration:
    """A company's declaration of the month not received (a company, never a participant)."""

    clause_id: int
    buyer_id: int
    buyer: str
    company_id: int
    company: str
    market: str
    lot: str
    title: str

    @property
    def lot_label(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        return f"{self.market}{lot} – {self.title}"


@dataclass(frozen=True)
class Declarations:
    """The month's declarations in one scope: how many were expected, which are missing."""

    expected: int
    missing: tuple[MissingDeclaration, ...]

    @property
    def received(self) -> int:
        return self.expected - len(self.missing)


@dataclass(frozen=True)
class Figures:
    """Everything the summary says about one scope (all clauses, or one buyer's)."""

    progress: Progress
    followed: int  # clauses followed in the month, among ``progress.clauses``
    declarations: Declarations
    participants: ParticipantCount
    by_criterion: tuple[ParticipantCount, ...]
    by_sex: tuple[ParticipantCount, ...]
    by_age_band: tuple[ParticipantCount, ...]
    hours_by_mode: tuple[Count, ...]
    contracts_by_type: tuple[Count, ...]
    outcomes_by_type: tuple[OutcomeCount, ...]
    outcomes_by_group: tuple[Count, ...]
    clauses_by_stage: tuple[StageCount, ...]


@dataclass(frozen=True)
class BuyerFigures:
    buyer_id: int
    name: str
    figures: Figures


@dataclass(frozen=True)
class ClauseLine:
    """Progress of one counted clause (no participant in it: buyers may read it)."""

    clause_id: int
    buyer_id: int
    buyer: str
    market: str
    lot: str
    title: str
    stage: str
    start_date: date | None
    end_date: date | None
    progress: Progress
    #: Its work period touches the month, or it has hours in it (else: achieved before it).
    followed: bool = True

    @property
    def stage_label(self) -> str:
        return category_label(STAGE_LABELS, self.stage)


@dataclass(frozen=True)
class MonthHours:
    month: date
    hours: Decimal


@dataclass(frozen=True)
class MonthlySummary:
    month: date
    buyer_id: int | None  # set when the summary is one buyer's
    buyer_name: str | None
    compiled_at: datetime | None
    overall: Figures
    buyers: tuple[BuyerFigures, ...]
    clauses: tuple[ClauseLine, ...]  # every counted clause; ``followed`` tells them apart
    hours_by_month: tuple[MonthHours, ...]  # from the scope's first declared month to ``month``
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @property
    def for_buyer(self) -> bool:
        return self.buyer_id is not None

    @property
    def followed_clauses(self) -> tuple[ClauseLine, ...]:
        return tuple(c for c in self.clauses if c.followed)

    @property
    def earlier_clauses(self) -> Progress:
        """The counted clauses achieved before the month, added up."""
        return combine_progress(c.progress for c in self.clauses if not c.followed)

    @property
    def chart_months(self) -> tuple[MonthHours, ...]:
        """The last ``CHART_MONTHS`` months up to the summary's, zeros included."""
        found = {m.month: m.hours for m in self.hours_by_month}
        first = add_months(self.month, 1 - CHART_MONTHS)
        return tuple(
            MonthHours(add_months(first, i), found.get(add_months(first, i), Decimal(0)))
            for i in range(CHART_MONTHS)
        )


# --- SQL helpers ----------------------------------------------------------------------------------


def outcome_type_label(code: str) -> str:
    """A type's French label; a code this version does not know is shown as it is."""
    try:
        return OutcomeType(code).label
    except (ValueError, KeyError):
        return code


def _dec(value: Decimal | int | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _scoped(columns: list[Any], by_buyer: bool, buyer_id: int | None) -> tuple[Any, list[Any]]:
    """A SELECT over clauses joined to their buyer: grouped by buyer when ``by_buyer``.

    The overall scope has no buyer column at all (a constant in GROUP BY is not portable).
    """
    leading = [Operation.buyer_id] if by_buyer else []
    statement = select(*leading, *columns).select_from(Clause)
    statement = statement.join(Market, Market.id == Clause.market_id).join(
        Operation, Operation.id == Market.operation_id
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    return statement, leading


def _scope_key(row: Any, by_buyer: bool) -> int | None:
    return int(row[0]) if by_buyer else None


def _rest(row: Any, by_buyer: bool) -> tuple[Any, ...]:
    return tuple(row[1:]) if by_buyer else tuple(row)


Scoped = dict[int | None, Any]


def _both(query: Callable[[bool], Scoped], by_buyer: bool) -> Scoped:
    """Run a figure's query for the overall scope and, when asked, per buyer."""
    result = query(False)
    if by_buyer:
        result.update(query(True))
    return result


# --- The figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    month: date
    last: date
    end_instant: datetime  # the first instant after the month, UTC
    as_of: datetime | None  # declarations recorded after it are not known yet
    zone: ZoneInfo

    def received(self) -> ColumnElement[bool]:
        """Declarations known at ``as_of``."""
        if self.as_of is None:
            return true()
        return Declaration.recorded_at <= self.as_of


def _period(month: date, zone: ZoneInfo | None, as_of: datetime | None = None) -> _Period:
    """``month`` ends at local midnight in ``zone`` (UTC when not given)."""
    where = zone or ZoneInfo("UTC")
    end_instant = datetime.combine(add_months(month, 1), time(0), tzinfo=where)
    return _Period(month, month_end(month), end_instant.astimezone(UTC), as_of, where)


def _history_stage(instant: datetime) -> Any:
    """Each clause's stage just before ``instant`` from its history, NULL without a row then.

    The latest history row before the instant gives it (``to_stage`` is the stage the row left
    the clause in); among rows at the same instant, the last written. A correlated subquery: one
    index lookup per clause on ``clause_history.clause_id``, where aggregating the whole history
    and joining it back grew with clauses × history (a buyer's summary went from 0.05 s to 25 s
    on 100,000 clauses).
    """
    return (
        select(ClauseHistory.to_stage)
        .where(ClauseHistory.clause_id == Clause.id, ClauseHistory.at < instant)
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
        .correlate(Clause)
        .scalar_subquery()
    )


def _stage_at(instant: datetime) -> ColumnElement[str]:
    """Each clause's recorded stage just before ``instant``; its current stage without any
    history row then (data loaded by hand)."""
    return func.coalesce(_history_stage(instant), Clause.stage)


def _stage_now(period: _Period) -> ColumnElement[str]:
    """Each clause's stage as known at ``as_of`` (its current stage without ``as_of``)."""
    return _stage_at(period.as_of) if period.as_of is not None else Clause.stage.expression


def _end_date() -> ColumnElement[date]:
    return func.coalesce(Clause.end_date, Clause.planned_end_date)


def _stage_then(period: _Period) -> ColumnElement[Any]:
    """Each clause's stage at the end of the month, by the one rule of the module docstring;
    NULL for a clause that is not in the month's picture at all (recorded later, not started).

    1. Its history then says it was started (execution, suspended, follow-up, closed): that.
    2. Else, if it is started by ``as_of`` and its start date is on or before the month's last
       day, the stage its dates imply: follow-up when its end is before that last day, else
       execution. The service calls its companies for every month from the start date: the
       summary follows the work, whenever it was recorded.
    3. Else its history then (identification, drafting, award...), or its current stage when
       it existed then without any history row (data loaded by hand).
    """
    recorded = _history_stage(period.end_instant)
    end = _end_date()
    implied = case(
        (and_(end.is_not(None), end < period.last), Stage.FOLLOW_UP.value),
        else_=Stage.EXECUTION.value,
    )
    return case(
        (recorded.in_(STARTED), recorded),
        (
            and_(
                _stage_now(period).in_(STARTED),
                Clause.start_date.is_not(None),
                Clause.start_date <= period.last,
            ),
            implied,
        ),
        (recorded.is_not(None), recorded),
        (Clause.created_at < period.end_instant, Clause.stage),
        else_=None,
    )


def _known(period: _Period) -> ColumnElement[bool]:
    """Clauses recorded by ``as_of``: one recorded after an email was written is not in it."""
    if period.as_of is None:
        return true()
    return Clause.created_at <= period.as_of


def _started_by_end(period: _Period, stage_then: ColumnElement[Any]) -> ColumnElement[bool]:
    """Started by the end of the month (whenever its start was recorded): counted in it."""
    return and_(
        _known(period),
        Clause.start_date.is_not(None),
        Clause.start_date <= period.last,
        stage_then.in_(STARTED),
    )


def _works_in(period: _Period) -> ColumnElement[bool]:
    """Not ended before the month began."""
    end = _end_date()
    return or_(end.is_(None), end >= period.month)


def _clause_lines(session: Session, period: _Period, buyer_id: int | None) -> list[ClauseLine]:
    m = period.month
    stage_at_end = _stage_then(period)
    hours = (
        select(
            Declaration.clause_id.label("clause_id"),
            func.sum(case((Declaration.month == m, Declaration.total_hours), else_=0)).label(
                "month_hours"
            ),
            func.sum(Declaration.total_hours).label("cumulated"),
        )
        .where(Declaration.month <= m, period.received())
        .group_by(Declaration.clause_id)
        .subquery()
    )
    end = _end_date()
    started = _started_by_end(period, stage_at_end)
    running = case((and_(started, _works_in(period)), 1), else_=0)
    target = func.coalesce(Clause.hours_override, Clause.hours_computed)
    statement = (
        select(
            Clause.id,
            Operation.buyer_id,
            Buyer.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            func.coalesce(stage_at_end, Clause.stage),
            target,
            Clause.start_date,
            end,
            hours.c.month_hours,
            hours.c.cumulated,
            running,
        )
        .select_from(Clause)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .outerjoin(hours, hours.c.clause_id == Clause.id)
        # Any hours up to M keep a clause counted, whatever became of it since.
        .where(or_(started, and_(_known(period), hours.c.cumulated.is_not(None))))
        .order_by(Buyer.name, Clause.id)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    lines = []
    for row in session.execute(statement):
        (cid, bid, bname, ref, lot, title, stage, tgt, start, stop, month_h, cumul, run) = row
        elapsed = elapsed_fraction(start, stop, period.last)
        progress = clause_progress(tgt, _dec(month_h), _dec(cumul), elapsed)
        followed = bool(run) or _dec(month_h) > 0
        lines.append(
            ClauseLine(cid, bid, bname, ref, lot, title, stage, start, stop, progress, followed)
        )
    return lines


def _declarations(session: Session, period: _Period, buyer_id: int | None) -> Scoped:
    """Per scope: (expected, missing declarations) of the month, see the module docstring."""
    m = period.month
    received = (
        select(Declaration.id)
        .where(
            Declaration.clause_id == AwardParty.clause_id,
            Declaration.company_id == AwardParty.company_id,
            Declaration.month == m,
            period.received(),
        )
        .exists()
    )
    statement = (
        select(
            AwardParty.clause_id,
            Operation.buyer_id,
            Buyer.name,
            AwardParty.company_id,
            Company.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            received,
        )
        .select_from(AwardParty)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .join(Company, Company.id == AwardParty.company_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(
            _started_by_end(period, _stage_then(period)),
            _works_in(period),
            # Abandoned since: its companies are no longer asked for anything.
            _stage_now(period).in_(STARTED),
        )
        .order_by(Buyer.name, Company.name, Clause.id)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    rows = session.execute(statement).all()
    from workflow.services.lot_calendars import suspensions

    suspended = suspensions(session, {row[0] for row in rows})
    expected: dict[int | None, int] = defaultdict(int)
    missing: dict[int | None, list[MissingDeclaration]] = defaultdict(list)
    for cid, bid, bname, company_id, company, ref, lot, title, got in rows:
        if month_fully_within(m, suspended.get(cid, []), period.zone):
            continue  # nobody is asked to declare a month spent entirely suspended
        for scope in (None, bid):
            expected[scope] += 1
            if not got:
                missing[scope].append(
                    MissingDeclaration(cid, bid, bname, company_id, company, ref, lot, title)
                )
    return {
        scope: Declarations(count, tuple(missing.get(scope, [])))
        for scope, count in expected.items()
    }


def _participants(
    session: Session, period: _Period, by_buyer: bool, buyer_id: int | None
) -> Scoped:
    """Per scope: {(criterion, sex, birth_year): (new, active, cumulated)}, counted in SQL."""
    m = period.month
    per_person, leading = _scoped(
        [
            DeclarationLine.participant_id.label("participant_id"),
            func.min(Declaration.month).label("first_month"),
            func.max(case((Declaration.month == m, 1), else_=0)).label("active"),
        ],
        by_buyer,
        buyer_id,
    )
    per_person = (
        per_person.join(Declaration, Declaration.clause_id == Clause.id)
        .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
        .where(Declaration.month <= m, period.received())
        .group_by(*leading, DeclarationLine.participant_id)
    )
    sub = per_person.subquery()
    scope_cols = [sub.c.buyer_id] if by_buyer else []
    statement = (
        select(
            *scope_cols,
            Participant.criterion,
            Participant.sex,
            Participant.birth_year,
            func.sum(case((sub.c.first_month == m, 1), else_=0)),
            func.sum(sub.c.active),
            func.count(),
        )
        .select_from(sub)
        .join(Participant, Participant.id == sub.c.participant_id)
        .group_by(*scope_cols, Participant.criterion, Participant.sex, Participant.birth_year)
    )
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        criterion, sex, birth_year, new, active, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][(criterion, sex, birth_year)] = (
            int(new or 0),
            int(active or 0),
            int(cumulated),
        )
    return result


def _hours_by_mode(
    session: Session, period: _Period, by_buyer: bool, buyer_id: int | None
) -> Scoped:
    m = period.month
    statement, leading = _scoped(
        [
            DeclarationLine.delivery_mode,
            func.sum(case((Declaration.month == m, DeclarationLine.hours), else_=0)),
            func.sum(DeclarationLine.hours),
        ],
        by_buyer,
        buyer_id,
    )
    statement = (
        statement.join(Declaration, Declaration.clause_id == Clause.id)
        .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
        .where(Declaration.month <= m, period.received())
        .group_by(*leading, DeclarationLine.delivery_mode)
    )
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        mode, month_hours, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][mode] = (_dec(month_hours), _dec(cumulated))
    return result


def _contracts(session: Session, period: _Period, by_buyer: bool, buyer_id: int | None) -> Scoped:
    m = period.month
    statement, leading = _scoped(
        [
            DeclarationLine.contract_type,
            func.count(distinct(case((Declaration.month == m, DeclarationLine.participant_id)))),
            func.count(distinct(DeclarationLine.participant_id)),
        ],
        by_buyer,
        buyer_id,
    )
    statement = (
        statement.join(Declaration, Declaration.clause_id == Clause.id)
        .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
        .where(Declaration.month <= m, period.received())
        .group_by(*leading, DeclarationLine.contract_type)
    )
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        kind, month_count, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][kind] = (_dec(month_count), _dec(cumulated))
    return result


def _outcomes(session: Session, period: _Period, by_buyer: bool, buyer_id: int | None) -> Scoped:
    """Per scope: {type code: (in the month, up to its end)}, grouped by type in SQL."""
    in_month = case((Outcome.date >= period.month, 1), else_=0)
    columns = [Outcome.type, func.sum(in_month), func.count()]
    if by_buyer or buyer_id is not None:
        statement, leading = _scoped(columns, by_buyer, buyer_id)
        statement = statement.join(Outcome, Outcome.clause_id == Clause.id)
    else:
        statement, leading = select(*columns), []
    statement = statement.where(Outcome.date <= period.last).group_by(*leading, Outcome.type)
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        kind, month_count, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][str(kind)] = (int(month_count or 0), int(cumulated))
    return result


def _stages(session: Session, period: _Period, by_buyer: bool, buyer_id: int | None) -> Scoped:
    stage = _stage_then(period).label("stage")
    statement, leading = _scoped([stage, func.count()], by_buyer, buyer_id)
    statement = statement.where(_known(period), stage.is_not(None)).group_by(*leading, stage)
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        stage, count = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][stage] = int(count)
    return result


def _hours_by_month(
    session: Session, period: _Period, buyer_id: int | None
) -> tuple[MonthHours, ...]:
    """Every month from the scope's first declared one to M, zeros included."""
    statement = select(Declaration.month, func.sum(Declaration.total_hours)).where(
        Declaration.month <= period.month, period.received()
    )
    if buyer_id is not None:
        statement = (
            statement.join(Clause, Clause.id == Declaration.clause_id)
            .join(Market, Market.id == Clause.market_id)
            .join(Operation, Operation.id == Market.operation_id)
            .where(Operation.buyer_id == buyer_id)
        )
    found = {row[0]: _dec(row[1]) for row in session.execute(statement.group_by(Declaration.month))}
    if not found:
        return ()
    months = []
    current = month_start(min(found))
    while current <= period.month:
        months.append(MonthHours(current, found.get(current, Decimal(0))))
        current = add_months(current, 1)
    return tuple(months)


# --- Folding aggregated rows into tables ----------------------------------------------------------


def _counts(
    found: Mapping[str | None, tuple[Decimal, Decimal]], labels: Mapping[Any, str]
) -> tuple[Count, ...]:
    """Every category of the closed list (zeros included, for stable reports), then any other."""
    rows = [
        Count(str(code), text, *found.get(str(code), (Decimal(0), Decimal(0))))
        for code, text in labels.items()
    ]
    known = {str(code) for code in labels}
    for code, (month, cumulated) in sorted(found.items(), key=lambda i: str(i[0])):
        if code not in known:
            rows.append(Count(code or UNKNOWN, category_label(labels, code), month, cumulated))
    return tuple(rows)


def _outcome_tables(
    found: Mapping[str, tuple[int, int]], groups: Mapping[str, str] | None
) -> tuple[tuple[OutcomeCount, ...], tuple[Count, ...]]:
    """Outcomes by type (every known type, then any other code) and folded into groups."""
    codes = [t.value for t in OutcomeType]
    codes += sorted(code for code in found if code not in codes)
    by_type = []
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code in codes:
        month, cumulated = found.get(code, (0, 0))
        group = group_of(code, groups).value
        by_type.append(
            OutcomeCount(
                code,
                outcome_type_label(code),
                group,
                category_label(OUTCOME_GROUP_LABELS, group),
                month,
                cumulated,
            )
        )
        by_group[group][0] += month
        by_group[group][1] += cumulated
    grouped = {g: (Decimal(v[0]), Decimal(v[1])) for g, v in by_group.items()}
    return tuple(by_type), _counts(grouped, OUTCOME_GROUP_LABELS)  # type: ignore[arg-type]


def _people(
    found: Mapping[tuple[Any, ...], tuple[int, int, int]],
    key: Callable[[tuple[Any, ...]], str],
    codes: Iterable[str],
    labels: Mapping[Any, str],
) -> tuple[ParticipantCount, ...]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for group, figures in found.items():
        target = sums[key(group)]
        for i, value in enumerate(figures):
            target[i] += value
    order = [str(c) for c in codes]
    extra = sorted(k for k in sums if k not in order)
    return tuple(
        ParticipantCount(code, category_label(labels, code), *sums.get(code, [0, 0, 0]))
        for code in order + extra
    )


@dataclass(frozen=True)
class _Found:
    """The aggregated rows of one scope, before folding."""

    participants: Mapping[tuple[Any, ...], tuple[int, int, int]]
    modes: Mapping[str | None, tuple[Decimal, Decimal]]
    contracts: Mapping[str | None, tuple[Decimal, Decimal]]
    outcomes: Mapping[str, tuple[int, int]]
    stages: Mapping[str, int]
    declarations: Declarations


def _figures(
    lines: Iterable[ClauseLine],
    found: _Found,
    year: int,
    outcome_groups: Mapping[str, str] | None,
) -> Figures:
    scope_lines = list(lines)
    participants = found.participants
    totals = [sum(f[i] for f in participants.values()) for i in range(3)]
    sex_labels: dict[str, str] = {str(k): v for k, v in SEX_LABELS.items()}
    sex_labels[UNKNOWN] = UNKNOWN_LABEL
    age_labels: dict[str, str] = {str(k): v for k, v in AGE_BAND_LABELS.items()}
    by_type, by_group = _outcome_tables(found.outcomes, outcome_groups)
    return Figures(
        progress=combine_progress(c.progress for c in scope_lines),
        followed=sum(1 for c in scope_lines if c.followed),
        declarations=found.declarations,
        participants=ParticipantCount("all", "Ensemble", *totals),
        by_criterion=_people(
            participants, lambda g: g[0], list(CRITERION_LABELS), CRITERION_LABELS
        ),
        by_sex=_people(participants, lambda g: g[1] or UNKNOWN, list(sex_labels), sex_labels),
        by_age_band=_people(
            participants, lambda g: age_band(g[2], year).value, list(age_labels), age_labels
        ),
        hours_by_mode=_counts(found.modes, DELIVERY_MODE_LABELS),
        contracts_by_type=_counts(found.contracts, CONTRACT_LABELS),
        outcomes_by_type=by_type,
        outcomes_by_group=by_group,
        clauses_by_stage=tuple(
            StageCount(stage.value, STAGE_LABELS[stage], found.stages.get(stage.value, 0))
            for stage in Stage
        ),
    )


def compile_summary(
    session: Session,
    month: date,
    *,
    buyer_id: int | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    outcome_groups: Mapping[str, str] | None = None,
) -> MonthlySummary:
    """The figures of ``month`` as known at ``now``, overall and per buyer, or for one buyer.

    ``zone`` says where the month ends for instants (clause creation, stages); UTC when not
    given. ``outcome_groups`` is the setting of the same name (type -> group overrides).
    """
    if now is not None:
        require_aware(now)
    month = month_start(month)
    buyer_name = None
    if buyer_id is not None:
        buyer = session.get(Buyer, buyer_id)
        if buyer is None:
            raise NotFound(f"Aucun donneur d'ordre n° {buyer_id}.")
        buyer_name = buyer.name
    period = _period(month, zone, now)
    by_buyer = True

    lines = _clause_lines(session, period, buyer_id)
    declarations = _declarations(session, period, buyer_id)
    people = _both(lambda b: _participants(session, period, b, buyer_id), by_buyer)
    modes = _both(lambda b: _hours_by_mode(session, period, b, buyer_id), by_buyer)
    contracts = _both(lambda b: _contracts(session, period, b, buyer_id), by_buyer)
    outcomes = _both(lambda b: _outcomes(session, period, b, buyer_id), by_buyer)
    stages = _both(lambda b: _stages(session, period, b, buyer_id), by_buyer)

    def figures_of(scope: int | None) -> Figures:
        found = _Found(
            people.get(scope, {}),
            modes.get(scope, {}),
            contracts.get(scope, {}),
            outcomes.get(scope, {}),
            stages.get(scope, {}),
            declarations.get(scope, Declarations(0, ())),
        )
        scope_lines = [c for c in lines if scope is None or c.buyer_id == scope]
        return _figures(scope_lines, found, month.year, outcome_groups)

    buyer_ids = {
        key
        for table in (people, modes, contracts, outcomes, stages, declarations)
        for key in table
        if key is not None
    } | {line.buyer_id for line in lines}
    names: dict[int, str] = {}
    if buyer_ids:
        statement = select(Buyer.id, Buyer.name).where(Buyer.id.in_(buyer_ids))
        names = {bid: name for bid, name in session.execute(statement)}
    buyers = tuple(
        BuyerFigures(bid, names[bid], figures_of(bid))
        for bid in sorted(buyer_ids, key=lambda b: (names[b], b))
    )
    return MonthlySummary(
        month=month,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        compiled_at=now,
        overall=figures_of(None),
        buyers=buyers,
        clauses=tuple(lines),
        hours_by_month=_hours_by_month(session, period, buyer_id),
        zone=period.zone,
    )


def compile_for(
    app: App, month: date, *, buyer_id: int | None = None, now: datetime | None = None
) -> MonthlySummary:
    """The summary as the service and ``clauses summary`` compile it: at ``now`` (the app's
    clock when not given), with the configured zone and outcome groups. One code path, so an
    email and the command run at the same moment show the same figures."""
    moment = now or app.clock()
    with app.transaction() as session:
        return compile_summary(
            session,
            month,
            buyer_id=buyer_id,
            now=moment,
            zone=app.settings.zone,
            outcome_groups=app.settings.outcome_groups,
        )


# --- Queueing the emails --------------------------------------------------------------------------


def summary_timing(settings: Settings) -> SummaryTiming:
    """The general calendar's moment for the monthly summaries (lots and buyers with a calendar
    of their own do not move it: one summary covers them all)."""
    return SummaryTiming(
        due_day=settings.declaration_due_day,
        delay=settings.summary_delay_days,
        at=settings.summary_time,
        zone=settings.zone,
    )


def _first_activity(session: Session) -> date | None:
    """The earliest month a summary could cover: the first start date or declared month (the
    months the work was done in, never the day it was recorded)."""
    first_start = session.scalar(select(func.min(Clause.start_date)))
    first_declaration = session.scalar(select(func.min(Declaration.month)))
    candidates = [month_start(d) for d in (first_start, first_declaration) if d is not None]
    return min(candidates) if candidates else None


def _has_followed_clause(session: Session, month: date, now: datetime, zone: ZoneInfo) -> bool:
    """At least one clause followed in ``month`` as known at ``now`` (the rule of the summary
    itself): without one, a summary would say nothing."""
    return any(line.followed for line in _clause_lines(session, _period(month, zone, now), None))


def _last_done(session: Session) -> date | None:
    period = session.scalar(select(func.max(PeriodicRun.period)).where(PeriodicRun.job == JOB))
    if period is None:
        return None
    return datetime.strptime(period, "%Y-%m").date()


def claim_period(session: Session, job: str, period: str, now: datetime) -> bool:
    """Record that ``job`` produced ``period``; False when someone already had.

    ``ON CONFLICT DO NOTHING``: a second instance waits for the first one's transaction and then
    inserts nothing, so the emails that follow are written by exactly one of them.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(PeriodicRun)
        .values(job=job, period=period, done_at=now)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        # Without it psycopg's rowcount of an INSERT reads -1 (true): every instance "claimed".
        .execution_options(preserve_rowcount=True)
    )
    return bool(getattr(session.execute(statement), "rowcount", 0))


def _buyers_to_inform(session: Session, period: _Period) -> list[Buyer]:
    """Buyers with clauses in execution or follow-up at the end of the month (by the rule of
    ``_stage_then``), or with hours declared in it."""
    stage = _stage_then(period)
    active = (
        select(Operation.buyer_id)
        .join(Market, Market.operation_id == Operation.id)
        .join(Clause, Clause.market_id == Market.id)
        .outerjoin(
            Declaration,
            and_(
                Declaration.clause_id == Clause.id,
                Declaration.month == period.month,
                period.received(),
            ),
        )
        .where(
            or_(
                and_(_known(period), stage.in_([Stage.EXECUTION.value, Stage.FOLLOW_UP.value])),
                Declaration.total_hours > 0,
            )
        )
    )
    return list(session.scalars(select(Buyer).where(Buyer.id.in_(active)).order_by(Buyer.id)))


def _queue_month(app: App, session: Session, month: date, now: datetime) -> int:
    period = f"{month:%Y-%m}"
    settings = app.settings

    def compiled(buyer_id: int | None) -> MonthlySummary:
        return compile_summary(
            session,
            month,
            buyer_id=buyer_id,
            now=now,
            zone=settings.zone,
            outcome_groups=settings.outcome_groups,
        )

    queued = int(
        queue_email(
            session,
            app.renderer,
            key=f"summary:{period}:facilitator",
            kind=KIND_FACILITATOR,
            recipients=[Recipient(settings.facilitator_name, settings.facilitator_email)],
            context=summary_context(compiled(None)),
            now=now,
        )
    )
    for buyer in _buyers_to_inform(session, _period(month, settings.zone, now)):
        contacts = [Recipient(c.name, c.email) for c in buyer.contacts if c.email]
        if not contacts:
            log.warning(
                "summary buyer without contact",
                extra={"action": "summary_skipped", "buyer_id": buyer.id, "period": period},
            )
            continue
        queued += queue_email(
            session,
            app.renderer,
            key=f"summary:{period}:buyer:{buyer.id}",
            kind=KIND_BUYER,
            recipients=contacts,
            context=summary_context(compiled(buyer.id)),
            now=now,
        )
    return queued


JOB_SKIPPED = "monthly_summary_skipped"


def queue_monthly_summaries(app: App, now: datetime) -> int:
    """Queue the summary of the latest month due at ``now`` if not produced yet; the number of
    emails queued.

    Only the latest due month goes, as soon as one clause was followed in it (by the rule of
    the summary: start date on or before its end, whenever the clause was recorded). Older
    months never produced (a first start with clauses back-dated, a long downtime) are not sent
    in a burst weeks late: the latest summary carries the cumulated figures. They are claimed
    under ``JOB_SKIPPED`` and logged (``summary.skipped``); ``clauses summary --month`` produces
    them on demand. The month is claimed in ``periodic_runs`` and its emails written in one
    transaction, so a repeated pass or a second instance produce it once.
    """
    require_aware(now)
    zone = app.settings.zone
    latest = latest_due_month(now, summary_timing(app.settings))
    with app.transaction() as session:
        last_done = _last_done(session)
        if last_done is not None and last_done >= latest:
            return 0
        if not _has_followed_clause(session, latest, now, zone):
            return 0
        owed = months_to_summarise(latest, _first_activity(session), last_done)
    period = f"{latest:%Y-%m}"
    with app.transaction() as session:
        if not claim_period(session, JOB, period, now):
            return 0
        skipped = [
            month
            for month in owed[:-1]
            if _has_followed_clause(session, month, now, zone)
            and claim_period(session, JOB_SKIPPED, f"{month:%Y-%m}", now)
        ]
        count = _queue_month(app, session, latest, now)
    if skipped:
        log.info(
            "summary.skipped",
            extra={
                "action": "summary_months_skipped",
                "periods": [f"{m:%Y-%m}" for m in skipped],
                "sent": period,
            },
        )
    log.info(
        "monthly summary queued",
        extra={"action": "summary_queued", "period": period, "emails": count},
    )
    return count


# --- Email contexts -------------------------------------------------------------------------------


def summary_context(summary: MonthlySummary) -> dict[str, Any]:
    """What the two summary templates read: the figures and ready-formatted tables."""
    from workflow.adapters.reports import email_tables, figure_lines

    return {
        "month": summary.month,
        "buyer_name": summary.buyer_name,
        "figures": [{"label": label, "value": value} for label, value in figure_lines(summary)],
        "behind": summary.overall.progress.behind,
        "tolerance_points": int(PACE_TOLERANCE * 100),
        "tables": email_tables(summary),
        "command": f"clauses summary --month {summary.month:%Y-%m}"
        + (f" --buyer {summary.buyer_id}" if summary.buyer_id else "")
        + " --format xlsx",
    }


def sample_summary(buyer: bool = False) -> MonthlySummary:
    """A made-up summary for template previews: no database needed."""
    month = date(2026, 3, 1)
    progress = clause_progress(4725, Decimal("312.5"), Decimal("2140"), Decimal("0.5"))
    earlier = clause_progress(1200, Decimal(0), Decimal("1236.5"), Decimal(1))

    def people(code: str, label: str, new: int, active: int, cumulated: int) -> ParticipantCount:
        return ParticipantCount(code, label, new, active, cumulated)

    missing = MissingDeclaration(
        12, 1, "Département de l'Exemple", 7, "Gascogne Insertion Bâtiment", "2026-014", "3",
        "Gros œuvre",
    )  # fmt: skip
    by_type, by_group = _outcome_tables({"cdi": (1, 1), "apprenticeship_contract": (0, 1)}, None)
    figures = Figures(
        progress=combine_progress([progress, earlier]),
        followed=1,
        declarations=Declarations(3, (missing,)),
        participants=people("all", "Ensemble", 2, 6, 9),
        by_criterion=(
            people("long_term_jobseeker", CRITERION_LABELS[next(iter(CRITERION_LABELS))], 1, 3, 4),
            people("minimum_income", "Bénéficiaire du RSA", 1, 3, 5),
        ),
        by_sex=(people("F", "Femmes", 1, 2, 3), people("M", "Hommes", 1, 4, 6)),
        by_age_band=(
            people("under_26", "Moins de 26 ans", 1, 2, 3),
            people("26_49", "26 à 49 ans", 1, 4, 6),
        ),
        hours_by_mode=(
            Count("direct_hiring", "Embauche directe", Decimal("312.5"), Decimal("3376.5")),
        ),
        contracts_by_type=(Count("cdd", "CDD", Decimal(3), Decimal(5)),),
        outcomes_by_type=by_type,
        outcomes_by_group=by_group,
        clauses_by_stage=(
            StageCount("execution", "mise en œuvre", 1),
            StageCount("closed", "clôturée", 1),
        ),
    )
    line = ClauseLine(
        12,
        1,
        "Département de l'Exemple",
        "2026-014",
        "3",
        "Gros œuvre",
        "execution",
        date(2025, 10, 1),
        date(2027, 3, 31),
        progress,
    )
    closed = ClauseLine(
        9, 1, "Département de l'Exemple", "2025-031", "", "Voirie", "closed",
        date(2025, 4, 1), date(2025, 12, 19), earlier, followed=False,
    )  # fmt: skip
    hours = tuple(
        MonthHours(add_months(month, i - CHART_MONTHS + 1), Decimal(40 * i))
        for i in range(CHART_MONTHS)
    )
    return MonthlySummary(
        month=month,
        buyer_id=1 if buyer else None,
        buyer_name="Département de l'Exemple" if buyer else None,
        compiled_at=datetime(2026, 4, 23, 5, 0, tzinfo=UTC),
        overall=figures,
        buyers=(BuyerFigures(1, "Département de l'Exemple", figures),),
        clauses=(line, closed),
        hours_by_month=hours,
        zone=ZoneInfo("Europe/Paris"),
    )


def preview_context(kind: str) -> dict[str, Any] | None:
    """A sample context for ``clauses mail preview``; None for kinds not made here."""
    if kind == KIND_FACILITATOR:
        return summary_context(sample_summary())
    if kind == KIND_BUYER:
        return summary_context(sample_summary(buyer=True))
    return None


__all__ = [
    "BuyerFigures",
    "ClauseLine",
    "Count",
    "Declarations",
    "Figures",
    "MissingDeclaration",
    "MonthHours",
    "MonthlySummary",
    "OutcomeCount",
    "ParticipantCount",
    "StageCount",
    "claim_period",
    "compile_for",
    "compile_summary",
    "preview_context",
    "queue_monthly_summaries",
    "summary_timing",
]
