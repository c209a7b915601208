"""The funders' annual report ("bilan annuel"): a calendar year's figures, compiled in SQL.

Every figure is an SQL aggregate (``SUM``, ``COUNT``, ``COUNT(DISTINCT)``, ``GROUP BY``); Python
only folds aggregated rows (a few dozen at most) into tables, so the report costs the same number
of statements for one clause as for 10^5. A total is always its own statement, never the sum of
the breakdown shown under it: a test can then check that the parts add up. Definitions (the
report's footnotes say them in French):

- the year: the declared months January to December; outcomes dated in the year; instants (stage
  changes, clause creation) in the configured time zone.
- hours: ``Declaration.total_hours`` of the year's months; by delivery mode, the declaration lines.
- companies accompanied: distinct companies that are an award party (holder, co-contractor or
  subcontractor) of a clause that was in execution (suspension included) or follow-up at some
  moment of the year, or that declared hours (more than 0) for a month of the year.
- clauses followed: the clauses of that first condition.
- participants: distinct people with more than 0 hours declared for a month of the year (a line
  at 0 h is no activity: ``workflow.domain.participants.worked``, the monthly summary's rule too,
  so they are the people active in at least one of the year's monthly summaries); their age
  band is their age in the year (only the birth year is kept).
- contracts by type: distinct participants per contract type over the year's lines (someone
  hired under two contracts counts under each), with the hours worked under it.
- outcomes: each participant x clause once, by its latest ``Outcome`` dated in the year
  (``outcome_counts.latest_up_to`` on 31 December, dated from 1 January: a CDI in September
  supersedes a short training in March of the same year; the year before still counts its own
  outcome, an outcome dated later never changes it), by type, and by group through ``group_of``
  and the ``outcome_groups`` setting (never the stored group), that count
  (``services.outcomes.counted``: their participant has hours worked on their clause, the rule
  that allowed recording them; a cancelled declaration that took someone's only hours there
  leaves their outcome out until the month is declared again). With ``--buyer``, outcomes tied
  to no clause are left out (they belong to no buyer).
- clauses by stage: the stage at the end of the year from the append-only history, for clauses
  created before that end.
- lots terminated: the lots ended by a termination (``terminations.terminated_lots``: « marché
  résilié ») whose termination date is in the year, with that date and the hours declared for
  the year's months.
- declarations not received: the months of the year each company of a lot owed and never
  declared, by the ladder's own rule (``months_owed``: from its first month on the lot to the
  lot's end, its termination or its departure, neither declared nor spent whole in a
  suspension), counted once the due date the company is held to has passed: a month called
  has its call's date pushed by the working days its lot spent suspended after the call, the
  date every reader gives it (``held_due_dates``, ``declaration_views.held_due``); one
  not called yet has a date to come, never a past one. On a lot closed since (which asks for
  none any more) every such month counts, called or not: they will never come. The hours of
  the year are then a minimum, and the report says where they are missing. Its cost grows
  with the companies owing months: the months late (an anti-join over the ladders) and each
  company's months declared in the year (one GROUP BY) choose the companies to look at, then
  ``months_owed.owed_up_to_many`` reads their declarations (lists of 500 lots) and the
  suspensions (one statement, shared with the pushed dates) at once. On the bench territories
  (seed 1, 2026, compiled on 5 December): 10^3 lots, 20 statements in all where one company
  at a time took 1,216, the whole report 0.2-0.3 s (was 0.6-1.0 s); 10^4 lots, 29 statements
  (were 12,824), 2.2 s (was 7-9 s). Their total is its own count; the lots' lines add up to
  it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    distinct,
    exists,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    Operation,
    Outcome,
    Participant,
)
from workflow.domain.annual_report import (
    FOLLOWED_STAGES,
    AnnualReport,
    ContractLine,
    Line,
    OutcomeTypeLine,
    TerminatedLine,
    UndeclaredLine,
    headline,
    hours_phrase,
)
from workflow.domain.calendar import (
    Interval,
    local_date,
    month_start,
    months_between,
)
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType, group_of
from workflow.domain.participants import worked
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.stages import Stage
from workflow.domain.summary import AGE_BAND_LABELS, age_band
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
from workflow.errors import InputRefused, NotFound
from workflow.services.held_due_dates import pushed_due_dates
from workflow.services.lot_calendars import first_month_of, suspensions
from workflow.services.months_owed import Owing, owed_up_to_many
from workflow.services.outcome_counts import counted, latest_up_to
from workflow.services.summaries import stages_at_month_end
from workflow.services.terminations import terminated_lots

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

# --- SQL ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Year:
    year: int
    first_month: date
    last_month: date
    start: datetime  # local midnight on 1 January, UTC
    end: datetime  # local midnight on 1 January of the next year, UTC

    @classmethod
    def of(cls, year: int, zone: ZoneInfo | None) -> _Year:
        def midnight(y: int) -> datetime:
            return datetime.combine(date(y, 1, 1), time(0), tzinfo=zone or UTC).astimezone(UTC)

        return cls(year, date(year, 1, 1), date(year, 12, 1), midnight(year), midnight(year + 1))


def _stage_before(instant: datetime) -> ColumnElement[str]:
    """Each clause's stage just before ``instant`` (a correlated subquery on ``Clause``): the
    latest history row before it, the last written among rows at the same instant; a clause
    without any history row then (data loaded by hand) keeps its current stage."""
    then = (
        select(ClauseHistory.to_stage)
        .where(ClauseHistory.clause_id == Clause.id, ClauseHistory.at < instant)
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
        .correlate(Clause)
        .scalar_subquery()
    )
    return func.coalesce(then, Clause.stage)


def _followed(period: _Year) -> ColumnElement[bool]:
    """A clause in execution (suspension included) or follow-up at some moment of the year: in
    such a stage when the year began, or moved into one during the year, or started by its
    dates in the year though recorded after it (its start date by 31 December, started now, its
    history at the year's end saying it not started yet): December's summary counts such a lot
    in execution or follow-up (``summaries._stage_rule``), and the service asked its companies
    for the year's months from that date."""
    moved_in = exists().where(
        ClauseHistory.clause_id == Clause.id,
        ClauseHistory.at >= period.start,
        ClauseHistory.at < period.end,
        ClauseHistory.to_stage.in_(FOLLOWED_STAGES),
    )
    started_then = exists().where(
        ClauseHistory.clause_id == Clause.id,
        ClauseHistory.at < period.end,
        ClauseHistory.to_stage.in_(_ASKED_STAGES),
    )
    started_by_dates = and_(
        Clause.start_date.is_not(None),
        Clause.start_date < date(period.year + 1, 1, 1),
        Clause.stage.in_(_ASKED_STAGES),
        ~started_then,
    )
    return or_(
        and_(
            Clause.created_at < period.end,
            or_(_stage_before(period.start).in_(FOLLOWED_STAGES), moved_in),
        ),
        started_by_dates,
    )


def _on_clauses(statement: S, buyer_id: int | None) -> S:
    """Restrict a statement that has ``Clause`` in its FROM to one buyer's clauses."""
    if buyer_id is None:
        return statement
    return statement.where(
        Clause.market_id.in_(
            select(Market.id)
            .join(Operation, Operation.id == Market.operation_id)
            .where(Operation.buyer_id == buyer_id)
        )
    )


def _declarations(statement: S, period: _Year, buyer_id: int | None) -> S:
    """Declarations of the year's months (in the buyer's scope)."""
    statement = statement.where(
        Declaration.month >= period.first_month, Declaration.month <= period.last_month
    )
    if buyer_id is not None:
        statement = _on_clauses(
            statement.join(Clause, Clause.id == Declaration.clause_id), buyer_id
        )
    return statement


def _lines(statement: S, period: _Year, buyer_id: int | None) -> S:
    """Declaration lines with hours in the year's months (in the buyer's scope)."""
    statement = statement.join(Declaration, Declaration.id == DeclarationLine.declaration_id)
    return _declarations(statement.where(worked(DeclarationLine.hours)), period, buyer_id)


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _breakdown(
    found: Mapping[str, Decimal | int], labels: Mapping[Any, str], *, keep_zeros: bool = True
) -> tuple[Line, ...]:
    """Every category of the closed list in its order (zeros kept when asked), then others."""
    rows = [
        Line(str(code), text, found.get(str(code), 0))
        for code, text in labels.items()
        if keep_zeros or found.get(str(code))
    ]
    known = {str(code) for code in labels}
    rows += [
        Line(code, category_label(labels, code), found[code])
        for code in sorted(found)
        if code not in known
    ]
    return tuple(rows)


# --- Compiling ------------------------------------------------------------------------------------


def compile_annual_report(
    session: Session,
    year: int,
    *,
    buyer_id: int | None = None,
    groups: Mapping[str, str] | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
) -> AnnualReport:
    """The figures of calendar ``year``, for every buyer or for one; ``groups`` is the
    ``outcome_groups`` setting, ``zone`` where the year begins and ends (UTC when not given)."""
    if not 1900 <= year <= 9998:
        raise InputRefused(f"--year : {year} n'est pas une année (attendu par exemple 2017).")
    buyer_name = None
    if buyer_id is not None:
        buyer = session.get(Buyer, buyer_id)
        if buyer is None:
            raise NotFound(
                f"Aucun donneur d'ordre n° {buyer_id}. La liste : « clauses buyer list »."
            )
        buyer_name = buyer.name
    period = _Year.of(year, zone)
    if now is not None and zone is not None:
        now = now.astimezone(zone)  # "Établi le …" in the facilitator's time

    hours = _dec(
        session.scalar(_declarations(select(func.sum(Declaration.total_hours)), period, buyer_id))
    )
    by_buyer_statement = (
        select(Buyer.id, Buyer.name, func.sum(Declaration.total_hours))
        .select_from(Declaration)
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(Declaration.month >= period.first_month, Declaration.month <= period.last_month)
        .group_by(Buyer.id, Buyer.name)
        .order_by(Buyer.name, Buyer.id)
    )
    if buyer_id is not None:
        by_buyer_statement = by_buyer_statement.where(Buyer.id == buyer_id)
    hours_by_buyer = tuple(
        Line(str(bid), name, _dec(total))
        for bid, name, total in session.execute(by_buyer_statement)
    )
    modes = {
        str(mode): _dec(total)
        for mode, total in session.execute(
            _lines(
                select(DeclarationLine.delivery_mode, func.sum(DeclarationLine.hours)),
                period,
                buyer_id,
            ).group_by(DeclarationLine.delivery_mode)
        )
    }

    followed = _on_clauses(select(Clause.id).where(_followed(period)), buyer_id)
    parties = select(AwardParty.company_id).where(AwardParty.clause_id.in_(followed))
    declaring = _declarations(
        select(Declaration.company_id).where(Declaration.total_hours > 0), period, buyer_id
    )
    companies = session.scalar(
        select(func.count()).select_from(union(parties, declaring).subquery())
    )
    clauses_followed = session.scalar(select(func.count()).select_from(followed.subquery()))

    people = _lines(select(DeclarationLine.participant_id), period, buyer_id).distinct()
    participants = session.scalar(select(func.count()).select_from(people.subquery()))
    by_person: dict[tuple[str, str, str], int] = defaultdict(int)
    for criterion, sex, birth_year, count in session.execute(
        select(Participant.criterion, Participant.sex, Participant.birth_year, func.count())
        .where(Participant.id.in_(people))
        .group_by(Participant.criterion, Participant.sex, Participant.birth_year)
    ):
        band = age_band(birth_year, year).value
        by_person[(str(criterion), sex or UNKNOWN, band)] += int(count)

    def people_by(index: int) -> dict[str, int]:
        folded: dict[str, int] = defaultdict(int)
        for key, count in by_person.items():
            folded[key[index]] += count
        return folded

    sex_labels: dict[str, str] = {str(k): v for k, v in SEX_LABELS.items()} | {
        UNKNOWN: UNKNOWN_LABEL
    }
    contracts = [
        ContractLine(str(kind), category_label(CONTRACT_LABELS, kind), int(count), _dec(total))
        for kind, count, total in session.execute(
            _lines(
                select(
                    DeclarationLine.contract_type,
                    func.count(distinct(DeclarationLine.participant_id)),
                    func.sum(DeclarationLine.hours),
                ),
                period,
                buyer_id,
            ).group_by(DeclarationLine.contract_type)
        )
    ]
    order = {str(code): i for i, code in enumerate(CONTRACT_LABELS)}
    contracts.sort(key=lambda c: (order.get(c.code, len(order)), c.code))

    # Each participant x clause once, by its latest outcome of the year (``latest_up_to``):
    # the total is then the number of pairs, the sum of the types and of the groups.
    in_year = (Outcome.date >= period.first_month, latest_up_to(date(year, 12, 31)), counted())
    outcome_rows = select(Outcome.type, func.count()).where(*in_year)
    outcome_total = select(func.count(Outcome.id)).where(*in_year)
    if buyer_id is not None:
        outcome_rows = _on_clauses(
            outcome_rows.join(Clause, Clause.id == Outcome.clause_id), buyer_id
        )
        outcome_total = _on_clauses(
            outcome_total.join(Clause, Clause.id == Outcome.clause_id), buyer_id
        )
    by_type = {
        str(kind): int(count)
        for kind, count in session.execute(outcome_rows.group_by(Outcome.type))
    }
    outcomes_by_type = tuple(
        OutcomeTypeLine(
            code,
            category_label(OUTCOME_TYPE_LABELS, code),
            group_of(code, groups).value,
            OUTCOME_GROUP_LABELS[group_of(code, groups)],
            count,
        )
        for code, count in _ordered_types(by_type)
    )
    by_group: dict[str, int] = defaultdict(int)
    for line in outcomes_by_type:
        by_group[line.group] += line.count

    # December's « Clauses par étape », compiled at the same moment (``now``).
    stages = stages_at_month_end(session, period.last_month, buyer_id=buyer_id, now=now, zone=zone)
    terminated = _terminated(session, period, buyer_id)
    undeclared, undeclared_months = _undeclared(session, period, buyer_id, now, zone, terminated)
    regrouped = tuple(
        (t.label, OUTCOME_GROUP_LABELS[group_of(t.value, groups)])
        for t in OutcomeType
        if group_of(t.value, groups) is not t.group
    )
    return AnnualReport(
        year=year,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        compiled_at=now,
        provisional_at=now if now is not None and now < period.end else None,
        hours=hours,
        hours_by_buyer=hours_by_buyer,
        hours_by_mode=_breakdown(modes, DELIVERY_MODE_LABELS),
        companies=int(companies or 0),
        clauses_followed=int(clauses_followed or 0),
        participants=int(participants or 0),
        participants_by_criterion=_breakdown(people_by(0), CRITERION_LABELS),
        participants_by_sex=_breakdown(people_by(1), sex_labels),
        participants_by_age_band=_breakdown(
            people_by(2), {str(k): v for k, v in AGE_BAND_LABELS.items()}
        ),
        contracts_by_type=tuple(contracts),
        outcomes=int(session.scalar(outcome_total) or 0),
        outcomes_by_type=outcomes_by_type,
        outcomes_by_group=_breakdown(by_group, OUTCOME_GROUP_LABELS),
        clauses_by_stage=_breakdown(stages, STAGE_LABELS),
        regrouped=regrouped,
        terminated=tuple(terminated.values()),
        undeclared=undeclared,
        undeclared_months=undeclared_months,
    )


# --- Terminations and declarations never received ------------------------------------------------

#: The stages of a lot whose companies were asked for their months (``STARTED`` of the summaries).
_ASKED_STAGES = (*FOLLOWED_STAGES, Stage.CLOSED.value)


def _lot_labels(
    session: Session, clause_ids: set[int], buyer_id: int | None
) -> dict[int, tuple[str, str]]:
    """Each lot's words (« M-1 lot 1 – Gros œuvre », preceded by its buyer's name over the
    territory) and current stage, in one query."""
    if not clause_ids:
        return {}
    found = {}
    for cid, name, ref, lot, title, stage in session.execute(
        select(
            Clause.id,
            Buyer.name,
            Market.reference,
            Clause.lot_number,
            Clause.lot_title,
            Clause.stage,
        )
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .join(Buyer, Buyer.id == Operation.buyer_id)
        .where(Clause.id.in_(sorted(clause_ids)))
    ):
        words = f"{ref}{f' lot {lot}' if lot else ''} – {title}"
        found[cid] = (words if buyer_id is not None else f"{name} – {words}", str(stage))
    return found


def _terminated(session: Session, period: _Year, buyer_id: int | None) -> dict[int, TerminatedLine]:
    """The lots terminated with a date in the year (``terminations.terminated_lots``), by date,
    with the hours declared for the year's months."""
    ended = _on_clauses(
        select(Clause.id).where(
            Clause.end_date >= period.first_month, Clause.end_date <= date(period.year, 12, 31)
        ),
        buyer_id,
    )
    ids = set(session.scalars(ended))
    lots = terminated_lots(session, ids, among=ended)
    if not lots:
        return {}
    hours = {
        cid: _dec(total)
        for cid, total in session.execute(
            select(Declaration.clause_id, func.sum(Declaration.total_hours))
            .where(
                Declaration.clause_id.in_(sorted(lots)),
                Declaration.month >= period.first_month,
                Declaration.month <= period.last_month,
            )
            .group_by(Declaration.clause_id)
        )
    }
    labels = _lot_labels(session, set(lots), buyer_id)
    lines = [
        TerminatedLine(cid, labels[cid][0], lot.on, hours.get(cid, Decimal(0)))
        for cid, lot in lots.items()
    ]
    lines.sort(key=lambda t: (t.on, t.lot, t.clause_id))
    return {t.clause_id: t for t in lines}


def _undeclared(
    session: Session,
    period: _Year,
    buyer_id: int | None,
    now: datetime | None,
    zone: ZoneInfo | None,
    terminated: Mapping[int, TerminatedLine],
) -> tuple[tuple[UndeclaredLine, ...], int]:
    """The lots whose companies owed months of the year and never declared them (module
    docstring), and the total of company x month.

    One GROUP BY gives each company of a lot asked in the year its distinct months declared in
    the year on the lot (counted low, never high: a month of a lot started mid-month, or of a
    company that joined mid-month, is left out); where that is fewer than its months on the lot
    in the year, ``months_owed.owed_up_to_many`` (the ladder's rule, for all of them at once)
    says which it still owes."""
    zone = zone or ZoneInfo("UTC")
    year_end = date(period.year, 12, 31)
    lot_end = func.coalesce(Clause.end_date, Clause.planned_end_date)
    declared = (
        select(
            Declaration.clause_id.label("clause_id"),
            Declaration.company_id.label("company_id"),
            func.count(distinct(Declaration.month)).label("months"),
        )
        .join(Clause, Clause.id == Declaration.clause_id)
        .join(
            AwardParty,
            and_(
                AwardParty.clause_id == Declaration.clause_id,
                AwardParty.company_id == Declaration.company_id,
            ),
        )
        .where(
            Declaration.month >= period.first_month,
            Declaration.month <= period.last_month,
            Declaration.month >= Clause.start_date,
            or_(AwardParty.first_month.is_(None), Declaration.month >= AwardParty.first_month),
            or_(AwardParty.last_month.is_(None), Declaration.month <= AwardParty.last_month),
            or_(lot_end.is_(None), Declaration.month <= lot_end),
        )
        .group_by(Declaration.clause_id, Declaration.company_id)
        .subquery()
    )
    parties = _on_clauses(
        select(
            AwardParty.clause_id,
            AwardParty.company_id,
            AwardParty.first_month,
            AwardParty.last_month,
            Clause.start_date,
            lot_end,
            Clause.stage,
            func.coalesce(declared.c.months, 0),
        )
        .join(Clause, Clause.id == AwardParty.clause_id)
        .outerjoin(
            declared,
            and_(
                declared.c.clause_id == AwardParty.clause_id,
                declared.c.company_id == AwardParty.company_id,
            ),
        )
        .where(
            Clause.stage.in_(_ASKED_STAGES),
            Clause.start_date.is_not(None),
            Clause.start_date <= year_end,
            or_(lot_end.is_(None), lot_end >= period.first_month),
        ),
        buyer_id,
    )
    # The months whose call left with no declaration (an anti-join, a row for each month
    # missing only), counted once the due date the company is held to has passed: its call's,
    # pushed by the working days its lot spent suspended after the call, the one rule of every
    # reader (``held_due_dates``, ``declaration_views.held_due``); one not called yet
    # has a date to come, never a past one.
    late = _on_clauses(
        select(
            DeclarationLadder.clause_id,
            DeclarationLadder.company_id,
            DeclarationLadder.month,
            DeclarationLadder.due_on,
            DeclarationLadder.called_at,
        )
        .join(Clause, Clause.id == DeclarationLadder.clause_id)
        .where(
            DeclarationLadder.called_at.is_not(None),
            DeclarationLadder.month >= period.first_month,
            DeclarationLadder.month <= period.last_month,
            ~exists().where(
                Declaration.clause_id == DeclarationLadder.clause_id,
                Declaration.company_id == DeclarationLadder.company_id,
                Declaration.month == DeclarationLadder.month,
            ),
        ),
        buyer_id,
    )
    unanswered = session.execute(late).all()
    rows = session.execute(parties).all()
    closed_lots = {row[0] for row in rows if row[6] == Stage.CLOSED.value}
    # Every suspension these lots had, read once: for the pushed due dates and the months owed.
    suspended = suspensions(session, {row[0] for row in unanswered} | closed_lots)
    called = _past_due(unanswered, suspended, now, zone)
    called_pairs = {(cid, company_id) for cid, company_id, _ in called}
    candidates: list[Owing] = []
    closed: set[int] = set()
    for cid, company_id, joined, left, start, end, stage, months in rows:
        if stage != Stage.CLOSED.value and (cid, company_id) not in called_pairs:
            continue  # nothing past its due date: nothing to count
        first = first_month_of(joined, month_start(start))
        last = period.last_month
        for bound in (left, end):
            if bound is not None:
                last = min(last, month_start(bound))
        if first is None:
            continue
        on_lot = months_between(max(first, period.first_month), last)
        if int(months) < len(on_lot):
            candidates.append(Owing(cid, company_id, stage, start, end, joined, left))
            if stage == Stage.CLOSED.value:
                closed.add(cid)
    if not candidates:
        return (), 0
    # A closed lot's months as they stood before closing (``released_too``): it asks none any
    # more, and the report says those it was closed without.
    owed = owed_up_to_many(
        session,
        candidates,
        period.last_month,
        zone,
        now=now,
        released_too=True,
        since=period.first_month,
        suspended=suspended,
    )
    missing: dict[int, dict[int, int]] = defaultdict(dict)
    for (cid, company_id), months_owed in sorted(owed.items()):
        count = sum(
            1 for month in months_owed if cid in closed or (cid, company_id, month) in called
        )
        if count:
            missing[cid][company_id] = count
    total = sum(n for companies in missing.values() for n in companies.values())
    labels = _lot_labels(session, set(missing), buyer_id)
    # Terminated in the year, or in a later one (the months of this year it still misses).
    ended = {cid: t.on for cid, t in terminated.items()} | {
        cid: lot.on for cid, lot in terminated_lots(session, set(missing)).items()
    }
    lines = [
        UndeclaredLine(
            cid,
            labels[cid][0],
            _state(labels[cid][1], ended.get(cid), sum(companies.values())),
            len(companies),
            sum(companies.values()),
        )
        for cid, companies in missing.items()
    ]
    lines.sort(key=lambda u: (-u.months, u.lot, u.clause_id))
    return tuple(lines), total


class _Called(NamedTuple):
    clause_id: int
    company_id: int
    month: date
    due_on: date
    called_at: datetime | None


def _past_due(
    ladders: Sequence[tuple[int, int, date, date, datetime | None]],
    suspended: Mapping[int, Sequence[Interval]],
    now: datetime | None,
    zone: ZoneInfo,
) -> set[tuple[int, int, date]]:
    """The (lot, company, month) of the called ``ladders`` whose due date the company is held
    to has passed at ``now`` (every one when None: the history as it stands): the call's date
    pushed later by the working days the lot spent suspended after the call, a running
    suspension up to ``now``'s day (``held_due_dates.pushed_due_dates``, the one rule, from the
    suspensions already read). Never the call's bare date: a month whose call a suspension
    followed is not late before the date the company really has."""
    if now is None:
        return {(cid, company_id, month_start(m)) for cid, company_id, m, _, _ in ladders}
    today = local_date(now, zone)
    pushed = pushed_due_dates((_Called(*row) for row in ladders), suspended, zone, today)
    return {
        (cid, company_id, month_start(month))
        for (cid, company_id, month), due_on in pushed.items()
        if due_on < today
    }


def _state(stage: str, terminated_on: date | None, months: int) -> str:
    """The lot's state as the funder reads it beside the ``months`` it misses."""
    words = []
    if terminated_on is not None:
        words.append(f"marché résilié le {terminated_on:%d/%m/%Y}")
    if stage == Stage.CLOSED.value:
        words.append(f"clôturé sans {'cette déclaration' if months == 1 else 'ces déclarations'}")
    elif terminated_on is None:
        words.append(STAGE_LABELS.get(Stage(stage), stage))
    return ", ".join(words)


def _ordered_types(found: Mapping[str, int]) -> list[tuple[str, int]]:
    """The types recorded, in the order of ``OutcomeType``, then codes of older versions."""
    known = [(t.value, found[t.value]) for t in OutcomeType if t.value in found]
    return known + sorted((code, n) for code, n in found.items() if code not in set(OutcomeType))


__all__ = [
    "AnnualReport",
    "ContractLine",
    "Line",
    "OutcomeTypeLine",
    "compile_annual_report",
    "headline",
    "hours_phrase",
]
