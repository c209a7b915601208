"""The one place where real IO is built: settings, database, templates, mail transport, clock.

Entry points call ``bootstrap()`` once and pass the resulting ``App`` around; tests build one with
their own settings (an SQLite file in a temporary folder, or PostgreSQL) and a memory transport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from workflow.adapters.db import make_engine, make_session_factory, transaction, upgrade
from workflow.adapters.mail import MailTransport, build_transport
from workflow.adapters.templates import TemplateRenderer
from workflow.domain.events import DomainEvent
from workflow.settings import Settings, load_settings

EventHandler = Callable[["App", Session, DomainEvent], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    renderer: TemplateRenderer
    transport: MailTransport
    clock: Callable[[], datetime] = utc_now
    handlers: list[EventHandler] = field(default_factory=list)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def publish(self, session: Session, event: DomainEvent) -> None:
        """Hand an event to every handler inside the transaction that caused it."""
        for handler in self.handlers:
            handler(self, session, event)

    def init_database(self) -> str:
        return upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def default_handlers() -> list[EventHandler]:
    from workflow.services.notices import handle_event

    return [handle_event]


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    handlers: list[EventHandler] | None = None,
    transport: MailTransport | None = None,
) -> App:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    return App(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        renderer=TemplateRenderer(signature=settings.signature),
        transport=transport or build_transport(settings),
        clock=clock,
        handlers=default_handlers() if handlers is None else handlers,
    )
