"""The record history as people read it: each correction in French, the history a buyer's or a
company's ``show`` lists (with the duplicates merged into it), and what to say of a record that
is gone (deleted, or merged into another).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    Company,
    Market,
    Operation,
    RecordHistory,
)
from workflow.domain.french_numbers import french_count
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.stages import Stage
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, NoticePreference, PartyRole
from workflow.services.catalog import NOTICE_PREFERENCE_LABELS
from workflow.services.corrections import (
    ACTION_LABELS,
    MOVED_LABELS,
    NOUNS,
    READDRESSED,
    Action,
    FieldChange,
    RecordKind,
    calendar_words,
    changes_text,
    lot_name,
    quoted,
)

# --- reading the history ---------------------------------------------------------------------


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def moved_text(moved: Mapping[str, Sequence[int]]) -> str:
    """« 2 opérations, 1 contact », in the order of ``MOVED_LABELS``."""
    order = list(MOVED_LABELS)
    parts = [
        french_count(len(moved[what]), *MOVED_LABELS.get(what, (what, what)))
        for what in sorted(moved, key=lambda w: order.index(w) if w in order else len(order))
        if moved[what]
    ]
    return ", ".join(parts) if parts else "rien à déplacer"


@dataclass(frozen=True)
class HistoryEntry:
    """One correction as ``show`` lists it."""

    id: int
    at: datetime
    actor: str
    kind: RecordKind
    entity_id: int
    action: Action
    changes: tuple[FieldChange, ...]
    text: str
    reason: str | None

    @property
    def kind_label(self) -> str:
        return NOUNS[self.kind].label

    @property
    def action_label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def record(self) -> str:
        """« contact n° 4 »: which record the row tells of."""
        return NOUNS[self.kind].numbered(self.entity_id)

    @property
    def record_the(self) -> str:
        """« le contact n° 4 », « l'opération n° 2 »: the record with its article."""
        return f"{NOUNS[self.kind].the} n° {self.entity_id}"

    @property
    def confirmation(self) -> str:
        """« Contact n° 7 ajouté : « Anne Durand » – e-mail « anne@example.org ». », what a
        page says of the record its form just created (a creation row only)."""
        noun = NOUNS[self.kind]
        return f"{noun.numbered(self.entity_id, capital=True)} ajouté{noun.e}\u00a0: {self.text}."


def _record_name(data: Mapping[str, Any]) -> str:
    """The name a snapshot gives (a market's is its reference)."""
    return str(data.get("name") or data.get("reference") or "")


SEPARATOR = "\u00a0; "

#: The values a creation row tells besides the name, in this order (the ids are left out).
_CREATED_DETAILS = ("kind", "email", "phone", "role", "siret", "city", "place", "title")


def creation_text(facts: Mapping[str, Any]) -> str:
    """« « Gers Habitat » – type « bailleur social » ; avis « un avis à chaque étape » »: the
    record's name, then what it was created with (an empty value is not told)."""
    parts = [
        f"{FieldChange(field, None, None).label} {quoted(facts[field])}"
        for field in _CREATED_DETAILS
        if facts.get(field)
    ]
    if facts.get("operation"):
        parts.append(f"opération n° {facts.get('operation_id')} {quoted(facts['operation'])}")
    preference = facts.get("notice_preference")
    if preference in {p.value for p in NoticePreference}:
        parts.append(f"avis {quoted(NOTICE_PREFERENCE_LABELS[NoticePreference(preference)])}")
    rules = [facts.get(k) for k in ("declaration_due_day", "reminder_offsets", "escalation_offset")]
    if any(rule is not None for rule in rules):
        parts.append(f"calendrier\u00a0: {calendar_words(*rules).replace(' ; ', ', ')}")
    name = quoted(_record_name(facts))
    return f"{name} – {SEPARATOR.join(parts)}" if parts else name


def history_entry(row: RecordHistory) -> HistoryEntry:
    kind, action = RecordKind(row.entity), Action(row.action)
    before, after = _loads(row.before), _loads(row.after)
    noun = NOUNS[kind]
    changes: tuple[FieldChange, ...] = ()
    if action is Action.CREATE:
        text = creation_text(after)
    elif action is Action.EDIT:
        readdressed = after.pop(READDRESSED, [])
        changes = tuple(FieldChange(f, before.get(f), after.get(f)) for f in after)
        text = changes_text(changes)
        if readdressed:
            numbers = ", ".join(str(n) for n in readdressed)
            text += (
                f" ; {french_count(len(readdressed), 'courriel pas encore parti readressé', 'courriels pas encore partis readressés')}"
                f" (n° {numbers})"
            )
    elif action is Action.DELETE:
        gone = [c for key in ("contacts", "correspondents") for c in before.get(key, [])]
        text = f"{quoted(_record_name(before))} supprimé{noun.e}"
        if gone:
            text += " avec " + ", ".join(f"{c.get('name')} <{c.get('email')}>" for c in gone)
    elif action is Action.MERGE:
        into = after.get("into", {})
        text = (
            f"{quoted(_record_name(before))} fusionné{noun.e} dans le n° {into.get('id')} "
            f"{quoted(into.get('name'))} : {moved_text(after.get('moved', {}))}"
        )
    else:
        source = after.get("from", {})
        filled = after.get("filled", {})
        changes = tuple(FieldChange(f, before.get(f), v) for f, v in filled.items())
        text = (
            f"doublon n° {source.get('id')} {quoted(source.get('name'))} fusionné ici : "
            f"{moved_text(after.get('moved', {}))}"
        )
        if changes:
            text += f" ; complété : {changes_text(changes)}"
    return HistoryEntry(
        row.id, row.at, row.actor, kind, row.entity_id, action, changes, text, row.reason
    )


@dataclass(frozen=True)
class Life:
    """A record's number between its creation and its merge into another (None: open).

    SQLite gives the number of a deleted last row to the next record: the rows told of an
    earlier record under the same number fall outside the new one's life."""

    id: int
    since: datetime | None
    until: datetime | None = None

    def holds(self, row: RecordHistory) -> bool:
        return (
            row.owner_id == self.id
            and (self.since is None or row.at >= self.since)
            and (self.until is None or row.at <= self.until)
        )


def _instant(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def merged_sources(session: Session, kind: RecordKind, record: Life) -> list[Life]:
    """The records merged into ``record``, and those merged into them, in merge order."""
    found: list[Life] = []
    waiting = [record]
    while waiting:
        target = waiting.pop()
        rows = session.scalars(
            select(RecordHistory)
            .where(
                RecordHistory.entity == kind.value,
                RecordHistory.owner_id == target.id,
                RecordHistory.action == Action.ABSORB.value,
            )
            .order_by(RecordHistory.id)
        ).all()
        for row in rows:
            source = _loads(row.after).get("from", {})
            if not target.holds(row) or not isinstance(source.get("id"), int):
                continue
            life = Life(source["id"], _instant(source.get("created_at")), row.at)
            found.append(life)
            waiting.append(life)
    return found


def _life(record: Buyer | Company) -> Life:
    return Life(record.id, record.created_at)


def record_history(
    session: Session, owner: RecordKind, record: Buyer | Company
) -> tuple[HistoryEntry, ...]:
    """Every correction of a buyer (with its contacts, operations, markets and lots) or of a
    company (with its correspondents), those of the duplicates merged into it included, oldest
    first. A duplicate's own « merged into » row is left out: the target's row tells it."""
    lives = [_life(record), *merged_sources(session, owner, _life(record))]
    rows = session.scalars(
        select(RecordHistory)
        .where(
            RecordHistory.owner == owner.value,
            RecordHistory.owner_id.in_({life.id for life in lives}),
        )
        .order_by(RecordHistory.at, RecordHistory.id)
    ).all()
    return tuple(
        history_entry(row)
        for row in rows
        if any(life.holds(row) for life in lives)
        and not (row.action == Action.MERGE.value and row.entity_id != record.id)
    )


def farewell(session: Session, kind: RecordKind, record_id: int) -> RecordHistory | None:
    """The row that removed ``record_id`` (deleted, or merged into another), if any."""
    return session.scalar(
        select(RecordHistory)
        .where(
            RecordHistory.entity == kind.value,
            RecordHistory.entity_id == record_id,
            RecordHistory.action.in_([Action.DELETE.value, Action.MERGE.value]),
        )
        .order_by(RecordHistory.id.desc())
        .limit(1)
    )


def merged_into(session: Session, kind: RecordKind, record_id: int) -> int | None:
    """The record that holds today what ``record_id`` held before it was merged: its target, or
    that target's own target when it was merged in turn (A into B, then B into C gives C); None
    when ``record_id`` was never merged.

    One lookup by the history's (entity, entity_id) index per merge followed. Each step takes the
    first merge of the target after the merge that led to it, so that a number SQLite gave again
    to a record created since (a deleted highest number is reused) is never followed by mistake.
    """
    found: int | None = None
    after = 0
    current = record_id
    while True:
        row = session.execute(
            select(RecordHistory.id, RecordHistory.after)
            .where(
                RecordHistory.entity == kind.value,
                RecordHistory.entity_id == current,
                RecordHistory.action == Action.MERGE.value,
                RecordHistory.id > after,
            )
            .order_by(RecordHistory.id)
            .limit(1)
        ).first()
        if row is None:
            return found
        into = _loads(row.after).get("into")
        target = into.get("id") if isinstance(into, dict) else None
        if not isinstance(target, int):
            return found
        found, after, current = target, row.id, target


def farewells(session: Session, kind: RecordKind) -> list[tuple[RecordHistory, str]]:
    """Every removed record of ``kind`` with the name it had, newest first."""
    rows = session.scalars(
        select(RecordHistory)
        .where(
            RecordHistory.entity == kind.value,
            RecordHistory.action.in_([Action.DELETE.value, Action.MERGE.value]),
        )
        .order_by(RecordHistory.id.desc())
    ).all()
    return [(row, _record_name(_loads(row.before))) for row in rows]


def farewell_text(row: RecordHistory, zone: ZoneInfo) -> str:
    """« Le donneur d'ordre n° 5 « Gers-Habitat » n'existe plus : il a été fusionné dans le
    n° 3 « Gers Habitat » le 02/03/2026 à 10:00 (Camille Martin). »"""
    kind = RecordKind(row.entity)
    noun = NOUNS[kind]
    before, after = _loads(row.before), _loads(row.after)
    when = row.at.astimezone(zone)
    moment = f"le {when:%d/%m/%Y} à {when:%H:%M} ({row.actor})"
    if row.action == Action.MERGE.value:
        into = after.get("into", {})
        what = (
            f"{noun.pronoun} a été fusionné{noun.e} dans le n° {into.get('id')} "
            f"{quoted(into.get('name'))} {moment}"
        )
    else:
        what = f"{noun.pronoun} a été supprimé{noun.e} {moment}"
    return f"{noun.The} n° {row.entity_id} {quoted(_record_name(before))} n'existe plus : {what}."


# --- what ``show`` gives ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactLine:
    id: int
    name: str
    email: str
    phone: str
    role: str = ""


@dataclass(frozen=True)
class OperationLine:
    id: int
    name: str
    place: str
    markets: tuple[str, ...]


@dataclass(frozen=True)
class BuyerCard:
    id: int
    name: str
    kind: str
    notices: str
    calendar: str
    contacts: tuple[ContactLine, ...]
    operations: tuple[OperationLine, ...]
    merged_from: tuple[int, ...]
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class PartyLine:
    clause_id: int
    lot: str
    role: str
    stage: str


@dataclass(frozen=True)
class CompanyCard:
    id: int
    name: str
    siret: str | None
    city: str
    correspondents: tuple[ContactLine, ...]
    lots: tuple[PartyLine, ...]
    merged_from: tuple[int, ...]
    history: tuple[HistoryEntry, ...]


def buyer_card(session: Session, buyer: Buyer) -> BuyerCard:
    operations = session.scalars(
        select(Operation).where(Operation.buyer_id == buyer.id).order_by(Operation.id)
    ).all()
    markets: dict[int, list[str]] = {}
    for operation_id, reference in session.execute(
        select(Market.operation_id, Market.reference)
        .join(Operation, Operation.id == Market.operation_id)
        .where(Operation.buyer_id == buyer.id)
        .order_by(Market.id)
    ):
        markets.setdefault(operation_id, []).append(reference)
    return BuyerCard(
        id=buyer.id,
        name=buyer.name,
        kind=buyer.kind,
        notices=NOTICE_PREFERENCE_LABELS[NoticePreference(buyer.notice_preference)],
        calendar=calendar_words(
            buyer.declaration_due_day, buyer.reminder_offsets, buyer.escalation_offset
        ),
        contacts=tuple(ContactLine(c.id, c.name, c.email, c.phone, c.role) for c in buyer.contacts),
        operations=tuple(
            OperationLine(o.id, o.name, o.place, tuple(markets.get(o.id, []))) for o in operations
        ),
        merged_from=tuple(s.id for s in merged_sources(session, RecordKind.BUYER, _life(buyer))),
        history=record_history(session, RecordKind.BUYER, buyer),
    )


def company_card(session: Session, company: Company) -> CompanyCard:
    parties = session.execute(
        select(AwardParty.clause_id, AwardParty.role, Clause)
        .join(Clause, Clause.id == AwardParty.clause_id)
        .where(AwardParty.company_id == company.id)
        .order_by(AwardParty.clause_id)
    ).all()
    return CompanyCard(
        id=company.id,
        name=company.name,
        siret=company.siret,
        city=company.city,
        correspondents=tuple(
            ContactLine(c.id, c.name, c.email, c.phone) for c in company.correspondents
        ),
        lots=tuple(
            PartyLine(
                clause_id,
                lot_name(clause),
                PARTY_ROLE_LABELS[PartyRole(role)],
                STAGE_LABELS[Stage(clause.stage)],
            )
            for clause_id, role, clause in parties
        ),
        merged_from=tuple(
            s.id for s in merged_sources(session, RecordKind.COMPANY, _life(company))
        ),
        history=record_history(session, RecordKind.COMPANY, company),
    )
