"""The suspension's emails a resumption overtakes: withdrawn, the resumption's email says both.

The service stopped, or the mail held: the lot is suspended at 10:00, resumed at 16:00, and
nothing has left in between. The suspension's emails (each company's
``company_lot_suspended``, the buyer's ``notice_suspended``) would leave in the same minute as
the resumption's, saying « vous ne recevrez ni appel à déclarer ni rappel » while the next
call comes the following morning. So, in the resumption's transaction
(``notices.notify_advanced``, before any resumption email is written):

- each email of the suspension the lot resumes from that has not left (``outbox.NOT_LEFT``:
  waiting, refused for good or given up, which « Renvoyer » would send) is withdrawn, its
  reason kept in the email log (« Retiré : le lot a repris le … avant le départ de ce
  courriel … »), as ``notices.withdraw_abandon_notice`` withdraws an abandon undone. « Renvoyer »
  then refuses it (``ladder_keys.withdrawn_by_service``: « Retiré »). One that may have left
  (sending, uncertain) or has left stays, and the resumption's email is written as ever;
- the resumption's email to a reader whose suspension email was withdrawn says what it never
  read (``untold_suspension``): the lot was suspended on …, why (the suspension's reason, as its
  email quoted it), and resumed on …, then what a resumption email always says. It is read from
  the email log, not from the moment it is written: the same email written again later
  (``stale_promises``, ``held_notices``) still says it.

A buyer notice held for want of a contact never left either: a held suspension notice (no row
in the outbox) makes the resumption's notice, released later, say the suspension too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import ClauseHistory, HeldNotice, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.calendar import local_date
from workflow.domain.stages import ClauseEvent
from workflow.emails.company_pauses import SUSPENDED as COMPANY_SUSPENDED
from workflow.emails.notices import ADVANCE_NOTICES
from workflow.services.outbox import NOT_LEFT, OutboxState, withdraw
from workflow.settings import Settings

BUYER_SUSPENDED = ADVANCE_NOTICES[ClauseEvent.SUSPEND]
KINDS = (COMPANY_SUSPENDED, BUYER_SUSPENDED)
#: How the email log starts the reason of a suspension email a resumption overtook: what
#: ``untold_suspension`` reads back.
OVERTAKEN = "Retiré : le lot a repris le "


@dataclass(frozen=True)
class UntoldSuspension:
    """A suspension its reader never heard of: the day it began, its reason (as its email
    quoted it, None when none was given)."""

    on: date
    reason: str | None


def suspension_before(session: Session, clause_id: int, at: datetime) -> ClauseHistory | None:
    """The history row of the suspension the lot resumes from at ``at``: its latest before."""
    return session.scalars(
        select(ClauseHistory)
        .where(
            ClauseHistory.clause_id == clause_id,
            ClauseHistory.event == ClauseEvent.SUSPEND.value,
            ClauseHistory.at <= at,
        )
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
    ).first()


def _emails_of(
    session: Session,
    clause_id: int,
    suspension: ClauseHistory,
    until: datetime,
    kinds: tuple[str, ...],
    *,
    lock: bool = False,
) -> list[OutboxMessage]:
    """The lot's suspension emails queued for ``suspension`` (written in its transaction, or
    released from hold after it), up to the resumption at ``until``."""
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind.in_(kinds),
            OutboxMessage.created_at >= suspension.at,
            OutboxMessage.created_at <= until,
        )
        .order_by(OutboxMessage.id)
    )
    if lock:
        # The states as locked, not as an earlier read of this transaction loaded them.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(statement))


def withdraw_overtaken(session: Session, settings: Settings, clause_id: int, at: datetime) -> int:
    """In the resumption's transaction, before its emails are written: the emails of the
    suspension it ends that have not left, withdrawn with their reason; the number."""
    suspension = suspension_before(session, clause_id, at)
    if suspension is None:
        return 0
    day = remembered_date(local_date(at, settings.zone))
    withdrawn = 0
    for row in _emails_of(session, clause_id, suspension, at, KINDS, lock=True):
        if row.state not in NOT_LEFT:
            continue  # left, or may have: the reader was told, the resumption follows it
        withdraw(
            row,
            f"{OVERTAKEN}{day} avant le départ de ce courriel ; l'avis de reprise dit la "
            "suspension et ses dates.",
        )
        withdrawn += 1
    if withdrawn:
        session.flush()
    return withdrawn


def _overtaken(row: OutboxMessage) -> bool:
    return row.state == OutboxState.CANCELLED and (row.last_error or "").startswith(OVERTAKEN)


def untold_suspension(
    session: Session,
    settings: Settings,
    clause_id: int,
    resumed_at: datetime,
    *,
    company_id: int | None = None,
) -> UntoldSuspension | None:
    """The suspension the lot resumed from at ``resumed_at``, when its email to this reader
    (company ``company_id``, else the buyer) never left: withdrawn by the resumption
    (``withdraw_overtaken``), or, for the buyer, held for want of a contact and never
    released. None when the reader was told it (or was never to be: no email written)."""
    suspension = suspension_before(session, clause_id, resumed_at)
    if suspension is None:
        return None
    kind = BUYER_SUSPENDED if company_id is None else COMPANY_SUSPENDED
    rows = _emails_of(session, clause_id, suspension, resumed_at, (kind,))
    if company_id is not None:
        rows = [row for row in rows if f":company-{company_id}@" in row.key]
    untold = UntoldSuspension(local_date(suspension.at, settings.zone), suspension.reason)
    if rows:
        return untold if all(_overtaken(row) for row in rows) else None
    if company_id is not None:
        return None
    held = session.scalar(
        select(HeldNotice.id)
        .where(
            HeldNotice.clause_id == clause_id,
            HeldNotice.kind == BUYER_SUSPENDED,
            HeldNotice.held_at >= suspension.at,
            HeldNotice.held_at <= resumed_at,
        )
        .limit(1)
    )
    return untold if held is not None else None


def untold_context(untold: UntoldSuspension | None) -> dict[str, object] | None:
    """What the resumption's templates read of it."""
    if untold is None:
        return None
    return {"on": untold.on, "reason": untold.reason}
