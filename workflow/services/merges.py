"""Merging a duplicate buyer or company into the record that stays.

Everything that referred to the duplicate (the source) refers to the target afterwards, then the
source is deleted; two history rows tell it (the source's « merged into », the target's « merged
here », each listing what moved, by number). A merge that would break a uniqueness (two
operations of one buyer with the same name, one company twice on a lot, two declarations of one
month) is refused with what collides, before anything is written.

The target keeps its own fields; those it lacks (a type, a SIRET, a city) are taken from the
source. Contacts or correspondents with the address of one the target already has are dropped
rather than moved (the same person would get every email twice); the awards that named a dropped
correspondent name the target's one.

Buyers: the source's lots follow the target's calendar and notice preference from the merge on,
so a merge of buyers whose settings differ is refused while the source has lots (align them
first with « clauses buyer set »). The monthly summaries already sent keep the number of the
buyer they were written for (their key): the history says which operations it had then.

Companies: the welcome, ladder, cancellation and lot suspended/resumed emails' keys name the
company; they are renamed to the target, so a later step of a moved ladder is still told what was
sent before it, and a correction of the target's correspondent finds them. The facts an email
still to leave is written again from should its promised date pass first (``stale_promises``)
name the target too: it is written again for the company that stays, not withdrawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    Market,
    Operation,
    OutboxMessage,
)
from workflow.domain.events import CompaniesMerged
from workflow.domain.vocabulary import NoticePreference
from workflow.errors import Hint, InputRefused
from workflow.services.catalog import NOTICE_PREFERENCE_LABELS
from workflow.services.clauses import Publish
from workflow.services.corrections import (
    NOUNS,
    Act,
    Action,
    FieldChange,
    RecordKind,
    buyer_snapshot,
    buyer_summary_emails,
    calendar_words,
    company_outbox_keys,
    company_snapshot,
    quoted,
)
from workflow.services.outbox import SETTLED_STATES, promise_facts_text


@dataclass(frozen=True)
class Moved:
    """Records of one sort a merge moved (or dropped), by number."""

    what: str  # a key of ``corrections.MOVED_LABELS``
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Merge:
    kind: RecordKind
    source_id: int
    source_name: str
    target_id: int
    target_name: str
    moved: tuple[Moved, ...]
    #: The target's empty fields filled from the source.
    filled: tuple[FieldChange, ...]
    reason: str | None
    actor: str
    at: datetime
    #: The source's row (« merged into ») and the target's (« merged here »).
    history_ids: tuple[int, int]


def _refuse(
    kind: RecordKind,
    source: Buyer | Company,
    target: Buyer | Company,
    why: str,
    hint: Hint | None = None,
) -> None:
    noun = NOUNS[kind]
    raise InputRefused(
        f"{noun.The} n° {source.id} {quoted(source.name)} ne peut pas être "
        f"fusionné{noun.e} dans le n° {target.id} {quoted(target.name)} : {why}",
        hint=hint,
    )


def _same(kind: RecordKind, record: Buyer | Company) -> None:
    noun = NOUNS[kind]
    raise InputRefused(
        f"Le doublon et la fiche qui reste sont {noun.the} n° {record.id} "
        f"{quoted(record.name)} : donnez deux fiches différentes à fusionner."
    )


def _locked_pair(
    session: Session, model: type[Buyer] | type[Company], source_id: int, target_id: int
) -> None:
    """Both rows locked, in id order (two merges crossing each other wait instead of deadlocking)."""
    session.execute(
        select(model.id)
        .where(model.id.in_([source_id, target_id]))
        .order_by(model.id)
        .with_for_update()
    ).all()


def _filled(
    target: Buyer | Company, source: Buyer | Company, fields: Sequence[str]
) -> list[FieldChange]:
    """The target's empty fields the source has."""
    return [
        FieldChange(name, getattr(target, name), getattr(source, name))
        for name in fields
        if not getattr(target, name) and getattr(source, name)
    ]


def _moved_map(moved: Sequence[Moved]) -> dict[str, list[int]]:
    return {m.what: list(m.ids) for m in moved}


def _record(
    session: Session,
    act: Act,
    kind: RecordKind,
    source_snapshot: dict[str, Any],
    source_id: int,
    target: Buyer | Company,
    moved: Sequence[Moved],
    filled: Sequence[FieldChange],
) -> tuple[int, int]:
    source_name = str(source_snapshot["name"])
    gone = act.write(
        session,
        kind,
        source_id,
        (kind, source_id),
        Action.MERGE,
        source_snapshot,
        {"into": {"id": target.id, "name": target.name}, "moved": _moved_map(moved)},
    )
    kept = act.write(
        session,
        kind,
        target.id,
        (kind, target.id),
        Action.ABSORB,
        {f.field: f.before for f in filled},
        {
            "from": {
                "id": source_id,
                "name": source_name,
                "created_at": source_snapshot["created_at"],
            },
            "moved": _moved_map(moved),
            "filled": {f.field: f.after for f in filled},
        },
    )
    return gone.id, kept.id


# --- buyers -----------------------------------------------------------------------------------


def _settings(buyer: Buyer) -> tuple[Any, ...]:
    return (
        buyer.declaration_due_day,
        buyer.reminder_offsets,
        buyer.escalation_offset,
        buyer.notice_preference,
    )


def _settings_words(buyer: Buyer) -> str:
    calendar = calendar_words(
        buyer.declaration_due_day, buyer.reminder_offsets, buyer.escalation_offset
    )
    notices = NOTICE_PREFERENCE_LABELS[NoticePreference(buyer.notice_preference)]
    return f"{calendar}, {notices}"


def merge_buyers(
    session: Session,
    source: Buyer,
    target: Buyer,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
) -> Merge:
    """Move the source's operations and contacts to the target, then delete the source."""
    act = Act.of(actor, now, reason)
    kind = RecordKind.BUYER
    if source.id == target.id:
        _same(kind, source)
    _locked_pair(session, Buyer, source.id, target.id)
    session.refresh(source)
    session.refresh(target)
    operations = session.scalars(
        select(Operation).where(Operation.buyer_id == source.id).order_by(Operation.id)
    ).all()
    taken = {
        name: operation_id
        for name, operation_id in session.execute(
            select(Operation.name, Operation.id).where(Operation.buyer_id == target.id)
        )
    }
    clashes = [(o, taken[o.name]) for o in operations if o.name in taken]
    if clashes:
        listed = ", ".join(f"{quoted(o.name)} (n° {o.id} et n° {other})" for o, other in clashes)
        _refuse(
            kind,
            source,
            target,
            f"tous deux ont une opération du même nom : {listed}. Renommez l'une des deux",
            Hint(
                f" (« clauses operation edit {clashes[0][0].id} --name … ») avant la fusion.",
                f" (page « Corrections » de l'opération n° {clashes[0][0].id}) avant la fusion.",
            ),
        )
    lots = session.scalars(
        select(Clause.id)
        .join(Market, Market.id == Clause.market_id)
        .join(Operation, Operation.id == Market.operation_id)
        .where(Operation.buyer_id == source.id)
        .limit(1)
    ).first()
    if lots is not None and _settings(source) != _settings(target):
        _refuse(
            kind,
            source,
            target,
            f"leurs lots ne suivent pas les mêmes réglages (n° {source.id} : "
            f"{_settings_words(source)} ; n° {target.id} : {_settings_words(target)}), et les "
            f"lots du n° {source.id} prendraient ceux du n° {target.id}. Alignez-les d'abord",
            Hint(
                f" avec « clauses buyer set {source.id} … ».",
                " : les réglages d'un donneur d'ordre ne se changent pas depuis ces pages, "
                "demandez-le à qui administre le service.",
            ),
        )

    source_snapshot = buyer_snapshot(source)
    kept_addresses = {c.email.strip().casefold() for c in target.contacts}
    moving = [c.id for c in source.contacts if c.email.strip().casefold() not in kept_addresses]
    dropped = [c.id for c in source.contacts if c.id not in moving]
    filled = _filled(target, source, ["kind"])
    summaries = buyer_summary_emails(session, source.id)

    operation_ids = [o.id for o in operations]
    if operation_ids:
        session.execute(
            update(Operation)
            .where(Operation.id.in_(operation_ids))
            .values(buyer_id=target.id)
            .execution_options(synchronize_session=False)
        )
    if moving:
        session.execute(
            update(BuyerContact)
            .where(BuyerContact.id.in_(moving))
            .values(buyer_id=target.id)
            .execution_options(synchronize_session=False)
        )
    if dropped:
        session.execute(
            delete(BuyerContact)
            .where(BuyerContact.id.in_(dropped))
            .execution_options(synchronize_session=False)
        )
    source_id, source_name = source.id, source.name
    session.expire_all()
    session.execute(delete(Buyer).where(Buyer.id == source_id))
    session.expunge(source)
    for change in filled:
        setattr(target, change.field, change.after)
    session.flush()

    moved = (
        Moved("operations", tuple(operation_ids)),
        Moved("contacts", tuple(moving)),
        Moved("duplicate_contacts", tuple(dropped)),
        Moved("kept_summaries", tuple(summaries)),
    )
    history = _record(session, act, kind, source_snapshot, source_id, target, moved, filled)
    return Merge(
        kind,
        source_id,
        source_name,
        target.id,
        target.name,
        moved,
        tuple(filled),
        act.reason,
        act.actor,
        act.at,
        history,
    )


# --- companies --------------------------------------------------------------------------------


def _month(value: Any) -> str:
    return f"{value:%m/%Y}"


def _company_clashes(session: Session, source: Company, target: Company) -> str | None:
    """Why the two cannot become one: the same lot, or the same month declared or followed."""
    both = session.scalars(
        select(AwardParty.clause_id)
        .where(AwardParty.company_id == source.id)
        .intersect(select(AwardParty.clause_id).where(AwardParty.company_id == target.id))
    ).all()
    if both:
        numbers = ", ".join(str(i) for i in sorted(both))
        return (
            f"toutes deux sont attributaires {'du lot' if len(both) == 1 else 'des lots'} "
            f"(clause{'s' if len(both) > 1 else ''} n° {numbers}) : l'entreprise y figurerait "
            "deux fois. Retirez l'une des deux de l'attribution d'abord."
        )
    for model, words in (
        (Declaration, "une déclaration"),
        (DeclarationLadder, "un suivi des relances"),
    ):
        mine = select(model.clause_id, model.month).where(model.company_id == source.id)
        theirs = select(model.clause_id, model.month).where(model.company_id == target.id)
        common = sorted((c, m) for c, m in session.execute(mine.intersect(theirs)))
        if common:
            listed = ", ".join(f"clause n° {c} en {_month(m)}" for c, m in common[:10])
            return (
                f"toutes deux ont {words} pour le même mois du même lot ({listed}) : il n'en "
                "resterait qu'un."
            )
    return None


def _renamed_key(key: str, target_id: int) -> str:
    """``reminder:<clause>:<company>:…``, ``welcome:<clause>:<company>:…``,
    ``cancellation:<clause>:<company>:…`` and the company notices' (a pause, months released
    or asked again after the end) ``notice:<clause>:<kind>:company-<company>@<instant>`` name
    the target."""
    parts = key.split(":")
    if parts[0] == "notice":
        # The instant holds colons too: only the part before its « @ » names the company.
        _, at = parts[3].split("@", 1)
        parts[3] = f"company-{target_id}@{at}"
        return ":".join(parts)
    parts[2] = str(target_id)
    return ":".join(parts)


def _promises_renamed(session: Session, source_id: int, target_id: int) -> list[int]:
    """The emails that may still leave whose promise names the source (``promise_facts``, the
    facts a stale one is written again from: a cancellation's, a resumption's to the company)
    made to name the target, their ids: written again after the merge, they are the target's
    (the source is gone: its builder would find no company, and the email be withdrawn).

    The facts are JSON in a text column: read and written here, the same on every database;
    only the few rows with a promise are read (``ix_outbox_promised``)."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.promise_facts).where(
            OutboxMessage.promised_until.is_not(None),
            # Any that may still leave: waiting, being sent, or back in the queue by a retry.
            OutboxMessage.state.not_in(SETTLED_STATES),
        )
    ).all()
    renamed: list[int] = []
    for row_id, text in rows:
        if text is None:
            continue  # no facts: it is withdrawn, never written again, whoever it names
        facts = json.loads(text)
        if not isinstance(facts, dict) or facts.get("company_id") != source_id:
            continue
        facts["company_id"] = target_id
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(promise_facts=promise_facts_text(facts))
            .execution_options(synchronize_session=False)
        )
        renamed.append(row_id)
    return renamed


def merge_companies(
    session: Session,
    source: Company,
    target: Company,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
    publish: Publish,
) -> Merge:
    """Move the source's awards, declarations, ladders, correspondents and the keys of its
    emails to the target, then delete the source; published (``CompaniesMerged``) so that the
    target's awards now with someone to write to are armed in this transaction."""
    act = Act.of(actor, now, reason)
    kind = RecordKind.COMPANY
    if source.id == target.id:
        _same(kind, source)
    _locked_pair(session, Company, source.id, target.id)
    session.refresh(source)
    session.refresh(target)
    if source.siret and target.siret and source.siret != target.siret:
        _refuse(
            kind,
            source,
            target,
            f"leurs SIRET diffèrent ({source.siret} et {target.siret}) : ce sont deux "
            "établissements. Si l'un des deux est faux, corrigez-le ou effacez-le d'abord",
            Hint(
                f' (« clauses company edit {source.id} --siret "" »).',
                f" (le champ SIRET de la page « Corrections » de l'entreprise n° {source.id}).",
            ),
        )
    if (why := _company_clashes(session, source, target)) is not None:
        _refuse(kind, source, target, why)
    keys = company_outbox_keys(session, source.id)
    renamed = {row_id: _renamed_key(key, target.id) for row_id, key in keys}
    taken = (
        session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.key.in_(list(renamed.values())))
        ).all()
        if renamed
        else []
    )
    if taken:
        _refuse(
            kind,
            source,
            target,
            f"des courriels de la cible portent déjà les clés de ceux de la source ({taken[0]}).",
        )

    source_snapshot = company_snapshot(source)
    kept = {c.email.strip().casefold(): c.id for c in target.correspondents}
    moving = [c.id for c in source.correspondents if c.email.strip().casefold() not in kept]
    duplicates = {
        c.id: kept[c.email.strip().casefold()]
        for c in source.correspondents
        if c.email.strip().casefold() in kept
    }
    filled = _filled(target, source, ["siret", "city"])

    def ids(model: type[AwardParty] | type[Declaration] | type[DeclarationLadder]) -> list[int]:
        return list(
            session.scalars(
                select(model.id).where(model.company_id == source.id).order_by(model.id)
            )
        )

    parties, declarations, ladders = ids(AwardParty), ids(Declaration), ids(DeclarationLadder)
    for model, rows in (
        (AwardParty, parties),
        (Declaration, declarations),
        (DeclarationLadder, ladders),
    ):
        if rows:
            session.execute(
                update(model)
                .where(model.id.in_(rows))
                .values(company_id=target.id)
                .execution_options(synchronize_session=False)
            )
    for duplicate, original in duplicates.items():
        session.execute(
            update(AwardParty)
            .where(AwardParty.correspondent_id == duplicate)
            .values(correspondent_id=original)
            .execution_options(synchronize_session=False)
        )
    if moving:
        session.execute(
            update(Correspondent)
            .where(Correspondent.id.in_(moving))
            .values(company_id=target.id)
            .execution_options(synchronize_session=False)
        )
    if duplicates:
        session.execute(
            delete(Correspondent)
            .where(Correspondent.id.in_(list(duplicates)))
            .execution_options(synchronize_session=False)
        )
    for row_id, key in renamed.items():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(key=key)
            .execution_options(synchronize_session=False)
        )
    promises = _promises_renamed(session, source.id, target.id)
    source_id, source_name = source.id, source.name
    session.expire_all()
    session.execute(delete(Company).where(Company.id == source_id))
    session.expunge(source)
    session.flush()
    # The SIRET after the source is gone: the column is unique.
    for change in filled:
        setattr(target, change.field, change.after)
    session.flush()

    moved = (
        Moved("award_parties", tuple(parties)),
        Moved("declarations", tuple(declarations)),
        Moved("ladders", tuple(ladders)),
        Moved("correspondents", tuple(moving)),
        Moved("duplicate_correspondents", tuple(duplicates)),
        Moved("emails", tuple(sorted(set(renamed) | set(promises)))),
    )
    history = _record(session, act, kind, source_snapshot, source_id, target, moved, filled)
    publish(
        session, CompaniesMerged(company_id=target.id, merged_id=source_id, at=now, actor=actor)
    )
    return Merge(
        kind,
        source_id,
        source_name,
        target.id,
        target.name,
        moved,
        tuple(filled),
        act.reason,
        act.actor,
        act.at,
        history,
    )
