"""Recording what became of a participant after working on a clause ("sortie").

One outcome per participant and clause: recording the very same one again changes nothing (a
command or an import can be run twice), a different one is refused unless ``replace`` is asked,
so a correction is deliberate. The participant must have worked on the clause (declared hours)
and the date must lie between their first declared month there and today, in the service's time
zone. Each change writes a history row on the clause in the same transaction; the monthly summary
and the final report count the rows of ``Outcome`` by group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLine,
    Market,
    Outcome,
    Participant,
)
from workflow.adapters.templates import french_month
from workflow.domain.events import require_aware
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType
from workflow.domain.stages import FINAL_STAGES, LABELS, Stage
from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS
from workflow.errors import InputRefused, NotFound
from workflow.services.clauses import get_clause
from workflow.services.declarations import clause_ref
from workflow.services.participants import clean_reference, criterion_label, find_participant

HISTORY_EVENT = "outcome"


class Change(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"


@dataclass(frozen=True)
class RecordedOutcome:
    """What ``record_outcome`` did, with what the CLI prints."""

    outcome_id: int
    reference: str
    clause_id: int
    clause_label: str
    outcome_type: OutcomeType
    on: date
    change: Change
    previous: tuple[str, date] | None = None  # the replaced type's label and date

    @property
    def description(self) -> str:
        """``CDI (emploi durable) le 15/03/2027``."""
        group = OUTCOME_GROUP_LABELS[self.outcome_type.group].lower()
        return f"{self.outcome_type.label} ({group}) le {self.on:%d/%m/%Y}"

    @property
    def message(self) -> str:
        where = f"{self.reference}, clause n° {self.clause_id}"
        if self.change is Change.UNCHANGED:
            return (
                f"Rien de nouveau : la sortie de {self.reference} de la clause "
                f"n° {self.clause_id} est déjà enregistrée, {self.description}."
            )
        if self.change is Change.REPLACED and self.previous is not None:
            label, on = self.previous
            return (
                f"Sortie corrigée : {where}, {self.description} (remplace {label} le "
                f"{on:%d/%m/%Y})."
            )
        return f"Sortie enregistrée : {where}, {self.description}."


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return require_aware(now).astimezone(zone).date()


def first_worked_month(session: Session, participant_id: int, clause_id: int) -> date | None:
    """The first month with hours declared for this participant on this clause, if any."""
    return session.scalar(
        select(func.min(Declaration.month))
        .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
        .where(
            Declaration.clause_id == clause_id,
            DeclarationLine.participant_id == participant_id,
            DeclarationLine.hours > 0,
        )
    )


def worked_clauses(session: Session, participant_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Declaration.clause_id)
            .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
            .where(DeclarationLine.participant_id == participant_id, DeclarationLine.hours > 0)
            .distinct()
            .order_by(Declaration.clause_id)
        )
    )


def find_outcome(session: Session, participant_id: int, clause_id: int) -> Outcome | None:
    return session.scalar(
        select(Outcome)
        .where(Outcome.participant_id == participant_id, Outcome.clause_id == clause_id)
        .order_by(Outcome.id)
        .limit(1)
    )


def type_label(code: str) -> str:
    """The French label of a stored type; rows written by other means keep their own text."""
    try:
        return OUTCOME_TYPE_LABELS[OutcomeType(code)]
    except ValueError:
        return code


def is_same(existing: Outcome, outcome_type: OutcomeType, on: date) -> bool:
    return existing.type == outcome_type.value and existing.date == on


def outcome_problems(
    session: Session,
    participant: Participant,
    clause: Clause,
    outcome_type: OutcomeType,
    on: date,
    *,
    today: date,
    replace: bool = False,
) -> list[str]:
    """Everything that forbids recording this outcome, in French; [] when it may be recorded.

    The very same outcome already recorded is no problem: recording it changes nothing.
    """
    existing = find_outcome(session, participant.id, clause.id)
    if existing is not None and is_same(existing, outcome_type, on):
        return []
    stage = Stage(clause.stage)
    if stage in FINAL_STAGES:
        return [
            f"{clause.label} est à l'étape « {LABELS[stage]} » : ses chiffres ne changent plus, "
            "aucune sortie ne peut y être enregistrée."
        ]
    first = first_worked_month(session, participant.id, clause.id)
    if first is None:
        elsewhere = ", ".join(f"n° {n}" for n in worked_clauses(session, participant.id))
        return [
            f"{participant.reference} n'a aucune heure déclarée sur {clause_ref(clause)} : une "
            "sortie s'enregistre sur une clause où le participant a travaillé"
            + (f" (heures déclarées sur : clause {elsewhere})." if elsewhere else ".")
        ]
    problems: list[str] = []
    if on > today:
        problems.append(
            f"Date de sortie {on:%d/%m/%Y} dans le futur : on enregistre une sortie une fois "
            f"connue (aujourd'hui : {today:%d/%m/%Y})."
        )
    if on < first:
        problems.append(
            f"Date de sortie {on:%d/%m/%Y} antérieure à {french_month(first)}, premier mois "
            f"déclaré pour {participant.reference} sur {clause_ref(clause)}."
        )
    if existing is not None and not replace:
        problems.append(
            f"La sortie de {participant.reference} de la clause n° {clause.id} est déjà "
            f"enregistrée : {type_label(existing.type)} le {existing.date:%d/%m/%Y}. Pour la "
            "corriger, recommencez avec --replace."
        )
    return problems


def record_outcome(
    session: Session,
    *,
    reference: str,
    clause_id: int,
    outcome_type: OutcomeType,
    on: date,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
    replace: bool = False,
) -> RecordedOutcome:
    """Record (or with ``replace``, correct) what became of a participant after a clause."""
    today = local_today(now, zone)
    reference = clean_reference(reference)
    participant = find_participant(session, reference)
    if participant is None:
        raise NotFound(
            f"Aucun participant « {reference} ». La liste : « clauses participant list »."
        )
    # The clause row lock makes two runs of the same command queue: the second sees the first.
    clause = get_clause(session, clause_id, for_update=True)
    problems = outcome_problems(
        session, participant, clause, outcome_type, on, today=today, replace=replace
    )
    if problems:
        raise InputRefused(" ".join(problems))
    existing = find_outcome(session, participant.id, clause.id)
    if existing is not None and is_same(existing, outcome_type, on):
        return RecordedOutcome(
            existing.id,
            participant.reference,
            clause.id,
            clause.label,
            outcome_type,
            on,
            Change.UNCHANGED,
        )
    previous = None
    if existing is None:
        existing = Outcome(participant_id=participant.id, clause_id=clause.id)
        session.add(existing)
    else:
        previous = (type_label(existing.type), existing.date)
    existing.type = outcome_type.value
    existing.group = outcome_type.group.value
    existing.date = on
    session.flush()
    done = RecordedOutcome(
        existing.id,
        participant.reference,
        clause.id,
        clause.label,
        outcome_type,
        on,
        Change.CREATED if previous is None else Change.REPLACED,
        previous,
    )
    _history(session, clause, done, actor=actor, now=now)
    return done


def _history(
    session: Session, clause: Clause, done: RecordedOutcome, *, actor: str, now: datetime
) -> None:
    # The pseudonymous reference is kept: the history is the facilitator's, never a buyer's.
    reason = f"sortie de {done.reference} : {done.description}"
    if done.previous is not None:
        label, on = done.previous
        reason += f" (remplace {label} le {on:%d/%m/%Y})"
    session.add(
        ClauseHistory(
            clause_id=clause.id,
            at=now,
            actor=actor,
            event=HISTORY_EVENT,
            from_stage=clause.stage,
            to_stage=clause.stage,
            reason=reason,
        )
    )


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeLine:
    reference: str
    clause_id: int | None
    market: str | None
    lot_number: str | None
    type: str
    type_label: str
    group: str
    group_label: str
    on: date


@dataclass(frozen=True)
class ParticipantLine:
    """A participant with the hours declared for them (on one clause, or on all) and outcomes."""

    reference: str
    criterion: str
    criterion_label: str
    sex: str | None
    birth_year: int | None
    proof: str
    validated_on: date | None
    hours: Decimal
    clause_ids: tuple[int, ...]
    outcomes: tuple[OutcomeLine, ...]


def list_outcomes(session: Session, clause_id: int | None = None) -> list[OutcomeLine]:
    """Every outcome recorded (on one clause when asked), oldest first."""
    if clause_id is not None:
        get_clause(session, clause_id)
    statement = (
        select(Outcome, Participant.reference, Market.reference, Clause.lot_number)
        .join(Participant, Participant.id == Outcome.participant_id)
        .outerjoin(Clause, Clause.id == Outcome.clause_id)
        .outerjoin(Market, Market.id == Clause.market_id)
        .order_by(Outcome.date, Participant.reference, Outcome.id)
    )
    if clause_id is not None:
        statement = statement.where(Outcome.clause_id == clause_id)
    return [
        OutcomeLine(
            reference=reference,
            clause_id=outcome.clause_id,
            market=market,
            lot_number=lot,
            type=outcome.type,
            type_label=type_label(outcome.type),
            group=outcome.group,
            group_label=_group_label(outcome.group),
            on=outcome.date,
        )
        for outcome, reference, market, lot in session.execute(statement)
    ]


def _group_label(code: str) -> str:
    return next((label for g, label in OUTCOME_GROUP_LABELS.items() if g.value == code), code)


def list_participants(session: Session, clause_id: int | None = None) -> list[ParticipantLine]:
    """Participants by reference: all of them, or those with a declaration line on one clause."""
    if clause_id is not None:
        get_clause(session, clause_id)
    statement = (
        select(
            DeclarationLine.participant_id, Declaration.clause_id, func.sum(DeclarationLine.hours)
        )
        .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
        .group_by(DeclarationLine.participant_id, Declaration.clause_id)
    )
    if clause_id is not None:
        statement = statement.where(Declaration.clause_id == clause_id)
    hours: dict[int, Decimal] = defaultdict(Decimal)
    clauses: dict[int, list[int]] = defaultdict(list)
    for participant_id, worked_on, total in session.execute(statement):
        hours[participant_id] += Decimal(total or 0)
        clauses[participant_id].append(worked_on)
    outcomes: dict[str, list[OutcomeLine]] = defaultdict(list)
    for line in list_outcomes(session, clause_id):
        outcomes[line.reference].append(line)
    people = select(Participant).order_by(Participant.reference)
    if clause_id is not None:
        on_clause = (
            select(DeclarationLine.participant_id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(Declaration.clause_id == clause_id)
        )
        people = people.where(Participant.id.in_(on_clause))
    return [
        ParticipantLine(
            reference=p.reference,
            criterion=p.criterion,
            criterion_label=criterion_label(p.criterion),
            sex=p.sex,
            birth_year=p.birth_year,
            proof=p.proof,
            validated_on=p.validated_on,
            hours=hours.get(p.id, Decimal(0)),
            clause_ids=tuple(sorted(clauses.get(p.id, []))),
            outcomes=tuple(outcomes.get(p.reference, [])),
        )
        for p in session.scalars(people)
    ]
