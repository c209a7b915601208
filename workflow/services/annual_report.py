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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, distinct, exists, func, or_, select, union
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Declaration,
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
    headline,
    hours_phrase,
)
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType, group_of
from workflow.domain.participants import worked
from workflow.domain.stages import LABELS as STAGE_LABELS
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
from workflow.services.outcome_counts import counted, latest_up_to

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
    such a stage when the year began, or moved into one during the year."""
    moved_in = exists().where(
        ClauseHistory.clause_id == Clause.id,
        ClauseHistory.at >= period.start,
        ClauseHistory.at < period.end,
        ClauseHistory.to_stage.in_(FOLLOWED_STAGES),
    )
    return and_(
        Clause.created_at < period.end,
        or_(_stage_before(period.start).in_(FOLLOWED_STAGES), moved_in),
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

    stage_at_end = _stage_before(period.end)
    stages = {
        str(stage): int(count)
        for stage, count in session.execute(
            _on_clauses(
                select(stage_at_end, func.count())
                .select_from(Clause)
                .where(Clause.created_at < period.end),
                buyer_id,
            ).group_by(stage_at_end)
        )
    }
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
    )


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
