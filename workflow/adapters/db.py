"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.operations.ops import CreateIndexOp, ModifyTableOps
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import Connection, Engine, Index, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

# Registers the mapper events that keep every searched record's ``search_text``: every session of
# the service comes from here, so no write path can miss them.
from workflow.adapters import search_text as _search_text  # noqa: F401

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def normalise_url(url: str) -> str:
    """Let people write ``postgresql://`` and still get the psycopg 3 driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers work while the scheduler writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of one failing
    # with "database is locked" halfway through a transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class Keepalives:
    """TCP keepalives of PostgreSQL connections (``CLAUSES_DB_KEEPALIVES_*``, seconds).

    With the system's timings (libpq's default), a connection whose server vanished (network
    partition, machine gone, no reset sent) waits for its answer two hours before the first
    probe, some 2 h 11 min in all. With these, libpq's socket fails after about
    ``idle + interval × count`` seconds without an answer, and so does the statement waiting
    on it. ``tcp_user_timeout``
    covers the other case, a statement sent into the partition and never acknowledged (the
    kernel would retransmit it for some fifteen minutes): the same bound."""

    idle: int = 30
    interval: int = 10
    count: int = 3

    def connect_args(self) -> dict[str, int]:
        """libpq's connection parameters (psycopg passes them on)."""
        return {
            "keepalives": 1,
            "keepalives_idle": self.idle,
            "keepalives_interval": self.interval,
            "keepalives_count": self.count,
            "tcp_user_timeout": (self.idle + self.interval * self.count) * 1000,
        }


@dataclass(frozen=True)
class StatementLimits:
    """PostgreSQL's ``statement_timeout`` and ``lock_timeout`` (seconds) for short statements
    that must not wait forever (the dispatcher's: ``CLAUSES_MAIL_DB_TIMEOUT``,
    ``CLAUSES_MAIL_DB_LOCK_TIMEOUT``)."""

    statement: float
    lock: float


#: Marks a pooled connection whose session carries ``StatementLimits``: taken off when it goes
#: back to the pool (``_unlimit_on_checkin``), so that no other use (a long report) inherits them.
_LIMITED = "clauses_statement_limits"
_LIMIT = text(
    "SELECT set_config('statement_timeout', :statement, :local), "
    "set_config('lock_timeout', :lock, :local)"
)


def limit_statements(bind: Connection | Session, limits: StatementLimits, *, local: bool) -> None:
    """Bound how long the statements that follow may run and wait for a lock; PostgreSQL only.

    ``local``: for the transaction under way only (one more statement at its start). Otherwise
    for the connection's session, committed now, for a connection a caller holds and uses for
    many transactions; it goes back to its defaults when it returns to the pool."""
    values = {
        "statement": str(max(1, round(limits.statement * 1000))),
        "lock": str(max(1, round(limits.lock * 1000))),
        "local": local,
    }
    bind.execute(_LIMIT, values)
    if not local:
        assert isinstance(bind, Connection)
        bind.info[_LIMITED] = True
        bind.commit()


def _unlimit_on_checkin(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is None or not record.info.pop(_LIMITED, False):
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("RESET statement_timeout")
            cursor.execute("RESET lock_timeout")
        finally:
            cursor.close()
        dbapi_connection.commit()
    except Exception:  # a connection that cannot be reset is not lent again
        with suppress(Exception):
            record.invalidate()


#: SQLSTATEs of a statement PostgreSQL stopped: a lock waited for too long (``lock_timeout``),
#: and a statement cancelled (``statement_timeout``, or an administrator's cancel).
_PG_LOCK_TIMEOUT = "55P03"
_PG_CANCELLED = "57014"


def timed_out(exc: DBAPIError) -> bool:
    """Whether PostgreSQL stopped the statement: a lock or statement timeout (or a cancel)."""
    return getattr(exc.orig, "sqlstate", None) in (_PG_LOCK_TIMEOUT, _PG_CANCELLED)


def make_engine(url: str, *, keepalives: Keepalives | None = None, **kwargs: Any) -> Engine:
    """SQLite with its pragmas and ``BEGIN IMMEDIATE``; PostgreSQL with ``pool_pre_ping``: a
    connection lost while it waited in the pool (server restarted, backend terminated) is
    replaced when next taken, so only a loss in the middle of a transaction reaches the caller;
    and with TCP keepalives (``keepalives``, the defaults if None), so that a server out of
    reach fails a statement instead of leaving it waiting forever."""
    kwargs.setdefault("hide_parameters", True)  # values (references, addresses) stay out of errors
    url = normalise_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"isolation_level": None}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = {**(keepalives or Keepalives()).connect_args(), **kwargs.pop("connect_args", {})}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    event.listen(engine, "checkin", _unlimit_on_checkin)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session


def _made_on(index: Index, dialect: str) -> bool:
    """Whether ``index`` exists on ``dialect``: ``Index.ddl_if(dialect=…)`` says where."""
    condition = index._ddl_if
    if condition is None or condition.dialect is None:
        return True
    wanted = condition.dialect
    return dialect == wanted if isinstance(wanted, str) else dialect in wanted


@comparators.dispatch_for("table", priority=DispatchPriority.LAST, subgroup="made_on")
def _indexes_of_another_dialect(
    autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """Alembic's comparison ignores ``ddl_if``: without this, the trigram indexes the models
    declare for PostgreSQL only (``orm.TRIGRAM_INDEXES``) would be « missing » from every SQLite
    schema, in ``compare_metadata`` (the smoke test) and in an autogenerated migration."""
    if metadata_table is not None:
        elsewhere = {
            index.name
            for index in metadata_table.indexes
            if not _made_on(index, autogen_context.dialect.name)
        }
        modify_ops.ops = [
            op
            for op in modify_ops.ops
            if not (isinstance(op, CreateIndexOp) and op.index_name in elsewhere)
        ]
    return PriorityDispatchResult.CONTINUE


def trigram_trouble(engine: Engine) -> str | None:
    """Why a PostgreSQL database has no trigram indexes (migration 0017 skipped them): its
    searches then read every row. None when they are there, and on SQLite (none by design)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        if connection.scalar(text("SELECT to_regclass('ix_clauses_search_text_trgm')")):
            return None
        installed = connection.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    if installed:
        return (
            "l'extension PostgreSQL pg_trgm est là, mais les index de recherche n'ont pas pu "
            "être créés (le rôle de connexion n'a peut-être pas le droit d'utiliser le schéma "
            "de l'extension)"
        )
    return (
        "l'extension PostgreSQL pg_trgm n'a pas pu être créée (elle n'est pas installée sur le "
        "serveur, ou le rôle de connexion n'a pas le droit de la créer : il faut être "
        "propriétaire de la base ou superutilisateur)"
    )


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; harmless when run twice."""
    config = alembic_config(engine)
    command.upgrade(config, "head")
    return current_revision(engine) or "?"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


# --- faults of the database itself -----------------------------------------------------------

#: SQLite's primary result codes (``sqlite_errorcode & 0xFF``) that say the disk let it down.
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
#: Below this much free space, an SQLite I/O error is blamed on a full disk.
_NEARLY_FULL = 1024 * 1024
#: PostgreSQL's SQLSTATE for a server out of disk space.
_PG_DISK_FULL = "53100"


def _detail(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__


def database_fault(exc: DBAPIError, url: str, again: str = "relancez la commande") -> str | None:
    """A fault of the database itself, not of the request, in French: its connection lost in
    the middle of a transaction, its disk full or failing. None for anything else (a schema
    behind, a conflict, a server out of reach from the start).

    Each time, the transaction under way was rolled back as a whole: nothing of it is written.
    ``again`` says what comes once the cause is fixed (the service: « le prochain passage … »)."""
    detail = _detail(exc)
    if exc.connection_invalidated:
        return (
            f"La connexion à la base {safe_url(url)} a été coupée en pleine opération (serveur "
            "arrêté ou redémarré, connexion fermée par l'administrateur, réseau coupé) : la "
            "transaction en cours a été annulée en entier, ce qui était validé avant elle reste. "
            f"{again[:1].upper()}{again[1:]} quand la base répond (détail : {detail})."
        )
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == _PG_LOCK_TIMEOUT:
        return (
            f"La base {safe_url(url)} n'a pas pu faire l'opération à temps : elle attendait des "
            "lignes qu'une autre connexion tenait (une autre instance, une commande ou une "
            "session d'administration restée ouverte, une connexion coupée que le serveur n'a "
            "pas encore fermée) ; la transaction en cours a été annulée en entier, ce qui était "
            f"validé avant elle reste. {again[:1].upper()}{again[1:]} (détail : {detail})."
        )
    if sqlstate == _PG_CANCELLED:
        return (
            f"La base {safe_url(url)} a interrompu l'opération : elle a dépassé le délai permis, "
            "ou un administrateur l'a annulée ; la transaction en cours a été annulée en entier, "
            f"ce qui était validé avant elle reste. {again[:1].upper()}{again[1:]} "
            f"(détail : {detail})."
        )
    if sqlstate == _PG_DISK_FULL:
        return (
            f"Le serveur de la base {safe_url(url)} n'a plus de place sur son disque : rien de "
            "l'opération n'a été enregistré. Libérez de la place sur le serveur PostgreSQL, puis "
            f"{again} (détail : {detail})."
        )
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in (_SQLITE_FULL, _SQLITE_IOERR):
        return None
    path = sqlite_path(url)
    where = f"La base SQLite {path}" if path else "La base SQLite"
    folder = path.resolve().parent if path else None
    room = f"Libérez de la place sur le disque de {folder}" if folder else "Libérez de la place"
    if code & 0xFF == _SQLITE_FULL:
        cause = "est pleine : plus de place sur le disque, ou taille limite atteinte"
        remedy = room
    else:
        cause, remedy = _io_cause(folder, room)
        cause = f"n'a pas pu lire ou écrire ses fichiers : {cause}"
    return (
        f"{where} {cause} ; rien de l'opération n'a été enregistré, la base reste comme avant. "
        f"{remedy}, puis {again} (détail : {detail})."
    )


def _io_cause(folder: Path | None, room: str) -> tuple[str, str]:
    """Why SQLite failed to read or write, and what to do: it says only « disk I/O error »."""
    if folder is not None:
        try:
            free: int | None = shutil.disk_usage(folder).free
        except OSError:
            free = None
        if free is not None and free < _NEARLY_FULL:
            return f"le disque est plein ({_bytes(free)} libre{'s' if free > 1 else ''})", room
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return (
            f"la taille des fichiers est limitée pour ce processus (ulimit -f : {_bytes(soft)})",
            "Relevez cette limite (ulimit -f, ou LimitFSIZE du service systemd)",
        )
    return "disque plein, en lecture seule ou défaillant", f"{room} ou vérifiez le disque"


def _bytes(count: int) -> str:
    from workflow.adapters.templates import french_number

    if count == 0:
        return "aucun octet"
    return f"{french_number(count)} octet{'s' if count > 1 else ''}"
