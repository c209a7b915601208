"""Recording what became of a participant after working on a clause ("sortie").

One outcome per participant and clause: recording the very same one again changes nothing (a
command or an import can be run twice), a different one is refused unless ``replace`` is asked,
so a correction is deliberate. The participant must have worked on the clause (declared hours)
and the date must lie between their first declared month there and today, in the service's time
zone. Each change writes a history row on the clause in the same transaction.

An outcome *counts* (in the annual report, the monthly summaries, a clause's results) while its
participant still has hours worked on its clause (``counted``): the very condition that allowed
recording it. A cancelled declaration takes its lines away, and so does a correction without
the person, and with them, for someone who had no other month there, the outcome's place in the
figures; the row itself stays (listed as « non comptée »), and counts again as soon as hours
are declared again for the person. Both changes say which outcomes they took out or put back
(``outcome_counts``, re-exported here), in their output and their history row.

``Outcome.group`` keeps the group the type had when it was recorded (the mapping then in force);
readers put each type in its group with ``group_of`` and the ``outcome_groups`` setting, so a
changed mapping reclassifies past outcomes too.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
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
from workflow.domain.calendar import local_date
from workflow.domain.events import require_aware
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType, group_of
from workflow.domain.participants import worked
from workflow.domain.stages import FINAL_STAGES, LABELS, Stage
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    OUTCOME_GROUP_LABELS,
    OutcomeGroup,
    label_of,
)
from workflow.errors import InputRefused, NotFound
from workflow.services.clauses import add_history, get_clause
from workflow.services.declarations import DECLARATION_CANCELLED, clause_ref

# Whether an outcome counts lives apart (``outcome_counts``: ``declarations`` needs it and is
# read here); its names are handed on from here, where readers look for them.
from workflow.services.outcome_counts import NO_LONGER_COUNTED
from workflow.services.outcome_counts import CountChange as CountChange
from workflow.services.outcome_counts import UncountedOutcome as UncountedOutcome
from workflow.services.outcome_counts import count_change as count_change
from workflow.services.outcome_counts import count_sentences as count_sentences
from workflow.services.outcome_counts import counted as counted
from workflow.services.outcome_counts import counted_outcomes as counted_outcomes
from workflow.services.outcome_counts import recounted_sentence as recounted_sentence
from workflow.services.outcome_counts import uncounted_outcomes as uncounted_outcomes
from workflow.services.outcome_counts import uncounted_sentence as uncounted_sentence
from workflow.services.outcome_counts import worked_on as _worked_on
from workflow.services.participants import clean_reference, find_participant

HISTORY_EVENT = "outcome"


class Change(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"


Pair = tuple[int, int]  # (participant id, clause id)


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
    group: OutcomeGroup  # under the mapping in force when recorded
    previous: tuple[str, date] | None = None  # the replaced type's label and date

    @property
    def description(self) -> str:
        """``CDI (emploi durable) le 15/03/2027``."""
        group = OUTCOME_GROUP_LABELS[self.group].lower()
        return f"{self.outcome_type.label} ({group}) le {self.on:%d/%m/%Y}"

    @property
    def history_reason(self) -> str:
        # The pseudonymous reference is kept: the history is the facilitator's, never a buyer's.
        reason = f"sortie de {self.reference} : {self.description}"
        if self.previous is not None:
            label, on = self.previous
            reason += f" (remplace {label} le {on:%d/%m/%Y})"
        return reason

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


def first_worked_month(session: Session, participant_id: int, clause_id: int) -> date | None:
    """The first month with hours declared for this participant on this clause, if any."""
    return session.scalar(
        select(func.min(Declaration.month))
        .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
        .where(*_worked_on(participant_id, clause_id))
    )


def worked_clauses(session: Session, participant_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Declaration.clause_id)
            .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
            .where(DeclarationLine.participant_id == participant_id, worked(DeclarationLine.hours))
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


@dataclass(frozen=True)
class Known:
    """What the database holds of one participant on one clause, as the checks need it."""

    existing: Outcome | None
    first_month: date | None  # the first month with hours declared there


def known_of(session: Session, participant_id: int, clause_id: int) -> Known:
    return Known(
        find_outcome(session, participant_id, clause_id),
        first_worked_month(session, participant_id, clause_id),
    )


def known_of_pairs(session: Session, pairs: Collection[Pair]) -> dict[Pair, Known]:
    """``known_of`` for many (participant, clause) pairs in two statements, for imports."""
    if not pairs:
        return {}
    people, clauses = {p for p, _ in pairs}, {c for _, c in pairs}
    existing: dict[tuple[int, int | None], Outcome] = {}
    for outcome in session.scalars(
        select(Outcome)
        .where(Outcome.participant_id.in_(people), Outcome.clause_id.in_(clauses))
        .order_by(Outcome.id.desc())
    ):
        # Newest first, so the oldest row of a pair wins as in ``find_outcome``.
        existing[(outcome.participant_id, outcome.clause_id)] = outcome
    first: dict[Pair, date] = {
        (participant_id, clause_id): month
        for participant_id, clause_id, month in session.execute(
            select(
                DeclarationLine.participant_id, Declaration.clause_id, func.min(Declaration.month)
            )
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(
                DeclarationLine.participant_id.in_(people),
                Declaration.clause_id.in_(clauses),
                worked(DeclarationLine.hours),
            )
            .group_by(DeclarationLine.participant_id, Declaration.clause_id)
        )
    }
    return {pair: Known(existing.get(pair), first.get(pair)) for pair in pairs}


def type_label(code: str) -> str:
    return label_of(OUTCOME_TYPE_LABELS, code)


def is_same(existing: Outcome | None, outcome_type: OutcomeType, on: date) -> bool:
    return existing is not None and existing.type == outcome_type.value and existing.date == on


def outcome_problems(
    session: Session,
    participant: Participant,
    clause: Clause,
    outcome_type: OutcomeType,
    on: date,
    *,
    today: date,
    replace: bool = False,
    known: Known | None = None,
) -> list[str]:
    """Everything that forbids recording this outcome, in French; [] when it may be recorded.

    The very same outcome already recorded is no problem: recording it changes nothing.
    ``known`` spares the lookups when the caller has them (``known_of_pairs``).
    """
    known = known or known_of(session, participant.id, clause.id)
    existing = known.existing
    if is_same(existing, outcome_type, on):
        return []
    stage = Stage(clause.stage)
    if stage in FINAL_STAGES:
        return [
            f"{clause.label} est à l'étape « {LABELS[stage]} » : ses chiffres ne changent plus, "
            "aucune sortie ne peut y être enregistrée."
        ]
    first = known.first_month
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
    groups: Mapping[str, str] | None = None,
) -> RecordedOutcome:
    """Record (or with ``replace``, correct) what became of a participant after a clause.

    ``groups`` is the ``outcome_groups`` setting: the group stored and said is the one in force."""
    today = local_date(require_aware(now), zone)
    reference = clean_reference(reference)
    participant = find_participant(session, reference)
    if participant is None:
        raise NotFound(
            f"Aucun participant « {reference} ». La liste : « clauses participant list »."
        )
    # The clause row lock makes two runs of the same command queue: the second sees the first.
    clause = get_clause(session, clause_id, for_update=True)
    known = known_of(session, participant.id, clause.id)
    problems = outcome_problems(
        session, participant, clause, outcome_type, on, today=today, replace=replace, known=known
    )
    if problems:
        raise InputRefused(" ".join(problems))
    written = write_outcome(
        session,
        participant,
        clause,
        outcome_type,
        on,
        existing=known.existing,
        actor=actor,
        now=now,
        groups=groups,
    )
    session.flush()
    return written.recorded()


@dataclass(frozen=True)
class WrittenOutcome:
    """An outcome written in the session; its id is known once the session is flushed."""

    row: Outcome
    draft: RecordedOutcome  # with outcome_id 0

    def recorded(self) -> RecordedOutcome:
        return dataclasses.replace(self.draft, outcome_id=self.row.id)


def write_outcome(
    session: Session,
    participant: Participant,
    clause: Clause,
    outcome_type: OutcomeType,
    on: date,
    *,
    existing: Outcome | None,
    actor: str,
    now: datetime,
    groups: Mapping[str, str] | None = None,
) -> WrittenOutcome:
    """Write an outcome that ``outcome_problems`` allowed, with its history row, on a clause the
    caller has locked. No flush: an import sends all its rows together."""
    group = group_of(outcome_type.value, groups)
    draft = RecordedOutcome(
        0,
        participant.reference,
        clause.id,
        clause.label,
        outcome_type,
        on,
        Change.CREATED,
        group,
    )
    if existing is not None and is_same(existing, outcome_type, on):
        return WrittenOutcome(existing, dataclasses.replace(draft, change=Change.UNCHANGED))
    row = existing or Outcome(participant_id=participant.id, clause_id=clause.id)
    if existing is not None:
        previous = (type_label(existing.type), existing.date)
        draft = dataclasses.replace(draft, change=Change.REPLACED, previous=previous)
    row.type, row.group, row.date = outcome_type.value, group.value, on
    session.add(row)
    add_history(
        session, clause, event=HISTORY_EVENT, actor=actor, reason=draft.history_reason, now=now
    )
    return WrittenOutcome(row, draft)


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
    #: False while its participant has no hours worked on its clause (``counted``): kept and
    #: listed, left out of the figures until the hours are declared again.
    counted: bool = True
    #: Why it is not counted, in French (« non comptée : … »); None when it counts.
    not_counted: str | None = None

    @property
    def description(self) -> str:
        """``CDI (emploi durable) le 15/03/2027``, and why it is not counted if so."""
        text = f"{self.type_label} ({self.group_label.lower()}) le {self.on:%d/%m/%Y}"
        return text if self.not_counted is None else f"{text} – {self.not_counted}"


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


def list_outcomes(
    session: Session,
    clause_id: int | None = None,
    groups: Mapping[str, str] | None = None,
    *,
    participant_id: int | None = None,
) -> list[OutcomeLine]:
    """Every outcome recorded (on one clause, of one participant when asked), oldest first, each
    in its group under the mapping in force (``groups``: the ``outcome_groups`` setting)."""
    if clause_id is not None:
        get_clause(session, clause_id)
    statement = (
        select(
            Outcome,
            Participant.reference,
            Market.reference,
            Clause.lot_number,
            counted().label("counted"),
        )
        .join(Participant, Participant.id == Outcome.participant_id)
        .outerjoin(Clause, Clause.id == Outcome.clause_id)
        .outerjoin(Market, Market.id == Clause.market_id)
        .order_by(Outcome.date, Participant.reference, Outcome.id)
    )
    if clause_id is not None:
        statement = statement.where(Outcome.clause_id == clause_id)
    if participant_id is not None:
        statement = statement.where(Outcome.participant_id == participant_id)
    lines = []
    for outcome, reference, market, lot, counts in session.execute(statement):
        group = group_of(outcome.type, groups)
        counts = bool(counts)
        lines.append(
            OutcomeLine(
                reference=reference,
                clause_id=outcome.clause_id,
                market=market,
                lot_number=lot,
                type=outcome.type,
                type_label=type_label(outcome.type),
                group=group.value,
                group_label=OUTCOME_GROUP_LABELS[group],
                on=outcome.date,
                counted=counts,
                not_counted=None
                if counts or outcome.clause_id is None
                else not_counted_reason(session, reference, outcome.clause_id),
            )
        )
    return lines


#: What the cancellation's history reason adds for outcomes it leaves uncounted (see
#: ``uncounted_sentence``); the listings read it back to say since when.
_NO_LONGER = NO_LONGER_COUNTED
_CANCELLED_MONTH = re.compile(r"déclaration n°\s\d+ (?P<month>(?:d'|de )\S+ \d{4}) de ")
#: What the history row of a declaration recorded again over an existing one says
#: (``declarations.record_declaration``: « … : 80 h (remplace 120 h) »): a correction, which
#: may take someone's lines away as a cancellation does.
_DECLARATION_RECORDED = "declaration"
_CORRECTED = " (remplace "


def not_counted_reason(session: Session, reference: str, clause_id: int) -> str:
    """« non comptée : aucune heure déclarée sur ce lot depuis l'annulation de la déclaration
    de mars 2026 »: the latest cancellation on the clause that said it left this participant's
    outcome uncounted, unless a declaration of the clause was corrected since (the hours
    declared again after it may have gone by that correction); otherwise (the lines went by a
    correction), the fact alone."""
    text = "non comptée : aucune heure déclarée sur ce lot"
    named = re.compile(rf"(?:\(|; ){re.escape(reference)}, ")
    for history_id, at, reason in session.execute(
        select(ClauseHistory.id, ClauseHistory.at, ClauseHistory.reason)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == DECLARATION_CANCELLED,
            or_(*(ClauseHistory.reason.contains(words) for words in _NO_LONGER)),
            ClauseHistory.reason.contains(f"{reference}, ", autoescape=True),
        )
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
    ):
        month = _CANCELLED_MONTH.match(reason or "")
        if month is None or not named.search(reason or ""):
            continue
        # The latest cancellation naming them: the hours were theirs until then. Only a later
        # correction can have taken away hours declared again since (a later cancellation
        # would name them), and which one did is not kept: then the fact alone.
        if _corrected_since(session, clause_id, at, history_id):
            return text
        return f"{text} depuis l'annulation de la déclaration {month.group('month')}"
    return text


def _corrected_since(session: Session, clause_id: int, at: datetime, history_id: int) -> bool:
    """Whether a declaration of the clause was corrected after the history row ``history_id``
    (written at ``at``)."""
    later = or_(
        ClauseHistory.at > at,
        (ClauseHistory.at == at) & (ClauseHistory.id > history_id),
    )
    found = session.scalar(
        select(ClauseHistory.id)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == _DECLARATION_RECORDED,
            ClauseHistory.reason.contains(_CORRECTED, autoescape=True),
            later,
        )
        .limit(1)
    )
    return found is not None


def list_participants(
    session: Session, clause_id: int | None = None, groups: Mapping[str, str] | None = None
) -> list[ParticipantLine]:
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
    for line in list_outcomes(session, clause_id, groups):
        outcomes[line.reference].append(line)
    people = select(Participant).order_by(Participant.reference)
    if clause_id is not None:
        on_clause = (
            select(DeclarationLine.participant_id)
            .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
            .where(Declaration.clause_id == clause_id)
        )
        # Someone whose lines were cancelled stays listed with their outcome, shown as not
        # counted: nothing recorded disappears from the facilitator's sight.
        with_outcome = select(Outcome.participant_id).where(Outcome.clause_id == clause_id)
        people = people.where(or_(Participant.id.in_(on_clause), Participant.id.in_(with_outcome)))
    return [
        ParticipantLine(
            reference=p.reference,
            criterion=p.criterion,
            criterion_label=label_of(CRITERION_LABELS, p.criterion),
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
