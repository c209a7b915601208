"""Participants: a pseudonymous reference, an eligibility criterion and little else (GDPR)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Participant
from workflow.domain.events import require_aware
from workflow.domain.vocabulary import Criterion, Sex
from workflow.errors import InputRefused

REFERENCE_MAX = 40


def clean_reference(text: str) -> str:
    reference = " ".join(text.split())
    if not reference:
        raise InputRefused("Référence du participant vide : une référence pseudonyme est exigée.")
    if len(reference) > REFERENCE_MAX:
        raise InputRefused(
            f"Référence du participant « {reference} » trop longue : {REFERENCE_MAX} caractères au plus."
        )
    return reference


def find_participant(session: Session, reference: str) -> Participant | None:
    return session.scalar(select(Participant).where(Participant.reference == reference))


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
    if find_participant(session, reference) is not None:
        raise InputRefused(f"Le participant « {reference} » existe déjà.")
    if birth_year is not None and not (1900 <= birth_year <= now.year):
        raise InputRefused(f"Année de naissance {birth_year} impossible pour « {reference} ».")
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
