"""Queueing emails: one outbox row per message, keyed by its cause, in the caller's transaction.

The key is built from what caused the message and the *scheduled* period (never from the clock), so a
retried pass, a second instance or a catch-up inserts nothing new: ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, parseaddr
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.adapters.batching import chunked
from workflow.adapters.mail.message import AddressRefused, Attachment, parse_mailbox
from workflow.adapters.orm import OutboxAttachment, OutboxMessage
from workflow.adapters.templates import TemplateRenderer, french_date
from workflow.domain.characters import forbidden_character
from workflow.domain.events import require_aware
from workflow.domain.vocabulary import normalise
from workflow.errors import InputRefused, NotFound

if TYPE_CHECKING:
    from workflow.settings import Settings

__all__ = ["Attachment", "OutboxState", "Recipient", "message_attachments", "queue_email"]


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str

    def formatted(self) -> str:
        # Line breaks in a name would let it forge headers: fold them to spaces.
        name = " ".join(self.name.split())
        email = "".join(self.email.split())
        return formataddr((name, email))


# Built once: constructing a statement costs more than running it (BENCHMARKS.md, enqueue).
_TABLE = cast(Table, OutboxMessage.__table__)
_ATTACHMENTS = cast(Table, OutboxAttachment.__table__)
_KEY_EXISTS = select(_TABLE.c.id).where(_TABLE.c.key == bindparam("key"))
# ``preserve_rowcount``: without it psycopg's rowcount of an INSERT reads -1, so a key another
# instance had just written would still count as queued here.
_INSERTS = {
    name: dialect.insert(_TABLE)
    .inline()
    .on_conflict_do_nothing(index_elements=["key"])
    .execution_options(preserve_rowcount=True)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def key_exists(session: Session, key: str) -> bool:
    return session.execute(_KEY_EXISTS, {"key": key}).first() is not None


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
) -> bool:
    """Render and queue one email unless its key exists; True when a row was written.

    ``attachments`` are stored in ``outbox_attachments`` in their order, only when the row is."""
    require_aware(now)
    if not recipients:
        raise ValueError(f"email {key} has no recipient")
    # Core statements on the session's connection: ``session.execute`` would autoflush before
    # each, then hand them to this connection; one flush (what autoflush does) is enough here.
    if session.autoflush:
        session.flush()
    connection = session.connection()
    if connection.execute(_KEY_EXISTS, {"key": key}).first() is not None:
        return False
    rendered = renderer.render(kind, context)
    values = {
        "key": key,
        "kind": kind,
        "clause_id": clause_id,
        "recipients": "\n".join(r.formatted() for r in recipients),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "message_token": secrets.token_hex(8),
    }
    statement = _INSERTS["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    if not attachments:
        return bool(connection.execute(statement, values).rowcount)
    # RETURNING gives the new row's id, and nothing when another transaction won the key.
    outbox_id = connection.execute(statement.returning(_TABLE.c.id), values).scalar()
    if outbox_id is None:
        return False
    connection.execute(
        _ATTACHMENTS.insert(),
        [
            {
                "outbox_id": outbox_id,
                "position": position,
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "content": attachment.content,
            }
            for position, attachment in enumerate(attachments)
        ],
    )
    return True


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


class OutboxState(StrEnum):
    """Every state of an outbox row; the values are what the database stores."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    #: Its claim ended while it was on the wire: maybe delivered, so not sent again silently.
    UNCERTAIN = "uncertain"
    #: Taken back by the facilitator before it left (``cancel_email``): never sent, never counted
    #: as waiting or failed; ``last_error`` says who cancelled it, when and why.
    CANCELLED = "cancelled"


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
RETRYABLE = ("failed", "dead", "pending", "uncertain")


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
) -> list[OutboxMessage]:
    """Newest first; ``states`` empty means every state."""
    statement = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if states:
        statement = statement.where(OutboxMessage.state.in_(states))
    if kind:
        statement = statement.where(OutboxMessage.kind == kind)
    if limit:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    counts = dict.fromkeys(STATE_LABELS, 0)
    counts.update({state: int(count) for state, count in rows})
    return counts


def undelivered(session: Session) -> list[OutboxMessage]:
    """What the facilitator must see: refused or abandoned messages, and refused recipients
    (a cancelled message is none of them: she took it back herself)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.state != OutboxState.CANCELLED.value,
                or_(
                    OutboxMessage.state.in_(("failed", "dead")),
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
    condition = outage_waiting_condition()
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


# --- putting back, re-addressing, cancelling -------------------------------------------------------


def _requeue(message: OutboxMessage, now: datetime) -> None:
    # A fresh set of attempts: the facilitator fixed what was wrong (an address, the server).
    message.state = "pending"
    message.attempts = 0
    message.next_attempt_at = now
    message.claimed_at = None
    # Released: a sender still holding it (an uncertain row's) can no longer record over it.
    message.claimed_by = None
    message.lease_until = None
    message.send_started_at = None


@dataclass(frozen=True)
class RetriedEmail:
    """One message put back in the queue, and to whom it now goes."""

    id: int
    #: Its state before (« failed », « dead », « pending », « uncertain »).
    state: str
    #: Its recipients as it will leave (``Name <address>``, one a line).
    recipients: str
    #: Its recipients before, when they were re-addressed to current addresses; else None.
    readdressed_from: str | None = None

    def readdressed(self) -> str | None:
        """« ancien@x → nouveau@x », for a person to read; None when nothing changed."""
        if self.readdressed_from is None:
            return None
        before = ", ".join(_address(line) for line in self.readdressed_from.splitlines())
        after = ", ".join(_address(line) for line in self.recipients.splitlines())
        return f"{before} → {after}"


def retry_message(
    session: Session, message_id: int, now: datetime, settings: Settings | None = None
) -> OutboxMessage:
    """Put one refused, abandoned, uncertain or waiting message back in the queue, due at once,
    addressed to its recipients' current addresses (``readdress``; the facilitator's own rows
    only with ``settings``).

    An uncertain message may have arrived already: sending it again is the facilitator's call."""
    require_aware(now)
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"Courriel n° {message_id} introuvable dans la file d'envoi.")
    if message.state not in RETRYABLE:
        allowed = ", ".join(STATE_LABELS[s] for s in RETRYABLE)
        raise InputRefused(
            f"Courriel n° {message_id} : il est « {STATE_LABELS[message.state]} », "
            f"il ne peut pas être renvoyé ; seuls les courriels {allowed} peuvent l'être."
        )
    readdress(session, message, settings)
    _requeue(message, now)
    return message


def retry_email(
    session: Session, message_id: int, *, now: datetime, settings: Settings | None = None
) -> RetriedEmail:
    """``retry_message``, told as a view: its former state and whether it was re-addressed."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    state = message.state if message is not None else ""
    before = message.recipients if message is not None else ""
    message = retry_message(session, message_id, now, settings)
    return RetriedEmail(
        message.id,
        state,
        message.recipients,
        before if before != message.recipients else None,
    )


def retry_all_failed(
    session: Session, now: datetime, settings: Settings | None = None
) -> list[int]:
    """Every refused or abandoned message back in the queue, re-addressed like ``retry_message``;
    returns their numbers."""
    return [r.id for r in retry_failed_emails(session, now=now, settings=settings)]


def retry_failed_emails(
    session: Session, *, now: datetime, settings: Settings | None = None
) -> tuple[RetriedEmail, ...]:
    """``retry_all_failed``, told as views."""
    require_aware(now)
    messages = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.state.in_(("failed", "dead")))
        .order_by(OutboxMessage.id)
        .with_for_update()
    ).all()
    retried = []
    for message in messages:
        state, before = message.state, message.recipients
        readdress(session, message, settings)
        _requeue(message, now)
        changed = before if before != message.recipients else None
        retried.append(RetriedEmail(message.id, state, message.recipients, changed))
    return tuple(retried)


def _address(line: str) -> str:
    return parseaddr(line)[1] or line.strip()


def _stored(line: str) -> Recipient:
    """One line of ``recipients`` as it was written, read leniently: a refused address is the
    very one a correction replaces."""
    try:
        mailbox = parse_mailbox(line)
        return Recipient(mailbox.name, mailbox.address)
    except AddressRefused:
        name, address = parseaddr(line)
        return Recipient(" ".join(name.split()), address.strip() or line.strip())


def _same_name(a: str, b: str) -> bool:
    return normalise(a) == normalise(b) != ""


def readdress(session: Session, message: OutboxMessage, settings: Settings | None) -> bool:
    """Give ``message`` its recipients' current addresses; True when one changed.

    Who the recipients are is told by the message's kind and key, as when it was queued: the
    company's correspondent on the lot (calls, reminders, welcome, receipt), the buyer's contacts
    (notices, the buyer's summary, and with the facilitator the alert), the facilitator (digest,
    summary). Each stored recipient keeps its address while it is still a current one; else it
    takes the current address of the same person (same name), or, for a message to one
    correspondent, that of the correspondent now named on the lot. Anyone not found keeps their
    address (a contact removed since)."""
    current = current_recipients(session, message, settings)
    if not current:
        return False
    stored = [_stored(line) for line in message.recipients.splitlines() if line.strip()]
    addresses = {r.email.casefold() for r in current}
    taken = {r.email.casefold() for r in stored}
    changed = []
    for recipient in stored:
        if recipient.email.casefold() in addresses:
            changed.append(recipient)
            continue
        same = [
            r
            for r in current
            if _same_name(r.name, recipient.name) and r.email.casefold() not in taken
        ]
        if len(same) == 1:
            replacement = same[0]
        elif len(stored) == 1 and len(current) == 1 and _one_correspondent(message):
            replacement = current[0]
        else:
            changed.append(recipient)
            continue
        taken.add(replacement.email.casefold())
        changed.append(replacement)
    if [r.email for r in changed] == [r.email for r in stored]:
        return False
    message.recipients = "\n".join(r.formatted() for r in changed)
    # What the server refused was the old address: the new one has not been refused yet.
    message.refused_recipients = None
    return True


#: Kinds written to the correspondent of one company on one lot.
_CORRESPONDENT_KINDS = (
    "declaration_call",
    "declaration_reminder",
    "company_welcome",
    "declaration_receipt",
)
#: Kinds written to the facilitator alone, from the settings.
_FACILITATOR_KINDS = ("facilitator_digest", "monthly_summary")


def _one_correspondent(message: OutboxMessage) -> bool:
    return message.kind in _CORRESPONDENT_KINDS


def current_recipients(
    session: Session, message: OutboxMessage, settings: Settings | None
) -> list[Recipient]:
    """Who ``message`` would be written to now; empty when that cannot be told."""
    from workflow.adapters.orm import AwardParty, Buyer, Clause, Company, Declaration
    from workflow.services.notices import buyer_recipients, party_correspondent
    from workflow.services.reminder_emails import KIND_ESCALATION, key_months

    parts = message.key.split(":")
    facilitator = (
        [Recipient(settings.facilitator_name, settings.facilitator_email)] if settings else []
    )
    if message.kind in _FACILITATOR_KINDS:
        return facilitator

    def buyer_of(clause_id: int | None) -> list[Recipient]:
        clause = session.get(Clause, clause_id) if clause_id is not None else None
        return buyer_recipients(clause.market.operation.buyer) if clause is not None else []

    def correspondent(clause_id: int, company_id: int, fallback: bool = False) -> list[Recipient]:
        party = session.scalar(
            select(AwardParty).where(
                AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
            )
        )
        found = party_correspondent(party) if party is not None else None
        if found is None and fallback:
            company = session.get(Company, company_id)
            found = company.correspondents[0] if company and company.correspondents else None
        if found is None or not found.email.strip():
            return []
        return [Recipient(found.name, found.email)]

    ladder = key_months(message.key)
    if ladder is not None:
        if message.kind == KIND_ESCALATION:
            return [*buyer_of(ladder.clause_id), *facilitator]
        return correspondent(ladder.clause_id, ladder.company_id)
    if parts[0] == "welcome" and len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit():
        return correspondent(int(parts[1]), int(parts[2]))
    if parts[0] == "receipt" and len(parts) >= 2 and parts[1].isdigit():
        declaration = session.get(Declaration, int(parts[1]))
        if declaration is None:
            return []
        return correspondent(declaration.clause_id, declaration.company_id, fallback=True)
    if parts[0] == "notice":
        return buyer_of(message.clause_id)
    if parts[0] == "summary" and len(parts) == 4 and parts[2] == "buyer" and parts[3].isdigit():
        buyer = session.get(Buyer, int(parts[3]))
        return [Recipient(c.name, c.email) for c in buyer.contacts if c.email] if buyer else []
    return []


#: States from which a message may be cancelled: it has not left, and no sender holds it.
CANCELLABLE = ("pending", "failed", "dead", "uncertain")
#: What ``last_error`` of a cancelled message starts with.
CANCELLED_PREFIX = "Annulé par "


@dataclass(frozen=True)
class CancelledEmail:
    """One message taken back: it will never leave."""

    id: int
    #: Its state before (« pending », « failed », « dead », « uncertain »).
    state: str
    subject: str
    recipients: str
    #: « Annulé par … le … : raison », as the row keeps it.
    note: str


def cancel_email(
    session: Session,
    message_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> CancelledEmail:
    """Take back a message that has not left (waiting, refused, abandoned, uncertain): it becomes
    ``cancelled`` and is never sent. Who, when and why are written in its ``last_error``
    (« Annulé par Camille Martin le 2 mars 2026 à 10:00 : adresse d'un ancien salarié »), the
    outbox having no column of its own for them.

    Refused for a message sent, being sent (a sender holds it: wait for its outcome) or already
    cancelled. The change is conditional on the state read, so a sender claiming the row at the
    same moment either wins (refused here) or never gets it."""
    require_aware(now)
    who = " ".join((actor or "").split())
    why = " ".join((reason or "").split())
    if not who:
        raise InputRefused(f"Courriel n° {message_id} : dites qui l'annule.")
    if not why:
        raise InputRefused(f"Courriel n° {message_id} : une raison est nécessaire pour l'annuler.")
    if len(why) > 500:
        raise InputRefused(
            f"Courriel n° {message_id} : raison de {len(why)} caractères, c'est trop (500 au plus)."
        )
    problem = forbidden_character(who) or forbidden_character(why)
    if problem:
        raise InputRefused(f"Courriel n° {message_id} : raison ou nom : {problem}.")
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"Courriel n° {message_id} introuvable dans la file d'envoi.")
    local = now.astimezone(zone or ZoneInfo("Europe/Paris"))
    note = f"{CANCELLED_PREFIX}{who} le {french_date(local.date())} à {local:%H:%M} : {why}"
    state = message.state
    if state not in CANCELLABLE:
        raise InputRefused(_not_cancellable(message, local.tzinfo))
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == state)
        .values(
            state=OutboxState.CANCELLED.value,
            last_error=note,
            next_attempt_at=None,
            claimed_at=None,
            claimed_by=None,
            lease_until=None,
            send_started_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], done).rowcount != 1:
        raise InputRefused(
            f"Courriel n° {message_id} : il vient d'être pris pour l'envoi par le service ; "
            "rien n'a été annulé, relancez la commande."
        )
    session.expire(message)
    return CancelledEmail(message_id, state, message.subject, message.recipients, note)


def _not_cancellable(message: OutboxMessage, zone: Any) -> str:
    head = f"Courriel n° {message.id} : rien n'a été annulé, "
    if message.state == OutboxState.SENT.value:
        when = ""
        if message.sent_at is not None:
            local = message.sent_at.astimezone(zone)
            when = f" le {french_date(local.date())} à {local:%H:%M}"
        return head + f"il est déjà envoyé{when} ; un courriel parti ne se reprend pas."
    if message.state == OutboxState.SENDING.value:
        return head + (
            "il est en cours d'envoi ; attendez la fin du passage (« clauses mail list » dit "
            "s'il est parti) puis recommencez s'il ne l'est pas."
        )
    if message.state == OutboxState.CANCELLED.value:
        return head + f"il l'est déjà ({message.last_error or 'annulé'})."
    return head + f"il est « {STATE_LABELS.get(message.state, message.state)} »."
