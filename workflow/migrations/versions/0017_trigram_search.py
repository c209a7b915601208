"""trigram search: on PostgreSQL, the searches' ``LIKE '%…%'`` read from GIN trigram indexes

The board's search and ``search`` (the corrections page, ``clauses search``) match
``search_text`` with ``LIKE '%text%'``, which no B-tree answers: at 10^5 lots each search read
every lot's text (corrections ≈190 ms of SQL, the board by SIRET 134 ms, by name 283 ms). A GIN
index of the ``pg_trgm`` operator class on each ``search_text`` and on ``companies.siret``
answers them (≈12, 1.7 and 106 ms; 3.3 s to build, 18.9 MB). Texts under 3 characters have no
trigram: those searches still read every row.

``pg_trgm`` ships with PostgreSQL (Debian's ``postgresql-15``; the contrib package elsewhere) and
is trusted since PostgreSQL 13: the database's owner may create it. When it cannot be created
(not installed, no right to), the upgrade goes on without the indexes and says so: the searches
give the same results, only slower. Nothing on SQLite (no trigram index; its searches scan).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("workflow.migrations")

# Copied, not imported: a migration stays as it was written when the models change.
EXTENSION = "pg_trgm"
TRIGRAMS = "gin_trgm_ops"
#: The searched columns: every ``search_text``, and the SIRET the searches match on its own.
COLUMNS = (
    ("buyers", "search_text"),
    ("buyer_contacts", "search_text"),
    ("companies", "search_text"),
    ("correspondents", "search_text"),
    ("operations", "search_text"),
    ("markets", "search_text"),
    ("participants", "search_text"),
    ("clauses", "search_text"),
    ("companies", "siret"),
)


def _name(table: str, column: str) -> str:
    return f"ix_{table}_{column}_trgm"


def _schema(connection: sa.Connection) -> str | None:
    """The schema ``pg_trgm`` lives in, None when it is not there. Hosted PostgreSQL often puts
    extensions in a schema of their own (``extensions``), out of the search path: the operator
    class is then named with its schema."""
    schema = connection.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = :e"
        ),
        {"e": EXTENSION},
    )
    return None if schema is None else str(schema)


def _trigrams(connection: sa.Connection) -> str | None:
    """None once ``pg_trgm`` is there (created if need be); else why it cannot be."""
    if _schema(connection) is not None:
        return None
    available = connection.scalar(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = :e"), {"e": EXTENSION}
    )
    if not available:
        return (
            f"l'extension {EXTENSION} n'est pas installée sur le serveur (elle vient avec "
            "PostgreSQL, ou avec son paquet postgresql-contrib selon la distribution)"
        )
    # A savepoint: the migrations run in one transaction, which a refused CREATE would abort.
    savepoint = connection.begin_nested()
    try:
        connection.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}"))
    except DBAPIError as exc:
        savepoint.rollback()
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return (
            f"le rôle de connexion n'a pas pu créer l'extension {EXTENSION} (il faut être "
            f"propriétaire de la base ou superutilisateur ; détail : {detail})"
        )
    savepoint.commit()
    return None


def _skipped(why: str) -> None:
    # For the operators, in French: `serve --migrate` writes it to its log (a JSON line);
    # `clauses init` says it from the database itself (``db.trigram_trouble``).
    log.warning(
        "index de recherche par trigrammes non créés : %s. Les recherches (tableau des "
        "clauses, corrections, « clauses search ») donnent les mêmes résultats, mais lisent "
        "toutes les lignes. Pour les créer ensuite : CREATE EXTENSION pg_trgm (en "
        "superutilisateur), puis les CREATE INDEX donnés dans le README (« Recherche rapide "
        "sur PostgreSQL »).",
        why,
        extra={"action": "migration.trigrams_skipped"},
    )


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    missing = _trigrams(connection)
    if missing is not None:
        _skipped(missing)
        return
    schema = _schema(connection)
    operators = f'"{schema}".{TRIGRAMS}'
    # A savepoint again: an index refused (no right to use the extension's schema) leaves the
    # upgrade going on without them, as a missing extension does.
    savepoint = connection.begin_nested()
    try:
        for table, column in COLUMNS:
            op.create_index(
                _name(table, column),
                table,
                [column],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={column: operators},
            )
    except DBAPIError as exc:
        savepoint.rollback()
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        _skipped(f"l'extension {EXTENSION} n'a pas pu servir aux index (détail : {detail})")
        return
    savepoint.commit()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # IF EXISTS: the upgrade skipped them where the extension could not be created. The
    # extension stays: it may have been there before, for something else of the database.
    for table, column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS {_name(table, column)}")
