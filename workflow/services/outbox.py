"""Queueing emails: one outbox row per message, keyed by its cause, in the caller's transaction.

The key is built from what caused the message and the *scheduled* period (never from the clock), so a
retried pass, a second instance or a catch-up inserts nothing new: ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, bindparam, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.mail.message import Attachment
from workflow.adapters.orm import OUTAGE_MAIL, OutboxAttachment, OutboxMessage
from workflow.adapters.templates import TemplateRenderer
from workflow.domain.events import require_aware
from workflow.domain.summary_rules import SUMMARY_RULES
from workflow.emails.envelope import OutboxState, Recipient
from workflow.errors import InputRefused

if TYPE_CHECKING:
    pass

__all__ = [
    "Attachment",
    "EmailToQueue",
    "OutboxState",
    "Promise",
    "Recipient",
    "message_attachments",
    "queue_email",
    "queue_emails",
]


# Built once: constructing a statement costs more than running it (BENCHMARKS.md, enqueue).
_TABLE = cast(Table, OutboxMessage.__table__)
_ATTACHMENTS = cast(Table, OutboxAttachment.__table__)
_KEY_EXISTS = select(_TABLE.c.id).where(_TABLE.c.key == bindparam("key"))
#: The rules each kind of email is written under, kept on its row (``rules_revision``): the audit
#: reads a summary the older way only for a rule after them (``domain.summary_rules``). The
#: kinds of ``emails.summaries.KINDS``, copied: importing it would load the spreadsheet and
#: console libraries into every process that queues an email.
RULES_OF_KIND: dict[str, int] = {
    "monthly_summary": SUMMARY_RULES,
    "monthly_summary_buyer": SUMMARY_RULES,
}


def withdraw(row: OutboxMessage, reason: str) -> None:
    """An email the service takes back before it left: never sent, its reason kept in the email
    log (``ladder_keys.withdrawn_by_service`` reads it)."""
    row.state = OutboxState.CANCELLED
    row.next_attempt_at = None
    row.last_error = reason


def key_exists(session: Session, key: str) -> bool:
    return session.execute(_KEY_EXISTS, {"key": key}).first() is not None


@dataclass(frozen=True)
class Promise:
    """What an email that names a date of the service keeps on its row (``stale_promises``):
    the instant its text stops being true, and the facts it is written again from then."""

    until: datetime
    #: What no later moment changes (the cancellation, the resumption itself), as JSON.
    facts: Mapping[str, Any]


def promise_facts_text(facts: Mapping[str, Any]) -> str:
    """The facts as the row keeps them. Sorted: the same facts are the same text, whoever writes
    them (a queued email, a merge renaming the company they name)."""
    return json.dumps(facts, sort_keys=True)


def queue_email(
    session: Session,
    renderer: TemplateRenderer,
    *,
    key: str,
    kind: str,
    recipients: Sequence[Recipient],
    context: Mapping[str, Any],
    now: datetime,
    clause_id: int | None = None,
    attachments: Sequence[Attachment] = (),
    promise: Promise | None = None,
) -> bool:
    """Render and queue one email unless its key exists; True when a row was written.

    ``attachments`` are stored in ``outbox_attachments`` in their order, only when the row is;
    ``promise`` is written with the row (the same INSERT: no moment when the row waits without
    it, for a delivery of another instance to send past its date)."""
    require_aware(now)
    if promise is not None:
        require_aware(promise.until)
    if not recipients:
        raise ValueError(f"email {key} has no recipient")
    # Core statements on the session's connection: ``session.execute`` would autoflush before
    # each, then hand them to this connection; one flush (what autoflush does) is enough here.
    if session.autoflush:
        session.flush()
    connection = session.connection()
    if connection.execute(_KEY_EXISTS, {"key": key}).first() is not None:
        return False
    email = EmailToQueue(key, kind, recipients, context, clause_id, attachments, promise)
    values = _outbox_values(renderer, email, now)
    # A key another instance has just written is not written again, nor counted as queued.
    statement = insert_ignoring(connection, _TABLE, "key")
    if not attachments:
        return bool(connection.execute(statement, values).rowcount)
    # RETURNING gives the new row's id, and nothing when another transaction won the key.
    outbox_id = connection.execute(statement.returning(_TABLE.c.id), values).scalar()
    if outbox_id is None:
        return False
    connection.execute(_ATTACHMENTS.insert(), _attachment_rows(outbox_id, attachments))
    return True


@dataclass(frozen=True)
class EmailToQueue:
    """One email for ``queue_emails``: what ``queue_email`` takes, but the clock."""

    key: str
    kind: str
    recipients: Sequence[Recipient]
    context: Mapping[str, Any]
    clause_id: int | None = None
    attachments: Sequence[Attachment] = ()
    promise: Promise | None = None


#: Emails rendered, then written, together: a few round trips for a thousand summaries, and
#: never more than this many rendered bodies held at once.
QUEUE_BATCH = 20


def queue_emails(
    session: Session,
    renderer: TemplateRenderer,
    emails: Iterable[EmailToQueue],
    *,
    now: datetime,
    batch: int = QUEUE_BATCH,
) -> int:
    """``queue_email`` for each of ``emails``, in their order, ``batch`` at a time: one look
    for the keys that exist, the others rendered, then written in one statement (and their
    attachments in another). The number of rows written.

    Each row keeps ``queue_email``'s rules: an email whose key exists is neither rendered nor
    written (nor a second one with the same key in ``emails``); a key another transaction
    writes meanwhile is not written again (``ON CONFLICT DO NOTHING``), nor counted, nor given
    attachments. ``emails`` is read lazily: a pass can build each context as it goes."""
    require_aware(now)
    written = 0
    pending: list[EmailToQueue] = []
    for email in emails:
        if not email.recipients:
            raise ValueError(f"email {email.key} has no recipient")
        if email.promise is not None:
            require_aware(email.promise.until)
        pending.append(email)
        if len(pending) >= batch:
            written += _queue_batch(session, renderer, pending, now)
            pending = []
    if pending:
        written += _queue_batch(session, renderer, pending, now)
    return written


_KEYS_EXIST = select(_TABLE.c.key).where(_TABLE.c.key.in_(bindparam("keys", expanding=True)))


def _queue_batch(
    session: Session, renderer: TemplateRenderer, emails: Sequence[EmailToQueue], now: datetime
) -> int:
    # Core statements on the session's connection: ``session.execute`` would autoflush before
    # each, then hand them to this connection; one flush (what autoflush does) is enough here.
    if session.autoflush:
        session.flush()
    connection = session.connection()
    taken = set(connection.scalars(_KEYS_EXIST, {"keys": [e.key for e in emails]}))
    chosen: list[EmailToQueue] = []
    for email in emails:
        if email.key not in taken:
            taken.add(email.key)  # a second email with the same key is skipped, as it was
            chosen.append(email)
    if not chosen:
        return 0
    rows = [_outbox_values(renderer, email, now) for email in chosen]
    # One INSERT of every row (VALUES (…), (…)): a statement, not an executemany, so that
    # RETURNING gives each new row's id by its key, and nothing for a key another transaction
    # has just written (not written again, nor counted as queued).
    statement = insert_ignoring(connection, _TABLE, "key").values(rows)
    ids = {
        key: outbox_id
        for outbox_id, key in connection.execute(statement.returning(_TABLE.c.id, _TABLE.c.key))
    }
    files = [
        row
        for email in chosen
        if email.key in ids
        for row in _attachment_rows(ids[email.key], email.attachments)
    ]
    if files:
        connection.execute(_ATTACHMENTS.insert(), files)
    return len(ids)


def _attachment_rows(outbox_id: int, attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """The ``outbox_attachments`` rows of one email, in its order."""
    return [
        {
            "outbox_id": outbox_id,
            "position": position,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "content": attachment.content,
        }
        for position, attachment in enumerate(attachments)
    ]


def _outbox_values(
    renderer: TemplateRenderer, email: EmailToQueue, now: datetime
) -> dict[str, Any]:
    """The new row of one email, rendered: waiting, due at ``now``; its promise, if any; the
    rules a summary is written under (``RULES_OF_KIND``).

    Every row names the same columns (a promise or None): ``_queue_batch`` writes them in one
    multi-row INSERT."""
    rendered = renderer.render(email.kind, email.context)
    promise = email.promise
    return {
        "key": email.key,
        "kind": email.kind,
        "clause_id": email.clause_id,
        "recipients": "\n".join(r.formatted() for r in email.recipients),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "message_token": secrets.token_hex(8),
        "promised_until": None if promise is None else promise.until,
        "promise_facts": None if promise is None else promise_facts_text(promise.facts),
        "rules_revision": RULES_OF_KIND.get(email.kind),
    }


def message_attachments(session: Session, outbox_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """The attachments of these outbox rows, in their order: one query for a whole batch."""
    found: dict[int, list[Attachment]] = {}
    for chunk in chunked(sorted(set(outbox_ids))):
        rows = session.execute(
            select(
                _ATTACHMENTS.c.outbox_id,
                _ATTACHMENTS.c.filename,
                _ATTACHMENTS.c.content_type,
                _ATTACHMENTS.c.content,
            )
            .where(_ATTACHMENTS.c.outbox_id.in_(chunk))
            .order_by(_ATTACHMENTS.c.outbox_id, _ATTACHMENTS.c.position)
        )
        for outbox_id, filename, content_type, content in rows:
            found.setdefault(outbox_id, []).append(
                Attachment(filename, content_type, bytes(content))
            )
    return found


#: Starts ``last_error`` of a row that waits because the route (server, folder) is down, not
#: because of the message itself: such a row is never given up, and the digest groups them.
OUTAGE_ERROR_PREFIX = "Envoi impossible : "


#: Every state of an outbox row, with the word a facilitator reads.
STATE_LABELS = {
    OutboxState.PENDING.value: "en attente",
    OutboxState.SENDING.value: "en cours d'envoi",
    OutboxState.SENT.value: "envoyé",
    OutboxState.FAILED.value: "refusé",
    OutboxState.DEAD.value: "abandonné",
    OutboxState.UNCERTAIN.value: "incertain",
    OutboxState.CANCELLED.value: "annulé",
}
#: States from which ``retry`` may put a message back in the queue.
RETRYABLE = (OutboxState.FAILED, OutboxState.DEAD, OutboxState.PENDING, OutboxState.UNCERTAIN)
#: An email that has not left and will not by itself before a retry: what an event that makes
#: it untrue withdraws (a month declared, a declaration corrected or cancelled).
NOT_LEFT = (OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD)


def parse_state(text: str) -> str:
    value = text.strip().lower()
    for state, label in STATE_LABELS.items():
        if value in (state, label):
            return state
    accepted = ", ".join(f"{state} ({label})" for state, label in STATE_LABELS.items())
    raise InputRefused(f"État de courriel « {text} » inconnu ; états acceptés : {accepted}.")


def list_messages(
    session: Session,
    *,
    states: Sequence[str] = (),
    kind: str | None = None,
    limit: int | None = None,
    before: int | None = None,
) -> list[OutboxMessage]:
    """Newest first; ``states`` empty means every state; only N° below ``before`` if given (the
    next page, by key rather than offset: a busy outbox does not shift it)."""
    statement = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if before is not None:
        statement = statement.where(OutboxMessage.id < before)
    if states:
        statement = statement.where(OutboxMessage.state.in_(states))
    if kind:
        statement = statement.where(OutboxMessage.kind == kind)
    if limit:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def count_by_state(session: Session) -> dict[str, int]:
    """Every state with its exact count, zeros included: a read of every row (1.9 M at 10^5
    lots, a quarter of a second on PostgreSQL), for the command line and the tests; a page uses
    ``count_by_state_up_to``."""
    rows = session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    counts = dict.fromkeys(STATE_LABELS, 0)
    counts.update({state: int(count) for state, count in rows})
    return counts


#: The states every email ends in, which grow with the service's life (sent: 99 % of the
#: outbox); the others are the facilitator's work (waiting, refused, given up, uncertain…), few
#: by nature and each worth its exact figure.
SETTLED_STATES = (OutboxState.SENT.value, OutboxState.CANCELLED.value)


@dataclass(frozen=True)
class StateCounts:
    """The count of every state in ``STATE_LABELS``'s order, zeros included. A state in
    ``beyond`` was counted only up to the bound: its count is the bound, and there are more."""

    counts: dict[str, int]
    beyond: frozenset[str] = frozenset()


def count_by_state_up_to(session: Session, bound: int) -> StateCounts:
    """Every state counted exactly, but sent and cancelled counted up to ``bound`` (beyond it:
    ``beyond``). One statement, so one snapshot: the figures agree with each other. Each state
    is a range of ``ix_outbox_due`` (state first) read from the index alone, so the cost is
    that of the facilitator's states plus ``bound``, whatever the number of emails sent."""
    if bound < 0:
        raise ValueError("bound must be >= 0")
    state = _TABLE.c.state
    working = [s for s in STATE_LABELS if s not in SETTLED_STATES]
    exact = select(state, func.count()).where(state.in_(working)).group_by(state)
    bounded = [
        select(literal(settled, state.type), func.count()).select_from(
            # One row more than the bound tells that there are more.
            select(literal(1)).where(state == settled).limit(bound + 1).subquery()
        )
        for settled in SETTLED_STATES
    ]
    counts = dict.fromkeys(STATE_LABELS, 0)
    beyond: set[str] = set()
    for name, count in session.execute(union_all(exact, *bounded)):
        if name in SETTLED_STATES and count > bound:
            counts[name] = bound
            beyond.add(name)
        else:
            counts[name] = int(count)
    return StateCounts(counts=counts, beyond=frozenset(beyond))


def undelivered(session: Session) -> list[OutboxMessage]:
    """What the facilitator must see: refused or abandoned messages, and refused recipients
    (a cancelled message is none of them: she took it back herself)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.state != OutboxState.CANCELLED.value,
                or_(
                    OutboxMessage.state.in_((OutboxState.FAILED, OutboxState.DEAD)),
                    OutboxMessage.refused_recipients.is_not(None),
                ),
            )
            .order_by(OutboxMessage.id)
        )
    )


# --- mail waiting for a route that is down ---------------------------------------------------------


def outage_waiting_condition() -> Any:
    """Rows waiting because the route (server, folder) is down, not because of themselves."""
    return and_(
        OutboxMessage.state == OutboxState.PENDING.value,
        OutboxMessage.last_error.startswith(OUTAGE_ERROR_PREFIX, autoescape=True),
    )


def outage_rows() -> Any:
    """``outage_waiting_condition`` with the partial index's own terms (SQLite uses the index
    only for those): the few rows an outage holds, not every email waiting for its retry slot
    (``ix_outbox_outage``)."""
    return and_(text(OUTAGE_MAIL), outage_waiting_condition())


@dataclass(frozen=True)
class OutageWaiting:
    """What an outage holds back, as the digest, its copy on disk and ``tick`` tell it."""

    count: int
    #: When the oldest waiting message was queued.
    oldest: datetime
    #: The earliest retry slot among them (None: due at the next pass).
    next_retry: datetime | None
    #: The last error, without « Envoi impossible : ».
    cause: str
    #: When the last message left (read only ``with_last_sent``): the outage began after it.
    last_sent: datetime | None = None


def outage_waiting(session: Session, *, with_last_sent: bool = False) -> OutageWaiting | None:
    """The mail an outage holds back, or None when nothing waits for the route.

    ``with_last_sent`` also reads when the last message left (a look at every sent row: for the
    digest and its copy, not for each pass)."""
    condition = outage_rows()
    count, oldest, next_retry = session.execute(
        select(
            func.count(),
            func.min(OutboxMessage.created_at),
            func.min(OutboxMessage.next_attempt_at),
        ).where(condition)
    ).one()
    if not count:
        return None
    cause = session.scalar(
        select(OutboxMessage.last_error).where(condition).order_by(OutboxMessage.id.desc()).limit(1)
    )
    return OutageWaiting(
        count=int(count),
        oldest=oldest,
        next_retry=next_retry,
        cause=str(cause or "").removeprefix(OUTAGE_ERROR_PREFIX),
        last_sent=last_sent_at(session) if with_last_sent else None,
    )


def last_sent_at(session: Session) -> datetime | None:
    """When the last message left: an outage began after it."""
    return session.scalar(
        select(func.max(OutboxMessage.sent_at)).where(OutboxMessage.state == OutboxState.SENT.value)
    )
