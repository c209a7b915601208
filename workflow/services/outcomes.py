"""Recording what became of a participant after working on a clause ("sortie").

Outcomes are dated events: a participant may have several on one clause (a short training in
March, a CDI in September). Recording the very same (participant, clause, type, date) again
changes nothing (a command or an import can be run twice); another type or date is added, except
a second situation on the same day, refused: one situation per day. A wrong entry is corrected
(``fix_outcome``) or withdrawn (``remove_outcome``, the row deleted) by its N°, on purpose and
with a reason the clause's history keeps (an older outcome without a clause: its participant's
correction history; a withdrawal asked again answers with the first); ``replace`` (the former ``--replace``) still corrects
the pair's outcome when it has exactly one. The participant must have worked on the clause
(declared hours) and the date must lie between their first declared month there and today, in
the service's time zone; a closed clause still takes outcomes (they are often known months
after), and what they say then tells that the final report the buyer received is not sent
again (``closed_note``). Each change writes a history row on the clause in the same transaction.

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
import json
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
    OutboxMessage,
    Outcome,
    Participant,
    RecordHistory,
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
from workflow.emails.envelope import OutboxState
from workflow.errors import InputRefused, NotFound
from workflow.services.clauses import add_history, get_clause
from workflow.services.corrections import Act, Action, RecordKind
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
from workflow.services.outdated_reports import REPORT_NOTICE_KIND
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
    #: On a closed clause: what the outcome does to the figures already given (``closed_note``).
    closed: str = ""

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
                f"n° {self.clause_id} est déjà enregistrée (n° {self.outcome_id}), "
                f"{self.description}."
            )
        if self.change is Change.REPLACED and self.previous is not None:
            label, on = self.previous
            return (
                f"Sortie n° {self.outcome_id} corrigée : {where}, {self.description} (remplace "
                f"{label} le {on:%d/%m/%Y}).{self.closed}"
            )
        return (
            f"Sortie n° {self.outcome_id} enregistrée : {where}, {self.description}.{self.closed}"
        )


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


def find_outcomes(session: Session, participant_id: int, clause_id: int) -> tuple[Outcome, ...]:
    """Every outcome of this participant on this clause, oldest first."""
    return tuple(
        session.scalars(
            select(Outcome)
            .where(Outcome.participant_id == participant_id, Outcome.clause_id == clause_id)
            .order_by(Outcome.id)
        )
    )


@dataclass(frozen=True)
class Known:
    """What the database holds of one participant on one clause, as the checks need it."""

    existing: tuple[Outcome, ...]  # oldest first
    first_month: date | None  # the first month with hours declared there


def known_of(session: Session, participant_id: int, clause_id: int) -> Known:
    return Known(
        find_outcomes(session, participant_id, clause_id),
        first_worked_month(session, participant_id, clause_id),
    )


def known_of_pairs(session: Session, pairs: Collection[Pair]) -> dict[Pair, Known]:
    """``known_of`` for many (participant, clause) pairs in two statements, for imports."""
    if not pairs:
        return {}
    people, clauses = {p for p, _ in pairs}, {c for _, c in pairs}
    existing: dict[tuple[int, int | None], list[Outcome]] = defaultdict(list)
    for outcome in session.scalars(
        select(Outcome)
        .where(Outcome.participant_id.in_(people), Outcome.clause_id.in_(clauses))
        .order_by(Outcome.id)
    ):
        existing[(outcome.participant_id, outcome.clause_id)].append(outcome)
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
    return {pair: Known(tuple(existing.get(pair, ())), first.get(pair)) for pair in pairs}


def type_label(code: str) -> str:
    return label_of(OUTCOME_TYPE_LABELS, code)


def is_same(existing: Outcome | None, outcome_type: OutcomeType, on: date) -> bool:
    return existing is not None and existing.type == outcome_type.value and existing.date == on


def same_one(existing: Collection[Outcome], outcome_type: OutcomeType, on: date) -> Outcome | None:
    """The outcome already recorded with this very type and date, if any."""
    return next((o for o in existing if is_same(o, outcome_type, on)), None)


def numbered(outcome: Outcome) -> str:
    """« n° 12 : Formation courte (non qualifiante) le 10/03/2027 »."""
    return f"n° {outcome.id} : {type_label(outcome.type)} le {outcome.date:%d/%m/%Y}"


#: How the command line corrects or withdraws one outcome (the web form says its own words).
FIX_COMMAND = "clauses participant outcome-fix"
REMOVE_COMMAND = "clauses participant outcome-remove"


def _no_hours(session: Session, participant: Participant, clause: Clause) -> str:
    elsewhere = ", ".join(f"n° {n}" for n in worked_clauses(session, participant.id))
    stage = Stage(clause.stage)
    at_stage = (
        f", à l'étape « {LABELS[stage]} »"
        if stage in FINAL_STAGES and stage is not Stage.CLOSED
        else ""
    )
    return (
        f"{participant.reference} n'a aucune heure déclarée sur {clause_ref(clause)}{at_stage} : "
        "une sortie s'enregistre sur une clause où le participant a travaillé"
        + (f" (heures déclarées sur : clause {elsewhere})." if elsewhere else ".")
    )


def _date_problems(
    participant: Participant, clause: Clause, on: date, *, first: date, today: date
) -> list[str]:
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
    return problems


def _same_day(participant: Participant, clause: Clause, other: Outcome) -> str:
    return (
        f"{participant.reference} a déjà une sortie le {other.date:%d/%m/%Y} sur la clause "
        f"n° {clause.id} ({numbered(other)}) : une seule situation par jour. Si elle est "
        f"fausse, corrigez-la : « {FIX_COMMAND} {other.id} --type … --date … --reason … »."
    )


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
    Another one is added, unless it falls on the day of another (one situation per day);
    ``replace`` corrects the pair's only outcome and is refused when there are several.
    ``known`` spares the lookups when the caller has them (``known_of_pairs``).
    A closed clause takes outcomes (known months after); an abandoned one has no hours.
    """
    known = known or known_of(session, participant.id, clause.id)
    existing = known.existing
    if same_one(existing, outcome_type, on) is not None:
        return []
    first = known.first_month
    if first is None:
        return [_no_hours(session, participant, clause)]
    problems = _date_problems(participant, clause, on, first=first, today=today)
    if replace and len(existing) > 1:
        listed = " ; ".join(numbered(o) for o in existing)
        problems.append(
            f"{participant.reference} a {len(existing)} sorties sur la clause n° {clause.id} "
            f"({listed}) : --replace ne sait pas laquelle corriger. Corrigez celle qui est "
            f"fausse par son N° : « {FIX_COMMAND} N° --type … --date … --reason … »."
        )
    elif not replace:
        problems.extend(_same_day(participant, clause, o) for o in existing if o.date == on)
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
    """Record (or with ``replace``, correct the only) outcome of a participant after a clause.

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
        replace=replace,
        actor=actor,
        now=now,
        groups=groups,
    )
    session.flush()
    recorded = written.recorded()
    if recorded.change is Change.UNCHANGED:
        return recorded
    return dataclasses.replace(
        recorded, closed=closed_note(session, clause, zone, "la sortie compte dans")
    )


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
    existing: Collection[Outcome],
    replace: bool = False,
    actor: str,
    now: datetime,
    groups: Mapping[str, str] | None = None,
) -> WrittenOutcome:
    """Write an outcome that ``outcome_problems`` allowed, with its history row, on a clause the
    caller has locked: nothing for the very same one, a correction of the only one with
    ``replace``, else a new row. No flush: an import sends all its rows together."""
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
    same = same_one(existing, outcome_type, on)
    if same is not None:
        return WrittenOutcome(same, dataclasses.replace(draft, change=Change.UNCHANGED))
    corrected = next(iter(existing)) if replace and len(existing) == 1 else None
    row = corrected or Outcome(participant_id=participant.id, clause_id=clause.id)
    if corrected is not None:
        previous = (type_label(corrected.type), corrected.date)
        draft = dataclasses.replace(draft, change=Change.REPLACED, previous=previous)
    row.type, row.group, row.date = outcome_type.value, group.value, on
    session.add(row)
    add_history(
        session, clause, event=HISTORY_EVENT, actor=actor, reason=draft.history_reason, now=now
    )
    return WrittenOutcome(row, draft)


# --- correcting and withdrawing one outcome by its N° -------------------------------------------

#: A reason is a sentence of the history, not a file.
REASON_MAX = 500


def clean_reason(reason: str | None) -> str:
    """The reason of a correction or a withdrawal, on one line; refused when empty or too long."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise InputRefused(
            "Motif manquant : dites pourquoi la sortie est corrigée ou retirée (--reason), "
            "l'historique de la clause le garde."
        )
    if len(cleaned) > REASON_MAX:
        raise InputRefused(f"Motif trop long ({len(cleaned)} caractères) : au plus {REASON_MAX}.")
    return cleaned


#: The history row of a withdrawal (``remove_outcome``): « sortie n° 12 de REF retirée : … ;
#: motif : … »; read back when the same withdrawal is asked again.
_WITHDRAWN = re.compile(r"sortie n° (\d+) de (.+?) retirée : (.*) ; motif : (.*)", re.S)


def _field(outcome_id: int) -> str:
    """The field of a participant's correction history that keeps an outcome without a clause
    (older data): « sortie n° 5 »."""
    return f"sortie n° {outcome_id}"


#: What a withdrawn outcome without a clause becomes in its participant's correction history.
_WITHDRAWN_VALUE = "retirée"


@dataclass(frozen=True)
class Withdrawal:
    """An outcome already withdrawn, as the history that keeps it tells."""

    outcome_id: int
    reference: str
    clause_id: int | None
    before: str
    reason: str
    on: date  # the day it was withdrawn, in the service's time zone
    at: datetime

    @property
    def sentence(self) -> str:
        return (
            f"la sortie n° {self.outcome_id} a déjà été retirée le {self.on:%d/%m/%Y} "
            f"(motif : {self.reason})"
        )


def find_withdrawal(session: Session, outcome_id: int, zone: ZoneInfo) -> Withdrawal | None:
    """The latest withdrawal of the outcome N° ``outcome_id`` the histories keep (the clause's,
    or its participant's for an outcome without a clause), if any."""
    found: list[Withdrawal] = []
    for clause_id, at, reason in session.execute(
        select(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.reason)
        .where(
            ClauseHistory.event == HISTORY_EVENT,
            ClauseHistory.reason.startswith(f"sortie n° {outcome_id} de ", autoescape=True),
            ClauseHistory.reason.contains(" retirée : ", autoescape=True),
        )
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
    ):
        matched = _WITHDRAWN.fullmatch(reason or "")
        if matched is not None and int(matched[1]) == outcome_id:
            found.append(
                Withdrawal(
                    outcome_id,
                    matched[2],
                    clause_id,
                    matched[3],
                    matched[4],
                    local_date(at, zone),
                    at,
                )
            )
            break
    field = _field(outcome_id)
    for reference, at, before, after, reason in session.execute(
        select(
            Participant.reference,
            RecordHistory.at,
            RecordHistory.before,
            RecordHistory.after,
            RecordHistory.reason,
        )
        .join(Participant, Participant.id == RecordHistory.entity_id)
        .where(
            RecordHistory.entity == RecordKind.PARTICIPANT.value,
            RecordHistory.after.contains(f'"{field}"', autoescape=True),
        )
        .order_by(RecordHistory.at.desc(), RecordHistory.id.desc())
    ):
        if _loads(after).get(field) == _WITHDRAWN_VALUE:
            was = str(_loads(before).get(field) or "")
            found.append(
                Withdrawal(outcome_id, reference, None, was, reason or "", local_date(at, zone), at)
            )
            break
    return max(found, key=lambda w: w.at, default=None)


def _loads(text: str | None) -> dict[str, object]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _gone(session: Session, outcome_id: int, zone: ZoneInfo) -> NotFound:
    withdrawn = find_withdrawal(session, outcome_id, zone)
    if withdrawn is not None:
        return NotFound(
            f"{withdrawn.sentence[0].upper()}{withdrawn.sentence[1:]} : elle ne se corrige "
            "plus. Si elle était juste, enregistrez-la de nouveau (« clauses participant "
            "outcome »)."
        )
    return NotFound(
        f"Aucune sortie n° {outcome_id} (numéro mal recopié ?). Les numéros : "
        "« clauses participant list »."
    )


def _locked_outcome(
    session: Session, outcome_id: int, on_clause: int | None = None
) -> tuple[Outcome | None, Clause | None]:
    """The outcome N° ``outcome_id`` and its clause, locked: read again under the lock, so two
    corrections of one outcome queue and the second sees the first. An outcome without a
    clause (older data) is locked through its participant's row, its clause None. ``(None,
    None)`` when there is no such outcome (withdrawn, or a wrong number). ``on_clause``: the
    clause the page shows; an outcome of another one is refused (an edited address)."""
    found = session.execute(
        select(Outcome.participant_id, Outcome.clause_id).where(Outcome.id == outcome_id)
    ).first()
    if found is None:
        return None, None
    participant_id, clause_id = found
    clause = None
    if clause_id is None:
        session.scalar(
            select(Participant.id).where(Participant.id == participant_id).with_for_update()
        )
    else:
        clause = get_clause(session, clause_id, for_update=True)
    row = session.get(Outcome, outcome_id, populate_existing=True)
    if row is None or row.clause_id != (clause.id if clause is not None else None):
        return None, None  # withdrawn or moved while waiting for the lock
    if on_clause is not None and clause_id is None:
        raise InputRefused(
            f"La sortie n° {outcome_id} n'est rattachée à aucune clause (donnée ancienne) : elle "
            "ne se corrige pas depuis la page d'un lot. Choisissez dans la liste une sortie du lot."
        )
    if on_clause is not None and clause_id != on_clause:
        raise InputRefused(
            f"La sortie n° {outcome_id} n'est pas une sortie de la clause n° {on_clause} : "
            "choisissez-la dans la liste."
        )
    return row, clause


def closed_note(session: Session, clause: Clause | None, zone: ZoneInfo, what: str) -> str:
    """On a closed clause, what the change does to the figures already given (`` La clause
    est clôturée : …``, after ``what``: « la sortie compte dans »), else "". An outcome known
    after the closure counts in the monthly summaries and the annual report of its date; the
    final report the buyer received is never sent again (closing took its last version)."""
    if clause is None or Stage(clause.stage) is not Stage.CLOSED:
        return ""
    note = (
        f" La clause est clôturée : {what} les synthèses mensuelles et le bilan annuel de sa date"
    )
    return note + report_unchanged(session, clause, zone)


def report_unchanged(session: Session, clause: Clause, zone: ZoneInfo) -> str:
    """The end of a closed clause's sentence about its final report: « ; le bilan de
    l'opération adressé au donneur d'ordre le 02/12/2026 n'est pas modifié. » (the date of its
    notice sent, if any), or « . » when no report was recorded."""
    if clause.final_report_at is None:
        return "."
    sent = session.scalar(
        select(func.max(OutboxMessage.sent_at)).where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.kind == REPORT_NOTICE_KIND,
            OutboxMessage.state == OutboxState.SENT.value,
        )
    )
    told = f" le {local_date(sent, zone):%d/%m/%Y}" if sent is not None else ""
    return f" ; le bilan de l'opération adressé au donneur d'ordre{told} n'est pas modifié."


@dataclass(frozen=True)
class OutcomeEdit:
    """What ``fix_outcome`` or ``remove_outcome`` did, with what the CLI prints."""

    outcome_id: int
    reference: str
    #: None for an outcome without a clause (older data).
    clause_id: int | None
    #: « Formation courte (non qualifiante) (autre) le 10/03/2027 »: before the change.
    before: str
    #: After the correction; None for a withdrawal.
    after: str | None
    reason: str
    changed: bool
    #: The clause history row that keeps the change, or that kept the withdrawal asked again
    #: (0 when nothing changed, or when the participant's correction history keeps it).
    history_id: int = 0
    #: On a closed clause: what the change does to the figures already given (``closed_note``).
    closed: str = ""
    #: A withdrawal asked again: the one already made, which changed nothing now.
    already: Withdrawal | None = None

    @property
    def removed(self) -> bool:
        return self.after is None

    @property
    def where(self) -> str:
        return f"clause n° {self.clause_id}" if self.clause_id is not None else "sans clause"

    @property
    def message(self) -> str:
        if self.already is not None:
            return f"Rien de nouveau : {self.already.sentence}."
        if not self.changed:
            return (
                f"Rien de nouveau : la sortie n° {self.outcome_id} de {self.reference} "
                f"({self.where}) est déjà {self.before}."
            )
        if self.after is None:
            counts = (
                self.closed
                or " Elle ne compte plus dans les synthèses ni les bilans ; l'historique "
                + ("de la clause" if self.clause_id is not None else "du participant")
                + " la garde."
            )
            return (
                f"Sortie n° {self.outcome_id} retirée : {self.reference}, {self.where}, "
                f"{self.before} ; motif : {self.reason}.{counts}"
            )
        return (
            f"Sortie n° {self.outcome_id} corrigée : {self.reference}, {self.where}, "
            f"{self.after} (remplace {self.before}) ; motif : {self.reason}.{self.closed}"
        )


def _described(outcome_type: str, on: date, groups: Mapping[str, str] | None) -> str:
    group = OUTCOME_GROUP_LABELS[group_of(outcome_type, groups)].lower()
    return f"{type_label(outcome_type)} ({group}) le {on:%d/%m/%Y}"


def _participant_history(
    session: Session,
    participant: Participant,
    outcome_id: int,
    before: str,
    after: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """An outcome without a clause has no clause history: its participant's correction
    history keeps the change (« sortie n° 5 « … » → « … » »), as ``participant set`` does."""
    field = _field(outcome_id)
    Act.of(actor, now, reason).write(
        session,
        RecordKind.PARTICIPANT,
        participant.id,
        (RecordKind.PARTICIPANT, participant.id),
        Action.EDIT,
        before={field: before},
        after={field: after},
    )


def fix_outcome(
    session: Session,
    outcome_id: int,
    *,
    outcome_type: OutcomeType | None,
    on: date | None,
    reason: str | None,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
    groups: Mapping[str, str] | None = None,
    on_clause: int | None = None,
) -> OutcomeEdit:
    """Correct the outcome N° ``outcome_id``: its type, its date or both (what is not given
    stays), with a reason the clause's history keeps. The same checks as recording one. An
    outcome without a clause (older data) is corrected too: its date not in the future, one a
    day among the participant's outcomes without a clause, its participant's history keeping
    the change."""
    today = local_date(require_aware(now), zone)
    cleaned = clean_reason(reason)
    row, clause = _locked_outcome(session, outcome_id, on_clause)
    if row is None:
        raise _gone(session, outcome_id, zone)
    participant = session.get_one(Participant, row.participant_id)
    new_type = outcome_type or OutcomeType(row.type)
    new_on = on or row.date
    before = _described(row.type, row.date, groups)
    after = _described(new_type.value, new_on, groups)
    clause_id = clause.id if clause is not None else None
    edit = OutcomeEdit(row.id, participant.reference, clause_id, before, after, cleaned, True)
    if is_same(row, new_type, new_on):
        return dataclasses.replace(edit, changed=False)
    if clause is None:
        _fix_unattached(session, participant, row, new_on, today=today)
    else:
        _check_fix(session, participant, clause, row, new_on, today=today)
    row.type, row.date = new_type.value, new_on
    row.group = group_of(new_type.value, groups).value
    if clause is None:
        _participant_history(
            session, participant, row.id, before, after, reason=cleaned, actor=actor, now=now
        )
        session.flush()
        return edit
    kept = add_history(
        session,
        clause,
        event=HISTORY_EVENT,
        actor=actor,
        reason=(
            f"sortie n° {row.id} de {participant.reference} corrigée : {after} (remplace "
            f"{before}) ; motif : {cleaned}"
        ),
        now=now,
    )
    session.flush()
    closed = closed_note(session, clause, zone, "la sortie corrigée compte dans")
    return dataclasses.replace(edit, history_id=kept.id, closed=closed)


def _check_fix(
    session: Session,
    participant: Participant,
    clause: Clause,
    row: Outcome,
    new_on: date,
    *,
    today: date,
) -> None:
    known = known_of(session, participant.id, clause.id)
    if known.first_month is None:
        raise InputRefused(
            _no_hours(session, participant, clause)
            + f" Si la sortie n° {row.id} est fausse, retirez-la : « {REMOVE_COMMAND} "
            f"{row.id} --reason … »."
        )
    problems = _date_problems(participant, clause, new_on, first=known.first_month, today=today)
    problems.extend(
        _same_day(participant, clause, o)
        for o in known.existing
        if o.id != row.id and o.date == new_on
    )
    if problems:
        raise InputRefused(" ".join(problems))


def _fix_unattached(
    session: Session, participant: Participant, row: Outcome, new_on: date, *, today: date
) -> None:
    """The checks left for an outcome without a clause: no hours to date it against."""
    problems: list[str] = []
    if new_on > today:
        problems.append(
            f"Date de sortie {new_on:%d/%m/%Y} dans le futur : on enregistre une sortie une "
            f"fois connue (aujourd'hui : {today:%d/%m/%Y})."
        )
    for other in session.scalars(
        select(Outcome).where(
            Outcome.participant_id == participant.id,
            Outcome.clause_id.is_(None),
            Outcome.id != row.id,
            Outcome.date == new_on,
        )
    ):
        problems.append(
            f"{participant.reference} a déjà une sortie sans clause le {other.date:%d/%m/%Y} "
            f"({numbered(other)}) : une seule situation par jour."
        )
    if problems:
        raise InputRefused(" ".join(problems))


def remove_outcome(
    session: Session,
    outcome_id: int,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
    zone: ZoneInfo,
    groups: Mapping[str, str] | None = None,
    on_clause: int | None = None,
) -> OutcomeEdit:
    """Withdraw the outcome N° ``outcome_id``, entered by mistake: the row is deleted (the
    figures no longer count it) and the clause's history keeps who, when, what and why (its
    participant's, for an outcome without a clause). Safe to run twice: an outcome already
    withdrawn is answered with the withdrawal the history keeps, nothing changed."""
    cleaned = clean_reason(reason)
    row, clause = _locked_outcome(session, outcome_id, on_clause)
    if row is None:
        withdrawn = find_withdrawal(session, outcome_id, zone)
        if withdrawn is None or (on_clause is not None and withdrawn.clause_id != on_clause):
            raise _gone(session, outcome_id, zone)
        return OutcomeEdit(
            outcome_id,
            withdrawn.reference,
            withdrawn.clause_id,
            withdrawn.before,
            None,
            withdrawn.reason,
            False,
            already=withdrawn,
        )
    participant = session.get_one(Participant, row.participant_id)
    before = _described(row.type, row.date, groups)
    if clause is None:
        _participant_history(
            session,
            participant,
            row.id,
            before,
            _WITHDRAWN_VALUE,
            reason=cleaned,
            actor=actor,
            now=now,
        )
        session.delete(row)
        session.flush()
        return OutcomeEdit(outcome_id, participant.reference, None, before, None, cleaned, True)
    kept = add_history(
        session,
        clause,
        event=HISTORY_EVENT,
        actor=actor,
        reason=(
            f"sortie n° {row.id} de {participant.reference} retirée : {before} ; motif : {cleaned}"
        ),
        now=now,
    )
    session.delete(row)
    session.flush()
    closed = closed_note(session, clause, zone, "la sortie ne compte plus dans")
    return OutcomeEdit(
        outcome_id,
        participant.reference,
        clause.id,
        before,
        None,
        cleaned,
        True,
        kept.id,
        closed=closed,
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
    #: False while its participant has no hours worked on its clause (``counted``): kept and
    #: listed, left out of the figures until the hours are declared again.
    counted: bool = True
    #: Why it is not counted, in French (« non comptée : … »); None when it counts.
    not_counted: str | None = None
    #: Its N°, shown in the listings: what ``outcome-fix`` and ``outcome-remove`` take.
    id: int = 0

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
                id=outcome.id,
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
