"""The facilitator's corrections of the outbox: a message put back in the queue (to its
recipients' current addresses), or taken back before it leaves.

Apart from ``outbox`` (queueing and reading the queue): knowing who a message would be written
to now needs the notices' and the ladder's rules of recipients, and the queue itself must not
depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import AddressRefused, parse_mailbox
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    Company,
    Declaration,
    OutboxMessage,
)
from workflow.adapters.templates import french_date, french_time
from workflow.domain.characters import forbidden_character
from workflow.domain.events import require_aware
from workflow.domain.vocabulary import normalise
from workflow.emails.company_ends import KINDS as COMPANY_END_KINDS
from workflow.emails.company_pauses import KINDS as COMPANY_PAUSE_KINDS
from workflow.emails.ladder import KIND_ESCALATION
from workflow.errors import Hint, InputRefused, NotFound
from workflow.services.email_facts import party_correspondent
from workflow.services.ladder_keys import withdrawn_by_service
from workflow.services.notices import buyer_recipients
from workflow.services.outbox import RETRYABLE, STATE_LABELS, OutboxState, Recipient
from workflow.services.reminder_emails import key_months

if TYPE_CHECKING:
    from workflow.settings import Settings


# --- putting back, re-addressing, cancelling -------------------------------------------------------


def _requeue(message: OutboxMessage, now: datetime) -> None:
    # A fresh set of attempts: the facilitator fixed what was wrong (an address, the server).
    message.state = OutboxState.PENDING
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
    #: The number of the email that leaves in its place, when it was written again (a welcome
    #: whose lot started since, ``notices.rewrite_retried_welcome``); else None.
    written_again_as: int | None = None
    #: Why the service withdrew it instead (what it announced no longer holds); else None.
    withdrawn: str | None = None

    @property
    def leaving(self) -> int | None:
        """The number of the email that leaves: its own, the one written in its place, or None
        when it was withdrawn."""
        if self.withdrawn is not None:
            return None
        return self.written_again_as or self.id

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
    if withdrawn_by_service(message.state, message.last_error):
        raise _withdrawn_refusal(message)
    if message.state not in RETRYABLE:
        allowed = ", ".join(STATE_LABELS[s] for s in RETRYABLE)
        raise InputRefused(
            f"Courriel n° {message_id} : il est « {STATE_LABELS[message.state]} », "
            f"il ne peut pas être renvoyé ; seuls les courriels {allowed} peuvent l'être."
        )
    readdress(session, message, settings)
    _requeue(message, now)
    return message


def _withdrawn_refusal(message: OutboxMessage) -> InputRefused:
    """« Renvoyer » an email the service withdrew before it left (the month declared, the lot
    suspended, its work ended): refused, as it says why; a ladder step still owed is sent
    again by the service itself, under a new key (``ladder_keys.sent_again_key``)."""
    said = (
        f"Courriel n° {message.id} : il ne peut pas être renvoyé, le service l'a retiré avant "
        f"son départ (« {(message.last_error or '').rstrip('.')} »)."
    )
    # A closed lot asks for nothing any more: its steps are never due again.
    closed = (message.last_error or "").startswith("Retiré\u00a0: la clause a été clôturée")
    if key_months(message.key) is not None and not closed:
        said += (
            " Si son étape est de nouveau due, le service l'enverra lui-même, dans un nouveau "
            "courriel."
        )
    return InputRefused(said)


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
        .where(OutboxMessage.state.in_((OutboxState.FAILED, OutboxState.DEAD)))
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
    "company_award_corrected",
    "company_award_removed",
    "declaration_receipt",
    "declaration_cancelled",
    *COMPANY_PAUSE_KINDS,
    *COMPANY_END_KINDS,
)
#: Kinds written to the facilitator alone, from the settings.
_FACILITATOR_KINDS = ("facilitator_digest", "monthly_summary")


def _one_correspondent(message: OutboxMessage) -> bool:
    return message.kind in _CORRESPONDENT_KINDS


def _notice_company(parts: list[str]) -> int | None:
    """The company named by a company notice's key (``…:company-<id>@<instant>``)."""
    if len(parts) < 4 or not parts[3].startswith("company-"):
        return None
    company = parts[3].removeprefix("company-").split("@", 1)[0]
    return int(company) if company.isdigit() else None


def current_recipients(
    session: Session, message: OutboxMessage, settings: Settings | None
) -> list[Recipient]:
    """Who ``message`` would be written to now; empty when that cannot be told."""
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
    if (
        parts[0] in ("welcome", "award_corrected")
        and len(parts) >= 3
        and parts[1].isdigit()
        and parts[2].isdigit()
    ):
        return correspondent(int(parts[1]), int(parts[2]))
    if (
        parts[0] == "award_removed"
        and len(parts) >= 3
        and parts[1].isdigit()
        and parts[2].isdigit()
    ):
        # Taken out of the award, the company has no party row: its first correspondent.
        return correspondent(int(parts[1]), int(parts[2]), fallback=True)
    if parts[0] == "receipt" and len(parts) >= 2 and parts[1].isdigit():
        declaration = session.get(Declaration, int(parts[1]))
        if declaration is None:
            return []
        return correspondent(declaration.clause_id, declaration.company_id, fallback=True)
    if parts[0] == "cancellation" and len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit():
        return correspondent(int(parts[1]), int(parts[2]), fallback=True)
    if parts[0] == "notice" and message.kind in (*COMPANY_PAUSE_KINDS, *COMPANY_END_KINDS):
        # The company's notice of its lot suspended or resumed, or of months no longer asked
        # or asked again after the lot's end, not the buyer's:
        # ``notice:<lot>:<kind>:company-<id>@<instant>``.
        company_id = _notice_company(parts)
        if company_id is None or message.clause_id is None:
            return []
        return correspondent(message.clause_id, company_id, fallback=True)
    if parts[0] == "notice":
        return buyer_of(message.clause_id)
    if parts[0] == "summary" and len(parts) == 4 and parts[2] == "buyer" and parts[3].isdigit():
        buyer = session.get(Buyer, int(parts[3]))
        return [Recipient(c.name, c.email) for c in buyer.contacts if c.email] if buyer else []
    return []


#: States from which a message may be cancelled: it has not left, and no sender holds it.
CANCELLABLE = (
    OutboxState.PENDING,
    OutboxState.FAILED,
    OutboxState.DEAD,
    OutboxState.UNCERTAIN,
)
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
    note = f"{CANCELLED_PREFIX}{who} le {french_date(local.date())} à {french_time(local)} : {why}"
    state = message.state
    if state not in CANCELLABLE:
        raise _not_cancellable(message, local.tzinfo)
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
            "rien n'a été annulé, ",
            hint=Hint("relancez la commande.", "recommencez."),
        )
    session.expire(message)
    return CancelledEmail(message_id, state, message.subject, message.recipients, note)


def _not_cancellable(message: OutboxMessage, zone: Any) -> InputRefused:
    head = f"Courriel n° {message.id} : rien n'a été annulé, "
    if message.state == OutboxState.SENT.value:
        when = ""
        if message.sent_at is not None:
            local = message.sent_at.astimezone(zone)
            when = f" le {french_date(local.date())} à {french_time(local)}"
        return InputRefused(
            head + f"il est déjà envoyé{when} ; un courriel parti ne se reprend pas."
        )
    if message.state == OutboxState.SENDING.value:
        return InputRefused(
            head + "il est en cours d'envoi ; attendez la fin du passage (",
            hint=Hint(
                "« clauses mail list » dit s'il est parti) puis recommencez s'il ne l'est pas.",
                "la page du courriel dit s'il est parti) puis recommencez s'il ne l'est pas.",
            ),
        )
    if message.state == OutboxState.CANCELLED.value:
        return InputRefused(head + f"il l'est déjà ({message.last_error or 'annulé'}).")
    return InputRefused(head + f"il est « {STATE_LABELS.get(message.state, message.state)} ».")
