"""The company, and its buyer when it matters, told of a departure from the site
(``company_departures.record_departure``), in the transaction that recorded it.

- The company's correspondent (``notices.company_recipient``) reads its last month, that no
  month after it will be asked, and the months up to it it still owes as the ladder asks them
  (``months_owed``, the termination's rule: a month a suspension covered whole is not), each
  with its due date and page (or that it has nothing left to declare): without it, a subcontractor gone kept
  wondering whether the calls it had stopped getting meant it was done.
- The buyer (and the facilitator, as the alert) only when an alert before formal notice that
  reached it, or may still (``late_declaration_notices.MAY_REACH``), named a month the
  departure releases: it may be about to put the company on notice for a month it never worked.
  An alert withdrawn before it left never reached it: no email. The late-declaration notices
  name as still missing only months an alert named, so they need no email of their own.

Each under a key of its last month (``emails.company_departures``): the same departure handled
twice writes nothing more. A last month moved earlier is told again (``replace_earlier``): the
email of the earlier month still waiting is withdrawn (« Remplacé : dernier mois avancé à
septembre 2026 »), so that the two do not both go and contradict each other, and the new one
names every month released since the last email that left; when one left, the new one says it
replaces the email of that day and names only what it changes. The site's confirmation page
says which, before anything is written (``earlier_emails``, read only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, Company, OutboxMessage
from workflow.adapters.templates import french_month
from workflow.domain.calendar import due_date, local_date, month_start, reminder_number
from workflow.emails.company_departures import (
    BUYER_KEY_PREFIX,
    KEY_PREFIX,
    KIND_BUYER,
    KIND_COMPANY,
    AlertCorrected,
    AlertNamed,
    CompanyLeft,
    OwedMonth,
    buyer_context,
    buyer_key,
    company_key,
    company_left_context,
)
from workflow.emails.ladder import KIND_ESCALATION
from workflow.services import months_owed, notices
from workflow.services.declaration_links import month_links
from workflow.services.email_facts import lot_of, party_of
from workflow.services.ladder_keys import KEY_PREFIX as LADDER_PREFIX
from workflow.services.ladder_keys import key_months
from workflow.services.late_declaration_notices import MAY_REACH
from workflow.services.mailing import Mailing
from workflow.services.outbox import NOT_LEFT, OutboxState, Recipient, queue_email, withdraw
from workflow.services.reminder_emails import ladder_history

NBSP = "\u00a0"


@dataclass(frozen=True)
class Earlier:
    """The emails of one reader (company or buyer) written for an earlier last month of the
    same departure: those withdrawn before they left, and the latest that left (or may have)."""

    #: The last months of those still waiting (waiting, refused, given up) when the departure
    #: moved earlier: withdrawn, the new email replaces them.
    withdrawn: tuple[date, ...] = ()
    #: The last month the latest email that left was written for; None: none left.
    told_up_to: date | None = None
    #: The day it left (written, when it may have left without a record of it).
    left_on: date | None = None
    #: It surely left (sent); False: it may have (on its way, or its fate unknown).
    left_surely: bool = True

    def to_tell(self, released: Sequence[date]) -> tuple[date, ...]:
        """The released months the new email names: those the last email that left did not
        (all of them when none left: the reader heard of none)."""
        told = self.told_up_to
        return tuple(sorted(m for m in released if told is None or m <= told))


def _earlier_rows(
    session: Session, prefix: str, clause_id: int, company_id: int, last: date, *, lock: bool
) -> tuple[list[tuple[date, OutboxMessage]], tuple[date, OutboxMessage] | None]:
    """The emails under ``prefix`` of this (clause, company) written for a last month after
    ``last`` still waiting, with their month; and the latest of those that left, or may have
    (the one of the earliest month after ``last``). One cancelled is neither."""
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.key.like(f"{prefix}:{clause_id}:{company_id}:%"),
        )
        .order_by(OutboxMessage.id)
    )
    rows = session.scalars(statement.with_for_update() if lock else statement).all()
    waiting: list[tuple[date, OutboxMessage]] = []
    latest: tuple[date, OutboxMessage] | None = None
    for row in rows:
        month = _key_month(row.key)
        if month is None or month <= last:
            continue  # this departure's own email (the same month again), or unreadable
        if row.state in NOT_LEFT:
            waiting.append((month, row))
        elif row.state != OutboxState.CANCELLED and (latest is None or month < latest[0]):
            latest = (month, row)
    return waiting, latest


def _earlier(
    waiting: Sequence[tuple[date, OutboxMessage]],
    latest: tuple[date, OutboxMessage] | None,
    zone: ZoneInfo,
) -> Earlier:
    withdrawn = tuple(sorted({month for month, _ in waiting}))
    if latest is None:
        return Earlier(withdrawn)
    month, row = latest
    return Earlier(
        withdrawn,
        month,
        local_date(row.sent_at or row.created_at, zone),
        row.state == OutboxState.SENT,
    )


def replace_earlier(
    session: Session, prefix: str, clause_id: int, company_id: int, last: date, zone: ZoneInfo
) -> Earlier:
    """Withdraw, with their reason, the emails under ``prefix`` of this (clause, company) written
    for a later last month and not yet sent (waiting, refused, given up): the departure moved
    earlier, the new email replaces them. One that left, or may have (sending, uncertain),
    stays: the new one says it replaces it."""
    waiting, latest = _earlier_rows(session, prefix, clause_id, company_id, last, lock=True)
    for _, row in waiting:
        withdraw(row, f"Remplacé{NBSP}: dernier mois avancé à {french_month(last)}.")
    return _earlier(waiting, latest, zone)


def earlier_emails(
    session: Session, clause_id: int, company_id: int, last: date, zone: ZoneInfo
) -> tuple[Earlier, Earlier]:
    """What ``replace_earlier`` would find, read only, for the company's email and the buyer's
    (in that order), were the departure's last month moved to ``last`` (any day of it): the
    confirmation page says it before anything is written."""
    month = month_start(last)
    return (
        _earlier(
            *_earlier_rows(session, KEY_PREFIX, clause_id, company_id, month, lock=False), zone
        ),
        _earlier(
            *_earlier_rows(session, BUYER_KEY_PREFIX, clause_id, company_id, month, lock=False),
            zone,
        ),
    )


def _key_month(key: str) -> date | None:
    try:
        return datetime.strptime(key.rsplit(":", 1)[1], "%Y-%m").date()
    except (IndexError, ValueError):
        return None


def owed_up_to(
    app: Mailing, session: Session, clause: Clause, company_id: int, last: date, at: datetime
) -> tuple[OwedMonth, ...]:
    """The months from the company's first on the lot up to ``last`` it still owes, as the
    ladder asks them (``months_owed.owed_up_to``, the termination's rule: undeclared, a month a
    suspension of the lot covered whole left out), each with the due date it was or will be
    given (``notices.owed_due_dates``; None for a month the lot, suspended, will ask after the
    resumption)."""
    party = notices.award_party(session, clause.id, company_id)
    if party is None:
        return ()
    settings = app.settings
    months = months_owed.owed_up_to(session, clause, party, last, settings.zone, now=at)
    if not months:
        return ()
    dates = notices.owed_due_dates(session, clause, company_id, settings, at)
    day = notices.due_day_of(clause, settings)
    # A month its suspended lot has not called yet has no date (None): asked at the resumption.
    return tuple(
        OwedMonth(month, dates[month] if month in dates else due_date(month, day))
        for month in months
    )


def _left(
    app: Mailing,
    session: Session,
    clause: Clause,
    company: Company,
    last: date,
    released: Sequence[date],
    at: datetime,
    replaces_on: date | None = None,
) -> CompanyLeft:
    party = notices.award_party(session, clause.id, company.id)
    ordered = tuple(sorted(released))
    return CompanyLeft(
        company=company.name,
        last_month=last,
        today=local_date(at, app.settings.zone),
        owed=owed_up_to(app, session, clause, company.id, last, at),
        released=ordered,
        released_reminders=_reminders_sent(session, clause.id, company.id, ordered),
        role=party_of(party).role_label if party is not None else "",
        replaces_on=replaces_on,
    )


def _reminders_sent(
    session: Session, clause_id: int, company_id: int, months: Sequence[date]
) -> tuple[int, ...]:
    """How many reminders of each of ``months`` reached the company, or may have (the email
    says to ignore only what was sent: the call alone, or the call and N reminders)."""
    if not months:
        return ()
    history = ladder_history(session, [clause_id])
    return tuple(
        sum(
            1
            for email in history.get((clause_id, company_id, month), [])
            if reminder_number(email.step) is not None and email.state in MAY_REACH
        )
        for month in months
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
    nobody there has an address, the facilitator is told so). ``released``: every month after
    ``last`` the departure stops asking; an earlier email of it replaced (``replace_earlier``),
    it names those the email that left did not."""
    earlier = replace_earlier(session, KEY_PREFIX, clause_id, company_id, last, app.settings.zone)
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    recipient = notices.company_recipient(session, clause.id, company)
    if recipient is None:
        return ()
    left = _left(
        app, session, clause, company, last, earlier.to_tell(released), at, earlier.left_on
    )
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
    """The alerts to the buyer that reached it, or may still, and named released months: each
    with its day and those months (None: no alert named one)."""
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
    alerts = []
    for row in rows:
        covered = key_months(row.key)
        if covered is None or covered.company_id != company_id:
            continue
        hit = gone & set(covered.months)
        if hit:
            # Each alert as it stands: one sent « vous signalait », one still waiting « si elle
            # vous parvient ».
            alerts.append(
                AlertNamed(
                    on=local_date(row.sent_at or row.created_at, zone),
                    months=tuple(sorted(hit)),
                    left=row.state == OutboxState.SENT,
                )
            )
    if not alerts:
        return None
    return AlertCorrected(tuple(sorted(alerts, key=lambda a: a.on)))


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
    (none: no alert named one, no email). ``released`` as ``tell_company``'s: the buyer's email
    of an earlier last month still waiting is withdrawn, its months told in this one."""
    settings = app.settings
    earlier = replace_earlier(session, BUYER_KEY_PREFIX, clause_id, company_id, last, settings.zone)
    told = earlier.to_tell(released)
    corrected = alerted_released(session, clause_id, company_id, told, settings.zone)
    if corrected is None:
        return ()
    clause = session.get_one(Clause, clause_id)
    company = session.get_one(Company, company_id)
    recipients = [
        *notices.buyer_recipients(clause.market.operation.buyer),
        Recipient(settings.facilitator_name, settings.facilitator_email),
    ]
    left = _left(app, session, clause, company, last, told, at, earlier.left_on)
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
