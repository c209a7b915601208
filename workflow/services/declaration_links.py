"""Companies' declaration links: the key that signs them, the links an email carries, and the
reading of a link followed.

The key is ``CLAUSES_LINK_SECRET`` when set; otherwise one is made the first time it is needed and
kept in the database (``service_secrets``), so that every instance sharing the database signs
and reads alike, and a restart voids nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.orm import Clause, DeclarationLadder, ServiceSecret
from workflow.domain.calendar import due_date, local_date
from workflow.domain.declaration_links import LinkScope, expiry, read, sign
from workflow.emails.links import DeclarationLink, declaration_url
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
) -> list[DeclarationLink]:
    """One link per month, valid ``link_days`` from the email's day or, for a month due later,
    from its due date (``domain.declaration_links.expiry``): a welcome's link for a month due in
    three months lasts as long after that date as the month's call would have it."""
    key = link_key(session, settings, now)
    today = local_date(now, settings.zone)
    wanted = sorted(set(months))
    due = month_due_dates(session, settings, clause_id, company_id, wanted)
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
) -> dict[date, date]:
    """The due date of each of ``months`` as the company is told it: its ladder's (the date its
    call gave, or will give at its slot, a late start's catch-up included), else the lot's
    schedule (its due day: the lot's, else its buyer's, else the service's). What the month's
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
            found.setdefault(month, due_date(month, due_day))
    return found


def read_link(session: Session, settings: Settings, token: str, now: datetime) -> LinkScope:
    """The scope of a link followed at ``now``; ``LinkRefused`` (in French) when it is not one."""
    return read(token, link_key(session, settings, now), local_date(now, settings.zone))
