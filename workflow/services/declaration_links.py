"""Companies' declaration links: the key that signs them, the links an email carries, and the
reading of a link followed.

The key is ``CLAUSES_LINK_SECRET`` when set; otherwise one is made the first time it is needed and
kept in the database (``service_secrets``), so that every instance sharing the database signs
and reads alike, and a restart voids nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.orm import Clause, DeclarationLadder, OutboxMessage, ServiceSecret
from workflow.domain.calendar import due_date, local_date
from workflow.domain.declaration_links import LinkScope, expiry, read, sign
from workflow.emails.envelope import OutboxState
from workflow.emails.links import DECLARATION_PATH, DeclarationLink, declaration_url
from workflow.services.lot_calendars import clause_calendar
from workflow.settings import Settings

SECRET_NAME = "declaration_links"


def link_key(session: Session, settings: Settings, now: datetime) -> bytes:
    if settings.link_secret is not None:
        return settings.link_secret.get_secret_value().encode("utf-8")
    found = session.get(ServiceSecret, SECRET_NAME)
    if found is None:
        # Two instances making one at once: the first insert wins, both read it back.
        session.execute(
            insert_ignoring(session, ServiceSecret, "name"),
            {"name": SECRET_NAME, "value": secrets.token_urlsafe(32), "created_at": now},
        )
        found = session.scalars(
            select(ServiceSecret).where(ServiceSecret.name == SECRET_NAME)
        ).one()
    return found.value.encode("ascii")


def month_links(
    session: Session,
    settings: Settings,
    clause_id: int,
    company_id: int,
    months: Iterable[date],
    now: datetime,
    due_dates: Mapping[date, date] | None = None,
) -> list[DeclarationLink]:
    """One link per month, valid ``link_days`` from the email's day or, for a month due later,
    from its due date (``domain.declaration_links.expiry``): a welcome's link for a month due in
    three months lasts as long after that date as the month's call would have it. ``due_dates``:
    the dates the email gives, when its ladders are not armed yet (a welcome before the start:
    the months of a catch-up share its due date, and so their links one last day, where the
    schedule's would expire a month apart)."""
    key = link_key(session, settings, now)
    today = local_date(now, settings.zone)
    wanted = sorted(set(months))
    due = month_due_dates(session, settings, clause_id, company_id, wanted, due_dates)
    links = []
    for month in wanted:
        expires_on = expiry(today, settings.link_days, due[month])
        token = sign(LinkScope(clause_id, company_id, month, expires_on), key)
        links.append(DeclarationLink(month, declaration_url(settings.base_url, token), expires_on))
    return links


def month_due_dates(
    session: Session,
    settings: Settings,
    clause_id: int,
    company_id: int,
    months: Sequence[date],
    expected: Mapping[date, date] | None = None,
) -> dict[date, date]:
    """The due date of each of ``months`` as the company is told it: its ladder's (the date its
    call gave, or will give at its slot, a late start's catch-up included), else the lot's
    schedule (its due day: the lot's, else its buyer's, else the service's), or, given,
    ``expected``'s (the dates an email gives before its ladders are armed). What the month's
    page shows, and what its links count their validity from."""
    if not months:
        return {}
    found = {
        month: due_on
        for month, due_on in session.execute(
            select(DeclarationLadder.month, DeclarationLadder.due_on).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == company_id,
                DeclarationLadder.month.in_(list(months)),
            )
        )
    }
    if len(found) < len(set(months)):
        clause = session.get(Clause, clause_id)
        if clause is not None:
            due_day = clause_calendar(clause, settings).rules.due_day
        else:
            due_day = settings.declaration_due_day
        for month in months:
            found.setdefault(month, (expected or {}).get(month) or due_date(month, due_day))
    return found


def read_link(session: Session, settings: Settings, token: str, now: datetime) -> LinkScope:
    """The scope of a link followed at ``now``; ``LinkRefused`` (in French) when it is not one."""
    return read(token, link_key(session, settings, now), local_date(now, settings.zone))


@dataclass(frozen=True)
class NewerLink:
    """An email the company received with a link of the month still valid: what the page of an
    expired link names (its subject and day), never the link itself."""

    subject: str
    sent_on: date
    expires_on: date


def newer_link(
    session: Session,
    settings: Settings,
    clause_id: int,
    company_ids: Iterable[int],
    month: date,
    today: date,
) -> NewerLink | None:
    """The email sent to one of ``company_ids`` on this lot whose link for ``month`` lasts
    longest, if it is still valid ``today`` (a reminder sent after the call whose link expired):
    read from the emails as sent, the links they really carried. The company that follows an
    old link learns which email to open (user trial, 7 December 2026: the page only said
    « le prochain courriel … vous donnera un nouveau lien », one had already)."""
    payloads = [
        f"{clause_id}.{company_id}.{month:%Y%m}." for company_id in sorted(set(company_ids))
    ]
    if not payloads:
        return None
    # One read for the company and the ones merged into it, each link's expiry read from it.
    carried = re.compile(
        "(?:" + "|".join(re.escape(DECLARATION_PATH + p) for p in payloads) + r")(\d{8})\."
    )
    rows = session.execute(
        select(OutboxMessage.subject, OutboxMessage.sent_at, OutboxMessage.body_text)
        .where(
            OutboxMessage.clause_id == clause_id,
            OutboxMessage.state == OutboxState.SENT.value,
            or_(
                *(
                    OutboxMessage.body_text.contains(DECLARATION_PATH + p, autoescape=True)
                    for p in payloads
                )
            ),
        )
        # The earliest of equal links named: the same page whatever the database's order.
        .order_by(OutboxMessage.id)
    )
    found: NewerLink | None = None
    for subject, sent_at, body in rows:
        for expires in carried.findall(body or ""):
            expires_on = date(int(expires[:4]), int(expires[4:6]), int(expires[6:]))
            if expires_on < today or sent_at is None:
                continue
            if found is None or expires_on > found.expires_on:
                found = NewerLink(subject, local_date(sent_at, settings.zone), expires_on)
    return found
