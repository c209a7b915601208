"""The running application: settings, database, templates, mail transport, clock and the event
handlers, held together. ``bootstrap`` builds one from real IO; services and the application layer
take it as it is. Its own module so that services can name its type without importing
``bootstrap``, which imports them to wire the event handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from workflow.adapters.db import transaction, upgrade
from workflow.adapters.mail import MailTransport
from workflow.adapters.templates import TemplateRenderer
from workflow.domain.events import DomainEvent
from workflow.settings import Settings

#: A handler takes the app, the session of the transaction that caused the event, and the event
#: (typed ``Any`` here: each handler takes the one event type it is registered for).
EventHandler = Callable[["App", Session, Any], None]
#: The registry: which handlers hear which event type, in order.
Handlers = dict[type[DomainEvent], list[EventHandler]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def running_from(
    moment: datetime, real: Callable[[], float] = time.monotonic
) -> Callable[[], datetime]:
    """A clock that reads ``moment`` now and then moves with real time (``clauses web --now``).

    A stopped clock gave a declaration and its correction, made a minute apart on the pages,
    the same instant: their history rows could not be ordered, and the audit then read the
    correction's figures as the first recording's (user trial). ``real`` is a monotonic
    seconds counter (tests pass their own)."""
    start = real()
    return lambda: moment + timedelta(seconds=real() - start)


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    renderer: TemplateRenderer
    transport: MailTransport
    clock: Callable[[], datetime] = utc_now
    #: Real time, even when ``clock`` is set back or ahead (``clauses web --now``): what measures a delay a
    #: person waits out, such as the login lockout. Tests replace it.
    wall_clock: Callable[[], datetime] = utc_now
    handlers: Handlers = field(default_factory=dict)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def publish(self, session: Session, event: DomainEvent) -> None:
        """Hand an event to the handlers of its type, inside the transaction that caused it."""
        for handler in self.handlers.get(type(event), ()):
            handler(self, session, event)

    def subscribe(self, event_type: type[DomainEvent], handler: EventHandler) -> None:
        """Add ``handler`` for ``event_type`` after those already wired (tests listen this way)."""
        self.handlers.setdefault(event_type, []).append(handler)

    def init_database(self) -> str:
        return upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
