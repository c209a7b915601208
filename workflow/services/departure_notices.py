"""The company, and its buyer when it matters, told of a departure from the site
(``company_departures.record_departure``), in the transaction that recorded it.

- The company's correspondent (``notices.company_recipient``) reads its last month, that no
  month after it will be asked, and the months up to it it still owes, each with its due date
  and page (or that it has nothing left to declare): without it, a subcontractor gone kept
  wondering whether the calls it had stopped getting meant it was done.
- The buyer (and the facilitator, as the alert) only when an alert before formal notice that
  reached it, or may still (``late_declaration_notices.MAY_REACH``), named a month the
  departure releases: it may be about to put the company on notice for a month it never worked.
  An alert withdrawn before it left never reached it: no email. The late-declaration notices
  name as still missing only months an alert named, so they need no email of their own.

Each under a key of its last month (``emails.company_departures``): the same departure handled
twice writes nothing more; a last month moved earlier is told again, for what it changes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, Declaration, OutboxMessage
from workflow.domain.calendar import add_months, due_date, local_date, month_start
from workflow.emails.company_departures import (
    KIND_BUYER,
    KIND_COMPANY,
    AlertCorrected,
    CompanyLeft,
    OwedMonth,
    buyer_context,
    buyer_key,
    company_key,
    company_left_context,
)
from workflow.emails.ladder import KIND_ESCALATION
from workflow.services import notices
from workflow.services.declaration_links import month_links
from workflow.services.email_facts import lot_of, party_of
from workflow.services.ladder_keys import KEY_PREFIX as LADDER_PREFIX
from workflow.services.ladder_keys import key_months
from workflow.services.late_declaration_notices import MAY_REACH
from workflow.services.lot_calendars import first_month_of
from workflow.services.mailing import Mailing
from workflow.services.outbox import OutboxState, Recipient, queue_email


def owed_up_to(
    app: Mailing, session: Session, clause: Clause, company_id: int, last: date, at: datetime
) -> tuple[OwedMonth, ...]:
    """The months from the company's first on the lot up to ``last`` it has not declared, each
    with the due date it was or will be given (``notices.owed_due_dates``)."""
    party = notices.award_party(session, clause.id, company_id)
    if party is None or clause.start_date is None:
        return ()
    first = first_month_of(party.first_month, month_start(clause.start_date))
    if first is None:
        return ()
    declared = set(
        session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause.id, Declaration.company_id == company_id
            )
        )
    )
    settings = app.settings
    dates = notices.owed_due_dates(session, clause, company_id, settings, at)
    day = notices.due_day_of(clause, settings)
    owed = []
    month = first
    while month <= last:
        if month not in declared:
            owed.append(OwedMonth(month, dates.get(month) or due_date(month, day)))
        month = add_months(month, 1)
    return tuple(owed)


def _left(
    app: Mailing,
    session: Session,
    clause: Clause,
    company: Company,
    last: date,
    released: Sequence[date],
    at: datetime,
) -> CompanyLeft:
    party = notices.award_party(session, clause.id, company.id)
    return CompanyLeft(
        company=company.name,
        last_month=last,
        today=local_date(at, app.settings.zone),
        owed=owed_up_to(app, session, clause, company.id, last, at),
        released=tuple(sorted(released)),
        role=party_of(party).role_label if party is not None else "",
    )


def tell_company(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int,
    last: date,
    released: Sequence[date],
    at: datetime,
) -> tuple[str, ...]:
    """The company's email of its departure; returns the addresses it is written to (none:
    nobody there has an address, the facilitator is told so)."""
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    recipient = notices.company_recipient(session, clause.id, company)
    if recipient is None:
        return ()
    left = _left(app, session, clause, company, last, released, at)
    links = (
        month_links(session, app.settings, clause.id, company.id, [o.month for o in left.owed], at)
        if left.owed
        else []
    )
    queue_email(
        session,
        app.renderer,
        key=company_key(clause.id, company.id, last),
        kind=KIND_COMPANY,
        recipients=[recipient],
        context=company_left_context(
            lot_of(clause), left, app.settings, correspondent=recipient.name, links=links
        ),
        now=at,
        clause_id=clause.id,
    )
    return (recipient.email,)


def alerted_released(
    session: Session, clause_id: int, company_id: int, released: Sequence[date], zone: ZoneInfo
) -> AlertCorrected | None:
    """The released months an alert to the buyer named that reached it or may still, with the
    day of the first such alert (None: no alert named one)."""
    gone = set(released)
    if not gone:
        return None
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.kind == KIND_ESCALATION,
            OutboxMessage.key.like(f"{LADDER_PREFIX}:{clause_id}:{company_id}:%"),
            OutboxMessage.state.in_(MAY_REACH),
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    named: set[date] = set()
    alerts = []
    for row in rows:
        covered = key_months(row.key)
        if covered is None or covered.company_id != company_id:
            continue
        hit = gone & set(covered.months)
        if hit:
            named |= hit
            alerts.append(row)
    if not alerts:
        return None
    first = alerts[0]
    return AlertCorrected(
        months=tuple(sorted(named)),
        alerted_on=local_date(first.sent_at or first.created_at, zone),
        alert_left=all(row.state == OutboxState.SENT for row in alerts),
    )


def tell_buyer(
    app: Mailing,
    session: Session,
    clause_id: int,
    company_id: int,
    last: date,
    released: Sequence[date],
    at: datetime,
) -> tuple[date, ...]:
    """The buyer's correction when an alert named a released month; returns those months
    (none: no alert named one, no email)."""
    settings = app.settings
    corrected = alerted_released(session, clause_id, company_id, released, settings.zone)
    if corrected is None:
        return ()
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    recipients = [
        *notices.buyer_recipients(clause.market.operation.buyer),
        Recipient(settings.facilitator_name, settings.facilitator_email),
    ]
    left = _left(app, session, clause, company, last, released, at)
    queue_email(
        session,
        app.renderer,
        key=buyer_key(clause.id, company.id, last),
        kind=KIND_BUYER,
        recipients=recipients,
        context=buyer_context(lot_of(clause), left, corrected, settings),
        now=at,
        clause_id=clause.id,
    )
    return corrected.months
