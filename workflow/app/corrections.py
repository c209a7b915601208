"""Corrections of the reference data: edit, delete, merge; and the buyer's and company's card
with their history of corrections.

Every record is designated the way people know it (N°, name, SIRET, « RÉF/LOT »); a contact or a
correspondent by its N°, its email address or its name (``--buyer``/``--company`` narrows the
search). A designation of a record that is gone says so, and where it went: « … n'existe plus :
il a été fusionné dans le n° 3 … », so a merge or a deletion run twice explains itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Market,
    Operation,
    RecordHistory,
)
from workflow.app.lookup import (
    SHOWN_CANDIDATES,
    AmbiguousDesignation,
    find_buyer,
    find_clause,
    find_company,
    find_market,
    find_operation,
    normalized,
)
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.errors import SEARCH_HIM, Hint, InputRefused, NotFound, list_hint
from workflow.services import corrections, merges, record_history
from workflow.services.corrections import Correction, Deletion, RecordKind, merge_hint
from workflow.services.merges import Merge
from workflow.services.record_history import BuyerCard, CompanyCard

__all__ = [
    "BuyerCard",
    "CompanyCard",
    "Correction",
    "Deletion",
    "Merge",
    "buyer_card",
    "company_card",
    "delete_buyer",
    "delete_company",
    "delete_contact",
    "delete_correspondent",
    "delete_market",
    "delete_operation",
    "edit_buyer",
    "edit_company",
    "edit_contact",
    "edit_correspondent",
    "edit_lot",
    "edit_market",
    "edit_operation",
    "merge_buyers",
    "merge_companies",
]

T = TypeVar("T")
Designation = str | int


# --- finding a record, or saying where it went --------------------------------------------------


def _gone(session: Session, kind: RecordKind, designation: Designation) -> RecordHistory | None:
    """The row that removed the record people designate (by N° or by the name it had)."""
    text = str(designation).strip()
    if re.fullmatch(r"\d{1,9}", text):
        found = record_history.farewell(session, kind, int(text))
        if found is not None:
            return found
    wanted = normalized(text)
    return next(
        (
            row
            for row, name in record_history.farewells(session, kind)
            if normalized(name) == wanted
        ),
        None,
    )


#: The model of each kind a designation can name and a history row tell of.
MODELS: dict[
    RecordKind, type[Buyer | BuyerContact | Company | Correspondent | Operation | Market]
] = {
    RecordKind.BUYER: Buyer,
    RecordKind.CONTACT: BuyerContact,
    RecordKind.COMPANY: Company,
    RecordKind.CORRESPONDENT: Correspondent,
    RecordKind.OPERATION: Operation,
    RecordKind.MARKET: Market,
}


def _found(
    app: App,
    session: Session,
    kind: RecordKind,
    designation: Designation,
    finder: Callable[[Session, Designation], T],
) -> T:
    """The record ``finder`` finds; for one that is gone, where it went. A N° no record has
    any more is that record's, not a name that happens to contain the digits."""
    text = str(designation).strip()
    if re.fullmatch(r"\d{1,9}", text) and session.get(MODELS[kind], int(text)) is None:
        gone = record_history.farewell(session, kind, int(text))
        if gone is not None:
            raise NotFound(record_history.farewell_text(gone, app.settings.zone))
    try:
        return finder(session, designation)
    except NotFound:
        gone = _gone(session, kind, designation)
        if gone is None:
            raise
        raise NotFound(record_history.farewell_text(gone, app.settings.zone)) from None


def _pick(
    text: str,
    what: str,
    where: Hint,
    candidates: Sequence[T],
    name_of: Callable[[T], str],
    email_of: Callable[[T], str],
    label_of: Callable[[T], str],
) -> T:
    """The one candidate with that address, else that name, else whose name contains it."""
    wanted = normalized(text)
    matches = (
        [c for c in candidates if email_of(c).strip().casefold() == text.casefold()]
        or [c for c in candidates if normalized(name_of(c)) == wanted]
        or [c for c in candidates if wanted and wanted in normalized(name_of(c))]
    )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"{what} « {text} » introuvable.", hint=where)
    shown = "\n".join(f"  - {label_of(c)}" for c in matches[:SHOWN_CANDIDATES])
    more = len(matches) - SHOWN_CANDIDATES
    rest = f"\n  … et {more} autres" if more > 0 else ""
    raise AmbiguousDesignation(
        f"{what} « {text} » : {len(matches)} correspondent, précisez par le numéro :\n{shown}{rest}"
    )


def _people_hint(command: str, owner_id: int | None, of: str) -> Hint:
    """Where a buyer's contacts or a company's correspondents are listed: the owner's card on
    the command line, its « Corrections » page on the web."""
    if owner_id is None:
        return list_hint(f"{command} show {_OWNER_WORDS[command]}", SEARCH_HIM)
    return list_hint(
        f"{command} show {owner_id}", f" La liste : la page « Corrections » {of} n° {owner_id}."
    )


#: What the command line's hint types for an owner not given.
_OWNER_WORDS = {"buyer": "DONNEUR_D_ORDRE", "company": "ENTREPRISE"}


def find_contact(
    session: Session, designation: Designation, buyer: Buyer | None = None
) -> BuyerContact:
    """A buyer's contact by its N°, its email address or its name (of ``buyer`` only if given)."""
    text = str(designation).strip()
    if re.fullmatch(r"\d{1,9}", text):
        contact = session.get(BuyerContact, int(text))
        if contact is not None and (buyer is None or contact.buyer_id == buyer.id):
            return contact
    statement = select(BuyerContact).order_by(BuyerContact.id)
    if buyer is not None:
        statement = statement.where(BuyerContact.buyer_id == buyer.id)
    return _pick(
        text,
        "Contact",
        _people_hint("buyer", buyer.id if buyer else None, "du donneur d'ordre"),
        session.scalars(statement).all(),
        lambda c: c.name,
        lambda c: c.email,
        lambda c: f"n° {c.id} {c.name} <{c.email}> ({c.buyer.name})",
    )


def find_correspondent(
    session: Session, designation: Designation, company: Company | None = None
) -> Correspondent:
    """A correspondent by its N°, its email address or its name (of ``company`` only if given)."""
    text = str(designation).strip()
    if re.fullmatch(r"\d{1,9}", text):
        person = session.get(Correspondent, int(text))
        if person is not None and (company is None or person.company_id == company.id):
            return person
    statement = select(Correspondent).order_by(Correspondent.id)
    if company is not None:
        statement = statement.where(Correspondent.company_id == company.id)
    return _pick(
        text,
        "Correspondant",
        _people_hint("company", company.id if company else None, "de l'entreprise"),
        session.scalars(statement).all(),
        lambda c: c.name,
        lambda c: c.email,
        lambda c: f"n° {c.id} {c.name} <{c.email}> ({c.company.name})",
    )


def _buyer(app: App, session: Session, designation: Designation) -> Buyer:
    return _found(app, session, RecordKind.BUYER, designation, find_buyer)


def _company(app: App, session: Session, designation: Designation) -> Company:
    return _found(app, session, RecordKind.COMPANY, designation, find_company)


def _contact(
    app: App, session: Session, designation: Designation, buyer: Designation | None
) -> BuyerContact:
    owner = _buyer(app, session, buyer) if buyer is not None else None
    return _found(
        app,
        session,
        RecordKind.CONTACT,
        designation,
        lambda s, d: find_contact(s, d, owner),
    )


def _correspondent(
    app: App, session: Session, designation: Designation, company: Designation | None
) -> Correspondent:
    owner = _company(app, session, company) if company is not None else None
    return _found(
        app,
        session,
        RecordKind.CORRESPONDENT,
        designation,
        lambda s, d: find_correspondent(s, d, owner),
    )


def _operation(app: App, session: Session, designation: Designation) -> Operation:
    return _found(app, session, RecordKind.OPERATION, designation, find_operation)


def _market(app: App, session: Session, designation: Designation) -> Market:
    return _found(app, session, RecordKind.MARKET, designation, find_market)


def _lot(session: Session, designation: Designation) -> Clause:
    return find_clause(session, designation)


# --- edits --------------------------------------------------------------------------------------


def _refuse_near_namesake(session: Session, buyer: Buyer, name: str) -> None:
    """Another buyer whose name differs only by case, accents, dashes or spaces is the
    duplicate people meant to merge, not a second buyer of that name."""
    wanted = normalized(name)
    for other in session.scalars(select(Buyer).where(Buyer.id != buyer.id).order_by(Buyer.id)):
        if other.name != name.strip() and normalized(other.name) == wanted:
            raise InputRefused(
                f"Le donneur d'ordre n° {other.id} s'appelle « {other.name} », le même nom à la "
                "casse, aux accents ou à la ponctuation près. S'il s'agit du même, "
                "fusionnez-les",
                hint=merge_hint(RecordKind.BUYER, buyer.id, other.id),
            )


def edit_buyer(
    app: App,
    buyer: Designation,
    *,
    name: str | None = None,
    kind: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _buyer(app, unit.session, buyer)
        if name is not None:
            _refuse_near_namesake(unit.session, record, name)
        return corrections.edit_buyer(
            unit.session, record, name=name, kind=kind, reason=reason, actor=unit.actor,
            now=unit.now,
        )  # fmt: skip


def edit_contact(
    app: App,
    contact: Designation,
    *,
    buyer: Designation | None = None,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    role: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _contact(app, unit.session, contact, buyer)
        return corrections.edit_contact(
            unit.session, record, name=name, email=email, phone=phone, role=role, reason=reason,
            actor=unit.actor, now=unit.now,
        )  # fmt: skip


def edit_company(
    app: App,
    company: Designation,
    *,
    name: str | None = None,
    siret: str | None = None,
    city: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _company(app, unit.session, company)
        return corrections.edit_company(
            unit.session, record, name=name, siret=siret, city=city, reason=reason,
            actor=unit.actor, now=unit.now,
        )  # fmt: skip


def edit_correspondent(
    app: App,
    correspondent: Designation,
    *,
    company: Designation | None = None,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _correspondent(app, unit.session, correspondent, company)
        return corrections.edit_correspondent(
            unit.session, record, name=name, email=email, phone=phone, reason=reason,
            actor=unit.actor, now=unit.now,
        )  # fmt: skip


def edit_operation(
    app: App,
    operation: Designation,
    *,
    name: str | None = None,
    place: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _operation(app, unit.session, operation)
        return corrections.edit_operation(
            unit.session, record, name=name, place=place, reason=reason, actor=unit.actor,
            now=unit.now,
        )  # fmt: skip


def edit_market(
    app: App,
    market: Designation,
    *,
    reference: str | None = None,
    title: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _market(app, unit.session, market)
        return corrections.edit_market(
            unit.session, record, reference=reference, title=title, reason=reason,
            actor=unit.actor, now=unit.now,
        )  # fmt: skip


def edit_lot(
    app: App,
    lot: Designation,
    *,
    title: str | None = None,
    trade: str | None = None,
    lot_number: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Correction:
    with unit_of_work(app, actor) as unit:
        record = _lot(unit.session, lot)
        return corrections.edit_lot(
            unit.session, record, title=title, trade=trade, lot_number=lot_number,
            reason=reason, actor=unit.actor, now=unit.now,
        )  # fmt: skip


# --- deletions ----------------------------------------------------------------------------------


def delete_buyer(
    app: App, buyer: Designation, *, reason: str | None = None, actor: str | None = None
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _buyer(app, unit.session, buyer)
        return corrections.delete_buyer(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


def delete_contact(
    app: App,
    contact: Designation,
    *,
    buyer: Designation | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _contact(app, unit.session, contact, buyer)
        return corrections.delete_contact(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


def delete_company(
    app: App, company: Designation, *, reason: str | None = None, actor: str | None = None
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _company(app, unit.session, company)
        return corrections.delete_company(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


def delete_correspondent(
    app: App,
    correspondent: Designation,
    *,
    company: Designation | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _correspondent(app, unit.session, correspondent, company)
        return corrections.delete_correspondent(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


def delete_operation(
    app: App, operation: Designation, *, reason: str | None = None, actor: str | None = None
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _operation(app, unit.session, operation)
        return corrections.delete_operation(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


def delete_market(
    app: App, market: Designation, *, reason: str | None = None, actor: str | None = None
) -> Deletion:
    with unit_of_work(app, actor) as unit:
        record = _market(app, unit.session, market)
        return corrections.delete_market(
            unit.session, record, reason=reason, actor=unit.actor, now=unit.now
        )


# --- merges -------------------------------------------------------------------------------------


def _merge_pair(
    app: App,
    session: Session,
    kind: RecordKind,
    source: Designation,
    into: Designation,
    finder: Callable[[Session, Designation], T],
) -> tuple[T, T]:
    """The source and the target; a source already merged says where it went, even when its
    old name now finds the target (« Gers-Habitat » reads as « Gers Habitat »)."""
    found_source = _found(app, session, kind, source, finder)
    found_target = _found(app, session, kind, into, finder)
    if found_source is found_target:
        gone = _gone(session, kind, source)
        if gone is not None:
            raise NotFound(record_history.farewell_text(gone, app.settings.zone))
    return found_source, found_target


def merge_buyers(
    app: App,
    source: Designation,
    *,
    into: Designation,
    reason: str | None = None,
    actor: str | None = None,
) -> Merge:
    with unit_of_work(app, actor) as unit:
        gone, kept = _merge_pair(app, unit.session, RecordKind.BUYER, source, into, find_buyer)
        return merges.merge_buyers(
            unit.session, gone, kept, reason=reason, actor=unit.actor, now=unit.now
        )


def merge_companies(
    app: App,
    source: Designation,
    *,
    into: Designation,
    reason: str | None = None,
    actor: str | None = None,
) -> Merge:
    with unit_of_work(app, actor) as unit:
        gone, kept = _merge_pair(app, unit.session, RecordKind.COMPANY, source, into, find_company)
        return merges.merge_companies(
            unit.session,
            gone,
            kept,
            reason=reason,
            actor=unit.actor,
            now=unit.now,
            publish=unit.app.publish,
        )


# --- cards --------------------------------------------------------------------------------------


def buyer_card(app: App, buyer: Designation) -> BuyerCard:
    """A buyer, its contacts and operations, and every correction made to them."""
    with reading(app) as session:
        return record_history.buyer_card(session, _buyer(app, session, buyer))


def company_card(app: App, company: Designation) -> CompanyCard:
    """A company, its correspondents and lots, and every correction made to them."""
    with reading(app) as session:
        return record_history.company_card(session, _company(app, session, company))
