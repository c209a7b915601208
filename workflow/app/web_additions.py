"""What the forms « Ajouter un contact », « Ajouter un correspondant » and « Nouveau … » of the
correction pages need beyond ``app.catalog``: the record created, and its « création » history
row, whose N° the page it leads to reads to say what was added (as ``?fait=`` does for a
correction).

Each form calls the function the command line calls (``app.catalog``) with the signed-in user as
the actor: the same checks, the same refusals, the same history row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from workflow.adapters.orm import RecordHistory
from workflow.app import catalog
from workflow.app.clauses import Designation
from workflow.app.unit import reading
from workflow.runtime import App
from workflow.services.corrections import Action, RecordKind

__all__ = [
    "Added",
    "add_buyer",
    "add_company",
    "add_contact",
    "add_correspondent",
    "add_market",
    "add_operation",
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
