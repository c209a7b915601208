"""Milestone notices to buyers and welcomes to companies, turned from domain events.

Placeholder until the email issue lands: events are accepted and produce no email yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from workflow.domain.events import DomainEvent

if TYPE_CHECKING:
    from workflow.bootstrap import App


def handle_event(app: App, session: Session, event: DomainEvent) -> None:
    return None
