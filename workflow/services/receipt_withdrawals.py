"""Receipts that would no longer be true, withdrawn before they leave.

A receipt says « votre déclaration … est bien enregistrée, total du mois : N h ». Two things make
one untrue while it waits in the outbox (waiting, refused or given up): the declaration is
corrected (a newer receipt, with the new figures, is queued in the same transaction) or it is
cancelled. Either way the old receipt is withdrawn in the same transaction, its reason kept in
the email log, as ``reminder_emails.withdraw_answered`` does for the reminders of a month
declared. A receipt that may have left (sending, uncertain) or has left is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.events import DeclarationCancelled, DeclarationRecorded
from workflow.services.mailing import Mailing
from workflow.services.outbox import NOT_LEFT, OutboxState


def _waiting_receipts(session: Session, clause_id: int, declaration_id: int) -> list[OutboxMessage]:
    # ``notices.acknowledge_declaration`` keys a receipt ``receipt:<declaration>:<instant>:…``;
    # a corrected declaration keeps its id. The lot (indexed) narrows the read to its few
    # emails: a key's LIKE uses no index, and an import records many declarations.
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.clause_id == clause_id,
                OutboxMessage.kind == "declaration_receipt",
                OutboxMessage.key.like(f"receipt:{declaration_id}:%"),
                OutboxMessage.state.in_(NOT_LEFT),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    )


def _withdraw(row: OutboxMessage, reason: str) -> None:
    row.state = OutboxState.CANCELLED
    row.next_attempt_at = None
    row.last_error = reason


def _day(app: Mailing, at: datetime) -> str:
    return remembered_date(at.astimezone(app.settings.zone).date())


def withdraw_replaced(app: Mailing, session: Session, event: DeclarationRecorded) -> None:
    """Runs after the new receipt is queued: every older one of the same declaration that has
    not left is withdrawn. The new one is the last queued at the event's instant; when none was
    (no correspondent with an address), every older one goes: their figures are no longer
    those recorded."""
    rows = _waiting_receipts(session, event.clause_id, event.declaration_id)
    this_time = f"receipt:{event.declaration_id}:{event.at.astimezone(UTC).isoformat()}:"
    new = max((row.id for row in rows if row.key.startswith(this_time)), default=None)
    corrected = f"Remplacé : la déclaration a été corrigée le {_day(app, event.at)} ; "
    reason = corrected + (
        "l'accusé de réception de la correction part à sa place."
        if new is not None
        # No receipt for the correction (the company has no correspondent with an address):
        # the old one would still give the figures replaced.
        else "ses chiffres ne sont plus ceux enregistrés."
    )
    for row in rows:
        if row.id != new:
            _withdraw(row, reason)


def withdraw_cancelled(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """The receipts of a declaration cancelled that have not left are withdrawn."""
    for row in _waiting_receipts(session, event.clause_id, event.declaration_id):
        _withdraw(
            row,
            f"Retiré : la déclaration a été annulée le {_day(app, event.at)} par {event.actor}, "
            "cet accusé de réception n'était plus vrai.",
        )
