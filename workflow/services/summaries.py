"""The monthly summary ("synthèse mensuelle"): figures compiled in SQL, emails queued once a month.

Every figure is an SQL aggregate (``GROUP BY``, ``SUM``, ``COUNT(DISTINCT)``), the same on SQLite and
PostgreSQL; Python only folds the aggregated rows into tables. Definitions:

- hours: ``Declaration.total_hours`` (the declared figure) for progress; declaration lines for the
  breakdown by delivery mode. "Cumulated" always means from the beginning to the end of the month.
- clauses followed in the month: started on or before its last day, not ended before its first
  (end date, else planned end), not abandoned nor still upstream of the award; or with hours in it.
  Progress (hours against target) covers them; the target is ``COALESCE(override, computed)``.
- participants: active = a declaration line in the month; new = their first line (in the scope)
  is in the month; cumulated = a line in or before the month. Counted once per scope.
- contracts by type: distinct participant x contract type, seen in the month and cumulated.
- outcomes: ``Outcome`` rows dated in the month, and up to its end. Outcomes not tied to a clause
  count only in the overall scope.
- stages (clauses by stage, each clause's stage, the buyers written to): the stage at the end of
  the month, read from the append-only ``clause_history`` (its latest row before the month's end,
  in the configured time zone), for clauses created before that end. A clause without any history
  row then (data loaded by hand) keeps its current stage.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Outcome,
    Participant,
    PeriodicRun,
)
from workflow.domain.calendar import add_months, month_start
from workflow.domain.events import require_aware
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.stages import Stage
from workflow.domain.summary import (
    AGE_BAND_LABELS,
    Progress,
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
)
from workflow.errors import NotFound
from workflow.services.outbox import Recipient, queue_email

if TYPE_CHECKING:
    from workflow.bootstrap import App

log = logging.getLogger(__name__)

JOB = "monthly_summary"
KIND_FACILITATOR = "monthly_summary"
KIND_BUYER = "monthly_summary_buyer"
#: Months shown in the chart of hours per month.
CHART_MONTHS = 12
UNKNOWN = "unknown"
UNKNOWN_LABEL = "Non renseigné"
#: Stages upstream of the award: a clause there is not followed yet.
NOT_FOLLOWED = (Stage.IDENTIFICATION.value, Stage.DRAFTING.value, Stage.ABANDONED.value)


# --- The summary, as a tree of frozen dataclasses -------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One line of a breakdown: a category with its figure in the month and cumulated."""

    code: str
    label: str
    month: Decimal
    cumulated: Decimal


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
class Figures:
    """Everything the summary says about one scope (all clauses, or one buyer's)."""

    progress: Progress
    participants: ParticipantCount
    by_criterion: tuple[ParticipantCount, ...]
    by_sex: tuple[ParticipantCount, ...]
    by_age_band: tuple[ParticipantCount, ...]
    hours_by_mode: tuple[Count, ...]
    contracts_by_type: tuple[Count, ...]
    outcomes_by_group: tuple[Count, ...]
    clauses_by_stage: tuple[StageCount, ...]


@dataclass(frozen=True)
class BuyerFigures:
    buyer_id: int
    name: str
    figures: Figures


@dataclass(frozen=True)
class ClauseLine:
    """Progress of one followed clause (no participant in it: buyers may read it)."""

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

    @property
    def stage_label(self) -> str:
        return _label(STAGE_LABELS, self.stage)


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
    clauses: tuple[ClauseLine, ...]
    hours_by_month: tuple[MonthHours, ...]  # the CHART_MONTHS months up to ``month``

    @property
    def for_buyer(self) -> bool:
        return self.buyer_id is not None


# --- SQL helpers ----------------------------------------------------------------------------------


def _label(labels: Mapping[Any, str], code: str | None) -> str:
    if code is None or code == UNKNOWN:
        return UNKNOWN_LABEL
    for member, text in labels.items():
        if str(member) == code:
            return text
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


def _period(month: date, zone: ZoneInfo | None) -> _Period:
    """``month`` ends at local midnight in ``zone`` (UTC when not given)."""
    end_instant = datetime.combine(add_months(month, 1), time(0), tzinfo=zone or UTC)
    return _Period(month, month_end(month), end_instant.astimezone(UTC))


def _stage_at(end_instant: datetime) -> ColumnElement[str]:
    """Each clause's stage just before ``end_instant``, as a column to select on ``Clause``.

    The latest history row before the end gives it (``to_stage`` is the stage the row left the
    clause in); among rows at the same instant, the last written. A correlated subquery: one
    index lookup per clause on ``clause_history.clause_id``, where aggregating the whole history
    and joining it back grew with clauses × history (a buyer's summary went from 0.05 s to 25 s
    on 100,000 clauses). A clause with no history row before the end keeps its current stage.
    """
    stage_then = (
        select(ClauseHistory.to_stage)
        .where(ClauseHistory.clause_id == Clause.id, ClauseHistory.at < end_instant)
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
        .correlate(Clause)
        .scalar_subquery()
    )
    return func.coalesce(stage_then, Clause.stage)


def _clause_lines(session: Session, period: _Period, buyer_id: int | None) -> list[ClauseLine]:
    m = period.month
    stage_at_end = _stage_at(period.end_instant)
    hours = (
        select(
            Declaration.clause_id.label("clause_id"),
            func.sum(case((Declaration.month == m, Declaration.total_hours), else_=0)).label(
                "month_hours"
            ),
            func.sum(Declaration.total_hours).label("cumulated"),
        )
        .where(Declaration.month <= m)
        .group_by(Declaration.clause_id)
        .subquery()
    )
    end = func.coalesce(Clause.end_date, Clause.planned_end_date)
    running = and_(
        Clause.created_at < period.end_instant,
        Clause.start_date.is_not(None),
        Clause.start_date <= period.last,
        or_(end.is_(None), end >= m),
        stage_at_end.not_in(NOT_FOLLOWED),
    )
    target = func.coalesce(Clause.hours_override, Clause.hours_computed)
    statement = (
        select(
            Clause.id,
            Operation.buyer_id,
            Buyer.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            stage_at_end,
            target,
            Clause.start_date,
            end,
            hours.c.month_hours,
            hours.c.cumulated,
        )
        .select_from(Clause)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .outerjoin(hours, hours.c.clause_id == Clause.id)
        .where(or_(running, hours.c.month_hours > 0))
        .order_by(Buyer.name, Clause.id)
    )
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    lines = []
    for row in session.execute(statement):
        (cid, bid, bname, ref, lot, title, stage, tgt, start, stop, month_h, cumul) = row
        elapsed = elapsed_fraction(start, stop, period.last)
        progress = clause_progress(tgt, _dec(month_h), _dec(cumul), elapsed)
        lines.append(ClauseLine(cid, bid, bname, ref, lot, title, stage, start, stop, progress))
    return lines


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
        .where(Declaration.month <= m)
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
        .where(Declaration.month <= m)
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
        .where(Declaration.month <= m)
        .group_by(*leading, DeclarationLine.contract_type)
    )
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        kind, month_count, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][kind] = (_dec(month_count), _dec(cumulated))
    return result


def _outcomes(session: Session, period: _Period, by_buyer: bool, buyer_id: int | None) -> Scoped:
    in_month = case((Outcome.date >= period.month, 1), else_=0)
    columns = [Outcome.group, func.sum(in_month), func.count()]
    if by_buyer or buyer_id is not None:
        statement, leading = _scoped(columns, by_buyer, buyer_id)
        statement = statement.join(Outcome, Outcome.clause_id == Clause.id)
    else:
        statement, leading = select(*columns), []
    statement = statement.where(Outcome.date <= period.last).group_by(*leading, Outcome.group)
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        group, month_count, cumulated = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][group] = (_dec(month_count), _dec(cumulated))
    return result


def _stages(session: Session, period: _Period, by_buyer: bool, buyer_id: int | None) -> Scoped:
    stage = _stage_at(period.end_instant).label("stage")
    statement, leading = _scoped([stage, func.count()], by_buyer, buyer_id)
    statement = statement.where(Clause.created_at < period.end_instant).group_by(*leading, stage)
    result: Scoped = defaultdict(dict)
    for row in session.execute(statement):
        stage, count = _rest(row, by_buyer)
        result[_scope_key(row, by_buyer)][stage] = int(count)
    return result


def _hours_by_month(session: Session, month: date, buyer_id: int | None) -> tuple[MonthHours, ...]:
    first = add_months(month, 1 - CHART_MONTHS)
    statement = select(Declaration.month, func.sum(Declaration.total_hours)).where(
        Declaration.month >= first, Declaration.month <= month
    )
    if buyer_id is not None:
        statement = (
            statement.join(Clause, Clause.id == Declaration.clause_id)
            .join(Market, Market.id == Clause.market_id)
            .join(Operation, Operation.id == Market.operation_id)
            .where(Operation.buyer_id == buyer_id)
        )
    found = {row[0]: _dec(row[1]) for row in session.execute(statement.group_by(Declaration.month))}
    return tuple(
        MonthHours(add_months(first, i), found.get(add_months(first, i), Decimal(0)))
        for i in range(CHART_MONTHS)
    )


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
            rows.append(Count(code or UNKNOWN, _label(labels, code), month, cumulated))
    return tuple(rows)


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
        ParticipantCount(code, _label(labels, code), *sums.get(code, [0, 0, 0]))
        for code in order + extra
    )


def _figures(
    progress: Progress,
    participants: Mapping[tuple[Any, ...], tuple[int, int, int]],
    modes: Mapping[str | None, tuple[Decimal, Decimal]],
    contracts: Mapping[str | None, tuple[Decimal, Decimal]],
    outcomes: Mapping[str | None, tuple[Decimal, Decimal]],
    stages: Mapping[str, int],
    year: int,
) -> Figures:
    totals = [sum(f[i] for f in participants.values()) for i in range(3)]
    sex_labels: dict[str, str] = {str(k): v for k, v in SEX_LABELS.items()}
    sex_labels[UNKNOWN] = UNKNOWN_LABEL
    age_labels: dict[str, str] = {str(k): v for k, v in AGE_BAND_LABELS.items()}
    return Figures(
        progress=progress,
        participants=ParticipantCount("all", "Ensemble", *totals),
        by_criterion=_people(
            participants, lambda g: g[0], list(CRITERION_LABELS), CRITERION_LABELS
        ),
        by_sex=_people(participants, lambda g: g[1] or UNKNOWN, list(sex_labels), sex_labels),
        by_age_band=_people(
            participants, lambda g: age_band(g[2], year).value, list(age_labels), age_labels
        ),
        hours_by_mode=_counts(modes, DELIVERY_MODE_LABELS),
        contracts_by_type=_counts(contracts, CONTRACT_LABELS),
        outcomes_by_group=_counts(outcomes, OUTCOME_GROUP_LABELS),
        clauses_by_stage=tuple(
            StageCount(stage.value, STAGE_LABELS[stage], stages.get(stage.value, 0))
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
) -> MonthlySummary:
    """The figures of ``month``, overall and per buyer, or for one buyer only.

    ``zone`` says where the month ends for instants (clause creation); UTC when not given.
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
    period = _period(month, zone)
    by_buyer = True

    lines = _clause_lines(session, period, buyer_id)
    people = _both(lambda b: _participants(session, period, b, buyer_id), by_buyer)
    modes = _both(lambda b: _hours_by_mode(session, period, b, buyer_id), by_buyer)
    contracts = _both(lambda b: _contracts(session, period, b, buyer_id), by_buyer)
    outcomes = _both(lambda b: _outcomes(session, period, b, buyer_id), by_buyer)
    stages = _both(lambda b: _stages(session, period, b, buyer_id), by_buyer)

    def figures_of(scope: int | None, progress: Progress) -> Figures:
        return _figures(
            progress,
            people.get(scope, {}),
            modes.get(scope, {}),
            contracts.get(scope, {}),
            outcomes.get(scope, {}),
            stages.get(scope, {}),
            month.year,
        )

    buyer_ids = {
        key
        for table in (people, modes, contracts, outcomes, stages)
        for key in table
        if key is not None
    } | {line.buyer_id for line in lines}
    names: dict[int, str] = {}
    if buyer_ids:
        statement = select(Buyer.id, Buyer.name).where(Buyer.id.in_(buyer_ids))
        names = {bid: name for bid, name in session.execute(statement)}
    buyers = tuple(
        BuyerFigures(
            bid,
            names[bid],
            figures_of(bid, combine_progress(c.progress for c in lines if c.buyer_id == bid)),
        )
        for bid in sorted(buyer_ids, key=lambda b: (names[b], b))
    )
    return MonthlySummary(
        month=month,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        compiled_at=now,
        overall=figures_of(None, combine_progress(c.progress for c in lines)),
        buyers=buyers,
        clauses=tuple(lines),
        hours_by_month=_hours_by_month(session, month, buyer_id),
    )


# --- Queueing the emails --------------------------------------------------------------------------


def _first_activity(session: Session) -> date | None:
    first_clause = session.scalar(select(func.min(Clause.created_at)))
    first_declaration = session.scalar(select(func.min(Declaration.month)))
    candidates: list[date] = []
    if first_clause is not None:
        candidates.append(month_start(first_clause.date()))
    if first_declaration is not None:
        candidates.append(month_start(first_declaration))
    return min(candidates) if candidates else None


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
    )
    return bool(getattr(session.execute(statement), "rowcount", 0))


def _buyers_to_inform(session: Session, period: _Period) -> list[Buyer]:
    """Buyers with clauses in execution or follow-up at the end of the month, or with hours
    declared in it."""
    stage = _stage_at(period.end_instant)
    active = (
        select(Operation.buyer_id)
        .join(Market, Market.operation_id == Operation.id)
        .join(Clause, Clause.market_id == Market.id)
        .outerjoin(
            Declaration,
            and_(Declaration.clause_id == Clause.id, Declaration.month == period.month),
        )
        .where(
            or_(
                and_(
                    Clause.created_at < period.end_instant,
                    stage.in_([Stage.EXECUTION.value, Stage.FOLLOW_UP.value]),
                ),
                Declaration.total_hours > 0,
            )
        )
    )
    return list(session.scalars(select(Buyer).where(Buyer.id.in_(active)).order_by(Buyer.id)))


def _queue_month(app: App, session: Session, month: date, now: datetime) -> int:
    period = f"{month:%Y-%m}"
    settings = app.settings
    summary = compile_summary(session, month, now=now, zone=settings.zone)
    queued = int(
        queue_email(
            session,
            app.renderer,
            key=f"summary:{period}:facilitator",
            kind=KIND_FACILITATOR,
            recipients=[Recipient(settings.facilitator_name, settings.facilitator_email)],
            context=summary_context(summary),
            now=now,
        )
    )
    for buyer in _buyers_to_inform(session, _period(month, settings.zone)):
        contacts = [Recipient(c.name, c.email) for c in buyer.contacts if c.email]
        if not contacts:
            log.warning(
                "summary buyer without contact",
                extra={"action": "summary_skipped", "buyer_id": buyer.id, "period": period},
            )
            continue
        own = compile_summary(session, month, buyer_id=buyer.id, now=now, zone=settings.zone)
        queued += queue_email(
            session,
            app.renderer,
            key=f"summary:{period}:buyer:{buyer.id}",
            kind=KIND_BUYER,
            recipients=contacts,
            context=summary_context(own),
            now=now,
        )
    return queued


def queue_monthly_summaries(app: App, now: datetime) -> int:
    """Queue every monthly summary due at ``now`` not produced yet; the number of emails queued.

    Each month is claimed in ``periodic_runs`` and its emails written in one transaction, so a
    repeated pass, a second instance or a catch-up after a downtime produce each month once.
    """
    require_aware(now)
    latest = latest_due_month(now, app.settings.summary_time, app.settings.zone)
    with app.transaction() as session:
        months = months_to_summarise(latest, _first_activity(session), _last_done(session))
    queued = 0
    for month in months:
        with app.transaction() as session:
            if not claim_period(session, JOB, f"{month:%Y-%m}", now):
                continue
            count = _queue_month(app, session, month, now)
        log.info(
            "monthly summary queued",
            extra={"action": "summary_queued", "period": f"{month:%Y-%m}", "emails": count},
        )
        queued += count
    return queued


# --- Email contexts -------------------------------------------------------------------------------


def summary_context(summary: MonthlySummary) -> dict[str, Any]:
    """What the two summary templates read: headline figures and ready-formatted tables."""
    from workflow.adapters.reports import email_tables

    progress = summary.overall.progress
    return {
        "month": summary.month,
        "buyer_name": summary.buyer_name,
        "progress": {
            "clauses": progress.clauses,
            "hours_target": progress.hours_target,
            "hours_month": progress.hours_month,
            "hours_cumulated": progress.hours_cumulated,
            "target_fraction": progress.target_fraction,
            "time_fraction": progress.time_fraction,
            "behind": progress.behind,
        },
        "participants": {
            "new": summary.overall.participants.new,
            "active": summary.overall.participants.active,
            "cumulated": summary.overall.participants.cumulated,
        },
        "tables": email_tables(summary),
        "command": f"clauses summary --month {summary.month:%Y-%m}"
        + (f" --buyer {summary.buyer_id}" if summary.buyer_id else "")
        + " --format xlsx",
    }


def sample_summary(buyer: bool = False) -> MonthlySummary:
    """A made-up summary for template previews: no database needed."""
    month = date(2026, 3, 1)
    progress = clause_progress(4725, Decimal("312.5"), Decimal("2140"), Decimal("0.5"))

    def people(code: str, label: str, new: int, active: int, cumulated: int) -> ParticipantCount:
        return ParticipantCount(code, label, new, active, cumulated)

    figures = Figures(
        progress=progress,
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
        hours_by_mode=(Count("direct_hiring", "Embauche directe", Decimal(200), Decimal(1500)),),
        contracts_by_type=(Count("cdd", "CDD", Decimal(3), Decimal(5)),),
        outcomes_by_group=(Count("lasting_job", "Emploi durable", Decimal(1), Decimal(2)),),
        clauses_by_stage=(StageCount("execution", "mise en œuvre", 1),),
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
    hours = tuple(
        MonthHours(add_months(month, i - CHART_MONTHS + 1), Decimal(40 * i))
        for i in range(CHART_MONTHS)
    )
    return MonthlySummary(
        month=month,
        buyer_id=1 if buyer else None,
        buyer_name="Département de l'Exemple" if buyer else None,
        compiled_at=datetime(2026, 4, 1, 5, 0, tzinfo=UTC),
        overall=figures,
        buyers=(BuyerFigures(1, "Département de l'Exemple", figures),),
        clauses=(line,),
        hours_by_month=hours,
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
    "Figures",
    "MonthHours",
    "MonthlySummary",
    "ParticipantCount",
    "StageCount",
    "claim_period",
    "compile_summary",
    "preview_context",
    "queue_monthly_summaries",
]
