"""A ladder email still waiting, written again for fewer of its months.

One call, reminder or buyer's alert may cover several months of one company on one lot (a
catch-up call, the reminders of months that fall due together). When some of them are no longer
asked before it leaves, it would tell the company (or the buyer) they are missing: the lot's end
released them (``lot_ends``), or the company declared one (``reminder_emails.withdraw_answered``).
The email is then written again for the months still missing only (``write_again``): the same
kind and step, the same recipients and planned send time, rendered by the pass's own builder
under the key of those months (``step_key``, so a second run writes nothing), and the first one
withdrawn, « Remplacé : … », its reason kept in the email log. A call or a reminder whose list of
earlier months still late names a month declared since is written again the same way for all its
months (``reminder_emails.withdraw_answered``), under its step's next sending's key.

Of its own module so that both can share it: ``lot_ends`` does not import the emails (the
builder is handed in, ``LadderRewriter``), ``reminder_emails`` hands in its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.adapters.templates import french_month
from workflow.emails.ladder import step_kind
from workflow.services.ladder_keys import (
    LadderKey,
    sent_again_key,
    step_key,
    withdrawn_by_service,
)
from workflow.services.outbox import OUTAGE_ERROR_PREFIX, OutboxState, Recipient, queue_email

if TYPE_CHECKING:
    from datetime import datetime

    from workflow.adapters.templates import TemplateRenderer
    from workflow.services.reminder_emails import LadderMessage


class LadderRewriter(Protocol):
    """Writes a ladder email again for some of its months, as the pass that queued it would
    have (``reminder_emails.LadderRewrite``). Handed in by the interface that records the end
    (``lot_ends`` is imported by the clauses, which the emails import, so it does not import
    them), and by ``reminder_emails.withdraw_answered`` for a month declared."""

    @property
    def renderer(self) -> TemplateRenderer: ...

    def message(
        self,
        session: Session,
        clause: Clause,
        company_id: int,
        step: str,
        months: Sequence[date],
        at: datetime,
    ) -> LadderMessage | None: ...


NBSP = "\u00a0"
#: The emails written again for fewer months: those waiting (a refusal for now keeps its row
#: waiting, with a later attempt). One refused for good (``failed``) or given up (``dead``)
#: stays as it is, among the facilitator's undelivered emails (as a receipt does,
#: ``receipt_withdrawals``): a new copy would hide that failure and go to the same address.
REWRITTEN_STATES = (OutboxState.PENDING,)


def months_listed(months: Sequence[date]) -> str:
    """« septembre 2026 », « septembre 2026 et octobre 2026 »."""
    names = [french_month(m) for m in months]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def write_again(
    rewriter: LadderRewriter,
    session: Session,
    clause: Clause,
    row: OutboxMessage,
    covered: LadderKey,
    owed: tuple[date, ...],
    why: str,
    *,
    rewritten_as: str | None = None,
) -> str | None:
    """``row`` written again for ``owed`` only, as the pass that queued it would have written
    it then (``rewriter``: ``reminder_emails.group_again``, ``ladder_message``): same kind,
    recipients, planned send time and waiting state (a wait for the mail server), under the key
    of those months; ``row`` withdrawn, its reason kept: « Remplacé : ``why`` ; le même
    courriel, écrit à nouveau pour … seulement, part à sa place. » (``rewritten_as`` says it
    otherwise: « écrit à nouveau sans ce mois » for one written again for all its months,
    whose late list named a month declared since, ``reminder_emails.withdraw_answered``.)

    The key is that of ``owed``'s step, or of its next sending (``sent_again_key``, as the
    pass does) when ``row`` itself holds it, or an email the service withdrew before it left:
    the same months written again take ``…:call~2``. When it cannot be (no
    correspondent any more, an address refused, the key already taken, a template broken
    since), ``row`` stays as it is and the reason is returned, for the log."""
    try:
        recipients = [Recipient(m.name, m.address) for m in parse_recipients(row.recipients)]
    except AddressRefused as refused:
        return f"address refused: {refused}"
    first_key = step_key(clause.id, covered.company_id, owed, covered.step)
    at = row.created_at
    try:
        # In a savepoint: an email that cannot be written again stays as it was, and what
        # caused it (the end, the declaration) is recorded all the same; its error is logged.
        with session.begin_nested():
            message = rewriter.message(session, clause, covered.company_id, covered.step, owed, at)
            if message is None:
                return "no correspondent to write to"
            sending = 1
            while True:
                key = sent_again_key(first_key, sending)
                if key != row.key and queue_email(
                    session,
                    rewriter.renderer,
                    key=key,
                    kind=step_kind(covered.step),
                    recipients=recipients,
                    context=message.context,
                    now=at,
                    clause_id=clause.id,
                    attachments=message.attachments,
                ):
                    break
                if key != row.key and not _withdrawn_by_service(session, key):
                    return f"key already taken: {key}"
                sending += 1
            waiting: dict[str, Any] = {}
            if row.next_attempt_at is not None and row.next_attempt_at != at:
                # Refused for now: the new one leaves when the first one would have been tried.
                waiting["next_attempt_at"] = row.next_attempt_at
            if row.last_error and row.last_error.startswith(OUTAGE_ERROR_PREFIX):
                # Held back by an outage of the mail server: the new one waits the same way,
                # released with the others when the server answers again.
                waiting["last_error"] = row.last_error
            if waiting:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.key == key)
                    .values(**waiting)
                    .execution_options(synchronize_session=False)
                )
    except DBAPIError:
        raise  # the database itself: what caused it cannot be recorded either
    except Exception as error:  # a template or a builder broken since: logged by the caller
        # The savepoint is rolled back: what caused it is recorded all the same, and the
        # caller logs the error (the finish also names the email to the facilitator).
        return f"{type(error).__name__}: {error}"
    row.state = OutboxState.CANCELLED
    row.next_attempt_at = None
    again = rewritten_as or f"pour {months_listed(owed)} seulement"
    row.last_error = (
        f"Remplacé{NBSP}: {why}{NBSP}; le même courriel, écrit à nouveau {again}, part à sa place."
    )
    return None


def _withdrawn_by_service(session: Session, key: str) -> bool:
    """The email of ``key`` was withdrawn by the service before it left (``ladder_keys``)."""
    found = session.execute(
        select(OutboxMessage.state, OutboxMessage.last_error).where(OutboxMessage.key == key)
    ).first()
    return found is not None and withdrawn_by_service(found.state, found.last_error)
