"""What the correction pages of the people and operations read and send that the commands of
``corrections`` and ``participants`` do not give: a buyer's contact, a company's correspondent,
an operation and a participant by the N° in their address, with their history of corrections;
and the participant's fields as a form types them (« F », « 1987 », a criterion's value), read
into what ``participants.update_participant`` and ``validate_eligibility`` take, with a French
refusal that names the field.

The edits and deletions themselves are the functions the command line calls
(``corrections.edit_contact``…, ``participants.update_participant``…): the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    Correspondent,
    Declaration,
    DeclarationLine,
    Market,
    Operation,
    Participant,
    RecordHistory,
)
from workflow.app import participants
from workflow.app.unit import reading, unit_of_work
from workflow.app.web_corrections import _get, _missing, _own_history
from workflow.domain.vocabulary import CRITERION_LABELS, Criterion, Sex
from workflow.errors import InputRefused, NotFound
from workflow.runtime import App
from workflow.services import corrections
from workflow.services import outcomes as outcome_service
from workflow.services.corrections import Deletion, RecordKind
from workflow.services.participants import ParticipantChange, criterion_label
from workflow.services.record_history import HistoryEntry

__all__ = [
    "LAST_CONTACT_BOX",
    "ContactDeletion",
    "ContactSheet",
    "CorrespondentSheet",
    "LastContact",
    "OperationSheet",
    "ParticipantCorrection",
    "ParticipantSheet",
    "contact_sheet",
    "correspondent_sheet",
    "delete_contact",
    "edit_participant",
    "operation_sheet",
    "participant_sheet",
    "validate_participant",
]


def _lot_reference(clause: Clause) -> str:
    number = f"/{clause.lot_number}" if clause.lot_number else ""
    return f"{clause.market.reference}{number}"


# --- a buyer's contact ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactSheet:
    id: int
    name: str
    email: str
    phone: str
    role: str
    buyer_id: int
    buyer: str
    history: tuple[HistoryEntry, ...]
    #: The buyer's other contacts with an address: those its notices and summaries go to.
    others: int = 0

    @property
    def last(self) -> bool:
        """Without this contact, the buyer's notices and summaries would go to nobody."""
        return self.others == 0

    @property
    def last_warning(self) -> str:
        return last_contact_warning(self.buyer)


#: The box that confirms the deletion of a buyer's last contact (the form's field ``dernier``).
LAST_CONTACT_BOX = "Je supprime quand même le dernier contact"


def last_contact_warning(buyer: str) -> str:
    return (
        f"C'est le seul contact de {buyer}\u00a0: sans contact, ses avis d'étape attendront qu'un "
        "contact soit ajouté et ses synthèses ne partiront plus. Ajoutez d'abord un autre contact."
    )


class LastContact(InputRefused):
    """The deletion of a buyer's last contact, not confirmed: nothing deleted."""


@dataclass(frozen=True)
class ContactDeletion(Deletion):
    """A contact deleted, and what its buyer is left with."""

    buyer_id: int = 0
    buyer: str = ""
    #: The buyer's contacts with an address after the deletion (0: its notices go nowhere).
    contacts_left: int = 0


def _others(session: Session, contact: BuyerContact) -> int:
    """The contacts of ``contact``'s buyer, but it, that notices and summaries go to (an
    address: ``notices.buyer_recipients`` and the summaries skip a contact without one)."""
    return int(
        session.scalar(
            select(func.count(BuyerContact.id)).where(
                BuyerContact.buyer_id == contact.buyer_id,
                BuyerContact.id != contact.id,
                func.trim(BuyerContact.email) != "",
            )
        )
        or 0
    )


def contact_sheet(app: App, contact_id: int) -> ContactSheet:
    """The contact N° ``contact_id`` of a buyer, as its form shows it."""
    with reading(app) as session:
        contact = _get(session, BuyerContact, contact_id, options=[joinedload(BuyerContact.buyer)])
        if contact is None:
            raise _missing(session, app, RecordKind.CONTACT, contact_id, " contact")
        return ContactSheet(
            id=contact.id,
            name=contact.name,
            email=contact.email,
            phone=contact.phone or "",
            role=contact.role or "",
            buyer_id=contact.buyer_id,
            buyer=contact.buyer.name,
            history=_own_history(session, RecordKind.CONTACT, contact.id),
            others=_others(session, contact),
        )


def delete_contact(
    app: App,
    contact_id: int,
    *,
    last_confirmed: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> ContactDeletion:
    """``buyer contact-delete`` from the contact's page: the same function and rows, but the
    buyer's last contact (the one its notices and summaries go to) is deleted only when
    ``last_confirmed`` (the box « Je supprime quand même le dernier contact »); else
    ``LastContact`` and nothing changes. The command deletes it without asking, as before.

    The buyer's row is locked while its contacts are counted: two deletions of its last two
    contacts at the same time are told one after the other, the second one as the last."""
    with unit_of_work(app, actor) as unit:
        session = unit.session
        contact = _get(session, BuyerContact, contact_id, options=[joinedload(BuyerContact.buyer)])
        if contact is None:
            raise _missing(session, app, RecordKind.CONTACT, contact_id, " contact")
        session.execute(select(Buyer.id).where(Buyer.id == contact.buyer_id).with_for_update())
        buyer_id, buyer = contact.buyer_id, contact.buyer.name
        left = _others(session, contact)
        if left == 0 and not last_confirmed:
            raise LastContact(
                f"{last_contact_warning(buyer)} Pour le supprimer malgré tout, cochez "
                f"«\u00a0{LAST_CONTACT_BOX}\u00a0»."
            )
        done = corrections.delete_contact(
            session, contact, reason=reason, actor=unit.actor, now=unit.now
        )
        values = {field.name: getattr(done, field.name) for field in fields(Deletion)}
        return ContactDeletion(**values, buyer_id=buyer_id, buyer=buyer, contacts_left=left)


# --- a company's correspondent ------------------------------------------------------------------


@dataclass(frozen=True)
class AwardLine:
    """A lot whose award sends its mail to the correspondent."""

    clause_id: int
    lot: str
    #: The award names nobody: the company's first correspondent receives its mail.
    by_default: bool


@dataclass(frozen=True)
class CorrespondentSheet:
    id: int
    name: str
    email: str
    phone: str
    company_id: int
    company: str
    awards: tuple[AwardLine, ...]
    history: tuple[HistoryEntry, ...]


def correspondent_sheet(app: App, correspondent_id: int) -> CorrespondentSheet:
    """The correspondent N° ``correspondent_id``, with the lots whose mail goes to them."""
    with reading(app) as session:
        person = _get(
            session, Correspondent, correspondent_id, options=[joinedload(Correspondent.company)]
        )
        if person is None:
            raise _missing(
                session, app, RecordKind.CORRESPONDENT, correspondent_id, " correspondant"
            )
        first = session.scalar(
            select(func.min(Correspondent.id)).where(Correspondent.company_id == person.company_id)
        )
        named = AwardParty.correspondent_id == person.id
        condition = named
        if first == person.id:
            condition = named | (
                (AwardParty.company_id == person.company_id) & AwardParty.correspondent_id.is_(None)
            )
        rows = session.execute(
            select(AwardParty.correspondent_id, Clause)
            .join(Clause, Clause.id == AwardParty.clause_id)
            .options(joinedload(Clause.market))
            .where(condition)
            .order_by(Clause.id)
        ).all()
        return CorrespondentSheet(
            id=person.id,
            name=person.name,
            email=person.email,
            phone=person.phone or "",
            company_id=person.company_id,
            company=person.company.name,
            awards=tuple(
                AwardLine(clause.id, f"{_lot_reference(clause)} {clause.lot_title}", who is None)
                for who, clause in rows
            ),
            history=_own_history(session, RecordKind.CORRESPONDENT, person.id),
        )


# --- an operation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketLine:
    id: int
    reference: str
    title: str


@dataclass(frozen=True)
class OperationSheet:
    id: int
    name: str
    place: str
    buyer_id: int
    buyer: str
    markets: tuple[MarketLine, ...]
    history: tuple[HistoryEntry, ...]


def operation_sheet(app: App, operation_id: int) -> OperationSheet:
    """The operation N° ``operation_id`` and its markets (one with a market is not deleted)."""
    with reading(app) as session:
        operation = _get(session, Operation, operation_id, options=[joinedload(Operation.buyer)])
        if operation is None:
            raise _missing(session, app, RecordKind.OPERATION, operation_id, "e opération")
        markets = session.scalars(
            select(Market).where(Market.operation_id == operation.id).order_by(Market.id)
        ).all()
        return OperationSheet(
            id=operation.id,
            name=operation.name,
            place=operation.place or "",
            buyer_id=operation.buyer_id,
            buyer=operation.buyer.name,
            markets=tuple(MarketLine(m.id, m.reference, m.title) for m in markets),
            history=_own_history(session, RecordKind.OPERATION, operation.id),
        )


# --- a participant ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantCorrection:
    """One row of the participant's history: each field as people read it, before → after."""

    at: datetime
    actor: str
    changes: tuple[tuple[str, str | None, str | None], ...]
    reason: str

    @property
    def text(self) -> str:
        def shown(value: str | None) -> str:
            return f"«\u00a0{value}\u00a0»" if value else "(vide)"

        return " ; ".join(
            f"{label} {shown(before)} → {shown(after)}" for label, before, after in self.changes
        )


@dataclass(frozen=True)
class ParticipantLot:
    clause_id: int
    lot: str
    hours: Decimal


@dataclass(frozen=True)
class ParticipantOutcome:
    """An outcome of a participant, as their correction page lists it."""

    clause_id: int | None
    lot: str
    description: str
    #: Its N°: what the lot's page corrects or withdraws (``clauses participant outcome-fix``).
    id: int = 0


def _lot_words(market: str | None, lot_number: str | None) -> str:
    """« 2026-014, lot 01 »; the market alone for a single lot; empty for no clause."""
    if not market:
        return ""
    return f"{market}, lot {lot_number}" if lot_number else market


def _outcomes(session: Session, app: App, participant_id: int) -> tuple[ParticipantOutcome, ...]:
    """Every outcome recorded for the participant, oldest first, each in its group under the
    mapping in force."""
    lines = outcome_service.list_outcomes(
        session, None, app.settings.outcome_groups, participant_id=participant_id
    )
    return tuple(
        ParticipantOutcome(
            line.clause_id,
            _lot_words(line.market, line.lot_number),
            line.description,
            line.id,
        )
        for line in lines
    )


@dataclass(frozen=True)
class ParticipantSheet:
    id: int
    reference: str
    criterion: str
    criterion_label: str
    sex: str
    birth_year: str
    proof: str
    validated_on: date | None
    lots: tuple[ParticipantLot, ...]
    history: tuple[ParticipantCorrection, ...]
    outcomes: tuple[ParticipantOutcome, ...]


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def participant_sheet(app: App, participant_id: int) -> ParticipantSheet:
    """The participant N° ``participant_id``: what is held on them (never a name), the lots they
    were declared on, and their corrections (``clauses privacy export`` lists the same)."""
    with reading(app) as session:
        participant = _get(session, Participant, participant_id)
        if participant is None:
            raise NotFound(
                f"Aucun participant n° {participant_id} : la recherche retrouve un participant "
                "par sa référence."
            )
        lots = session.execute(
            select(Clause, func.sum(DeclarationLine.hours))
            .join(Declaration, Declaration.clause_id == Clause.id)
            .join(DeclarationLine, DeclarationLine.declaration_id == Declaration.id)
            .options(joinedload(Clause.market))
            .where(DeclarationLine.participant_id == participant.id)
            .group_by(Clause.id)
            .order_by(Clause.id)
        ).all()
        rows = session.scalars(
            select(RecordHistory)
            .where(
                RecordHistory.entity == RecordKind.PARTICIPANT.value,
                RecordHistory.entity_id == participant.id,
            )
            .order_by(RecordHistory.id)
        )
        history = []
        for row in rows:
            before, after = _loads(row.before), _loads(row.after)
            labels = list(dict.fromkeys([*before, *after]))
            history.append(
                ParticipantCorrection(
                    row.at,
                    row.actor,
                    tuple(
                        (
                            label,
                            None if before.get(label) is None else str(before[label]),
                            None if after.get(label) is None else str(after[label]),
                        )
                        for label in labels
                    ),
                    row.reason or "",
                )
            )
        return ParticipantSheet(
            id=participant.id,
            reference=participant.reference,
            criterion=participant.criterion,
            criterion_label=criterion_label(participant.criterion),
            sex=participant.sex or "",
            birth_year="" if participant.birth_year is None else str(participant.birth_year),
            proof=participant.proof or "",
            validated_on=participant.validated_on,
            lots=tuple(
                ParticipantLot(clause.id, f"{_lot_reference(clause)} {clause.lot_title}", hours)
                for clause, hours in lots
            ),
            history=tuple(history),
            outcomes=_outcomes(session, app, participant.id),
        )


#: The criteria in the order the form offers them.
CRITERIA: tuple[tuple[str, str], ...] = tuple((c.value, CRITERION_LABELS[c]) for c in Criterion)


def _sex(text: str) -> Sex:
    try:
        return Sex(text.strip().upper())
    except ValueError:
        raise InputRefused(
            f"Sexe «\u00a0{text}\u00a0» : choisissez F (femme) ou M (homme)."
        ) from None


def _birth_year(text: str) -> int:
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) == 4):
        raise InputRefused(
            f"Année de naissance «\u00a0{text}\u00a0» : indiquez l'année sur 4 chiffres "
            "(par exemple 1987)."
        )
    return int(cleaned)


def _criterion(text: str) -> Criterion:
    try:
        return Criterion(text.strip())
    except ValueError:
        raise InputRefused(
            f"Critère «\u00a0{text}\u00a0» : choisissez un des critères de la liste."
        ) from None


def edit_participant(
    app: App,
    participant_id: int,
    *,
    sex: str | None = None,
    birth_year: str | None = None,
    criterion: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ParticipantChange:
    """``participant set``: each value typed (None: left as it is) read as the command reads
    its option, then ``participants.update_participant`` on the participant of that N°."""
    sheet = participant_sheet(app, participant_id)
    return participants.update_participant(
        app,
        sheet.reference,
        sex=_sex(sex) if sex is not None else None,
        birth_year=_birth_year(birth_year) if birth_year is not None else None,
        criterion=_criterion(criterion) if criterion is not None else None,
        reason=reason,
        actor=actor,
    )


def _day(text: str) -> date:
    """« 25/11/2026 » as people write it, « 2026-11-25 » as a date field sends it."""
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise InputRefused(
        f"Date de validation «\u00a0{text}\u00a0» : ce n'est pas une date (jj/mm/aaaa)."
    )


def validate_participant(
    app: App,
    participant_id: int,
    *,
    proof: str,
    on: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ParticipantChange:
    """``participant validate``: the proof checked, the day (today when none is typed)."""
    if not proof.strip():
        raise InputRefused(
            "Justificatif : indiquez la pièce vérifiée (par exemple «\u00a0Attestation France "
            "Travail DELD\u00a0», sans nom ni numéro)."
        )
    day = _day(on) if on else None
    sheet = participant_sheet(app, participant_id)
    return participants.validate_eligibility(
        app, sheet.reference, proof=proof, on=day, reason=reason, actor=actor
    )
