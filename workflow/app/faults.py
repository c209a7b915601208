"""A database's refusals and faults, said in French with what a person can do about them.

Every command and query of the application layer runs inside ``translated_faults``: whatever
SQLAlchemy raises becomes ``DatabaseTrouble``, a ``ClausesError`` every entry point already
knows how to show. The transaction under way was rolled back as a whole each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError

from workflow.adapters.db import database_fault, safe_url
from workflow.errors import DatabaseTrouble
from workflow.runtime import App


@contextmanager
def translated_faults(app: App) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        url = app.settings.database_url
        fault = database_fault(exc, url)
        raise DatabaseTrouble(fault or database_trouble(exc, url), fault=fault is not None) from exc


def database_trouble(exc: DBAPIError, url: str | None) -> str:
    """What a person can do about a database error: initialise it, make it reachable, give it
    room, or run the command again."""
    fault = database_fault(exc, url) if url else None
    if fault is not None:
        return fault
    where = f"La base {safe_url(url)}" if url else "La base de données"
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    if schema_behind(exc):
        return (
            f"{where} n'est pas initialisée ou pas à jour : lancez « clauses init » "
            f"(détail : {detail})."
        )
    if isinstance(exc, IntegrityError) or _concurrent(exc):
        # Another instance or command changed the same rows at the same moment; nothing was
        # written by this one (its transaction was rolled back).
        return (
            "Changement concurrent sur les mêmes données : rien n'a été enregistré, "
            f"relancez la commande (détail : {detail})."
        )
    return f"{where} ne répond pas ou a refusé l'opération : {detail}"


def schema_behind(exc: DBAPIError) -> bool:
    text = str(exc.orig)
    kind = type(exc.orig).__name__
    return (
        "no such table" in text
        or "no such column" in text
        or kind in ("UndefinedTable", "UndefinedColumn")
    )


def _concurrent(exc: DBAPIError) -> bool:
    kind = type(exc.orig).__name__
    return kind in ("DeadlockDetected", "SerializationFailure", "LockNotAvailable") or (
        "database is locked" in str(exc.orig)
    )
