"""The territory's reference data: buyers and their contacts, companies and their correspondents,
operations, markets, and lots (each with its clause).

Every argument naming a buyer, a company, an operation or a market takes its N° or what people
know of it (its name, its SIRET, its reference), through ``lookup``. Commands run in one
``unit_of_work`` and return what they created as a frozen view; lists read through ``reading``.
Each creation (but a lot's, which its clause history tells) writes its « création » row in the
record history, with the unit's actor, in the same transaction: the CLI and the web forms alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from workflow.adapters.orm import Buyer, BuyerContact, Company, Correspondent, Market, Operation
from workflow.app.clause_views import ClauseSummary, summary_of
from workflow.app.clauses import Designation, Figures
from workflow.app.lookup import find_buyer, find_company, find_market, find_operation
from workflow.app.unit import Unit, reading, unit_of_work
from workflow.domain.hours import HoursCalculation
from workflow.domain.vocabulary import NoticePreference
from workflow.runtime import App
from workflow.services import catalog, corrections
from workflow.services.catalog import CalendarChange
from workflow.services.clauses import ClauseParameters
from workflow.services.corrections import Created

CreatedRecord = TypeVar("CreatedRecord", bound=Created)

# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactView:
    id: int
    buyer_id: int
    buyer: str
    name: str
    email: str
    phone: str
    role: str


@dataclass(frozen=True)
class BuyerView:
    """A buyer, its notice preference, its own calendar rules (None: the settings') and its
    contacts."""

    id: int
    name: str
    kind: str
    notice_preference: NoticePreference
    due_day: int | None
    reminder_offsets: str | None
    escalation_offset: int | None
    contacts: tuple[ContactView, ...]


@dataclass(frozen=True)
class CorrespondentView:
    id: int
    company_id: int
    company: str
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class CompanyView:
    id: int
    name: str
    siret: str | None
    city: str
    correspondents: tuple[CorrespondentView, ...]


@dataclass(frozen=True)
class OperationView:
    id: int
    buyer_id: int
    buyer: str
    name: str
    place: str
    markets: int


@dataclass(frozen=True)
class MarketView:
    id: int
    operation_id: int
    operation: str
    buyer: str
    reference: str
    title: str
    lots: int


def contact_view(contact: BuyerContact) -> ContactView:
    return ContactView(
        id=contact.id,
        buyer_id=contact.buyer_id,
        buyer=contact.buyer.name,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        role=contact.role,
    )


def buyer_view(buyer: Buyer) -> BuyerView:
    return BuyerView(
        id=buyer.id,
        name=buyer.name,
        kind=buyer.kind,
        notice_preference=NoticePreference(buyer.notice_preference),
        due_day=buyer.declaration_due_day,
        reminder_offsets=buyer.reminder_offsets,
        escalation_offset=buyer.escalation_offset,
        contacts=tuple(contact_view(c) for c in buyer.contacts),
    )


def correspondent_view(person: Correspondent) -> CorrespondentView:
    return CorrespondentView(
        id=person.id,
        company_id=person.company_id,
        company=person.company.name,
        name=person.name,
        email=person.email,
        phone=person.phone,
    )


def company_view(company: Company) -> CompanyView:
    return CompanyView(
        id=company.id,
        name=company.name,
        siret=company.siret,
        city=company.city,
        correspondents=tuple(correspondent_view(c) for c in company.correspondents),
    )


def operation_view(operation: Operation) -> OperationView:
    return OperationView(
        id=operation.id,
        buyer_id=operation.buyer_id,
        buyer=operation.buyer.name,
        name=operation.name,
        place=operation.place,
        markets=len(operation.markets),
    )


def market_view(market: Market) -> MarketView:
    return MarketView(
        id=market.id,
        operation_id=market.operation_id,
        operation=market.operation.name,
        buyer=market.operation.buyer.name,
        reference=market.reference,
        title=market.title,
        lots=len(market.clauses),
    )


def created(unit: Unit, record: CreatedRecord) -> CreatedRecord:
    """``record`` with its « création » row written, by the unit's actor at the unit's moment."""
    corrections.record_creation(unit.session, record, actor=unit.actor, now=unit.now)
    return record


# --- buyers -----------------------------------------------------------------------------------


def add_buyer(
    app: App,
    name: str,
    *,
    kind: str = "",
    notice_preference: str | NoticePreference = NoticePreference.EACH_MILESTONE,
    calendar: CalendarChange | None = None,
    actor: str | None = None,
) -> BuyerView:
    """A new buyer; its calendar is refused when a reminder would never go out."""
    with unit_of_work(app, actor) as unit:
        buyer = catalog.add_buyer(
            unit.session,
            name=name,
            kind=kind,
            notice_preference=notice_preference,
            calendar=calendar,
            now=unit.now,
            settings=app.settings,
        )
        return buyer_view(created(unit, buyer))


def list_buyers(app: App) -> tuple[BuyerView, ...]:
    """The buyers by name, with their contacts."""
    with reading(app) as session:
        return tuple(buyer_view(b) for b in catalog.list_buyers(session))


def add_buyer_contact(
    app: App,
    buyer: Designation,
    *,
    name: str,
    email: str,
    phone: str = "",
    role: str = "",
    actor: str | None = None,
) -> ContactView:
    """A contact of a buyer: the notices go to its contacts."""
    with unit_of_work(app, actor) as unit:
        found = find_buyer(unit.session, buyer)
        contact = catalog.add_buyer_contact(
            unit.session, found.id, name=name, email=email, phone=phone, role=role
        )
        return contact_view(created(unit, contact))


# --- companies --------------------------------------------------------------------------------


def add_company(
    app: App, name: str, *, siret: str | None = None, city: str = "", actor: str | None = None
) -> CompanyView:
    with unit_of_work(app, actor) as unit:
        company = catalog.add_company(unit.session, name=name, siret=siret, city=city, now=unit.now)
        return company_view(created(unit, company))


def list_companies(app: App) -> tuple[CompanyView, ...]:
    """The companies by name, with their correspondents."""
    with reading(app) as session:
        return tuple(company_view(c) for c in catalog.list_companies(session))


def add_correspondent(
    app: App,
    company: Designation,
    *,
    name: str,
    email: str,
    phone: str = "",
    actor: str | None = None,
) -> CorrespondentView:
    """The company's insertion correspondent: calls and reminders go to them."""
    with unit_of_work(app, actor) as unit:
        found = find_company(unit.session, company)
        person = catalog.add_correspondent(
            unit.session,
            found.id,
            name=name,
            email=email,
            phone=phone,
            now=unit.now,
            actor=unit.actor,
            publish=unit.app.publish,
        )
        return correspondent_view(created(unit, person))


# --- operations and markets -------------------------------------------------------------------


def add_operation(
    app: App, name: str, *, buyer: Designation, place: str = "", actor: str | None = None
) -> OperationView:
    with unit_of_work(app, actor) as unit:
        found = find_buyer(unit.session, buyer)
        operation = catalog.add_operation(
            unit.session, found.id, name=name, place=place, now=unit.now
        )
        return operation_view(created(unit, operation))


def list_operations(app: App, *, buyer: Designation | None = None) -> tuple[OperationView, ...]:
    """The operations by N°, of one buyer if given."""
    with reading(app) as session:
        buyer_id = find_buyer(session, buyer).id if buyer is not None else None
        return tuple(operation_view(o) for o in catalog.list_operations(session, buyer_id))


def add_market(
    app: App,
    reference: str,
    *,
    operation: Designation,
    title: str = "",
    actor: str | None = None,
) -> MarketView:
    with unit_of_work(app, actor) as unit:
        found = find_operation(unit.session, operation)
        market = catalog.add_market(unit.session, found.id, reference=reference, title=title)
        return market_view(created(unit, market))


def list_markets(app: App, *, operation: Designation | None = None) -> tuple[MarketView, ...]:
    """The markets by N°, of one operation if given."""
    with reading(app) as session:
        operation_id = find_operation(session, operation).id if operation is not None else None
        return tuple(market_view(m) for m in catalog.list_markets(session, operation_id))


# --- lots -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotAdded:
    """The new lot's clause, and its calculation note when the four figures were given."""

    clause: ClauseSummary
    calculation: HoursCalculation | None


def add_lot(
    app: App,
    *,
    market: Designation,
    title: str,
    lot_number: str = "",
    trade: str = "",
    figures: Figures | None = None,
    hours_override: int | None = None,
    hours_reason: str | None = None,
    planned_notification: date | None = None,
    calendar: CalendarChange | None = None,
    actor: str | None = None,
) -> LotAdded:
    """A lot of a market and its clause, at « repérage »; its hours are computed when the four
    figures are given, or imposed with their reason."""
    figures = figures or Figures()
    params = ClauseParameters(
        amount_excl_tax=figures.amount,
        labour_share=figures.labour_share,
        insertion_rate=figures.rate,
        hourly_cost=figures.hourly_cost,
        hours_override=hours_override,
        override_reason=hours_reason,
    )
    with unit_of_work(app, actor) as unit:
        found = find_market(unit.session, market)
        clause = catalog.add_lot(
            unit.session,
            found.id,
            lot_number=lot_number,
            lot_title=title,
            params=params,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
            trade=trade,
            planned_notification=planned_notification,
            calendar=calendar,
            settings=app.settings,
        )
        return LotAdded(summary_of(clause), params.calculation())
