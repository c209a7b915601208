"""The company told that the facilitator cancelled one of its declarations
(``declaration_cancellations.cancel_declaration``): turned from ``DeclarationCancelled``, in the
transaction that cancelled it, so the cancellation and its email are saved together or not at all.

The email goes to whoever got the receipt (``notices.company_recipient``), under a key of its own
(``emails.cancellations.cancellation_key``): the same event handled twice writes it once. It runs
after ``receipt_withdrawals.withdraw_cancelled``, which withdraws a receipt still waiting: the
company then reads that its receipt will not come, not that the one it got no longer holds.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
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
)
from workflow.services.declaration_links import month_links
from workflow.services.declaration_views import held_due
from workflow.services.declarations import DECLARATION_CANCELLED
from workflow.services.email_facts import lot_of
from workflow.services.lot_calendars import suspensions
from workflow.services.mailing import Mailing
from workflow.services.notices import company_recipient, due_day_of, owed_due_dates
from workflow.services.outbox import OutboxState, key_exists, queue_email
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
    address (the command says so to the facilitator)."""
    clause = session.get_one(Clause, event.clause_id)
    company = session.get_one(Company, event.company_id)
    recipient = company_recipient(session, clause.id, company)
    if recipient is None:
        return
    key = cancellation_key(clause.id, company.id, event.declaration_id, event.at)
    if key_exists(session, key):
        return
    settings = app.settings
    left_after = released_after(session, clause.id, company.id, event.month)
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
        ),
        expected_again(session, clause, company.id, event.month, settings, event.at),
        settings,
        correspondent=recipient.name,
        receipt_sent=_receipt_may_have_left(session, event),
        # No page to declare a month asked no more.
        link=(
            None
            if left_after is not None
            else month_links(session, settings, clause.id, company.id, [event.month], event.at)[0]
        ),
    )
    # The company left the site before this month: the email says it is asked no more, not to
    # declare it again (``left_after``; the template gives its last month).
    context["left_after"] = left_after
    queue_email(
        session,
        app.renderer,
        key=key,
        kind=KIND,
        recipients=[recipient],
        context=context,
        now=event.at,
        clause_id=clause.id,
    )


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
