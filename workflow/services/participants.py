"""Participants: a pseudonymous reference, an eligibility criterion and little else (GDPR).

Besides the reference and criterion, only what the reports count is kept: sex, birth year, and the
proof of eligibility the facilitator checked with its validation date. ``update_participant``
completes or corrects the first three, ``validate_eligibility`` records the last two; both change
only what differs, so running the same command twice says there is nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Participant
from workflow.domain.calendar import at_local
from workflow.domain.events import require_aware
from workflow.domain.participants import (
    REFERENCE_EXAMPLE,
    birth_year_problem,
    clean_proof,
    name_problem,
    proof_problem,
    validation_date_problem,
)
from workflow.domain.vocabulary import CRITERION_LABELS, Criterion, Sex
from workflow.errors import SEARCH_HIM, InputRefused, NotFound, list_hint
from workflow.services.corrections import Act, Action, RecordKind

REFERENCE_MAX = 40


def clean_reference(text: str) -> str:
    reference = " ".join(text.split())
    if not reference:
        raise InputRefused("Référence du participant vide : une référence pseudonyme est exigée.")
    if len(reference) > REFERENCE_MAX:
        raise InputRefused(
            f"Référence du participant « {reference} » trop longue : {REFERENCE_MAX} caractères au plus."
        )
    return reference


#: What makes a spreadsheet read a cell as a formula: a new reference may not start with it.
FORMULA_STARTS = ("=", "+", "-", "@")


def new_reference_problem(reference: str) -> str | None:
    """Why ``reference`` (cleaned) cannot be given to a new participant, in French; None when it
    can. A reference that a spreadsheet would read as a formula (« =1+1 », « -P12 ») would
    come alive in every file the companies and the buyers open; one written as a person's name
    (« Jean Dupont », ``domain.participants.name_problem``) would keep a name the service must
    not keep.

    The one check of a new reference: the CLI and web « participant add », the online
    declaration, the API and the declaration import ask it, so the same reference is refused
    with the same words wherever it is typed. Only a new participant is asked: one already
    recorded keeps its reference and is still declared under it."""
    if reference.startswith(FORMULA_STARTS):
        return (
            f"Référence du participant « {reference} » refusée : elle commence par "
            f"« {reference[0]} », qu'un tableur lirait comme une formule. Commencez-la par une "
            f"lettre ou un chiffre (ex. {REFERENCE_EXAMPLE})."
        )
    return name_problem(reference)


def find_participant(
    session: Session, reference: str, *, for_update: bool = False
) -> Participant | None:
    statement = select(Participant).where(Participant.reference == reference)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def get_participant(session: Session, reference: str, *, for_update: bool = False) -> Participant:
    reference = clean_reference(reference)
    participant = find_participant(session, reference, for_update=for_update)
    if participant is None:
        raise NotFound(
            f"Aucun participant « {reference} ».", hint=list_hint("participant list", SEARCH_HIM)
        )
    return participant


def create_participant(
    session: Session,
    *,
    reference: str,
    criterion: Criterion,
    now: datetime,
    sex: Sex | None = None,
    birth_year: int | None = None,
    proof: str = "",
    validated_on: date | None = None,
) -> Participant:
    require_aware(now)
    reference = clean_reference(reference)
    if problem := new_reference_problem(reference):
        raise InputRefused(problem)
    if find_participant(session, reference) is not None:
        raise InputRefused(f"Le participant « {reference} » existe déjà.")
    if birth_year is not None and (problem := birth_year_problem(birth_year, now.year)):
        raise InputRefused(f"Participant « {reference} » : {problem}")
    participant = Participant(
        reference=reference,
        criterion=criterion.value,
        proof=proof,
        validated_on=validated_on,
        sex=sex.value if sex else None,
        birth_year=birth_year,
        created_at=now,
    )
    session.add(participant)
    session.flush()
    return participant


def get_or_create_participant(
    session: Session,
    *,
    reference: str,
    criterion: Criterion,
    now: datetime,
    sex: Sex | None = None,
    birth_year: int | None = None,
) -> tuple[Participant, bool]:
    """The participant with this reference, created when new; True when it was created."""
    existing = find_participant(session, clean_reference(reference))
    if existing is not None:
        return existing, False
    created = create_participant(
        session, reference=reference, criterion=criterion, now=now, sex=sex, birth_year=birth_year
    )
    return created, True


# --- references the facilitator gives -----------------------------------------------------------

#: ``P-2026-0042``: the year the participant is recorded, then their rank among the participants
#: recorded that year (every one of them, imported ones included).
AUTO_REFERENCE_FORMAT = "P-{year}-{rank:04d}"


def recorded_in_year(session: Session, year: int, zone: ZoneInfo) -> int:
    """How many participants were recorded during ``year`` (local time), whatever their
    reference is now: a purge renames a participant but keeps its row and its creation date."""
    begin = at_local(date(year, 1, 1), time(0), zone)
    end = at_local(date(year + 1, 1, 1), time(0), zone)
    count = session.scalar(
        select(func.count())
        .select_from(Participant)
        .where(Participant.created_at >= begin, Participant.created_at < end)
    )
    return int(count or 0)


def next_auto_reference(session: Session, *, now: datetime, zone: ZoneInfo) -> str:
    """The reference the facilitator gives the next participant: ``P-<year>-<rank>``.

    The rank is one more than the participants already recorded this year. No participant row
    is ever deleted and a purge keeps the rows (it only replaces their reference), so the count
    only grows: a reference once given is never given again, even after its participant was
    purged. When a company already chose that very text for someone (a reference of the same
    form, imported), a letter follows (``P-2026-0042-b``); it still holds the rank, which no
    later participant can have.
    """
    year = local_today(now, zone).year
    base = AUTO_REFERENCE_FORMAT.format(year=year, rank=recorded_in_year(session, year, zone) + 1)
    candidates = [base, *(f"{base}-{letter}" for letter in "bcdefghijklmnopqrstuvwxyz")]
    taken = set(
        session.scalars(select(Participant.reference).where(Participant.reference.in_(candidates)))
    )
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    raise InputRefused(
        f"Aucune référence libre de la forme « {base} » : enregistrez ce participant avec une "
        "référence choisie (clauses participant add RÉF …)."
    )


# --- completing and validating ------------------------------------------------------------------


def criterion_label(code: str) -> str:
    """The French label of a stored criterion; rows written by other means keep their own text."""
    try:
        return CRITERION_LABELS[Criterion(code)]
    except ValueError:
        return code


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return require_aware(now).astimezone(zone).date()


@dataclass(frozen=True)
class FieldChange:
    """One field of a participant, as a person reads it before and after (None: not recorded)."""

    field: str  # sex, birth_year, criterion, proof, validated_on
    label: str
    before: str | None
    after: str | None

    @property
    def phrase(self) -> str:
        if self.after is None:
            return f"{self.label} retirée (était : {self.before})"
        was = f" (au lieu de {self.before})" if self.before is not None else ""
        return f"{self.label} {self.after}{was}"


@dataclass(frozen=True)
class ParticipantChange:
    """What ``update_participant`` or ``validate_eligibility`` did, with what the CLI prints."""

    reference: str
    changes: tuple[FieldChange, ...]
    message: str
    # The participant as it now stands.
    criterion: str
    sex: str | None
    birth_year: int | None
    proof: str
    validated_on: date | None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _result(
    participant: Participant, changes: list[FieldChange], message: str
) -> ParticipantChange:
    return ParticipantChange(
        participant.reference,
        tuple(changes),
        message,
        criterion=participant.criterion,
        sex=participant.sex,
        birth_year=participant.birth_year,
        proof=participant.proof,
        validated_on=participant.validated_on,
    )


def _change(
    changes: list[FieldChange], field: str, label: str, before: str | None, after: str | None
) -> None:
    if before != after:
        changes.append(FieldChange(field, label, before, after))


def _day(on: date | None) -> str | None:
    return None if on is None else f"{on:%d/%m/%Y}"


def _criterion(code: str) -> str:
    return f"« {criterion_label(code)} »"


def update_participant(
    session: Session,
    reference: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    sex: Sex | None = None,
    birth_year: int | None = None,
    criterion: Criterion | None = None,
) -> ParticipantChange:
    """Complete or correct a participant's sex, birth year or criterion; only what is given.

    A new criterion withdraws the recorded validation: its proof justified the former criterion,
    so the facilitator checks the new one with ``validate_eligibility``.
    """
    reference = clean_reference(reference)
    if sex is None and birth_year is None and criterion is None:
        raise InputRefused(
            f"Rien à modifier pour « {reference} » : indiquez le sexe, l'année de naissance "
            "ou le critère d'éligibilité."
        )
    if birth_year is not None:
        problem = birth_year_problem(birth_year, local_today(now, zone).year)
        if problem:
            raise InputRefused(f"Participant « {reference} » : {problem}")
    participant = get_participant(session, reference, for_update=True)
    changes: list[FieldChange] = []
    if sex is not None:
        _change(changes, "sex", "sexe", participant.sex, sex.value)
        participant.sex = sex.value
    if birth_year is not None:
        before = None if participant.birth_year is None else str(participant.birth_year)
        _change(changes, "birth_year", "année de naissance", before, str(birth_year))
        participant.birth_year = birth_year
    withdrawn = False
    if criterion is not None and criterion.value != participant.criterion:
        _change(
            changes,
            "criterion",
            "critère",
            _criterion(participant.criterion),
            _criterion(criterion.value),
        )
        participant.criterion = criterion.value
        if participant.validated_on is not None or participant.proof:
            withdrawn_validation = _validation(participant)
            changes.append(FieldChange("validated_on", "validation", withdrawn_validation, None))
            participant.proof, participant.validated_on = "", None
            withdrawn = True
    session.flush()
    message = _update_message(
        participant, changes, asked=(sex, birth_year, criterion), withdrawn=withdrawn
    )
    return _result(participant, changes, message)


def _validation(participant: Participant) -> str:
    on = f"le {participant.validated_on:%d/%m/%Y}" if participant.validated_on else "sans date"
    proof = participant.proof or "sans justificatif"
    return f"{on}, {proof}"


def _update_message(
    participant: Participant,
    changes: list[FieldChange],
    *,
    asked: tuple[Sex | None, int | None, Criterion | None],
    withdrawn: bool,
) -> str:
    reference = participant.reference
    if not changes:
        sex, birth_year, criterion = asked
        held = [
            f"sexe {sex.value}" if sex else "",
            f"année de naissance {birth_year}" if birth_year else "",
            f"critère « {criterion_label(criterion.value)} »" if criterion else "",
        ]
        return f"Rien de nouveau : {reference} a déjà : {', '.join(h for h in held if h)}."
    text = f"Participant {reference} mis à jour : {' ; '.join(c.phrase for c in changes)}."
    if withdrawn:
        text += (
            " L'éligibilité validée portait sur l'ancien critère : enregistrez le justificatif du "
            f"nouveau avec « clauses participant validate {reference} --proof … »."
        )
    return text


def validate_eligibility(
    session: Session,
    reference: str,
    *,
    proof: str,
    now: datetime,
    zone: ZoneInfo,
    on: date | None = None,
) -> ParticipantChange:
    """Record the proof of eligibility the facilitator checked and the day it was validated.

    Without a date, the same proof as recorded keeps its date (running the command again changes
    nothing); a new proof is dated today in the service's time zone.
    """
    reference = clean_reference(reference)
    proof = clean_proof(proof)
    today = local_today(now, zone)
    found = [proof_problem(proof), validation_date_problem(on, today) if on else None]
    problems = [p for p in found if p]
    if problems:
        raise InputRefused(f"Participant « {reference} » : {' ; '.join(problems)}")
    participant = get_participant(session, reference, for_update=True)
    if on is None:
        recorded = participant.validated_on
        on = recorded if recorded is not None and participant.proof == proof else today
    changes: list[FieldChange] = []
    before = _validation(participant) if participant.validated_on else None
    _change(changes, "proof", "justificatif", participant.proof or None, proof)
    _change(changes, "validated_on", "date de validation", _day(participant.validated_on), _day(on))
    participant.proof, participant.validated_on = proof, on
    session.flush()
    if not changes:
        message = (
            f"Rien de nouveau : l'éligibilité de {reference} est déjà validée le {on:%d/%m/%Y} "
            f"({proof})."
        )
    else:
        message = f"Éligibilité de {reference} validée le {on:%d/%m/%Y} : {proof}"
        message += f" (remplace : {before})." if before else "."
    return _result(participant, changes, message)


def record_change(
    session: Session,
    participant_id: int,
    change: ParticipantChange,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """The history row of a correction (``update_participant``, ``validate_eligibility``):
    who, when, each field before → after as people read it (keyed by its French label), why.
    Nothing is written when nothing changed."""
    if not change.changes:
        return
    Act.of(actor, now, reason).write(
        session,
        RecordKind.PARTICIPANT,
        participant_id,
        (RecordKind.PARTICIPANT, participant_id),
        Action.EDIT,
        before={c.label: c.before for c in change.changes},
        after={c.label: c.after for c in change.changes},
    )
