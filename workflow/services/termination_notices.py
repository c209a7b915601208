"""Each company of a lot whose contract is terminated (« résilier ») is told, in one email.

A termination ends the lot on its date as a finish does (``lot_ends.release_months_after``), but
a company that hears only of the months released (or of nothing, none being called yet) reads a
normal end, or nothing at all. Each company of the lot with someone to write to gets one
``company_lot_terminated``: the contract terminated on that day and why, no month after it asked
(the months after it whose call had reached it named, their reminders cancelled), and the months
up to the termination it has not declared, each with the date it is due by (its call's, or the
one the call to come will give, ``notices.announced_due_dates``, passed in), with its online
links for the months open. A company that left the site owing nothing is not written to.

Queued on the termination's event, in its transaction, keyed as the company notices of a pause
(``notice:<lot>:company_lot_terminated:company-<id>@<instant>``): handled twice, it writes
nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from workflow.adapters.orm import AwardParty, Clause
from workflow.domain.calendar import (
    LadderStep,
    local_date,
    month_fully_within,
    month_start,
    months_between,
)
from workflow.domain.events import ClauseAdvanced
from workflow.emails.company_ends import TERMINATED, StillOwed, terminated_context
from workflow.services.company_end_notices import LEFT, company_key, ladder_emails
from workflow.services.declaration_links import month_links
from workflow.services.declarations import declared_months_of, last_declarable_month
from workflow.services.email_facts import lot_of, party_recipient
from workflow.services.lot_calendars import first_month_of, suspensions
from workflow.services.mailing import Mailing
from workflow.services.outbox import key_exists, queue_email
from workflow.services.terminations import termination_of


def owed_up_to(
    session: Session, clause: Clause, party: AwardParty, end: date, zone: ZoneInfo
) -> list[date]:
    """The months of ``party`` from its first to the termination's (or its own last, if it left
    the site) that it has not declared, leaving out a month the lot's suspension covered whole:
    those still owed, called already or to be called."""
    start = month_start(clause.start_date) if clause.start_date else None
    first = first_month_of(party.first_month, start)
    if first is None:
        return []
    last = month_start(end)
    if party.last_month is not None:
        last = min(last, party.last_month)
    declared = {month_start(m) for m in declared_months_of(session, clause.id, party.company_id)}
    suspended = suspensions(session, [clause.id]).get(clause.id, [])
    return [
        month
        for month in months_between(first, last)
        if month not in declared and not month_fully_within(month, suspended, zone)
    ]


def tell_terminated(
    app: Mailing,
    session: Session,
    event: ClauseAdvanced,
    due_dates: Mapping[date, date],
) -> list[int]:
    """One ``company_lot_terminated`` to each company of the lot; returns those written to."""
    clause = session.get_one(Clause, event.clause_id)
    termination = termination_of(session, clause)
    if termination is None:
        return []
    zone = app.settings.zone
    today = local_date(event.at, zone)
    end_month = month_start(termination.on)
    emails = ladder_emails(session, clause.id)
    told: list[int] = []
    for party in clause.parties:
        recipient = party_recipient(party)
        if recipient is None:
            continue  # the digest lists awards missing a correspondent
        key = company_key(clause.id, TERMINATED, party.company_id, event.at)
        if key_exists(session, key):
            continue
        owed = owed_up_to(session, clause, party, termination.on, zone)
        if party.last_month is not None and party.last_month < end_month and not owed:
            continue  # it left the site before, owing nothing: the termination is not its concern
        released = sorted(
            {
                m
                for step, state, covered in emails.get(party.company_id, [])
                if step == LadderStep.CALL and state in LEFT
                for m in covered
                if m > end_month
            }
        )
        open_months = [m for m in owed if m <= last_declarable_month(today)]
        links = month_links(
            session, app.settings, clause.id, party.company_id, open_months, event.at
        )
        context = terminated_context(
            lot_of(clause),
            party.company.name,
            recipient,
            terminated_on=termination.on,
            reason=termination.reason,
            owed=[StillOwed(m, due_dates.get(m)) for m in owed],
            released=released,
            today=today,
            links=links,
        )
        if queue_email(
            session,
            app.renderer,
            key=key,
            kind=TERMINATED,
            recipients=[recipient],
            context=context,
            now=event.at,
            clause_id=clause.id,
        ):
            told.append(party.company_id)
    return told
