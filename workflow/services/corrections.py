"""Corrections of the reference data, each kept in the record history: edit and delete (merges are
in ``services.merges``).

A facilitator fixes a typo in a buyer's name, a correspondent's email, a market's reference; she
removes a record created by mistake that nothing uses. Every change writes one ``RecordHistory``
row in the same transaction (who, when, which fields before and after, why), and that row outlives
the record. A command that changes nothing writes nothing; a refusal says what is wrong and
changes nothing (every check runs before the first write).

A correspondent's (or a buyer contact's) new email address is read by every email queued after
the change, whatever the clause's stage: the notices and the ladder read the row when they queue.
The emails already queued for the old address and not gone (waiting, refused, given up) are
readdressed in the same transaction, so ``clauses mail retry`` sends them to the new one too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
    RecordHistory,
)
from workflow.domain.events import require_aware
from workflow.domain.french_numbers import french_count
from workflow.domain.vocabulary import NoticePreference
from workflow.emails.company_ends import KINDS as COMPANY_END_KINDS
from workflow.emails.company_pauses import KINDS as COMPANY_PAUSE_KINDS
from workflow.errors import Hint, InputRefused
from workflow.services.catalog import (
    NOTICE_PREFERENCE_LABELS,
    check_email,
    check_phone,
    clean_text,
    parse_siret,
)
from workflow.services.clauses import history_instant
from workflow.services.outbox import OutboxState, Recipient

# --- what the history tells of --------------------------------------------------------------


class RecordKind(StrEnum):
    """The records whose corrections the history keeps (the values are stored)."""

    BUYER = "buyer"
    CONTACT = "buyer_contact"
    COMPANY = "company"
    CORRESPONDENT = "correspondent"
    OPERATION = "operation"
    MARKET = "market"
    LOT = "clause"
    #: A participant's own corrections (sex, birth year, criterion, proof): its own owner, read
    #: by the privacy export and emptied of their values by the purge.
    PARTICIPANT = "participant"


class Action(StrEnum):
    #: A record created (``buyer add``, ``contact-add``… or their forms): what it was created
    #: with, so the history tells a record's whole life, not only its corrections.
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    #: The source of a merge: it is gone, what referred to it refers to the target.
    MERGE = "merge"
    #: The target of a merge: it received what referred to the source.
    ABSORB = "absorb"


@dataclass(frozen=True)
class Noun:
    """How French names a kind of record in a sentence: « le donneur d'ordre », « l'entreprise »."""

    label: str  # donneur d'ordre
    the: str  # le donneur d'ordre
    pronoun: str  # il / elle
    e: str  # "" / "e": the participle's agreement (supprimé / supprimée)
    #: What its number is: a lot's is its clause's (« lot (clause n° 12) »), not its lot number.
    number_of: str = ""

    @property
    def The(self) -> str:
        """The article capitalised, to start a sentence: « Le donneur d'ordre »."""
        return self.the[0].upper() + self.the[1:]

    def numbered(self, record_id: int, *, capital: bool = False) -> str:
        """« donneur d'ordre n° 3 », « lot (clause n° 12) »."""
        label = self.label[0].upper() + self.label[1:] if capital else self.label
        if self.number_of:
            return f"{label} ({self.number_of} n° {record_id})"
        return f"{label} n° {record_id}"


NOUNS: dict[RecordKind, Noun] = {
    RecordKind.BUYER: Noun("donneur d'ordre", "le donneur d'ordre", "il", ""),
    RecordKind.CONTACT: Noun("contact", "le contact", "il", ""),
    RecordKind.COMPANY: Noun("entreprise", "l'entreprise", "elle", "e"),
    RecordKind.CORRESPONDENT: Noun("correspondant", "le correspondant", "il", ""),
    RecordKind.OPERATION: Noun("opération", "l'opération", "elle", "e"),
    RecordKind.MARKET: Noun("marché", "le marché", "il", ""),
    RecordKind.LOT: Noun("lot", "le lot", "il", "", number_of="clause"),
}

ACTION_LABELS: dict[Action, str] = {
    Action.CREATE: "création",
    Action.EDIT: "modification",
    Action.DELETE: "suppression",
    Action.MERGE: "fusion dans une autre fiche",
    Action.ABSORB: "fusion d'un doublon",
}

#: The French name of each field a correction may change.
FIELD_LABELS: dict[str, str] = {
    "name": "nom",
    "kind": "type",
    "email": "e-mail",
    "phone": "téléphone",
    "role": "fonction",
    "siret": "SIRET",
    "city": "ville",
    "place": "lieu",
    "reference": "référence",
    "title": "intitulé",
    "lot_number": "numéro de lot",
    "trade": "corps d'état",
    # A buyer's settings (``buyer set`` and its form): its notices and its calendar.
    "notice_preference": "avis",
    "declaration_due_day": "jour d'échéance des déclarations",
    "reminder_offsets": "jours de rappel",
    "escalation_offset": "délai de signalement (jours ouvrés)",
}

#: What a merge moves (or drops), in the order told: singular, plural.
MOVED_LABELS: dict[str, tuple[str, str]] = {
    "operations": ("opération", "opérations"),
    "contacts": ("contact", "contacts"),
    "duplicate_contacts": ("contact en double retiré", "contacts en double retirés"),
    "award_parties": ("attribution", "attributions"),
    "declarations": ("déclaration", "déclarations"),
    "ladders": ("suivi des relances", "suivis des relances"),
    "correspondents": ("correspondant", "correspondants"),
    "duplicate_correspondents": (
        "correspondant en double retiré",
        "correspondants en double retirés",
    ),
    "emails": ("courriel rattaché", "courriels rattachés"),
    "kept_summaries": (
        "synthèse mensuelle gardée sous l'ancien numéro",
        "synthèses mensuelles gardées sous l'ancien numéro",
    ),
}

#: The kinds of the company notices, keyed ``notice:<lot>:<kind>:company-<id>@<instant>``: of its
#: lot suspended or resumed, of months no longer asked or asked again after the lot's end.
COMPANY_NOTICE_KINDS = (*COMPANY_PAUSE_KINDS, *COMPANY_END_KINDS)
#: The outbox states in which an email has not left and may still be sent: a new address
#: replaces the old one in them. Never one being sent, sent, or maybe delivered (uncertain).
READDRESSABLE = (OutboxState.PENDING.value, OutboxState.FAILED.value, OutboxState.DEAD.value)

#: The key of an edit's history row listing the emails readdressed to the new address.
READDRESSED = "readdressed_emails"

#: The clause history event of a lot's descriptive fields corrected (``clause show`` lists it).
LOT_EVENT = "lot"


def quoted(value: object) -> str:
    return f"« {value} »" if value not in (None, "") else "(vide)"


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field.replace("_", " "))

    def text(self) -> str:
        return f"{self.label} {quoted(_shown(self.field, self.before))} → {quoted(_shown(self.field, self.after))}"


def _shown(field: str, value: str | None) -> str | None:
    """A stored value as a person reads it: a notice preference by its French words."""
    if field == "notice_preference" and value in {p.value for p in NoticePreference}:
        return NOTICE_PREFERENCE_LABELS[NoticePreference(value)]
    return value


def changes_text(changes: Iterable[FieldChange]) -> str:
    return " ; ".join(c.text() for c in changes)


@dataclass(frozen=True)
class Act:
    """Who corrects, when and why: the same for every row one command writes."""

    actor: str
    at: datetime
    reason: str | None

    @classmethod
    def of(cls, actor: str, now: datetime, reason: str | None) -> Act:
        require_aware(now)
        return cls(
            clean_text(actor, "Qui agit (--actor)", max_length=100),
            now,
            clean_text(reason, "Motif", max_length=2000, required=False) or None,
        )

    def write(
        self,
        session: Session,
        kind: RecordKind,
        entity_id: int,
        owner: tuple[RecordKind, int],
        action: Action,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None = None,
    ) -> RecordHistory:
        """One history row, in the caller's transaction; ``owner`` is the buyer or company
        whose ``show`` lists it."""
        row = RecordHistory(
            entity=kind.value,
            entity_id=entity_id,
            owner=owner[0].value,
            owner_id=owner[1],
            at=self.at,
            actor=self.actor,
            action=action.value,
            before=_json(before),
            after=_json(after),
            reason=self.reason,
        )
        session.add(row)
        session.flush()
        return row


def _json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)  # in the order of the fields


@dataclass(frozen=True)
class Correction:
    """What an edit did: the fields changed (none: nothing differed, nothing was written)."""

    kind: RecordKind
    id: int
    name: str
    changes: tuple[FieldChange, ...]
    reason: str | None
    actor: str
    at: datetime
    history_id: int | None
    #: Emails not gone yet that now go to the new address.
    readdressed: tuple[int, ...] = ()
    #: A person renamed whose phone was left as it was: that phone, which may be the former
    #: person's (the command says so, and how to correct or clear it).
    kept_phone: str | None = None

    @property
    def noun(self) -> Noun:
        return NOUNS[self.kind]


@dataclass(frozen=True)
class Deletion:
    kind: RecordKind
    id: int
    name: str
    #: What went with it (a buyer's contacts, a company's correspondents), as people read it.
    removed: tuple[str, ...]
    reason: str | None
    actor: str
    at: datetime
    history_id: int

    @property
    def noun(self) -> Noun:
        return NOUNS[self.kind]


# --- the steps every edit and deletion takes ----------------------------------------------------

#: The records corrections change.
Record = Buyer | BuyerContact | Company | Correspondent | Operation | Market | Clause

#: What an edit asks: field → (attribute, new value; None leaves the field as it is).
Wanted = Mapping[str, tuple[str, str | None]]


def _text(value: str | None, field: str, max_length: int, *, required: bool = True) -> str | None:
    """``value`` checked; None when not given (the field stays as it is)."""
    if value is None:
        return None
    return clean_text(value, field, max_length=max_length, required=required)


def _phone(value: str | None, field: str) -> str | None:
    return None if value is None else check_phone(value, field)


def _email(value: str | None, field: str) -> str | None:
    return None if value is None else check_email(value, field)


def _lock(session: Session, record: Record) -> None:
    """Lock ``record``'s row until the transaction ends (PostgreSQL; SQLite writes one
    transaction at a time), then read it again: what is checked is what is changed."""
    model = type(record)
    session.execute(select(model.id).where(model.id == record.id).with_for_update())
    session.refresh(record)


def _changing(record: object, wanted: Wanted, field: str) -> str | None:
    """The new value of ``field`` when it changes, else None."""
    attribute, new = wanted[field]
    return new if new is not None and new != getattr(record, attribute) else None


def _kept_phone(record: BuyerContact | Correspondent, wanted: Wanted) -> str | None:
    """The phone kept by an edit that renames the person without changing their phone."""
    if _changing(record, wanted, "name") is None or _changing(record, wanted, "phone") is not None:
        return None
    return record.phone or None


def _edit(
    session: Session,
    act: Act,
    record: Record,
    kind: RecordKind,
    owner: tuple[RecordKind, int],
    wanted: Wanted,
    extra: Sequence[FieldChange] = (),
    note: Mapping[str, Any] | None = None,
) -> tuple[list[FieldChange], int | None]:
    """Apply what differs (and ``extra`` changes, already checked), with its history row;
    ``note`` adds to the row what the change did besides (the emails readdressed)."""
    changes = [
        FieldChange(name, getattr(record, attribute), new)
        for name, (attribute, new) in wanted.items()
        if new is not None and new != getattr(record, attribute)
    ]
    changes += extra
    changes.sort(key=lambda c: list(wanted).index(c.field))
    if not changes:
        return changes, None
    for change in changes:
        setattr(record, wanted[change.field][0], change.after)
    before = {c.field: c.before for c in changes}
    after = {**{c.field: c.after for c in changes}, **(note or {})}
    row = act.write(session, kind, record.id, owner, Action.EDIT, before, after)
    return changes, row.id


def _corrected(
    act: Act,
    kind: RecordKind,
    record_id: int,
    name: str,
    done: tuple[list[FieldChange], int | None],
    readdressed: tuple[int, ...] = (),
) -> Correction:
    changes, history_id = done
    return Correction(
        kind,
        record_id,
        name,
        tuple(changes),
        act.reason,
        act.actor,
        act.at,
        history_id,
        readdressed,
    )


def _delete(
    session: Session,
    act: Act,
    record: Buyer | BuyerContact | Company | Correspondent | Operation | Market,
    kind: RecordKind,
    owner: tuple[RecordKind, int],
    snapshot: Mapping[str, Any],
    name: str,
    removed: tuple[str, ...] = (),
) -> Deletion:
    record_id = record.id
    session.delete(record)
    session.flush()
    row = act.write(session, kind, record_id, owner, Action.DELETE, snapshot)
    return Deletion(kind, record_id, name, removed, act.reason, act.actor, act.at, row.id)


CLAUSES = ("clause", "clauses")


def _numbers(ids: Sequence[int]) -> str:
    """``n° 4, 7, 9`` (ten at most, then how many more)."""
    shown = ", ".join(str(i) for i in ids[:10])
    more = f" et {len(ids) - 10} autres" if len(ids) > 10 else ""
    return f"n° {shown}{more}"


@dataclass(frozen=True)
class Dependents:
    """Records of one sort that depend on a record: « 2 attributions (clauses n° 4, 7) »."""

    count: int
    one: str
    many: str
    ids: Sequence[int] = ()
    #: What the numbers are of (« clause », « clauses »); empty: the records counted.
    of: tuple[str, str] = ("", "")

    @classmethod
    def listed(
        cls, ids: Sequence[int], one: str, many: str, of: tuple[str, str] = ("", "")
    ) -> Dependents:
        return cls(len(ids), one, many, ids, of)

    def text(self) -> str:
        words = french_count(self.count, self.one, self.many)
        if not self.ids:
            return words
        of = self.of[0] if len(self.ids) == 1 else self.of[1]
        return f"{words} ({of + ' ' if of else ''}{_numbers(self.ids)})"


def _refuse_dependents(
    kind: RecordKind,
    record_id: int,
    name: str,
    found: Sequence[Dependents],
    advice: str = "",
    hint: Hint | None = None,
) -> None:
    """Refuse a deletion with what depends on the record, then ``advice`` and its ``hint``
    (the command to type, or the page to go to)."""
    found = [d for d in found if d.count]
    if not found:
        return
    noun = NOUNS[kind]
    listed = [d.text() for d in found]
    text = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " et " + listed[-1]
    verb = "en dépend" if len(found) == 1 and found[0].count == 1 else "en dépendent"
    raise InputRefused(
        f"{noun.The} n° {record_id} {quoted(name)} n'est pas supprimé{noun.e} : {text} {verb}."
        + (f" {advice}" if advice else ""),
        hint=hint,
    )


def merge_hint(kind: RecordKind, source_id: int, target_id: int | None = None) -> Hint:
    """How to merge ``source_id`` into ``target_id`` (unknown: the other one), to end « …,
    fusionnez-les »: the command, or the « Fusionner un doublon » section of the kept record's
    « Corrections » page."""
    buyer = kind is RecordKind.BUYER
    command = "buyer" if buyer else "company"
    into = "N°" if target_id is None else target_id
    of = "du donneur d'ordre" if buyer else "de l'entreprise"
    page = "de la fiche qui reste" if target_id is None else f"{of} n° {target_id}"
    return Hint(
        f" : « clauses {command} merge {source_id} --into {into} ».",
        f" depuis la page « Corrections » {page}, section « Fusionner un doublon » "
        f"(le doublon : n° {source_id}).",
    )


def _ids(session: Session, statement: Any) -> list[int]:
    return list(session.scalars(statement))


# --- buyers and their contacts ---------------------------------------------------------------


def buyer_snapshot(buyer: Buyer) -> dict[str, Any]:
    return {
        "name": buyer.name,
        "kind": buyer.kind,
        "notice_preference": buyer.notice_preference,
        "declaration_due_day": buyer.declaration_due_day,
        "reminder_offsets": buyer.reminder_offsets,
        "escalation_offset": buyer.escalation_offset,
        "created_at": buyer.created_at.isoformat(),
        "contacts": [contact_snapshot(c) for c in buyer.contacts],
    }


def contact_snapshot(contact: BuyerContact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "buyer_id": contact.buyer_id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "role": contact.role,
    }


def edit_buyer(
    session: Session,
    buyer: Buyer,
    *,
    name: str | None = None,
    kind: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    act = Act.of(actor, now, reason)
    _lock(session, buyer)
    wanted = {
        "name": ("name", _text(name, "Nom du donneur d'ordre", 200)),
        "kind": ("kind", _text(kind, "Type de donneur d'ordre", 60, required=False)),
    }
    if (new_name := _changing(buyer, wanted, "name")) is not None:
        other = session.scalar(select(Buyer).where(Buyer.name == new_name, Buyer.id != buyer.id))
        if other is not None:
            raise InputRefused(
                f"Le donneur d'ordre n° {other.id} s'appelle déjà « {new_name} ». S'il s'agit du "
                "même, fusionnez-les",
                hint=merge_hint(RecordKind.BUYER, buyer.id, other.id),
            )
    owner = (RecordKind.BUYER, buyer.id)
    done = _edit(session, act, buyer, RecordKind.BUYER, owner, wanted)
    return _corrected(act, RecordKind.BUYER, buyer.id, buyer.name, done)


def edit_contact(
    session: Session,
    contact: BuyerContact,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    role: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    """A new address goes on every notice and summary queued from now on, and on those queued
    to the old one that have not left (readdressed)."""
    act = Act.of(actor, now, reason)
    _lock(session, contact)
    wanted = {
        "name": ("name", _text(name, "Nom du contact", 200)),
        "email": ("email", _email(email, "E-mail du contact")),
        "phone": ("phone", _phone(phone, "Téléphone du contact")),
        "role": ("role", _text(role, "Fonction du contact", 100, required=False)),
    }
    readdressed: tuple[int, ...] = ()
    if (new_email := _changing(contact, wanted, "email")) is not None:
        others = session.scalars(
            select(BuyerContact.email).where(
                BuyerContact.buyer_id == contact.buyer_id, BuyerContact.id != contact.id
            )
        ).all()
        readdressed = _readdress(
            session,
            _buyer_messages(session, contact.buyer_id),
            contact.email,
            Recipient(wanted["name"][1] or contact.name, new_email),
            others=others,
        )
    owner = (RecordKind.BUYER, contact.buyer_id)
    note = {READDRESSED: list(readdressed)} if readdressed else None
    kept = _kept_phone(contact, wanted)
    done = _edit(session, act, contact, RecordKind.CONTACT, owner, wanted, note=note)
    return dataclasses.replace(
        _corrected(act, RecordKind.CONTACT, contact.id, contact.name, done, readdressed),
        kept_phone=kept,
    )


def _summary_keys(buyer_id: int) -> Any:
    return OutboxMessage.key.like(f"summary:%:buyer:{buyer_id}")


def buyer_summary_emails(session: Session, buyer_id: int) -> list[int]:
    """The monthly summaries queued for the buyer (their key names it)."""
    return _ids(
        session, select(OutboxMessage.id).where(_summary_keys(buyer_id)).order_by(OutboxMessage.id)
    )


def delete_buyer(
    session: Session, buyer: Buyer, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    """A buyer without operations (its contacts go with it); refused with what depends on it."""
    act = Act.of(actor, now, reason)
    _lock(session, buyer)
    operations = _ids(
        session, select(Operation.id).where(Operation.buyer_id == buyer.id).order_by(Operation.id)
    )
    summaries = buyer_summary_emails(session, buyer.id)
    _refuse_dependents(
        RecordKind.BUYER,
        buyer.id,
        buyer.name,
        [
            Dependents.listed(operations, "opération", "opérations"),
            Dependents(
                len(summaries), "synthèse mensuelle envoyée", "synthèses mensuelles envoyées"
            ),
        ],
        "S'il fait double emploi avec un autre, fusionnez-les",
        merge_hint(RecordKind.BUYER, buyer.id),
    )
    removed = tuple(f"contact n° {c.id} {c.name} <{c.email}>" for c in buyer.contacts)
    owner = (RecordKind.BUYER, buyer.id)
    # Its contacts go with it (the relationship's cascade).
    return _delete(
        session, act, buyer, RecordKind.BUYER, owner, buyer_snapshot(buyer), buyer.name, removed
    )


def delete_contact(
    session: Session, contact: BuyerContact, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    """A buyer's contact: nothing refers to one (the notices read the contacts when queued)."""
    act = Act.of(actor, now, reason)
    _lock(session, contact)
    owner = (RecordKind.BUYER, contact.buyer_id)
    name = f"{contact.name} <{contact.email}>"
    return _delete(
        session, act, contact, RecordKind.CONTACT, owner, contact_snapshot(contact), name
    )


# --- companies and their correspondents ------------------------------------------------------


def company_snapshot(company: Company) -> dict[str, Any]:
    return {
        "name": company.name,
        "siret": company.siret,
        "city": company.city,
        "created_at": company.created_at.isoformat(),
        "correspondents": [correspondent_snapshot(c) for c in company.correspondents],
    }


def correspondent_snapshot(person: Correspondent) -> dict[str, Any]:
    return {
        "id": person.id,
        "company_id": person.company_id,
        "name": person.name,
        "email": person.email,
        "phone": person.phone,
    }


def edit_company(
    session: Session,
    company: Company,
    *,
    name: str | None = None,
    siret: str | None = None,
    city: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    """``siret=""`` removes the SIRET; a new one is checked (its key) and must be no other
    company's."""
    act = Act.of(actor, now, reason)
    _lock(session, company)
    clear_siret = siret is not None and not siret.strip()
    new_siret = parse_siret(siret) if siret is not None and not clear_siret else None
    wanted = {
        "name": ("name", _text(name, "Nom de l'entreprise", 200)),
        "siret": ("siret", new_siret),
        "city": ("city", _text(city, "Ville de l'entreprise", 100, required=False)),
    }
    if (number := _changing(company, wanted, "siret")) is not None:
        other = session.scalar(
            select(Company).where(Company.siret == number, Company.id != company.id)
        )
        if other is not None:
            raise InputRefused(
                f"Le SIRET {number} est déjà celui de l'entreprise n° {other.id} "
                f"« {other.name} ». S'il s'agit de la même entreprise, fusionnez-les",
                hint=merge_hint(RecordKind.COMPANY, company.id, other.id),
            )
    cleared = (
        [FieldChange("siret", company.siret, None)]
        if clear_siret and company.siret is not None
        else []
    )
    owner = (RecordKind.COMPANY, company.id)
    done = _edit(session, act, company, RecordKind.COMPANY, owner, wanted, cleared)
    return _corrected(act, RecordKind.COMPANY, company.id, company.name, done)


def edit_correspondent(
    session: Session,
    person: Correspondent,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    """A new address goes on every email queued from now on (welcome, call, reminder, receipt),
    whatever the clause's stage, and on those queued to the old one that have not left."""
    act = Act.of(actor, now, reason)
    _lock(session, person)
    wanted = {
        "name": ("name", _text(name, "Nom du correspondant", 200)),
        "email": ("email", _email(email, "E-mail du correspondant")),
        "phone": ("phone", _phone(phone, "Téléphone du correspondant")),
    }
    readdressed: tuple[int, ...] = ()
    if (new_email := _changing(person, wanted, "email")) is not None:
        others = session.scalars(
            select(Correspondent.email).where(
                Correspondent.company_id == person.company_id, Correspondent.id != person.id
            )
        ).all()
        readdressed = _readdress(
            session,
            _company_messages(session, person.company_id),
            person.email,
            Recipient(wanted["name"][1] or person.name, new_email),
            others=others,
        )
    owner = (RecordKind.COMPANY, person.company_id)
    note = {READDRESSED: list(readdressed)} if readdressed else None
    kept = _kept_phone(person, wanted)
    done = _edit(session, act, person, RecordKind.CORRESPONDENT, owner, wanted, note=note)
    return dataclasses.replace(
        _corrected(act, RecordKind.CORRESPONDENT, person.id, person.name, done, readdressed),
        kept_phone=kept,
    )


def company_outbox_keys(session: Session, company_id: int) -> list[tuple[int, str]]:
    """The outbox rows whose key names the company: its welcomes (and corrected awards), its
    ladder's emails, those telling it of a cancelled declaration, of its lot suspended or
    resumed, and of months no longer asked or asked again after the lot's end."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.key)
        .where(
            or_(
                OutboxMessage.key.like(f"reminder:%:{company_id}:%"),
                OutboxMessage.key.like(f"welcome:%:{company_id}:%"),
                OutboxMessage.key.like(f"award_corrected:%:{company_id}:%"),
                OutboxMessage.key.like(f"cancellation:%:{company_id}:%"),
                OutboxMessage.key.like(f"notice:%:company-{company_id}@%"),
            )
        )
        .order_by(OutboxMessage.id)
    ).all()
    return [(i, k) for i, k in rows if _names_company(k, company_id)]


def _names_company(key: str, company_id: int) -> bool:
    """Whether ``key`` names the company: ``<kind>:<lot>:<company>:…``, or a company notice's
    ``notice:<lot>:<kind>:company-<company>@<instant>`` (LIKE's ``_`` and ``%`` let through
    keys the exact split refuses, ``company-1`` never takes ``company-12``)."""
    parts = key.split(":")
    if parts[0] == "notice":
        return (
            len(parts) >= 4
            and parts[2] in COMPANY_NOTICE_KINDS
            and parts[3].split("@", 1)[0] == f"company-{company_id}"
        )
    return parts[2:3] == [str(company_id)]


def delete_company(
    session: Session, company: Company, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    """A company no lot, declaration or email refers to (its correspondents go with it)."""
    act = Act.of(actor, now, reason)
    _lock(session, company)
    clauses = _ids(
        session,
        select(AwardParty.clause_id)
        .where(AwardParty.company_id == company.id)
        .order_by(AwardParty.clause_id),
    )
    declarations = session.scalar(select(func.count()).where(Declaration.company_id == company.id))
    ladders = session.scalar(select(func.count()).where(DeclarationLadder.company_id == company.id))
    emails = len(company_outbox_keys(session, company.id))
    _refuse_dependents(
        RecordKind.COMPANY,
        company.id,
        company.name,
        [
            Dependents.listed(clauses, "attribution", "attributions", CLAUSES),
            Dependents(declarations or 0, "déclaration", "déclarations"),
            Dependents(ladders or 0, "suivi des relances", "suivis des relances"),
            Dependents(emails, "courriel", "courriels"),
        ],
        "Si elle fait double emploi avec une autre, fusionnez-les",
        merge_hint(RecordKind.COMPANY, company.id),
    )
    snapshot = company_snapshot(company)
    removed = tuple(f"correspondant n° {c.id} {c.name} <{c.email}>" for c in company.correspondents)
    for person in company.correspondents:
        session.delete(person)
    session.flush()
    session.expire(company, ["correspondents"])
    owner = (RecordKind.COMPANY, company.id)
    return _delete(
        session, act, company, RecordKind.COMPANY, owner, snapshot, snapshot["name"], removed
    )


def delete_correspondent(
    session: Session, person: Correspondent, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    """Refused while an award names the correspondent, or takes it by default (the company's
    first correspondent receives the mail of the awards that name nobody)."""
    act = Act.of(actor, now, reason)
    _lock(session, person)
    named = _ids(
        session,
        select(AwardParty.clause_id)
        .where(AwardParty.correspondent_id == person.id)
        .order_by(AwardParty.clause_id),
    )
    first = session.scalar(
        select(func.min(Correspondent.id)).where(Correspondent.company_id == person.company_id)
    )
    by_default: list[int] = []
    if first == person.id:
        by_default = _ids(
            session,
            select(AwardParty.clause_id)
            .where(
                AwardParty.company_id == person.company_id, AwardParty.correspondent_id.is_(None)
            )
            .order_by(AwardParty.clause_id),
        )
    _refuse_dependents(
        RecordKind.CORRESPONDENT,
        person.id,
        person.name,
        [
            Dependents.listed(
                named, "attribution qui le désigne", "attributions qui le désignent", CLAUSES
            ),
            Dependents.listed(
                by_default,
                "attribution qui le prend par défaut",
                "attributions qui le prennent par défaut",
                CLAUSES,
            ),
        ],
        "Pour changer son adresse ou son nom",
        Hint(
            f" : « clauses company correspondent-edit {person.id} --email … ».",
            f" : sa page « Corrections » (correspondant n° {person.id}).",
        ),
    )
    owner = (RecordKind.COMPANY, person.company_id)
    name = f"{person.name} <{person.email}>"
    return _delete(
        session,
        act,
        person,
        RecordKind.CORRESPONDENT,
        owner,
        correspondent_snapshot(person),
        name,
    )


# --- operations, markets, lots ---------------------------------------------------------------


def edit_operation(
    session: Session,
    operation: Operation,
    *,
    name: str | None = None,
    place: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    act = Act.of(actor, now, reason)
    _lock(session, operation)
    wanted = {
        "name": ("name", _text(name, "Nom de l'opération", 200)),
        "place": ("place", _text(place, "Lieu de l'opération", 200, required=False)),
    }
    if (new_name := _changing(operation, wanted, "name")) is not None:
        other = session.scalar(
            select(Operation.id).where(
                Operation.buyer_id == operation.buyer_id,
                Operation.name == new_name,
                Operation.id != operation.id,
            )
        )
        if other is not None:
            raise InputRefused(
                f"L'opération n° {other} du même donneur d'ordre s'appelle déjà « {new_name} »."
            )
    owner = (RecordKind.BUYER, operation.buyer_id)
    done = _edit(session, act, operation, RecordKind.OPERATION, owner, wanted)
    return _corrected(act, RecordKind.OPERATION, operation.id, operation.name, done)


def delete_operation(
    session: Session, operation: Operation, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    act = Act.of(actor, now, reason)
    _lock(session, operation)
    markets = _ids(
        session, select(Market.id).where(Market.operation_id == operation.id).order_by(Market.id)
    )
    _refuse_dependents(
        RecordKind.OPERATION,
        operation.id,
        operation.name,
        [Dependents.listed(markets, "marché", "marchés")],
    )
    snapshot = {
        "name": operation.name,
        "place": operation.place,
        "buyer_id": operation.buyer_id,
        "created_at": operation.created_at.isoformat(),
    }
    owner = (RecordKind.BUYER, operation.buyer_id)
    return _delete(session, act, operation, RecordKind.OPERATION, owner, snapshot, operation.name)


def edit_market(
    session: Session,
    market: Market,
    *,
    reference: str | None = None,
    title: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    act = Act.of(actor, now, reason)
    _lock(session, market)
    wanted = {
        "reference": ("reference", _text(reference, "Référence du marché", 60)),
        "title": ("title", _text(title, "Intitulé du marché", 200, required=False)),
    }
    if (new_reference := _changing(market, wanted, "reference")) is not None:
        other = session.scalar(
            select(Market.id).where(
                Market.operation_id == market.operation_id,
                Market.reference == new_reference,
                Market.id != market.id,
            )
        )
        if other is not None:
            raise InputRefused(
                f"Le marché n° {other} de la même opération a déjà la référence "
                f"« {new_reference} »."
            )
    owner = (RecordKind.BUYER, market.operation.buyer_id)
    done = _edit(session, act, market, RecordKind.MARKET, owner, wanted)
    return _corrected(act, RecordKind.MARKET, market.id, market.reference, done)


def delete_market(
    session: Session, market: Market, *, reason: str | None, actor: str, now: datetime
) -> Deletion:
    act = Act.of(actor, now, reason)
    _lock(session, market)
    lots = _ids(session, select(Clause.id).where(Clause.market_id == market.id).order_by(Clause.id))
    _refuse_dependents(
        RecordKind.MARKET,
        market.id,
        market.reference,
        [Dependents.listed(lots, "lot", "lots", CLAUSES)],
    )
    snapshot = {
        "reference": market.reference,
        "title": market.title,
        "operation_id": market.operation_id,
    }
    owner = (RecordKind.BUYER, market.operation.buyer_id)
    return _delete(session, act, market, RecordKind.MARKET, owner, snapshot, market.reference)


def lot_name(clause: Clause) -> str:
    lot = f"/{clause.lot_number}" if clause.lot_number else ""
    return f"{clause.market.reference}{lot} {clause.lot_title}"


def _same_lot_number(a: str, b: str) -> bool:
    """``01`` and ``1`` designate the same lot (``clause show 2026-014/01``)."""
    if not a or not b:
        return a == b
    return (a.strip().lstrip("0") or "0") == (b.strip().lstrip("0") or "0")


def edit_lot(
    session: Session,
    clause: Clause,
    *,
    title: str | None = None,
    trade: str | None = None,
    lot_number: str | None = None,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> Correction:
    """A lot's title, trade or number; the clause's own history tells it as well."""
    act = Act.of(actor, now, reason)
    _lock(session, clause)
    wanted = {
        "title": ("lot_title", _text(title, "Intitulé du lot", 200)),
        "trade": ("trade", _text(trade, "Corps d'état", 100, required=False)),
        "lot_number": ("lot_number", _text(lot_number, "Numéro de lot", 20, required=False)),
    }
    if (number := _changing(clause, wanted, "lot_number")) is not None:
        siblings = session.execute(
            select(Clause.id, Clause.lot_number).where(
                Clause.market_id == clause.market_id, Clause.id != clause.id
            )
        ).all()
        for other_id, other_number in siblings:
            if _same_lot_number(other_number, number):
                which = f"le lot {other_number}" if other_number else "le lot unique"
                raise InputRefused(
                    f"Le marché « {clause.market.reference} » a déjà {which} (clause n° "
                    f"{other_id}) : choisissez un autre numéro pour la clause n° {clause.id}."
                )
    owner = (RecordKind.BUYER, clause.market.operation.buyer_id)
    done = _edit(session, act, clause, RecordKind.LOT, owner, wanted)
    if done[0]:
        text = changes_text(done[0])
        session.add(
            ClauseHistory(
                clause_id=clause.id,
                at=history_instant(session, clause.id, act.at),
                actor=act.actor,
                event=LOT_EVENT,
                from_stage=clause.stage,
                to_stage=clause.stage,
                reason=text[0].upper()
                + text[1:]
                + (f". Motif : {act.reason}" if act.reason else ""),
            )
        )
        session.flush()
    return _corrected(act, RecordKind.LOT, clause.id, lot_name(clause), done)


# --- readdressing the emails that have not left ---------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    id: int
    key: str
    recipients: str


def _buyer_messages(session: Session, buyer_id: int) -> list[_Candidate]:
    """The buyer's emails not gone: notices and escalations of its lots, its summaries."""
    clauses = (
        select(Clause.id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(Operation.buyer_id == buyer_id)
    )
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.recipients)
        .where(
            OutboxMessage.state.in_(READDRESSABLE),
            or_(OutboxMessage.clause_id.in_(clauses), _summary_keys(buyer_id)),
        )
        .order_by(OutboxMessage.id)
    ).all()
    return [_Candidate(*row) for row in rows]


def _company_messages(session: Session, company_id: int) -> list[_Candidate]:
    """The company's emails not gone: welcomes (and corrected awards), calls and reminders,
    receipts, cancellations, notices of its lot suspended or resumed, of months no longer asked
    or asked again."""
    declarations = {
        str(i)
        for i in session.scalars(select(Declaration.id).where(Declaration.company_id == company_id))
    }
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.recipients)
        .where(
            OutboxMessage.state.in_(READDRESSABLE),
            or_(
                OutboxMessage.key.like("reminder:%"),
                OutboxMessage.key.like("welcome:%"),
                OutboxMessage.key.like("award_corrected:%"),
                OutboxMessage.key.like("receipt:%"),
                OutboxMessage.key.like("cancellation:%"),
                OutboxMessage.key.like(f"notice:%:company-{company_id}@%"),
            ),
        )
        .order_by(OutboxMessage.id)
    ).all()
    found = []
    for row_id, key, recipients in rows:
        parts = [*key.split(":"), "", ""]
        receipt = parts[0] == "receipt"
        if (receipt and parts[1] in declarations) or (
            not receipt and _names_company(key, company_id)
        ):
            found.append(_Candidate(row_id, key, recipients))
    return found


def _readdress(
    session: Session,
    candidates: Sequence[_Candidate],
    old_email: str,
    new: Recipient,
    *,
    others: Sequence[str],
) -> tuple[int, ...]:
    """Replace ``old_email`` by ``new`` in the recipients of ``candidates`` still waiting.

    Nothing is readdressed when another contact of the same record keeps the old address (the
    email may be theirs). Each row changes only if it still waits with the recipients read
    (a dispatcher that took it meanwhile keeps it as it was)."""
    old = old_email.strip().casefold()
    if any(o.strip().casefold() == old for o in others):
        return ()
    changed = []
    for candidate in candidates:
        lines = candidate.recipients.split("\n")
        new_lines = [
            new.formatted() if parseaddr(line)[1].strip().casefold() == old else line
            for line in lines
        ]
        if new_lines == lines:
            continue
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == candidate.id,
                OutboxMessage.state.in_(READDRESSABLE),
                OutboxMessage.recipients == candidate.recipients,
            )
            .values(recipients="\n".join(dict.fromkeys(new_lines)))
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            changed.append(candidate.id)
    return tuple(changed)


def calendar_words(due_day: int | None, offsets: str | None, escalation: int | None) -> str:
    parts = []
    if due_day is not None:
        parts.append(f"échéance le {due_day}")
    if offsets:
        parts.append("rappels J+" + offsets.replace(",", ", J+"))
    if escalation is not None:
        parts.append(f"signalement J+{escalation}")
    return " ; ".join(parts) or "calendrier par défaut"


# --- creations --------------------------------------------------------------------------------

#: The records whose creation the history keeps.
Created = Buyer | BuyerContact | Company | Correspondent | Operation | Market


def _creation_facts(record: Created) -> tuple[RecordKind, tuple[RecordKind, int], dict[str, Any]]:
    """What a creation row says of ``record``: its kind, its owner and the values it was created
    with (the fields a correction would change, in their order; ids name where it belongs)."""
    if isinstance(record, Buyer):
        facts = {
            "name": record.name,
            "kind": record.kind,
            "notice_preference": record.notice_preference,
            "declaration_due_day": record.declaration_due_day,
            "reminder_offsets": record.reminder_offsets,
            "escalation_offset": record.escalation_offset,
        }
        return RecordKind.BUYER, (RecordKind.BUYER, record.id), facts
    if isinstance(record, BuyerContact):
        facts = contact_snapshot(record)
        return RecordKind.CONTACT, (RecordKind.BUYER, record.buyer_id), facts
    if isinstance(record, Company):
        facts = {"name": record.name, "siret": record.siret, "city": record.city}
        return RecordKind.COMPANY, (RecordKind.COMPANY, record.id), facts
    if isinstance(record, Correspondent):
        facts = correspondent_snapshot(record)
        return RecordKind.CORRESPONDENT, (RecordKind.COMPANY, record.company_id), facts
    if isinstance(record, Operation):
        facts = {"name": record.name, "place": record.place, "buyer_id": record.buyer_id}
        return RecordKind.OPERATION, (RecordKind.BUYER, record.buyer_id), facts
    facts = {
        "reference": record.reference,
        "title": record.title,
        "operation_id": record.operation_id,
        "operation": record.operation.name,
    }
    return RecordKind.MARKET, (RecordKind.BUYER, record.operation.buyer_id), facts


def record_creation(
    session: Session, record: Created, *, actor: str, now: datetime
) -> RecordHistory:
    """The history row of a record just created (flushed: it has its N°), in the caller's
    transaction; its owner's card lists it first."""
    kind, owner, facts = _creation_facts(record)
    return Act.of(actor, now, None).write(
        session, kind, record.id, owner, Action.CREATE, None, facts
    )
