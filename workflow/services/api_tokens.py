"""Bearer tokens of the JSON API (``clauses token create|list|revoke``).

A token is shown once, at its creation; the database keeps its SHA-256 only. A read-only token
may read every list and never write. A revoked token is refused from then on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import ApiToken
from workflow.adapters.passwords import token_digest
from workflow.domain.events import require_aware
from workflow.errors import InputRefused, NotFound

#: What every token starts with: a leaked one is recognised in a log or a commit.
PREFIX = "clauses_"


@dataclass(frozen=True)
class ApiClient:
    """Who calls the API: the token's name (the actor of what it writes) and its scope."""

    token_id: int
    name: str
    read_only: bool


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _view(row: ApiToken) -> TokenView:
    return TokenView(
        row.id, row.name, row.read_only, row.created_at, row.last_used_at, row.revoked_at
    )


def create_token(
    session: Session, *, name: str, read_only: bool, now: datetime
) -> tuple[str, TokenView]:
    """A new token: the secret itself (to show once) and what is kept of it."""
    require_aware(now)
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise InputRefused("Nom du jeton vide ou trop long (100 caractères au plus).")
    taken = session.scalar(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if taken is not None:
        raise InputRefused(f"Un jeton « {name} » est déjà actif (« clauses token revoke »).")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=token_digest(token), read_only=read_only, created_at=now)
    session.add(row)
    session.flush()
    return token, _view(row)


def client_of(session: Session, token: str, *, now: datetime) -> ApiClient | None:
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now
    return ApiClient(row.id, row.name, row.read_only)


def list_tokens(session: Session) -> list[TokenView]:
    return [_view(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, *, name: str, now: datetime) -> TokenView:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.name == " ".join(name.split()), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        raise NotFound(f"Aucun jeton actif « {name} » (« clauses token list »).")
    row.revoked_at = now
    return _view(row)
