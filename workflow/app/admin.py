"""Looking after the database itself: create or upgrade its schema, say which one is used."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.adapters.db import current_revision, safe_url, trigram_trouble
from workflow.app.faults import translated_faults
from workflow.bootstrap import App
from workflow.errors import InputRefused

__all__ = ["DatabaseReady", "database_shown", "init_database", "require_schema"]


@dataclass(frozen=True)
class DatabaseReady:
    revision: str  # the schema's migration, « 0042_… »
    database: str  # the database's URL, without its password
    #: Why a PostgreSQL database has no trigram indexes (``db.trigram_trouble``): the searches
    #: read every row. None when they are there, and on SQLite.
    slow_search: str | None = None


def database_shown(app: App) -> str:
    """The database's URL as messages and logs show it: without its password."""
    return safe_url(app.settings.database_url)


def init_database(app: App) -> DatabaseReady:
    """Create the schema, or bring it up to date; harmless when run again."""
    with translated_faults(app):
        revision = app.init_database()
        slow_search = trigram_trouble(app.engine)
    return DatabaseReady(revision=revision, database=database_shown(app), slow_search=slow_search)


def require_schema(app: App) -> None:
    """Refuse a database whose schema was never created (before a long-running service starts
    on it)."""
    with translated_faults(app):
        revision = current_revision(app.engine)
    if revision is None:
        raise InputRefused(
            f"La base {database_shown(app)} n'est pas initialisée : lancez d'abord "
            "« clauses init »."
        )
