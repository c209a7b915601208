"""The company told that the facilitator cancelled one of its declarations
(``declaration_cancellations.cancel_declaration``): turned from ``DeclarationCancelled``, in the
transaction that cancelled it, so the cancellation and its email are saved together or not at all.

The email goes to whoever got the receipt (``notices.company_recipient``), under a key of its own
(``emails.cancellations.cancellation_key``): the same event handled twice writes it once. It runs
after ``receipt_withdrawals.withdraw_cancelled``, which withdraws a receipt still waiting: the
company then reads that its receipt will not come, not that the one it got no longer holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from workflow.adapters.mail.message import AddressRefused, parse_recipients
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Company,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.domain.calendar import LadderDays, LadderStep, due_date, local_date, suspended_days
from workflow.domain.events import DeclarationCancelled
from workflow.domain.stages import Stage
from workflow.emails import receipts
from workflow.emails.cancellations import (
    KIND,
    CancelledMonth,
    Expected,
    cancellation_context,
    cancellation_key,
    promised_until,
)
from workflow.services.declaration_facts import load_declarations
from workflow.services.declaration_links import month_links
from workflow.services.declaration_views import held_due
from workflow.services.declarations import DECLARATION_CANCELLED
from workflow.services.email_facts import lot_of
from workflow.services.lot_calendars import suspensions
from workflow.services.mailing import Mailing
from workflow.services.notices import company_recipient, due_day_of, owed_due_dates
from workflow.services.outbox import OutboxState, Promise, Recipient, key_exists, queue_email
from workflow.services.stale_promises import PromiseRewrite
from workflow.settings import Settings

#: A receipt in these states may have reached the company.
MAY_HAVE_LEFT = (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNCERTAIN)


def expected_again(
    session: Session, clause: Clause, company_id: int, month: date, settings: Settings, at: datetime
) -> Expected:
    """What the company is held to for ``month`` once its declaration is cancelled at ``at``:
    the due date and next step of its ladder as ``reminders.resume_ladder`` left them; a month
    whose ladder is not opened yet (its call is not due) gets the date its call will give, none
    while the lot is suspended (``notices.owed_due_dates``: asked at the resumption). A
    month after the last one of a company that left the site (``left_after``) is not expected
    again: no step, no date to meet (``resume_ladder`` left its ladder stopped)."""
    if released_after(session, clause.id, company_id, month) is not None:
        # No step, no date is promised: the email says the month is asked no more.
        return Expected(due_on=released_due_on(session, clause, company_id, month, settings))
    ladder = _ladder_of(session, clause.id, company_id, month)
    suspended = clause.stage == Stage.SUSPENDED
    if ladder is None:
        owed = owed_due_dates(session, clause, company_id, settings, at)
        if suspended:
            # Not called, and nothing is while the lot is suspended: no date was given, the
            # call after the resumption gives one (« à la reprise », never the scheduled date).
            return Expected(due_on=owed.get(month), suspended=True)
        return Expected(
            due_on=owed.get(month) or due_date(month, due_day_of(clause, settings)),
        )
    # Pushed by the suspended days since its call, as ``declaration list`` shows it.
    intervals = suspensions(session, [clause.id]).get(clause.id, [])
    days = LadderDays(suspended_days(intervals, settings.zone, local_date(at, settings.zone)))
    due_on = held_due(ladder, ladder.due_on, days, settings)
    if suspended:
        # Nothing leaves while the lot is suspended (the pass skips it): no date to promise; a
        # month whose call has not left has none at all (``owed_due_dates``: at the resumption).
        return Expected(due_on=due_on if ladder.called_at else None, suspended=True)
    if ladder.next_step in (None, LadderStep.DONE):
        return Expected(due_on=due_on, all_sent=True)
    return Expected(due_on=due_on, step=ladder.next_step, step_at=ladder.next_step_at)


def released_due_on(
    session: Session, clause: Clause, company_id: int, month: date, settings: Settings
) -> date:
    """The date a month asked no more (its company left the site before it) was held to: its
    ladder's, else its scheduled one. Kept for the record only: nobody is asked to meet it."""
    ladder = _ladder_of(session, clause.id, company_id, month)
    return ladder.due_on if ladder is not None else due_date(month, due_day_of(clause, settings))


def _ladder_of(
    session: Session, clause_id: int, company_id: int, month: date
) -> DeclarationLadder | None:
    return session.scalar(
        select(DeclarationLadder).where(
            DeclarationLadder.clause_id == clause_id,
            DeclarationLadder.company_id == company_id,
            DeclarationLadder.month == month,
        )
    )


def released_after(session: Session, clause_id: int, company_id: int, month: date) -> date | None:
    """The last month of the company on the lot, when it left the site before ``month``
    (``AwardParty.last_month``): ``month`` is asked of it no more. None: ``month`` is owed."""
    last = session.scalar(
        select(AwardParty.last_month).where(
            AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
        )
    )
    return last if last is not None and month > last else None


def first_received(session: Session, event: DeclarationCancelled) -> datetime | None:
    """When the declaration cancelled was first received, as its history tells it (its first
    ``declaration`` row since the month's previous cancellation): a correction (the company's,
    or the facilitator's ``declaration import --replace``) keeps the declaration's number and
    moves its ``recorded_at`` to the correction, which is not when the company sent it. None
    when the history says nothing of it (rows written before they were kept).

    The lot's declarations are read once per cancellation in a transaction (``session.info``):
    the buyer's notice (``late_declaration_notices.tell_cancelled``) and the company's email
    (``_cancellation_email``) both ask it."""
    transaction = session.get_transaction()
    known = session.info.get(_FIRST_RECEIVED)
    if transaction is None or known is None or known[0] is not transaction:
        known = (transaction, {})
        session.info[_FIRST_RECEIVED] = known
    cancellations: dict[DeclarationCancelled, datetime | None] = known[1]
    if event not in cancellations:
        cancellations[event] = _first_received(session, event)
    return cancellations[event]


#: ``session.info`` key: the transaction, and ``first_received`` of each cancellation asked in it.
_FIRST_RECEIVED = "cancellation_notices.first_received"


def _first_received(session: Session, event: DeclarationCancelled) -> datetime | None:
    found = load_declarations(
        session, lots=union(select(Clause.id).where(Clause.id == event.clause_id)), lines=False
    )
    cancelled_at = event.at.astimezone(UTC)
    for facts in found.cancelled:
        if facts.id == event.declaration_id and facts.cancelled_at == cancelled_at:
            return min((r.at for r in facts.recordings), default=None)
    return None


def _receipt_may_have_left(session: Session, event: DeclarationCancelled) -> bool:
    """Whether a receipt of this declaration may have reached the company. A number freed by an
    earlier cancellation may have been given again (SQLite reuses the highest): only the
    receipts written since this number's previous cancellation on the lot count."""
    earlier = session.scalars(
        select(ClauseHistory.at).where(
            ClauseHistory.clause_id == event.clause_id,
            ClauseHistory.event == DECLARATION_CANCELLED,
            ClauseHistory.at < event.at,
            # « n° » and the number: whatever space between (``cancellation_reason``).
            ClauseHistory.reason.like(f"déclaration n°_{event.declaration_id} %"),
        )
    ).all()
    query = select(OutboxMessage.id).where(
        OutboxMessage.clause_id == event.clause_id,
        OutboxMessage.kind == receipts.KIND,
        OutboxMessage.key.like(f"receipt:{event.declaration_id}:%"),
        OutboxMessage.state.in_(MAY_HAVE_LEFT),
    )
    if earlier:
        query = query.where(OutboxMessage.created_at > max(earlier))
    return session.scalar(query.limit(1)) is not None


def tell_company(app: Mailing, session: Session, event: DeclarationCancelled) -> None:
    """The company's email about its cancelled declaration; none when nobody there has an
    address (the command says so to the facilitator). The date it promises (its next step, the
    date to declare by) is kept on the row with the event's facts: still waiting once that date
    has passed (the service stopped), it is written again as it stands when it leaves
    (``stale_promises``, ``write_cancellation_again``)."""
    clause = session.get_one(Clause, event.clause_id)
    company = session.get_one(Company, event.company_id)
    recipient = company_recipient(session, clause.id, company)
    if recipient is None:
        return
    key = cancellation_key(clause.id, company.id, event.declaration_id, event.at)
    if key_exists(session, key):
        return
    context, until = _cancellation_email(app, session, clause, company, event, recipient, event.at)
    queue_email(
        session,
        app.renderer,
        key=key,
        kind=KIND,
        recipients=[recipient],
        context=context,
        now=event.at,
        clause_id=clause.id,
        promise=None if until is None else Promise(until, _facts(event)),
    )


def _cancellation_email(
    app: Mailing,
    session: Session,
    clause: Clause,
    company: Company,
    event: DeclarationCancelled,
    recipient: Recipient,
    written_at: datetime,
) -> tuple[dict[str, Any], datetime | None]:
    """The email's context as it stands at ``written_at`` (the cancellation's instant, or the
    moment a stale one leaves), and the instant its text stops being true (None: it promises
    no date)."""
    settings = app.settings
    left_after = released_after(session, clause.id, company.id, event.month)
    expected = expected_again(session, clause, company.id, event.month, settings, written_at)
    context = cancellation_context(
        lot_of(clause),
        company.name,
        CancelledMonth(
            id=event.declaration_id,
            month=event.month,
            total_hours=event.total_hours,
            lines=event.lines,
            recorded_at=event.recorded_at,
            cancelled_at=event.at,
            reason=event.reason,
            first_recorded_at=first_received(session, event),
        ),
        expected,
        settings,
        correspondent=recipient.name,
        receipt_sent=_receipt_may_have_left(session, event),
        # No page to declare a month asked no more.
        link=(
            None
            if left_after is not None
            else month_links(session, settings, clause.id, company.id, [event.month], written_at)[0]
        ),
        written_at=written_at,
    )
    # The company left the site before this month: the email says it is asked no more, not to
    # declare it again (``left_after``; the template gives its last month).
    context["left_after"] = left_after
    if left_after is not None:
        return context, None  # no date asked, no step to come
    return context, promised_until(expected, written_at, settings.zone)


def _facts(event: DeclarationCancelled) -> dict[str, Any]:
    """What the email is written from that no later moment changes: the cancellation itself (the
    declaration is deleted with it)."""
    return {
        "clause_id": event.clause_id,
        "company_id": event.company_id,
        "month": event.month.isoformat(),
        "declaration_id": event.declaration_id,
        "total_hours": str(event.total_hours),
        "at": event.at.isoformat(),
        "actor": event.actor,
        "reason": event.reason,
        "recorded_at": event.recorded_at.isoformat(),
        "lines": event.lines,
    }


def _event(facts: Mapping[str, Any]) -> DeclarationCancelled:
    return DeclarationCancelled(
        clause_id=int(facts["clause_id"]),
        company_id=int(facts["company_id"]),
        month=date.fromisoformat(facts["month"]),
        declaration_id=int(facts["declaration_id"]),
        total_hours=Decimal(facts["total_hours"]),
        at=datetime.fromisoformat(facts["at"]),
        actor=str(facts["actor"]),
        reason=str(facts["reason"]),
        recorded_at=datetime.fromisoformat(facts["recorded_at"]),
        lines=int(facts["lines"]),
    )


def write_cancellation_again(
    app: Mailing,
    session: Session,
    facts: Mapping[str, Any],
    recipient: Recipient,
    now: datetime,
) -> PromiseRewrite:
    """The cancellation's email as ``tell_company`` would write it at ``now``: the same
    cancellation, what its ladder says now (its next step, the date to declare by, late or
    not), a link valid from now (``stale_promises.write_again``)."""
    event = _event(facts)
    clause = session.get_one(Clause, event.clause_id)
    company = session.get_one(Company, event.company_id)
    # The correspondent of now, if there is one with an address; else the one first written to.
    reader = company_recipient(session, clause.id, company) or recipient
    context, until = _cancellation_email(app, session, clause, company, event, reader, now)
    return PromiseRewrite(recipients=(reader,), context=context, promised_until=until)


def cancellation_recipients(
    session: Session, clause_id: int, company_id: int, declaration_id: int, at: datetime
) -> tuple[str, ...]:
    """The addresses the email of a cancellation was queued for; none when it was not (nobody
    at the company with an address)."""
    stored = session.scalar(
        select(OutboxMessage.recipients).where(
            OutboxMessage.key == cancellation_key(clause_id, company_id, declaration_id, at)
        )
    )
    if not stored:
        return ()
    try:
        return tuple(mailbox.address for mailbox in parse_recipients(stored))
    except AddressRefused:
        # The dispatcher will refuse it, with its reason: say what was written all the same.
        return tuple(line for line in stored.splitlines() if line.strip())
