"""Companies' declaration links: the key that signs them, the links an email carries, and the
reading of a link followed.

The key is ``CLAUSES_LINK_SECRET`` when set; otherwise one is made the first time it is needed and
kept in the database (``service_secrets``), so that every instance sharing the database signs
and reads alike, and a restart voids nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.dialects import insert_ignoring
from workflow.adapters.orm import ServiceSecret
from workflow.domain.calendar import local_date
from workflow.domain.declaration_links import LinkScope, expiry, read, sign
from workflow.emails.links import DeclarationLink, declaration_url
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
    """One link per month, valid ``link_days`` from the email's day."""
    key = link_key(session, settings, now)
    expires_on = expiry(local_date(now, settings.zone), settings.link_days)
    links = []
    for month in sorted(set(months)):
        token = sign(LinkScope(clause_id, company_id, month, expires_on), key)
        links.append(DeclarationLink(month, declaration_url(settings.base_url, token), expires_on))
    return links


def read_link(session: Session, settings: Settings, token: str, now: datetime) -> LinkScope:
    """The scope of a link followed at ``now``; ``LinkRefused`` (in French) when it is not one."""
    return read(token, link_key(session, settings, now), local_date(now, settings.zone))
