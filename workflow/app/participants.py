"""Participants: recording one before their first declaration, completing and validating them,
their outcomes, and the list the facilitator reads.

Participants are pseudonymous (GDPR): a reference, a criterion, sex, birth year and the proof of
eligibility checked, never a name. A participant is designated by the reference the companies
write (``lookup.find_participant``); a clause by its N° or « RÉFÉRENCE/LOT ».
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from workflow.adapters.orm import Participant
from workflow.app.lookup import find_clause, find_participant
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.domain.outcomes import OUTCOME_TYPE_LABELS, OutcomeType, types_by_group
from workflow.domain.participants import (
    birth_year_problem,
    clean_proof,
    proof_problem,
    validation_date_problem,
)
from workflow.domain.vocabulary import OUTCOME_GROUP_LABELS, Criterion, Sex
from workflow.errors import InputRefused
from workflow.services import outcomes as outcome_service
from workflow.services import participants as participant_service
from workflow.services.outcomes import OutcomeEdit, ParticipantLine, RecordedOutcome
from workflow.services.participants import (
    ParticipantChange,
    clean_reference,
    criterion_label,
    new_reference_problem,
)

__all__ = [
    "AddedParticipant",
    "OutcomeTypeLine",
    "ParticipantList",
    "add_participant",
    "fix_outcome",
    "outcome_types",
    "participant_list",
    "record_outcome",
    "remove_outcome",
    "update_participant",
    "validate_eligibility",
]


def _participant(session: Session, reference: str) -> Participant:
    """The participant the companies write ``reference`` for, else the one of that N°
    (``lookup.find_participant``). An unknown reference is refused in the service's words
    (« Aucun participant « P-9999 ». La liste : … »)."""
    cleaned = clean_reference(reference)
    if not cleaned.isdigit():
        return participant_service.get_participant(session, cleaned)
    return find_participant(session, cleaned)


# --- adding one before its first declaration ------------------------------------------------------


@dataclass(frozen=True)
class AddedParticipant:
    """The participant ``add_participant`` recorded, and what the facilitator is told."""

    reference: str
    #: The reference was given by the service (``--auto``), not typed.
    auto: bool
    criterion: str
    criterion_label: str
    sex: str | None
    birth_year: int | None
    proof: str | None
    validated_on: date | None
    message: str


def _added_message(added: AddedParticipant) -> str:
    parts = [f"critère « {added.criterion_label} »"]
    if added.sex is not None:
        parts.append(f"sexe {added.sex}")
    if added.birth_year is not None:
        parts.append(f"année de naissance {added.birth_year}")
    if added.validated_on is not None:
        parts.append(f"éligibilité validée le {added.validated_on:%d/%m/%Y} ({added.proof})")
    else:
        parts.append("éligibilité à valider")
    text = f"Participant {added.reference} enregistré : {' ; '.join(parts)}."
    if added.auto:
        text += (
            f" Référence à donner à l'entreprise, qui l'écrira dans ses déclarations : "
            f"{added.reference}."
        )
    if added.validated_on is None:
        text += (
            " Une fois le justificatif vu : « clauses participant validate "
            f"{added.reference} --proof … »."
        )
    return text


def add_participant(
    app: App,
    reference: str | None,
    *,
    criterion: Criterion,
    sex: Sex | None = None,
    birth_year: int | None = None,
    proof: str | None = None,
    validated_on: date | None = None,
    actor: str | None = None,
) -> AddedParticipant:
    """Record a participant before their first declaration, under ``reference``, or with
    ``reference`` None under the next reference the facilitator gives (``P-2026-0042``, see
    ``services.participants.next_auto_reference``). With ``proof``, the eligibility is validated
    on ``validated_on`` (by default today); a date without a proof is refused.

    The same rules as a declaration file that brings a new participant: a criterion, a birth
    year of someone at least 14 this year, a proof of 200 characters at most; and a reference
    that a spreadsheet would not read as a formula nor reads as a person's name
    (``services.participants.new_reference_problem``, the import's very check)."""
    with unit_of_work(app, actor) as unit:
        zone = app.settings.zone
        today = local_date(unit.now, zone)
        typed = clean_reference(reference) if reference is not None else None
        who = f"Participant « {typed} »" if typed is not None else "Nouveau participant"
        if typed is not None and (problem := new_reference_problem(typed)):
            raise InputRefused(problem)
        problems: list[str] = []
        if birth_year is not None and (found := birth_year_problem(birth_year, today.year)):
            problems.append(found)
        cleaned = clean_proof(proof) if proof is not None else None
        if cleaned is not None and (found := proof_problem(cleaned)):
            problems.append(found)
        if validated_on is not None:
            if cleaned is None:
                problems.append(
                    "une date de validation va avec le justificatif vérifié : indiquez-le aussi."
                )
            elif found := validation_date_problem(validated_on, today):
                problems.append(found)
        if problems:
            raise InputRefused(f"{who} : {' ; '.join(problems)}")
        if typed is not None:
            existing = participant_service.find_participant(unit.session, typed)
            if existing is not None:
                raise InputRefused(
                    f"Le participant « {typed} » existe déjà (critère "
                    f"« {criterion_label(existing.criterion)} »). Pour le compléter ou le "
                    f"corriger : « clauses participant set {typed} … » ; pour valider son "
                    f"éligibilité : « clauses participant validate {typed} --proof … »."
                )
            chosen = typed
        else:
            chosen = participant_service.next_auto_reference(unit.session, now=unit.now, zone=zone)
        participant = participant_service.create_participant(
            unit.session,
            reference=chosen,
            criterion=criterion,
            now=unit.now,
            sex=sex,
            birth_year=birth_year,
            proof=cleaned or "",
            validated_on=(validated_on or today) if cleaned is not None else None,
        )
        draft = AddedParticipant(
            reference=participant.reference,
            auto=typed is None,
            criterion=participant.criterion,
            criterion_label=criterion_label(participant.criterion),
            sex=participant.sex,
            birth_year=participant.birth_year,
            proof=participant.proof or None,
            validated_on=participant.validated_on,
            message="",
        )
        return dataclasses.replace(draft, message=_added_message(draft))


# --- completing and validating ------------------------------------------------------------------


def update_participant(
    app: App,
    reference: str,
    *,
    sex: Sex | None = None,
    birth_year: int | None = None,
    criterion: Criterion | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ParticipantChange:
    """Complete or correct a participant's sex, birth year or criterion: only what is given
    changes; a new criterion withdraws the validation of the former one. Each change is kept
    in the participant's history (who, when, before → after, ``reason``)."""
    with unit_of_work(app, actor) as unit:
        participant = _participant(unit.session, reference)
        change = participant_service.update_participant(
            unit.session,
            participant.reference,
            now=unit.now,
            zone=app.settings.zone,
            sex=sex,
            birth_year=birth_year,
            criterion=criterion,
        )
        participant_service.record_change(
            unit.session, participant.id, change, actor=unit.actor, now=unit.now, reason=reason
        )
        return change


def validate_eligibility(
    app: App,
    reference: str,
    *,
    proof: str,
    on: date | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ParticipantChange:
    """Record the proof of eligibility checked and the day it was validated (today when no
    date is given; the same proof keeps its date); a change is kept in the history."""
    with unit_of_work(app, actor) as unit:
        participant = _participant(unit.session, reference)
        change = participant_service.validate_eligibility(
            unit.session,
            participant.reference,
            proof=proof,
            now=unit.now,
            zone=app.settings.zone,
            on=on,
        )
        participant_service.record_change(
            unit.session, participant.id, change, actor=unit.actor, now=unit.now, reason=reason
        )
        return change


# --- outcomes -----------------------------------------------------------------------------------


def record_outcome(
    app: App,
    reference: str,
    *,
    clause: str | int,
    outcome_type: OutcomeType,
    on: date,
    replace: bool = False,
    actor: str | None = None,
) -> RecordedOutcome:
    """Record what became of a participant after the clause ``clause`` (N° or
    « RÉFÉRENCE/LOT »); the very same outcome twice changes nothing, another type or date is
    added (one a day); ``replace`` corrects the pair's only outcome."""
    with unit_of_work(app, actor) as unit:
        participant = _participant(unit.session, reference)
        clause_id = find_clause(unit.session, clause).id
        return outcome_service.record_outcome(
            unit.session,
            reference=participant.reference,
            clause_id=clause_id,
            outcome_type=outcome_type,
            on=on,
            actor=unit.actor,
            now=unit.now,
            zone=app.settings.zone,
            replace=replace,
            groups=app.settings.outcome_groups,
        )


def fix_outcome(
    app: App,
    outcome_id: int,
    *,
    outcome_type: OutcomeType | None,
    on: date | None,
    reason: str | None,
    actor: str | None = None,
    on_clause: int | None = None,
) -> OutcomeEdit:
    """Correct the outcome N° ``outcome_id`` (its type, its date or both), with a reason the
    clause's history keeps; the checks of recording one. ``on_clause``: the lot the page shows,
    which the outcome must be on."""
    if outcome_type is None and on is None:
        raise InputRefused(
            f"Sortie n° {outcome_id} : rien à corriger, indiquez le type ou la date (ou les deux)."
        )
    with unit_of_work(app, actor) as unit:
        return outcome_service.fix_outcome(
            unit.session,
            outcome_id,
            outcome_type=outcome_type,
            on=on,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            zone=app.settings.zone,
            groups=app.settings.outcome_groups,
            on_clause=on_clause,
        )


def remove_outcome(
    app: App,
    outcome_id: int,
    *,
    reason: str | None,
    actor: str | None = None,
    on_clause: int | None = None,
) -> OutcomeEdit:
    """Withdraw the outcome N° ``outcome_id`` entered by mistake, with a reason the clause's
    history keeps; the figures no longer count it."""
    with unit_of_work(app, actor) as unit:
        return outcome_service.remove_outcome(
            unit.session,
            outcome_id,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            zone=app.settings.zone,
            groups=app.settings.outcome_groups,
            on_clause=on_clause,
        )


@dataclass(frozen=True)
class OutcomeTypeLine:
    """One outcome type, in the group the ``outcome_groups`` setting puts it in."""

    type: OutcomeType
    type_label: str
    group: str
    group_label: str


def outcome_types(app: App) -> tuple[OutcomeTypeLine, ...]:
    """Every outcome type accepted, group by group."""
    overrides = app.settings.outcome_groups
    return tuple(
        OutcomeTypeLine(
            type=t,
            type_label=OUTCOME_TYPE_LABELS[t],
            group=group.value,
            group_label=OUTCOME_GROUP_LABELS[group],
        )
        for group, types in types_by_group(overrides).items()
        for t in types
    )


# --- the list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantList:
    #: The clause asked for (its N°), None for every participant.
    clause_id: int | None
    #: The year the age bands are counted in (today's, in the service's time zone).
    this_year: int
    lines: tuple[ParticipantLine, ...]


def participant_list(app: App, clause: str | int | None = None) -> ParticipantList:
    """Every participant by reference (or those declared on the clause ``clause``), with their
    hours, clauses and outcomes."""
    this_year = local_date(app.clock(), app.settings.zone).year
    with reading(app) as session:
        clause_id = find_clause(session, clause).id if clause is not None else None
        lines = outcome_service.list_participants(session, clause_id, app.settings.outcome_groups)
    return ParticipantList(clause_id=clause_id, this_year=this_year, lines=tuple(lines))
