"""Queueing emails: one outbox row per message, keyed by its cause, in the caller's transaction.

The key is built from what caused the message and the *scheduled* period (never from the clock), so a
retried pass, a second instance or a catch-up inserts nothing new: ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import TemplateRenderer
from workflow.domain.events import require_aware


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str

    def formatted(self) -> str:
        # Line breaks in a name would let it forge headers: fold them to spaces.
        name = " ".join(self.name.split())
        email = "".join(self.email.split())
        return formataddr((name, email))


def key_exists(session: Session, key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None


def queue_email(
    session: Session,
    renderer: TemplateRenderer,
    *,
    key: str,
    kind: str,
    recipients: Sequence[Recipient],
    context: Mapping[str, Any],
    now: datetime,
    clause_id: int | None = None,
) -> bool:
    """Render and queue one email unless its key exists; True when a row was written."""
    require_aware(now)
    if not recipients:
        raise ValueError(f"email {key} has no recipient")
    if key_exists(session, key):
        return False
    rendered = renderer.render(kind, context)
    values = {
        "key": key,
        "kind": kind,
        "clause_id": clause_id,
        "recipients": "\n".join(r.formatted() for r in recipients),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )
    result = session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
