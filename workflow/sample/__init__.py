"""Load the sample territory (``workflow.sample.data``) into the database; harmless when repeated.

``load_sample(app, now)`` is what ``clauses sample load`` and the demo call. Clauses are left in
identification with their hours set; ``SAMPLE_AWARDS`` says who wins which lot and
``resolve_award`` turns one of them into the arguments of ``services.clauses.record_award``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Buyer, BuyerContact, Clause, Company, Correspondent, Market
from workflow.domain.events import require_aware
from workflow.domain.vocabulary import PartyRole
from workflow.errors import NotFound
from workflow.sample.data import (
    BUYERS,
    COMPANIES,
    LOTS,
    PARTICIPANTS,
    SAMPLE_AWARDS,
    SampleAward,
    SampleLot,
)
from workflow.services.clauses import ClauseParameters, PartyInput, Publish
from workflow.services.imports import (
    IMPOSED_REASON,
    LotRow,
    import_lots,
    lot_key,
    low_hours_warning,
)
from workflow.services.participants import create_participant, find_participant

if TYPE_CHECKING:
    from workflow.runtime import App

__all__ = ["SAMPLE_AWARDS", "ResolvedAward", "SampleSummary", "load_sample", "resolve_award"]

_COUNTED = (
    "buyers",
    "contacts",
    "companies",
    "correspondents",
    "operations",
    "markets",
    "clauses",
    "participants",
)


@dataclass(frozen=True)
class SampleSummary:
    created: dict[str, int]
    clause_ids: dict[tuple[str, str], int]  # (market reference, lot number) -> clause id
    company_ids: dict[str, int]  # SIRET -> company id
    warnings: tuple[str, ...] = field(default=())

    @property
    def already_loaded(self) -> bool:
        return not any(self.created.values())


@dataclass(frozen=True)
class ResolvedAward:
    clause_id: int
    parties: list[PartyInput]
    start_date: date
    planned_end_date: date


def _lot_row(lot: SampleLot) -> LotRow:
    imposed = lot.imposed_hours
    return LotRow(
        line=None,
        buyer=lot.buyer,
        operation=lot.operation,
        market=lot.market,
        lot_number=lot.lot_number,
        title=lot.title,
        params=ClauseParameters(
            amount_excl_tax=lot.amount_excl_tax,
            labour_share=lot.labour_share,
            insertion_rate=lot.insertion_rate,
            hourly_cost=lot.hourly_cost,
            hours_override=imposed,
            override_reason=IMPOSED_REASON if imposed is not None else None,
        ),
        planned_notification=lot.planned_notification,
        place=lot.place,
    )


def _load_buyers(session: Session, now: datetime, created: dict[str, int]) -> None:
    for sample in BUYERS:
        buyer = session.scalar(select(Buyer).where(Buyer.name == sample.name))
        if buyer is None:
            buyer = Buyer(name=sample.name, kind=sample.kind, created_at=now)
            session.add(buyer)
            created["buyers"] += 1
        known = {c.email for c in buyer.contacts}
        for contact in sample.contacts:
            if contact.email not in known:
                buyer.contacts.append(
                    BuyerContact(
                        name=contact.name,
                        email=contact.email,
                        phone=contact.phone,
                        role=contact.role,
                    )
                )
                created["contacts"] += 1
    session.flush()


def _load_companies(session: Session, now: datetime, created: dict[str, int]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for sample in COMPANIES:
        company = session.scalar(select(Company).where(Company.siret == sample.siret))
        if company is None:
            company = Company(
                name=sample.name, siret=sample.siret, city=sample.city, created_at=now
            )
            session.add(company)
            created["companies"] += 1
        known = {c.email for c in company.correspondents}
        for person in sample.correspondents:
            if person.email not in known:
                company.correspondents.append(
                    Correspondent(name=person.name, email=person.email, phone=person.phone)
                )
                created["correspondents"] += 1
        session.flush()
        ids[sample.siret] = company.id
    return ids


def _load_participants(session: Session, now: datetime, created: dict[str, int]) -> None:
    for sample in PARTICIPANTS:
        if find_participant(session, sample.reference) is None:
            create_participant(
                session,
                reference=sample.reference,
                criterion=sample.criterion,
                now=now,
                sex=sample.sex,
                birth_year=sample.birth_year,
                proof=sample.proof,
                validated_on=sample.validated_on,
            )
            created["participants"] += 1


def load_sample_into(
    session: Session, *, now: datetime, actor: str, publish: Publish
) -> SampleSummary:
    """Create whatever part of the sample territory is missing, in the caller's transaction."""
    require_aware(now)
    created = dict.fromkeys(_COUNTED, 0)
    _load_buyers(session, now, created)
    company_ids = _load_companies(session, now, created)
    _load_participants(session, now, created)
    rows = [_lot_row(lot) for lot in LOTS]
    lots = import_lots(
        session,
        rows,
        source="territoire d'exemple",
        actor=actor,
        now=now,
        publish=publish,
    )
    for key in ("buyers", "operations", "markets", "clauses"):
        created[key] += lots.created[key]
    return SampleSummary(
        created=created,
        clause_ids={(lot.market, lot.lot_number): lot.clause_id for lot in lots.lots},
        company_ids=company_ids,
        warnings=tuple(
            str(w)
            for row, lot in zip(rows, lots.lots, strict=True)
            if lot.created and (w := low_hours_warning(row))
        ),
    )


def load_sample(app: App, now: datetime) -> SampleSummary:
    """Load the sample territory in one transaction, publishing its events through ``app``."""
    with app.transaction() as session:
        return load_sample_into(
            session, now=now, actor=app.settings.facilitator_name, publish=app.publish
        )


def _correspondent_id(session: Session, company_id: int, email: str | None) -> int | None:
    if email is None:
        return None
    found = session.scalar(
        select(Correspondent.id).where(
            Correspondent.company_id == company_id, Correspondent.email == email
        )
    )
    if found is None:
        raise NotFound(f"Aucun correspondant {email} pour l'entreprise n° {company_id}.")
    return found


def _company_id(session: Session, siret: str) -> int:
    found = session.scalar(select(Company.id).where(Company.siret == siret))
    if found is None:
        raise NotFound(f"Aucune entreprise de SIRET {siret} : chargez d'abord l'exemple.")
    return found


def resolve_award(session: Session, award: SampleAward) -> ResolvedAward:
    """Turn a sample award (natural keys) into database ids for ``record_award``."""
    clause = next(
        (
            c
            for c in session.scalars(
                select(Clause).join(Market).where(Market.reference == award.market)
            )
            if lot_key(c.lot_number) == lot_key(award.lot_number)
        ),
        None,
    )
    if clause is None:
        raise NotFound(f"Aucune clause pour le marché {award.market} lot « {award.lot_number} ».")
    holder = _company_id(session, award.holder_siret)
    parties = [
        PartyInput(
            company_id=holder,
            role=PartyRole.HOLDER,
            correspondent_id=_correspondent_id(session, holder, award.correspondent_email),
            hours_share=award.holder_hours_share,
        )
    ]
    for other in award.others:
        company_id = _company_id(session, other.siret)
        parties.append(
            PartyInput(
                company_id=company_id,
                role=other.role,
                correspondent_id=_correspondent_id(session, company_id, other.correspondent_email),
                hours_share=other.hours_share,
            )
        )
    return ResolvedAward(clause.id, parties, award.start_date, award.planned_end_date)
