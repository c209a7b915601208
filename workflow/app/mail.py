"""The outbox as the facilitator sees and handles it: list it, put failed mail back, send now.

``outbox_messages`` reads the queue (newest first, with the count of every state; a page counts
the sent up to a bound); ``retry_message`` and ``retry_failed`` put refused, abandoned or
uncertain messages back in the queue, due at once and to current addresses; ``cancel_message``
takes back one that has not left; ``send_due`` runs one pass of the dispatcher (leases, fencing
and outage handling are the dispatcher's, ``services.dispatch``); ``preview_email`` shows an
email as its recipient will read it, with sample data or a real clause's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import parse_recipients
from workflow.adapters.orm import OutboxAttachment, OutboxMessage
from workflow.app.faults import translated_faults
from workflow.app.lookup import find_clause
from workflow.app.unit import reading, unit_of_work
from workflow.bootstrap import App
from workflow.errors import NotFound
from workflow.services import notices, outbox, outbox_corrections
from workflow.services.digest import readable_recipients
from workflow.services.dispatch import BATCH_SIZE, DispatchReport, dispatch_due
from workflow.services.outbox import OutboxState
from workflow.services.outbox_corrections import RetriedEmail
from workflow.services.previews import Preview, build_preview, unknown_kind, write_preview

__all__ = [
    "BATCH_SIZE",
    "COUNT_BOUND",
    "Message",
    "MessageDetail",
    "Outbox",
    "Preview",
    "PreviewWritten",
    "Sending",
    "cancel_message",
    "message_detail",
    "outbox_messages",
    "preview_email",
    "retry_failed",
    "retry_message",
    "send_due",
    "sending",
]


@dataclass(frozen=True)
class Message:
    """One outbox row as the facilitator reads it."""

    id: int
    key: str
    kind: str
    clause_id: int | None
    state: str
    state_label: str  # « en attente », « envoyé » …
    recipients: str  # the addresses, comma-separated
    subject: str
    attempts: int
    next_attempt_at: datetime | None  # set while it waits (``pending``) only
    sent_at: datetime | None
    last_error: str | None
    refused_recipients: str | None
    created_at: datetime


@dataclass(frozen=True)
class Outbox:
    messages: tuple[Message, ...]
    #: Every state (``pending`` … ``cancelled``, in that order) with its count, zeros included.
    counts: tuple[tuple[str, int], ...]
    #: The states counted only up to a bound and found beyond it (``count_up_to``): their count
    #: is the bound and there are more (« plus de 10 000 »). Empty: every count is exact.
    beyond: frozenset[str] = frozenset()

    @property
    def total(self) -> int:
        """Every email, or a floor when ``beyond`` is not empty (there are more)."""
        return sum(count for _, count in self.counts)


@dataclass(frozen=True)
class Sending:
    """What one pass of the dispatcher did (``services.dispatch.DispatchReport``, frozen)."""

    claimed: int
    sent: int
    retried: int
    failed: int
    dead: int
    #: Sent messages of which the server refused at least one recipient.
    partly_refused: int
    #: Rows whose lease ended mid-send: maybe delivered, never sent again silently.
    uncertain: int
    #: Rows another instance took over before this one could send or record them.
    lost: int
    #: Why the pass stopped early (server out of reach, stop asked), else None.
    stopped: str | None
    #: The server could not be reached or refused the session: mail is waiting.
    outage: bool
    #: Where the mail went: « fichiers .eml dans … », « SMTP … ».
    transport: str

    def as_dict(self) -> dict[str, Any]:
        """The figures under the dispatcher's names (the log's), without ``transport``."""
        figures = asdict(self)
        del figures["transport"]
        return figures


def sending(report: DispatchReport, transport: str) -> Sending:
    return Sending(**report.as_dict(), transport=transport)


def recipients_text(stored: str) -> str:
    """``a@b.fr, c@d.fr``: the addresses of an outbox row, without the names."""
    try:
        return ", ".join(m.address for m in parse_recipients(stored))
    except ValueError:  # an address the dispatcher refused: shown as it was written
        return ", ".join(parseaddr(line)[1] or line for line in stored.splitlines())


def _message(row: OutboxMessage) -> Message:
    return Message(
        id=row.id,
        key=row.key,
        kind=row.kind,
        clause_id=row.clause_id,
        state=row.state,
        state_label=outbox.STATE_LABELS.get(row.state, row.state),
        recipients=recipients_text(row.recipients),
        subject=row.subject,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.state == OutboxState.PENDING else None,
        sent_at=row.sent_at,
        last_error=row.last_error,
        refused_recipients=row.refused_recipients,
        created_at=row.created_at,
    )


#: How far the email log counts the sent (and cancelled) emails: beyond, « plus de 10 000 ».
#: Counting them all read every row of the outbox at each view (283 ms at 10^5 lots, 1.9 M
#: emails, BENCHMARKS.md); up to this bound it reads 10,001 entries of an index.
COUNT_BOUND = 10_000


def outbox_messages(
    app: App,
    *,
    states: Sequence[str] = (),
    kind: str | None = None,
    limit: int | None = 100,
    before: int | None = None,
    count_up_to: int | None = None,
    with_counts: bool = True,
) -> Outbox:
    """The outbox, newest first; ``states`` as stored (``sent``) or in French (« envoyé »),
    none meaning every state; only N° below ``before`` if given (the next page).

    Every state is counted exactly, unless ``count_up_to``: then sent and cancelled are counted
    up to it (``Outbox.beyond`` says which went past), the facilitator's states still exactly.
    Not ``with_counts``: no count at all (``Outbox.counts`` empty), for a reader that shows none."""
    wanted = [outbox.parse_state(state) for state in states]
    with reading(app) as session:
        rows = outbox.list_messages(session, states=wanted, kind=kind, limit=limit, before=before)
        messages = tuple(_message(row) for row in rows)
        if not with_counts:
            return Outbox(messages, ())
        if count_up_to is None:
            return Outbox(messages, tuple(outbox.count_by_state(session).items()))
        counted = outbox.count_by_state_up_to(session, count_up_to)
    return Outbox(messages, tuple(counted.counts.items()), counted.beyond)


@dataclass(frozen=True)
class MessageDetail:
    """One email as its recipients read it, with its state: the email log's page of a message."""

    message: Message
    recipients: str  # names and addresses, decoded
    body_text: str
    attachments: tuple[str, ...]  # file names


def message_detail(app: App, message_id: int) -> MessageDetail:
    """Email N° ``message_id``; ``NotFound`` in French when there is none."""
    with reading(app) as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound(f"Aucun courriel n° {message_id}.")
        names = session.scalars(
            select(OutboxAttachment.filename)
            .where(OutboxAttachment.outbox_id == row.id)
            .order_by(OutboxAttachment.position)
        ).all()
        return MessageDetail(
            message=_message(row),
            recipients=readable_recipients(row.recipients),
            body_text=row.body_text,
            attachments=tuple(names),
        )


def retry_message(app: App, message_id: int) -> tuple[RetriedEmail, ...]:
    """Message ``message_id`` (refused, abandoned, uncertain or waiting) due again at once, to
    its recipients' current addresses: a contact or correspondent corrected since it was written
    gets it at the new one (``readdressed()`` says what changed). A welcome whose lot started
    since is written again as it stands (``written_again_as``)."""
    with unit_of_work(app) as unit:
        retried = outbox_corrections.retry_email(
            unit.session, message_id, now=unit.now, settings=unit.app.settings
        )
        return (_as_it_stands(unit.app, unit.session, retried, unit.now),)


def retry_failed(app: App) -> tuple[RetriedEmail, ...]:
    """Every refused or abandoned message due again at once, re-addressed like
    ``retry_message``; in order of their numbers."""
    with unit_of_work(app) as unit:
        retried = outbox_corrections.retry_failed_emails(
            unit.session, now=unit.now, settings=unit.app.settings
        )
        return tuple(_as_it_stands(unit.app, unit.session, r, unit.now) for r in retried)


def _as_it_stands(app: App, session: Session, retried: RetriedEmail, now: datetime) -> RetriedEmail:
    """``retried``, or the welcome written in its place when its lot's start was recorded since
    it was written (it asked whether the works began), or withdrawn when its company is no
    longer on the lot."""
    row = session.get_one(OutboxMessage, retried.id)
    again = notices.rewrite_retried_welcome(app, session, row, now)
    if again is not None:
        first = retried.readdressed_from or retried.recipients
        return replace(
            retried,
            recipients=again.recipients,
            readdressed_from=first if first != again.recipients else None,
            written_again_as=again.id,
        )
    if row.state == OutboxState.CANCELLED:
        return replace(retried, withdrawn=row.last_error or "")
    return retried


def cancel_message(
    app: App, message_id: int, *, reason: str, actor: str | None = None
) -> outbox_corrections.CancelledEmail:
    """Take back a message that has not left (waiting, refused, abandoned or uncertain): it will
    never be sent, and the outbox keeps who cancelled it, when and why."""
    with unit_of_work(app, actor) as unit:
        return outbox_corrections.cancel_email(
            unit.session,
            message_id,
            actor=unit.actor,
            reason=reason,
            now=unit.now,
            zone=unit.app.settings.zone,
        )


def send_due(app: App, *, batch_size: int = BATCH_SIZE) -> Sending:
    """Send now what is due: one pass of the dispatcher, at the app's clock.

    A person asked for it: mail waiting for a server that was out of reach is tried at once,
    whatever its retry slot (the service's passes wait for the slot)."""
    now = app.clock()
    with translated_faults(app):
        report = dispatch_due(app, now, batch_size=batch_size, outage_now=True)
    return sending(report, app.transport.describe())


@dataclass(frozen=True)
class PreviewWritten:
    """An email as its recipient will read it, and the files it was written to."""

    preview: Preview
    eml: Path
    html: Path


def preview_email(
    app: App, kind: str, clause: str | int | None = None, *, out_dir: Path
) -> PreviewWritten:
    """Email ``kind`` rendered with sample data, or with the data of ``clause`` (its N° or
    « RÉF/LOT »), written to ``out_dir`` as ``KIND.eml`` (what the dispatcher would send) and
    ``KIND.html``."""
    kinds = app.renderer.kinds()
    if kind not in kinds:
        raise unknown_kind(kind, kinds)
    clause_id = None
    if clause is not None:
        with reading(app) as session:
            clause_id = find_clause(session, clause).id
    with translated_faults(app):
        preview = build_preview(app, kind, clause_id)
    eml, html = write_preview(preview, out_dir, app.settings, app.clock())
    return PreviewWritten(preview=preview, eml=eml, html=html)
