"""Each company of a lot whose contract is terminated (« résilier ») is told, in one email.

A termination ends the lot on its date as a finish does (``lot_ends.release_months_after``), but
a company that hears only of the months released (or of nothing, none being called yet) reads a
normal end, or nothing at all. Each company of the lot with someone to write to gets one
``company_lot_terminated``: the contract terminated on that day and why, no month after it asked
(the months after it whose call had reached it named, their reminders cancelled), and the months
up to the termination it still owes as the ladder asks them (``months_owed.owed_up_to``, which
the buyer's notice of the termination reads too: undeclared, a month a
suspension covered whole left out), each with the date it is due by as it was or will be given
that company (``notices.owed_due_dates``, passed in by company: its call's, pushed by the
suspended days after it, or the one the call to come will give), with its online links for the
months open. A company that left the site owing nothing is not written to.

Queued on the termination's event, in its transaction, keyed as the company notices of a pause
(``notice:<lot>:company_lot_terminated:company-<id>@<instant>``): handled twice, it writes
nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause
from workflow.domain.calendar import LadderStep, local_date, month_start
from workflow.domain.events import ClauseAdvanced
from workflow.emails.company_ends import TERMINATED, StillOwed, terminated_context
from workflow.services.company_end_notices import LEFT, company_key, ladder_emails
from workflow.services.declaration_links import month_links
from workflow.services.declarations import last_declarable_month
from workflow.services.email_facts import lot_of, party_recipient
from workflow.services.mailing import Mailing
from workflow.services.months_owed import owed_up_to
from workflow.services.outbox import key_exists, queue_email
from workflow.services.terminations import termination_of


def tell_terminated(
    app: Mailing,
    session: Session,
    event: ClauseAdvanced,
    due_dates: Mapping[int, Mapping[date, date | None]],
) -> list[int]:
    """One ``company_lot_terminated`` to each company of the lot; returns those written to.
    ``due_dates``: by company id, the date each month was or will be given it."""
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
        owed = owed_up_to(session, clause, party, termination.on, zone, now=event.at)
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
        dates = due_dates.get(party.company_id, {})
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
            owed=[StillOwed(m, dates.get(m)) for m in owed],
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
