"""The companies told that their lot's planned end moved (an amendment, ``clauses lot set-end``).

The buyer hears of it (``notices.notify_planned_end``), the reminders follow the new end
(``reminders.rearm_lot``); a company, whose welcome listed the months it declares with their
due dates, would otherwise read them there unchanged: asked in a call for a month it believes
the last but one, or never told that two more months will be asked. Each company bound to the
lot (holder, co-contractor, subcontractor) with a reader gets one ``company_planned_end`` email:
the end before and after, the reason as recorded, and

- an earlier end: the months after the new end's month no longer asked (never a month called
  or declared: ``clauses.set_planned_end`` refuses an end before one), its last month and the
  date it is due by;
- a later end: the months asked in addition, each with the due date its call will give: the
  buyer's notice's dates (``notices.buyer_notice_context``: the contract's date, or for a month
  whose call is already overdue the one the next pass gives, ``notices.added_month_dates``).

Months are the company's: one that left the site (``AwardParty.last_month``) before the months
the move concerns is not written to, and is never told of a month after its last. A lot
awarded, not started, is told too: its welcome's calendar was the old end's (the dates are the
contract's, as the welcome gave them); a lot suspended is told the months, its dates come with
the resumption. A move within the same month changes no month: nothing is written.

Keyed as the company notices of a pause (``notice:<lot>:<kind>:company-<id>@<instant>``, the
instant of the move's history row): a second run writes nothing. A second move before the
first email left withdraws it and tells the whole move, from the end the company last knew: a
move undone before its email left writes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import AwardParty, Clause, Declaration, OutboxMessage
from workflow.adapters.templates import remembered_date
from workflow.domain.calendar import month_start
from workflow.domain.events import PlannedEndMoved
from workflow.emails.envelope import OutboxState
from workflow.emails.notices import EndMove
from workflow.emails.planned_ends import KIND, company_planned_end_context
from workflow.services.email_facts import lot_of, party_recipient
from workflow.services.mailing import Mailing
from workflow.services.notices import (
    PLANNED_END_EVENT,
    buyer_notice_context,
    due_day_of,
    history_reason,
    local_day,
    planned_end_move_of,
)
from workflow.services.outbox import NOT_LEFT, key_exists, queue_email, withdraw


def company_key(clause_id: int, company_id: int, at: datetime) -> str:
    """``notice:<lot>:company_planned_end:company-<id>@<instant>``, as
    ``company_end_notices.company_key``."""
    return f"notice:{clause_id}:{KIND}:company-{company_id}@{at.astimezone(UTC).isoformat()}"


def tell_companies(app: Mailing, session: Session, event: PlannedEndMoved) -> None:
    """On ``PlannedEndMoved``: one email to each company of the lot whose months it changes."""
    clause = session.get(Clause, event.clause_id)
    if clause is None or clause.start_date is None:
        return
    settings = app.settings
    lot = lot_of(clause)
    due_day = due_day_of(clause, settings)
    # The buyer's notice's dates: what the calls will give (``buyer_notice_context``).
    due_dates = buyer_notice_context(
        clause,
        settings,
        at=local_day(event.at, settings.zone),
        reason=None,
        move=EndMove(event.before, event.after),
        instant=event.at,
    )["schedule"]
    dates = {row["month"]: row["due_on"] for row in due_dates}
    for party in sorted(clause.parties, key=lambda p: p.id):
        recipient = party_recipient(party)
        if recipient is None:
            continue  # nobody to write to: the digest lists awards missing a correspondent
        key = company_key(clause.id, party.company_id, event.at)
        if key_exists(session, key):
            continue
        before = _end_known(app, session, clause, party, event)
        if before is None:
            continue
        move = EndMove(before, event.after)
        context = company_planned_end_context(
            lot,
            party.company.name,
            recipient,
            move=move,
            due_day=due_day,
            at=local_day(event.at, settings.zone),
            reason=event.reason,
            due_dates=dates,
            first_month=party.first_month,
            last_month=party.last_month,
            declared=_declared(session, clause.id, party.company_id),
        )
        if not context["added_count"] and not context["removed_count"]:
            continue  # no month of its own changes (same month, or it left before them)
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


#: The start of the reason an email of this kind is withdrawn with when a later move replaces it.
REPLACED = "Remplacé : la fin prévue du lot a de nouveau changé"
#: An email in these states reached the company, or may have (handed to the server, or its
#: fate unknown): the end it told is the one the company knows.
_MAY_HAVE_LEFT = (OutboxState.SENT.value, OutboxState.SENDING.value, OutboxState.UNCERTAIN.value)
_NOT_LEFT = tuple(state.value for state in NOT_LEFT)


def _end_known(
    app: Mailing, session: Session, clause: Clause, party: AwardParty, event: PlannedEndMoved
) -> date | None:
    """The planned end the company last knew: the move's ``before``, or, when emails of earlier
    moves to it never left (waiting, refused or given up by the server, withdrawn), the
    ``before`` of the oldest of them since the last one that left; those that may still leave
    (``NOT_LEFT``: a retry would send a refused one) are withdrawn: this one tells the whole
    move. None when the end comes back to that month: nothing changed for the company."""
    prefix = f"notice:{clause.id}:{KIND}:company-{party.company_id}@"
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause.id,
            OutboxMessage.kind == KIND,
            OutboxMessage.key.like(f"{prefix}%"),
        )
        .order_by(OutboxMessage.id.desc())
    ).all()
    unread: list[OutboxMessage] = []
    for row in rows:
        if datetime.fromisoformat(row.key.removeprefix(prefix)) >= event.at:
            continue  # a later move's (this one handled again): not what this one replaces
        if row.state in _MAY_HAVE_LEFT:
            break  # this one reached the company, or may have: the end it told is known
        # Never left (waiting, refused, given up, withdrawn): it told the company nothing.
        unread.append(row)
    before = event.before
    if unread:
        then = datetime.fromisoformat(unread[-1].key.removeprefix(prefix))
        told, _ = planned_end_move_of(
            history_reason(session, clause.id, PLANNED_END_EVENT, then), event.before
        )
        before = told.before or before
    day = remembered_date(local_day(event.at, app.settings.zone))
    for row in unread:
        if row.state in _NOT_LEFT:
            withdraw(
                row,
                f"{REPLACED} le {day} avant le départ de ce courriel ; le courriel suivant dit "
                "le changement entier.",
            )
    if month_start(before) == month_start(event.after):
        return None
    return before


def _declared(session: Session, clause_id: int, company_id: int) -> set[date]:
    return set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause_id, Declaration.company_id == company_id
            )
        )
    )
