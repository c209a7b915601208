"""What the forms « Ajouter un contact », « Ajouter un correspondant », « Nouveau … » and
« Ajouter un lot » of the correction pages need beyond ``app.catalog``: the record created, and
its « création » history row, whose N° the page it leads to reads to say what was added (as
``?fait=`` does for a correction). A lot's creation is told by its clause's history (its
« repérage » row), as ``clauses lot add`` leaves it.

Each form calls the function the command line calls (``app.catalog``) with the signed-in user as
the actor: the same checks, the same refusals, the same history row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from workflow.adapters.orm import Clause, ClauseHistory, RecordHistory
from workflow.app import catalog
from workflow.app.clause_views import ClauseSummary, summary_of
from workflow.app.clauses import Designation, Figures
from workflow.app.lookup import find_market
from workflow.app.unit import reading
from workflow.domain.hours import HoursCalculation
from workflow.runtime import App
from workflow.services.catalog import CalendarChange
from workflow.services.clauses import ClauseParameters
from workflow.services.corrections import Action, RecordKind

__all__ = [
    "Added",
    "add_buyer",
    "add_company",
    "add_contact",
    "add_correspondent",
    "add_lot",
    "add_market",
    "add_operation",
    "lot_created",
    "market_of",
]


@dataclass(frozen=True)
class Added:
    """A record just created: its N°, its « création » row, and the buyer or company whose
    card lists that row."""

    kind: RecordKind
    id: int
    history_id: int
    owner_id: int


def _added(app: App, kind: RecordKind, record_id: int) -> Added:
    """The creation row ``app.catalog`` wrote for the record (the latest, should SQLite give a
    deleted record's N° again)."""
    with reading(app) as session:
        row = session.scalars(
            select(RecordHistory)
            .where(
                RecordHistory.entity == kind.value,
                RecordHistory.entity_id == record_id,
                RecordHistory.action == Action.CREATE.value,
            )
            .order_by(RecordHistory.id.desc())
            .limit(1)
        ).one()
        return Added(kind, record_id, row.id, row.owner_id)


def add_contact(
    app: App, buyer_id: int, *, name: str, email: str, phone: str, role: str, actor: str
) -> Added:
    """``clauses buyer contact-add N° …`` from the buyer's page."""
    contact = catalog.add_buyer_contact(
        app, buyer_id, name=name, email=email, phone=phone, role=role, actor=actor
    )
    return _added(app, RecordKind.CONTACT, contact.id)


def add_correspondent(
    app: App, company_id: int, *, name: str, email: str, phone: str, actor: str
) -> Added:
    """``clauses company correspondent-add N° …`` from the company's page."""
    person = catalog.add_correspondent(
        app, company_id, name=name, email=email, phone=phone, actor=actor
    )
    return _added(app, RecordKind.CORRESPONDENT, person.id)


def add_buyer(app: App, *, name: str, kind: str, notices: str, actor: str) -> Added:
    """``clauses buyer add NOM --kind … --notices …``."""
    buyer = catalog.add_buyer(app, name, kind=kind, notice_preference=notices, actor=actor)
    return _added(app, RecordKind.BUYER, buyer.id)


def add_company(app: App, *, name: str, siret: str, city: str, actor: str) -> Added:
    """``clauses company add NOM --siret … --city …`` (an empty SIRET: none)."""
    company = catalog.add_company(app, name, siret=siret or None, city=city, actor=actor)
    return _added(app, RecordKind.COMPANY, company.id)


def add_operation(app: App, *, name: str, buyer: Designation, place: str, actor: str) -> Added:
    """``clauses operation add NOM --buyer … --place …``."""
    operation = catalog.add_operation(app, name, buyer=buyer, place=place, actor=actor)
    return _added(app, RecordKind.OPERATION, operation.id)


def add_market(
    app: App, *, reference: str, operation: Designation, title: str, actor: str
) -> Added:
    """``clauses market add RÉFÉRENCE --operation … --title …``."""
    market = catalog.add_market(app, reference, operation=operation, title=title, actor=actor)
    return _added(app, RecordKind.MARKET, market.id)


# --- a lot, from its market's page ------------------------------------------------------------


@dataclass(frozen=True)
class LotCreated:
    """A lot created on a market, as the confirmation of « Ajouter un lot » tells it: its
    clause, the calculation note when the four figures were given, who created it (its
    « repérage » row)."""

    clause: ClauseSummary
    calculation: HoursCalculation | None
    override_reason: str | None
    actor: str


def add_lot(
    app: App,
    market_id: int,
    *,
    title: str,
    lot_number: str,
    trade: str,
    figures: Figures,
    hours_override: int | None,
    hours_reason: str | None,
    planned_notification: date | None,
    calendar: CalendarChange,
    actor: str,
) -> int:
    """``clauses lot add --market N° …`` from the market's page: the new clause's N°."""
    added = catalog.add_lot(
        app,
        market=market_id,
        title=title,
        lot_number=lot_number,
        trade=trade,
        figures=figures,
        hours_override=hours_override,
        hours_reason=hours_reason,
        planned_notification=planned_notification,
        calendar=calendar,
        actor=actor,
    )
    return added.clause.id


def lot_created(app: App, market_id: int, clause_id: int) -> LotCreated | None:
    """The lot ``?ajout=`` names, when it is a lot of this market with its « repérage » row: an
    address typed with another N° says nothing."""
    with reading(app) as session:
        clause = session.get(Clause, clause_id)
        if clause is None or clause.market_id != market_id:
            return None
        row = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.event == "identify")
            .order_by(ClauseHistory.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        params = ClauseParameters(
            amount_excl_tax=clause.amount_excl_tax,
            labour_share=clause.labour_share,
            insertion_rate=clause.insertion_rate,
            hourly_cost=clause.hourly_cost,
        )
        return LotCreated(
            summary_of(clause), params.calculation(), clause.override_reason, row.actor
        )


def market_of(app: App, market: Designation) -> int:
    """The N° of the market « Ajouter un lot » of /corrections/nouveau names (its N° or its
    reference), or the lookup's French refusal naming what was typed."""
    with reading(app) as session:
        return find_market(session, market).id
