"""One command's unit of work: one transaction, one moment, one actor, its events published.

Every command of the application layer runs inside ``unit_of_work``: the clock is read once, so
every row it writes carries the same instant (the history row and the notice it causes name each
other by it); the actor defaults to the facilitator named in the settings; the events go to the
handlers wired by ``bootstrap`` inside the same transaction, so a notice is saved with its cause
or not at all. A fault of the database becomes a French ``DatabaseTrouble`` here, so no entry
point needs to know SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from workflow.app.faults import translated_faults
from workflow.domain.events import DomainEvent
from workflow.runtime import App


@dataclass(frozen=True)
class Unit:
    """What a command works with: its session, the moment it acts at, who acts."""

    app: App
    session: Session
    now: datetime
    actor: str

    def publish(self, event: DomainEvent) -> None:
        """Hand ``event`` to its handlers inside this unit's transaction."""
        self.app.publish(self.session, event)


def actor_of(app: App, actor: str | None) -> str:
    """Who acts: the name given, else the facilitator of the settings."""
    return (actor or "").strip() or app.settings.facilitator_name


@contextmanager
def unit_of_work(app: App, actor: str | None = None) -> Iterator[Unit]:
    """A transaction committed when the block ends, rolled back as a whole if it raises."""
    now = app.clock()
    with translated_faults(app), app.transaction() as session:
        yield Unit(app=app, session=session, now=now, actor=actor_of(app, actor))


@contextmanager
def reading(app: App) -> Iterator[Session]:
    """A session for a query: what it reads is consistent; it writes nothing."""
    with translated_faults(app), app.transaction() as session:
        yield session
