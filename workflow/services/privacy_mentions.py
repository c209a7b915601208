"""Where participants' references are written outside their own rows: history reasons, the free
texts of clauses (final report, reason of an hours override), emails (subject, bodies, and the
declaration templates attached to calls). Found for an export, rewritten by a purge.

The database narrows the rows down (a case-insensitive ``LIKE``, a few references per statement);
``MentionRewriter`` then keeps whole-word mentions only, so « P-1 » is not found in « P-12 ».
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, ClauseHistory, OutboxAttachment, OutboxMessage
from workflow.domain.privacy import MentionRewriter

#: References per statement: each adds a ``LIKE`` to every row's test.
CHUNK = 50


class Place(StrEnum):
    """Where an email mentions someone."""

    SUBJECT = "subject"
    TEXT = "text"
    ATTACHMENT = "attachment"


PLACE_LABELS = {Place.SUBJECT: "objet", Place.TEXT: "texte", Place.ATTACHMENT: "pièce jointe"}


@dataclass
class MessageMention:
    message: OutboxMessage
    places: set[Place] = field(default_factory=set)
    attachments: list[OutboxAttachment] = field(default_factory=list)


@dataclass
class Mentions:
    """The rows that mention at least one of the references looked for."""

    history: dict[int, ClauseHistory] = field(default_factory=dict)
    clauses: dict[int, Clause] = field(default_factory=dict)
    messages: dict[int, MessageMention] = field(default_factory=dict)

    @property
    def attachments(self) -> int:
        return sum(len(m.attachments) for m in self.messages.values())


def find_mentions(
    session: Session, references: Collection[str], clause_ids: Collection[int]
) -> Mentions:
    """Every row mentioning one of ``references``; declaration templates are read on the emails
    of ``clause_ids`` only (the lots where those participants were declared)."""
    rewriter = MentionRewriter({reference: reference for reference in references})
    found = Mentions()
    for chunk in _chunks(sorted(references)):
        for row in session.scalars(
            select(ClauseHistory)
            .where(_like(ClauseHistory.reason, chunk))
            .order_by(ClauseHistory.id)
        ):
            if rewriter.found(row.reason):
                found.history[row.id] = row
        for clause in session.scalars(
            select(Clause)
            .where(or_(_like(Clause.final_report, chunk), _like(Clause.override_reason, chunk)))
            .order_by(Clause.id)
        ):
            if rewriter.found(clause.final_report) or rewriter.found(clause.override_reason):
                found.clauses[clause.id] = clause
        for message in session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    _like(OutboxMessage.subject, chunk),
                    _like(OutboxMessage.body_text, chunk),
                    _like(OutboxMessage.body_html, chunk),
                )
            )
            .order_by(OutboxMessage.id)
        ):
            places = _places(message, rewriter)
            if places:
                found.messages.setdefault(message.id, MessageMention(message)).places |= places
    _find_in_attachments(session, rewriter, clause_ids, found)
    return found


def _chunks(references: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(references), CHUNK):
        yield references[start : start + CHUNK]


def _like(column: Any, references: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(column.icontains(reference, autoescape=True) for reference in references))


def _places(message: OutboxMessage, rewriter: MentionRewriter) -> set[Place]:
    places = set()
    if rewriter.found(message.subject):
        places.add(Place.SUBJECT)
    if rewriter.found(message.body_text) or rewriter.found(html.unescape(message.body_html)):
        places.add(Place.TEXT)
    return places


def _find_in_attachments(
    session: Session, rewriter: MentionRewriter, clause_ids: Collection[int], found: Mentions
) -> None:
    ids = sorted(clause_ids)
    for start in range(0, len(ids), 500):
        statement = (
            select(OutboxAttachment, OutboxMessage)
            .join(OutboxMessage, OutboxMessage.id == OutboxAttachment.outbox_id)
            .where(OutboxMessage.clause_id.in_(ids[start : start + 500]))
            .order_by(OutboxAttachment.outbox_id, OutboxAttachment.position)
        )
        by_message: dict[int, tuple[OutboxMessage, list[OutboxAttachment]]] = {}
        for attachment, message in session.execute(statement):
            by_message.setdefault(message.id, (message, []))[1].append(attachment)
        for message, attachments in by_message.values():
            if any(rewriter.found(attachment_text(a.content)) for a in attachments):
                mention = found.messages.setdefault(message.id, MessageMention(message))
                mention.places.add(Place.ATTACHMENT)
                # The CSV and the .xlsx hold the same lines: both go, or the other would stay.
                mention.attachments = attachments


def attachment_text(content: bytes) -> str:
    """What a declaration template says, as text: a CSV decoded, a workbook's XML parts read."""
    if content[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                parts = [
                    archive.read(name).decode("utf-8", "replace")
                    for name in archive.namelist()
                    if name.endswith(".xml")
                ]
        except zipfile.BadZipFile:
            parts = []
        else:
            return html.unescape("\n".join(parts))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")
