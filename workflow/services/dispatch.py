"""Delivering the outbox: claim due rows, send them through one connection, record each outcome.

States (``OutboxState``): ``pending`` -> ``sending`` (claimed) -> ``sent`` | ``failed`` (permanent) |
``dead`` (retries exhausted); a transient failure puts the row back to ``pending`` with a later
``next_attempt_at``; ``uncertain`` is a row whose claim ended while it was on the wire.

Several instances may dispatch at once, so a claim has an owner and a lease. Each run of the
dispatcher has its own id (``claimed_by``: host, pid, random part) and holds its rows until
``lease_until``, on the real clock of the machine (never a simulated one: two simulations would
otherwise each judge the other's claims stale). PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP
LOCKED``; SQLite claims with a conditional ``UPDATE`` inside a ``BEGIN IMMEDIATE`` transaction.

Before sending, the owner *fences* its rows: one committed ``UPDATE ... WHERE id IN (...) AND
claimed_by = ? AND state = 'sending' AND lease_until > now`` that extends their lease and notes
``send_started_at``, a few rows at a time, taken ahead while the messages before them are on the
wire, never more than ``FENCE_WINDOW`` rows fenced and not handed to the server (``FencesAhead``);
a fence older than a third of the lease is taken again before its row goes. Fences and outcomes
are committed on connections the pass holds (``Ledger``), each commit a short transaction of its
own. A row another instance took over (its lease had ended) fails the fence
and is not sent here. Outcomes are recorded under the same ownership condition; a run that finds
one of its rows gone logs it. When a lease ends:

- on a row never handed to the server (no ``send_started_at``), any instance may claim it again:
  its owner would fail the fence, so it cannot be sent twice;
- on a fenced row, the owner may have delivered it: the row becomes ``uncertain`` and is never
  sent again silently (a row fenced ahead but never sent is given back by its owner if alive). ``CLAUSES_UNCERTAIN_MAIL=ask`` (the default) leaves it to the
  facilitator (digest, ``clauses mail retry N°``); ``resend`` sends it again. An owner still alive
  that then learns the answer (accepted, or refused for good) records it over ``uncertain``.

The lease (``CLAUSES_MAIL_LEASE``, 20 minutes by default; ``LEASE`` where no settings are at hand)
outlasts the longest single send (connection timeout plus the
final-dot timeout, 10 minutes), and the owner extends the lease of every row it holds at each fence
once a third of it has gone by, so a live sender does not lose its rows, however slow the server.

Outcomes are committed in small groups within ``GROUP_DELAY`` (50 ms) of the acceptance
(``group_size=1`` commits each alone). A stop that cancels the pass (``dispatch_due`` turns SIGTERM
into that) still commits the outcomes it has and gives the claimed rows not handed over back to the
queue. The crash window: a message accepted by the server whose outcome was not committed yet
(the instance killed, the power cut) ends ``uncertain`` once its lease is over, not sent again,
and so do the few rows fenced with it (at most ``FENCE_WINDOW``), although they never left; with
``resend`` they go again, and their Message-ID (the same on every attempt) lets the receiving side
recognise a duplicate.

A pass that fails (an outcome commit the database refuses, a statement timed out) gives back at
once the rows it claimed and did not hand to the server (the batch claimed ahead, the rest of its
batch, the rows fenced ahead): the next pass, or another instance, sends them without waiting for
their lease. The rows handed over stay ``sending`` for ``mark_uncertain``.

On PostgreSQL the dispatcher's own statements (claim, fence, outcomes, giving rows back) are
bounded (``CLAUSES_MAIL_DB_TIMEOUT``, ``CLAUSES_MAIL_DB_LOCK_TIMEOUT``; ``statement_limits``): a
lock held by another connection (a session left open, a connection cut that the server has not
closed yet) fails the pass instead of holding it forever; with the engine's TCP keepalives
(``db.Keepalives``), so does a server out of reach.

Transports that reach real inboxes (SMTP) never get a row dated after the real clock, whatever
instant the caller passes: a simulated or ``--now`` pass may queue mail for the future, not send it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import random
import secrets
import select as selectors
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from workflow.adapters.db import StatementLimits, limit_statements, timed_out
from workflow.adapters.dialects import skipping_locked
from workflow.adapters.mail import (
    Accepted,
    ConnectionFailure,
    DeliveryError,
    MailConnection,
    MailTransport,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from workflow.adapters.mail.message import (
    AddressRefused,
    Attachment,
    Mailbox,
    MessageParts,
    build_message,
    mailbox_from_setting,
    parse_recipients,
)
from workflow.adapters.orm import OutboxMessage
from workflow.domain.events import require_aware
from workflow.domain.privacy import mask_addresses
from workflow.services.outage_copies import (
    COPIED_KINDS,
    RECENT,
    OutageNotice,
    copy_stranded,
    outage_notice,
)
from workflow.services.outbox import (
    OUTAGE_ERROR_PREFIX,
    OutageWaiting,
    OutboxState,
    message_attachments,
    outage_waiting,
    outage_waiting_condition,
)

if TYPE_CHECKING:
    from workflow.runtime import App
    from workflow.settings import Settings

log = logging.getLogger(__name__)

#: Waits after the 1st, 2nd, ... failed attempt; a failure after the last one makes the row dead.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: How long a claim holds a row without news from its owner (see the module's docstring).
LEASE = timedelta(minutes=20)
#: Each wait is stretched or shrunk by up to this share, so retries of many rows spread out.
JITTER = 0.2
BATCH_SIZE = 200
#: The exit code of ``mail send`` and ``tick`` when the server could not be reached or refused
#: the session: mail is waiting, which cron and monitors must see.
EXIT_DELIVERY_FAILED = 3
#: Whoever has to read the uncertain rows: the log names them with this action.
UNCERTAIN_ACTION = "mail.uncertain"
#: Outcomes committed together at most, and the longest an outcome waits for its commit.
GROUP_SIZE = 20
GROUP_DELAY = 0.05

TABLE = cast(Table, OutboxMessage.__table__)


def statement_limits(app: App) -> StatementLimits | None:
    """How long the dispatcher's own statements may run and wait for a lock (PostgreSQL;
    SQLite waits for its one writer ``busy_timeout``, 10 s): a lock held by a connection that
    went silent, or a network cut, fails the pass instead of holding it forever."""
    if app.engine.dialect.name != "postgresql":
        return None
    settings = app.settings
    return StatementLimits(settings.mail_db_timeout, settings.mail_db_lock_timeout)


def _limit(app: App, bind: Any) -> None:
    """``statement_limits`` for the transaction under way on ``bind``."""
    limits = statement_limits(app)
    if limits is not None:
        limit_statements(bind, limits, local=True)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    #: Sent messages of which the server refused at least one recipient.
    partly_refused: int = 0
    #: Rows this pass found whose lease ended mid-send, now ``uncertain``.
    uncertain: int = 0
    #: Rows taken over by another instance before this one could send or record them.
    lost: int = 0
    #: Set when the pass stopped early: the server could not be reached, or a stop was asked.
    stopped: str | None = None
    #: The server could not be reached or refused the session (the CLI's exit code 3).
    outage: bool = False
    #: Rows waiting for the route made due at once because a send of this pass went through
    #: (the route is back): they leave in this same pass. Not in ``as_dict`` (the CLI's keys).
    released: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The counters the CLI shows (``mail send --json``, ``tick --json``), by English name."""
        data = asdict(self)
        del data["released"]
        return data


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    kind: str
    recipients: str
    subject: str
    body_text: str
    body_html: str
    attempts: int
    created_at: datetime
    message_token: str | None = None
    #: Loaded with the claim, for the whole batch in one query (``message_attachments``).
    attachments: tuple[Attachment, ...] = ()


#: The outbox columns a claim reads, in ``Claimed``'s order.
_CLAIMED_COLUMNS = tuple(name for name in Claimed.__dataclass_fields__ if name != "attachments")
_CLAIM_RETURNS = tuple(getattr(OutboxMessage, name) for name in _CLAIMED_COLUMNS)


@dataclass(frozen=True)
class Outcome:
    """What one attempt did to one row; written by ``record_outcomes``."""

    id: int
    state: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    refused_recipients: str | None = None
    sent_at: datetime | None = None


def retry_delay(failed_attempts: int, rand: Callable[[], float]) -> timedelta | None:
    """The wait before the next attempt after ``failed_attempts`` failures; None: give up."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[failed_attempts - 1]
    return base * (1 - JITTER + 2 * JITTER * rand())


def real_now() -> datetime:
    """The machine's clock: leases, and the limit on what may reach real inboxes."""
    return datetime.now(UTC)


def new_owner() -> str:
    """An id for one run of the dispatcher, unique across hosts, processes and runs."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def _lease_over(wall_now: datetime) -> Any:
    return or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= wall_now)


def due_condition(
    now: datetime,
    wall_now: datetime | None = None,
    *,
    resend_uncertain: bool = False,
    sendable_until: datetime | None = None,
    outage_now: bool = False,
) -> Any:
    """Rows a pass at ``now`` has to deal with: pending ones due, claims whose lease is over
    (judged on the real clock ``wall_now``), and with ``resend`` the uncertain ones.

    ``sendable_until``: nothing created or due after it (the real clock, for SMTP).
    ``outage_now``: also the rows waiting for a route that was down, whatever their retry slot
    (a person asked to send now: ``clauses mail send``)."""
    wall_now = wall_now or real_now()
    due = now if sendable_until is None else min(now, sendable_until)
    branches = [
        and_(
            OutboxMessage.state == OutboxState.PENDING.value, OutboxMessage.next_attempt_at <= due
        ),
        and_(OutboxMessage.state == OutboxState.SENDING.value, _lease_over(wall_now)),
    ]
    if resend_uncertain:
        # Left out rather than ``AND false``: SQLite then reads the whole outbox (bench_idle_pass).
        branches.append(OutboxMessage.state == OutboxState.UNCERTAIN.value)
    condition = or_(*branches)
    # Waiting for the route, whatever their retry slot (set from the moment of their last try),
    # but none queued after this pass's instant (a simulated clock may have written ahead).
    waiting = and_(outage_waiting_condition(), OutboxMessage.created_at <= due)
    if sendable_until is None:
        return or_(condition, waiting) if outage_now else condition
    condition = and_(
        condition,
        OutboxMessage.created_at <= sendable_until,
        or_(
            OutboxMessage.next_attempt_at.is_(None),
            OutboxMessage.next_attempt_at <= sendable_until,
        ),
    )
    return or_(condition, waiting) if outage_now else condition


def release_outage_waiting(app: App, due: datetime) -> int:
    """Make every row waiting for the route due at ``due`` (the pass's instant, never after the
    real clock for SMTP): a send just went through, so the route is back, and they need not wait
    for their retry slot (up to 6 hours). None queued after ``due``. The number of rows made
    due."""
    condition = and_(
        outage_waiting_condition(),
        OutboxMessage.next_attempt_at > due,
        OutboxMessage.created_at <= due,
    )
    # No statement limit here: after a long outage on the month's first morning this one update
    # makes hundreds of thousands of rows due, which may take longer than a claim is allowed;
    # failing it would leave them all waiting for their retry slot.
    with app.transaction() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(condition)
            .values(next_attempt_at=due)
            .execution_options(synchronize_session=False)
        )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def mark_uncertain(session: Any, wall_now: datetime) -> list[int]:
    """Rows handed to the server whose lease ended before their outcome was recorded."""
    expired = select(OutboxMessage.id).where(
        OutboxMessage.state == OutboxState.SENDING.value,
        OutboxMessage.send_started_at.is_not(None),
        _lease_over(wall_now),
    )
    # Rows an owner is recording right now are skipped, not waited for: no lock cycle.
    expired = skipping_locked(expired, session)
    ids = list(session.scalars(expired))
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.state == OutboxState.SENDING.value,
            _lease_over(wall_now),
        )
        .values(state=OutboxState.UNCERTAIN.value, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    for outbox_id in ids:
        log.warning(
            "courriel incertain : son envoi a dépassé le bail de l'instance qui l'envoyait",
            extra={"action": UNCERTAIN_ACTION, "outbox_id": outbox_id},
        )
    return ids


@dataclass(frozen=True)
class Claim:
    """Who claims, until when, and which rows may be claimed: one dispatcher run's terms."""

    owner: str
    lease: timedelta = LEASE
    resend_uncertain: bool = False
    #: The real clock's limit on what may be sent (``reaches_inboxes`` transports), or None.
    sendable_until: datetime | None = None
    #: Take the rows waiting for the route at once, whatever their retry slot.
    outage_now: bool = False


def claim_due(
    app: App,
    now: datetime,
    limit: int,
    terms: Claim | None = None,
    wall_now: datetime | None = None,
    report: DispatchReport | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due rows for this run, in one short transaction."""
    terms = terms or Claim(new_owner())
    wall_now = wall_now or real_now()
    condition = due_condition(
        now,
        wall_now,
        resend_uncertain=terms.resend_uncertain,
        sendable_until=terms.sendable_until,
        outage_now=terms.outage_now,
    )
    # Never an email whose promised date has passed (``stale_promises``: written again before
    # the claim; one another instance has not written again yet waits for it).
    due = now if terms.sendable_until is None else min(now, terms.sendable_until)
    condition = and_(
        condition,
        or_(
            OutboxMessage.promised_until.is_(None),
            OutboxMessage.promised_until > due,
            OutboxMessage.state == OutboxState.UNCERTAIN.value,
        ),
    )
    # The ids first: the sort and the row locks carry two columns, not the bodies (6 kB each);
    # the columns a send needs come back from the claim's own UPDATE (RETURNING).
    query = (
        select(OutboxMessage.id)
        .where(condition)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    with app.transaction() as session:
        _limit(app, session)
        uncertain = mark_uncertain(session, wall_now)
        if report is not None:
            report.uncertain += len(uncertain)
        query = skipping_locked(query, session)
        ids = list(session.scalars(query))
        if not ids:
            return []
        # On PostgreSQL the rows are already ours (locked); on SQLite the condition is the claim.
        rows = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), condition)
            .values(
                state=OutboxState.SENDING.value,
                claimed_at=wall_now,
                claimed_by=terms.owner,
                lease_until=wall_now + terms.lease,
                send_started_at=None,
            )
            .returning(*_CLAIM_RETURNS)
            .execution_options(synchronize_session=False)
        ).all()
        files = message_attachments(session, sorted(row.id for row in rows)) if rows else {}
    order = {row_id: place for place, row_id in enumerate(ids)}
    return [
        Claimed(**row._asdict(), attachments=tuple(files.get(row.id, ())))
        for row in sorted(rows, key=lambda row: order[row.id])
    ]


# Built once, run on a bare connection: fences must cost little (BENCHMARKS.md).
_FENCE = (
    update(TABLE)
    .where(
        TABLE.c.id.in_(bindparam("row_ids", expanding=True)),
        TABLE.c.claimed_by == bindparam("owner"),
        TABLE.c.state == OutboxState.SENDING.value,
        TABLE.c.lease_until > bindparam("wall_now"),
    )
    .values(lease_until=bindparam("until"), send_started_at=bindparam("wall_now"))
    .returning(TABLE.c.id)
)
_HELD = (
    TABLE.c.claimed_by == bindparam("owner"),
    TABLE.c.state == OutboxState.SENDING.value,
    TABLE.c.lease_until > bindparam("wall_now"),
)
# The rows another transaction holds are skipped, never waited for: on PostgreSQL the pass's
# fences and outcome commits run side by side (``Ledger``), and two refreshes, or a refresh and
# an outcome commit, each locking rows the other wants, would deadlock. A row skipped is being
# fenced (its lease extended) or recorded by this run; else the next refresh, a third of the
# lease later, takes it. SQLite (one writer at a time) has no row locks: ``FOR UPDATE`` is
# left out there by SQLAlchemy.
_REFRESH = (
    update(TABLE)
    .where(TABLE.c.id.in_(select(TABLE.c.id).where(*_HELD).with_for_update(skip_locked=True)))
    .values(lease_until=bindparam("until"))
)
#: Rows fenced and not handed to the server yet, at most (what a crash can leave uncertain
#: although it never left, besides the row on the wire).
FENCE_WINDOW = 4
#: Rows fenced by one commit once under way: the next ones are fenced while the messages before
#: them go, a commit having ``FENCE_WINDOW - FENCE_CHUNK + 1`` sends to come back in.
FENCE_CHUNK = 2


def fence_chunk(app: App) -> int:
    """``FENCE_CHUNK`` where a commit waits for the disk (PostgreSQL); on SQLite (no flush at
    commit, one writer at a time) a whole window per commit, the fewest commits."""
    return FENCE_CHUNK if app.engine.dialect.name == "postgresql" else FENCE_WINDOW


@contextmanager
def _committed(app: App, connection: Connection | None) -> Iterator[Connection]:
    """One transaction, committed on leaving: on ``connection`` if given (a ``Ledger``'s),
    else on a connection from the pool."""
    if connection is None:
        with app.engine.begin() as pooled:
            _limit(app, pooled)
            yield pooled
    else:  # a ledger's: its session carries the limits (``Ledger._connection``)
        with connection.begin():
            yield connection


_T = TypeVar("_T")


class Ledger:
    """The pass's own connections for its fences and outcomes, each held by one worker thread
    from its first commit to the end of the pass.

    A commit taken from the pool costs a checkout and, on PostgreSQL, a liveness ping (one more
    round trip, paid while the loop may be waiting for that very fence): with one fence every
    two messages, that was about a fifth of the fence's time (BENCHMARKS.md). Each transaction stays
    one short commit; only the connection outlives it. A connection the server closed while it
    was idle is replaced before its next use, as the pool's ping would (``_cut_while_idle``); a
    connection cut under a statement is replaced and the statement made again (``run``); a
    connection that fails otherwise is closed (the pool checks it before lending it again) and
    the next call opens another. SQLite has one writer at a time: one thread there, so that
    fences queue here instead of in its busy handler; PostgreSQL gets ``workers`` threads, so
    that a fence ahead and an outcome commit share the WAL flush instead of waiting for each
    other."""

    def __init__(self, app: App, workers: int = 3) -> None:
        self.app = app
        if app.engine.dialect.name == "sqlite":
            workers = 1
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="clauses-ledger")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.connections: list[Connection] = []
        self._fence: DriverFence | None = None
        self.limits = statement_limits(app)

    def fence(self, connection: Connection) -> DriverFence:
        """The fence statement for this database's driver, made once."""
        if self._fence is None:
            self._fence = DriverFence(connection)
        return self._fence

    def submit(self, func: Callable[[Connection], _T]) -> asyncio.Future[_T]:
        """``func(connection)`` in one of the ledger's threads, on that thread's connection,
        handed to the thread now (not at the loop's next turn)."""
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(
            self.executor, context.run, self.run, func
        )

    def run(self, func: Callable[[Connection], _T]) -> _T:
        """``func`` on the calling thread's connection, replaced first if the server closed it
        while it was idle, as the pool's ping at checkout would: a cut between two transactions
        goes unnoticed.

        A cut under ``func`` (mid-transaction: SQLAlchemy's ``DBAPIError``,
        ``connection_invalidated``) is made good by running ``func`` once more on a new
        connection: what the ledger runs is made to be run twice (a fence made again extends the
        same lease; an outcome group committed again finds its rows written, ``record_outcomes``),
        so the pass goes on as after a cut between two transactions, instead of stopping with
        messages on the wire and failing although nothing was lost. A second failure, or any
        other error, fails the pass as anywhere else; an outcome group it was writing is kept
        (``Recorder``)."""
        connection = self._connection()
        try:
            return func(connection)
        except DBAPIError as exc:
            self._drop(connection)
            if not exc.connection_invalidated:
                raise
            log.warning(
                "connexion à la base coupée pendant l'envoi : opération refaite sur une autre",
                extra={"action": "mail.db_reconnected", "detail": str(exc.orig).partition("\n")[0]},
            )
        except BaseException:
            self._drop(connection)
            raise
        connection = self._connection()
        try:
            return func(connection)
        except BaseException:
            self._drop(connection)
            raise

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self.local, "connection", None)
        if connection is not None and _cut_while_idle(connection):
            with suppress(Exception):
                connection.invalidate()
            self._drop(connection)
            connection = None
        if connection is None:
            connection = self.app.engine.connect()
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
            if self.limits is not None:
                # Once for the connection's session, not at each fence (one more round trip
                # each); taken off when it goes back to the pool.
                limit_statements(connection, self.limits, local=False)
        return connection

    def _drop(self, connection: Connection) -> None:
        """Close a connection that failed; the thread's next call takes another."""
        self.local.connection = None
        with self.lock:
            self.connections.remove(connection)
        with suppress(Exception):  # a cut connection may fail to give itself back
            connection.close()

    def close(self) -> None:
        """Wait for the commits under way, then give the connections back to the pool."""
        self.executor.shutdown(wait=True)
        for connection in self.connections:
            with suppress(Exception):  # one cut since its last use: the pool drops it
                connection.close()
        self.connections.clear()


def _cut_while_idle(connection: Connection) -> bool:
    """Whether the server closed this connection since its last transaction (restarted, backend
    terminated): the pool's ping at checkout, paid only where the server sent something while
    the connection was idle (its goodbye), not a round trip at each use. SQLite: never."""
    driver = connection.connection.dbapi_connection
    fileno = getattr(driver, "fileno", None)
    if driver is None or fileno is None:
        return False
    try:
        # ``poll``, not ``select``: a process with a thousand files open has descriptors that
        # ``select`` refuses, and every fence would then reconnect.
        poller = selectors.poll()
        poller.register(fileno(), selectors.POLLIN)
        if not poller.poll(0):
            return False
        return not connection.dialect.do_ping(driver)
    except Exception:  # closed, or the ping failed: cut
        return True


def fence_rows(
    app: App,
    row_ids: Sequence[int],
    terms: Claim,
    wall_now: datetime,
    refresh: bool = False,
    connection: Connection | None = None,
) -> set[int]:
    """The rows of ``row_ids`` this run still holds: their lease extended, noted handed over.

    Committed before their sends: no other instance can take them until the new lease ends.
    ``refresh`` also extends every other row this run holds (the rest of its batches, and the
    rows fenced ahead): the run is alive and moving on."""
    values = {
        "row_ids": list(row_ids),
        "owner": terms.owner,
        "wall_now": wall_now,
        "until": wall_now + terms.lease,
    }
    with _committed(app, connection) as writer:
        ours = set(writer.execute(_FENCE, values).scalars())
        if ours and refresh:
            writer.execute(_REFRESH, values)
    return ours


class DriverFence:
    """``_FENCE`` written for the database driver itself, for a ledger's connection: the same
    statement and values, without SQLAlchemy's work per execution (caching key, parameter
    expansion, result wrapping), more than half of a fence's CPU time (BENCHMARKS.md); the
    fence runs every two to four messages.

    The transaction is the driver's own: ``BEGIN IMMEDIATE`` on SQLite (as ``make_engine``
    does), the driver's implicit one on PostgreSQL; committed before returning, rolled back
    on any error, so the SQLAlchemy connection around it never sees a transaction open. A
    driver error is raised as SQLAlchemy would raise it (``DBAPIError``, a cut connection
    ``connection_invalidated`` and the connection invalidated), so that the ledger's retry and
    the service's account of a database fault see it as they see any other statement's.
    Datetimes are converted as SQLAlchemy converts them for this dialect (on SQLite, the
    same text, microseconds included)."""

    def __init__(self, connection: Connection) -> None:
        dialect = connection.dialect
        self.dialect = dialect
        self.sqlite = dialect.name == "sqlite"
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        column_type = TABLE.c.lease_until.type.dialect_impl(dialect)
        self.to_db: Callable[[Any], Any] = column_type.bind_processor(dialect) or (lambda v: v)
        self.statements: dict[int, str] = {}

    def sql(self, count: int) -> str:
        statement = self.statements.get(count)
        if statement is None:
            m = self.mark
            ids = ", ".join([m] * count)
            statement = self.statements[count] = (
                f"UPDATE {TABLE.name} SET lease_until = {m}, send_started_at = {m} "
                f"WHERE id IN ({ids}) AND claimed_by = {m} AND state = {m} "
                f"AND lease_until > {m} RETURNING id"
            )
        return statement

    def __call__(
        self, connection: Connection, row_ids: Sequence[int], terms: Claim, wall_now: datetime
    ) -> set[int]:
        wall, until = self.to_db(wall_now), self.to_db(wall_now + terms.lease)
        values = (until, wall, *row_ids, terms.owner, OutboxState.SENDING.value, wall)
        driver = connection.connection.dbapi_connection
        assert driver is not None
        statement = self.sql(len(row_ids))
        try:
            cursor = driver.cursor()
            try:
                if self.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(statement, values)
                ours = {int(found[0]) for found in cursor.fetchall()}
                driver.commit()
            finally:
                with suppress(Exception):
                    cursor.close()
        except BaseException as exc:
            error = self.dialect.loaded_dbapi.Error
            cut = isinstance(exc, error) and self.dialect.is_disconnect(exc, driver, None)
            with suppress(Exception):  # on a cut connection the rollback fails too
                driver.rollback()
            if not isinstance(exc, error):
                raise
            if cut:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                statement,
                values,
                exc,
                error,
                connection_invalidated=cut,
                dialect=self.dialect,
            ) from exc
        return ours


def fence(app: App, row_id: int, terms: Claim, wall_now: datetime, refresh: bool = False) -> bool:
    """``fence_rows`` for one row: True while this run still holds it."""
    return row_id in fence_rows(app, [row_id], terms, wall_now, refresh)


_RECORD = (
    update(TABLE)
    .where(
        TABLE.c.id.in_(bindparam("row_ids", expanding=True)),
        TABLE.c.claimed_by == bindparam("owner"),
        # An uncertain row is still this run's to settle with a sure answer (accepted, refused
        # for good): what it knows beats what the other instance could only suspect.
        or_(
            TABLE.c.state == OutboxState.SENDING.value,
            and_(TABLE.c.state == OutboxState.UNCERTAIN.value, bindparam("resolves")),
        ),
    )
    .values(
        state=bindparam("new_state"),
        attempts=bindparam("new_attempts"),
        next_attempt_at=bindparam("new_next"),
        last_error=bindparam("new_error"),
        refused_recipients=bindparam("new_refused"),
        sent_at=bindparam("new_sent_at"),
        claimed_at=None,
        lease_until=None,
        send_started_at=None,
    )
    .returning(TABLE.c.id)
)

#: Outcomes that say for sure whether the message arrived.
_SURE = (OutboxState.SENT.value, OutboxState.FAILED.value)


def record_outcomes(
    app: App, owner: str, outcomes: Sequence[Outcome], connection: Connection | None = None
) -> list[Outcome]:
    """One commit for the given outcomes, on the rows this run still holds; returns the others.

    Outcomes that write the same values (the messages of a pass accepted at first try: the same
    state, attempt count and ``sent_at``) go in one ``UPDATE ... WHERE id IN (...)``, which
    returns the rows it changed. ``claimed_by`` stays on a recorded row: it says which run
    sent it."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for o in outcomes:
        values = (o.state, o.attempts, o.next_attempt_at, o.last_error, o.refused_recipients)
        groups.setdefault((*values, o.sent_at), []).append(o.id)
    recorded: set[int] = set()
    with _committed(app, connection) as writer:
        for (state, attempts, next_at, error, refused, sent_at), ids in groups.items():
            params = {
                "row_ids": ids,
                "owner": owner,
                "resolves": state in _SURE,
                "new_state": state,
                "new_attempts": attempts,
                "new_next": next_at,
                "new_error": error,
                "new_refused": refused,
                "new_sent_at": sent_at,
            }
            recorded.update(writer.execute(_RECORD, params).scalars())
        missed = [o.id for o in outcomes if o.id not in recorded]
        if missed:
            # Already in its new state under this run: the same commit made again, its first
            # try having gone through before its connection was found cut (``Ledger``).
            found = writer.execute(
                select(TABLE.c.id, TABLE.c.state).where(
                    TABLE.c.id.in_(missed), TABLE.c.claimed_by == owner
                )
            )
            states = {row_id: state for row_id, state in found}
            recorded.update(o.id for o in outcomes if states.get(o.id) == o.state)
    return [o for o in outcomes if o.id not in recorded]


def sent_outcome(row: Claimed, accepted: Accepted, now: datetime) -> Outcome:
    refused = None
    error = None
    if accepted.refused:
        refused = "\n".join(f"{address} : {reply}" for address, reply in accepted.refused.items())
        error = "Destinataire(s) refusé(s) par le serveur : " + "; ".join(
            f"{address} ({reply})" for address, reply in accepted.refused.items()
        )
    return Outcome(
        row.id,
        OutboxState.SENT,
        row.attempts + 1,
        last_error=error,
        refused_recipients=refused,
        sent_at=now,
    )


def failed_outcome(
    row: Claimed, error: DeliveryError, now: datetime, rand: Callable[[], float]
) -> Outcome:
    attempts = row.attempts + 1
    text = error.message[:2000]
    if isinstance(error, PermanentFailure):
        return Outcome(row.id, OutboxState.FAILED, attempts, last_error=f"Refus définitif : {text}")
    if isinstance(error, ConnectionFailure):
        # The route is down, not the message: it waits for the route (the longest delay at
        # most) and is never given up for it. The prefix lets the digest group the outage.
        delay = retry_delay(min(attempts, MAX_ATTEMPTS - 1), rand)
        assert delay is not None
        return Outcome(
            row.id,
            OutboxState.PENDING,
            attempts,
            next_attempt_at=now + delay,
            last_error=f"{OUTAGE_ERROR_PREFIX}{text}",
        )
    delay = retry_delay(attempts, rand)
    if delay is None:
        return Outcome(
            row.id,
            OutboxState.DEAD,
            attempts,
            last_error=f"Abandon après {attempts} tentatives : {text}",
        )
    return Outcome(
        row.id,
        OutboxState.PENDING,
        attempts,
        next_attempt_at=now + delay,
        last_error=f"Échec passager : {text}",
    )


class MessageFactory:
    """Turns claimed rows into wire messages with the sender and reply-to from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.sender = mailbox_from_setting(settings.mail_from, settings.facilitator_name)
        self.reply_to = Mailbox(settings.facilitator_name, settings.facilitator_email)
        self.zone = settings.zone

    def build(self, row: Claimed, date: datetime | None = None) -> OutgoingMessage:
        """``date`` (``Date:``) is when the message leaves; by default when it was queued."""
        try:
            recipients = parse_recipients(row.recipients)
        except AddressRefused as exc:
            raise PermanentFailure(str(exc)) from exc
        if not recipients:
            raise PermanentFailure("aucun destinataire")
        parts = MessageParts(
            key=row.key,
            sender=self.sender,
            reply_to=self.reply_to,
            recipients=recipients,
            subject=row.subject,
            text=row.body_text,
            html=row.body_html,
            date=date or row.created_at,
            attachments=row.attachments,
            token=row.message_token,
        )
        return OutgoingMessage(
            key=row.key,
            kind=row.kind,
            sender=self.sender.address,
            recipients=tuple(r.address for r in recipients),
            data=build_message(parts, self.zone),
        )


class Recorder:
    """Outcomes waiting for their commit, counted in the report as they come.

    Outcomes are committed in small groups, in a worker thread while the next messages are on the
    wire: a group goes as soon as ``group_size`` outcomes wait, and in any case ``group_delay``
    seconds after its first one (a timer on the event loop), so a row is marked within 50 ms of its
    acceptance by default, whatever the server's pace. One commit per message would be the
    tightest, but each costs a round of SQLAlchemy work and, on PostgreSQL, a WAL flush: grouping
    is what keeps the dispatcher within reach of a bare SMTP loop (BENCHMARKS.md).
    """

    def __init__(
        self,
        app: App,
        owner: str,
        report: DispatchReport,
        group_size: int = GROUP_SIZE,
        group_delay: float = GROUP_DELAY,
        ledger: Ledger | None = None,
    ) -> None:
        self.app = app
        self.ledger = ledger
        self.owner = owner
        self.report = report
        self.group_size = group_size
        self.group_delay = group_delay
        self.waiting: list[Outcome] = []
        self.commits = 0
        self._due = False
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[None] | None = None

    def add(self, outcome: Outcome) -> None:
        self.waiting.append(outcome)
        report = self.report
        if outcome.state == OutboxState.SENT:
            report.sent += 1
            report.partly_refused += outcome.refused_recipients is not None
        elif outcome.state == OutboxState.PENDING:
            report.retried += 1
        elif outcome.state == OutboxState.FAILED:
            report.failed += 1
        else:
            report.dead += 1
        if len(self.waiting) >= self.group_size:
            self._start()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.group_delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._due = True
        self._start()

    def _start(self) -> None:
        if self._writing is not None:
            if not self._writing.done():
                return  # the writer takes the new group when the commit in flight ends
            self._writing.result()  # a failed commit stops the pass here
        self._writing = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self.waiting and (self._due or len(self.waiting) >= self.group_size):
            group, self.waiting, self._due = self.waiting, [], False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                if self.ledger is None:
                    await asyncio.to_thread(self._commit, group)
                else:
                    await self.ledger.submit(partial(self._commit, group))
            except BaseException:
                # Not committed (or not known to be): the group waits again, for ``close``
                # (the pass stops at the next outcome, ``_start``). Committed twice, it changes
                # nothing the second time: ``record_outcomes`` finds its rows already written.
                self.waiting[:0] = group
                raise

    def _commit(self, group: Sequence[Outcome], connection: Connection | None = None) -> None:
        lost = record_outcomes(self.app, self.owner, group, connection)
        self.commits += 1
        for outcome in lost:
            # Its lease ended and another instance took the row (or it stayed uncertain): what
            # happened here is in this line only, the outbox does not have it.
            self.report.lost += 1
            log.warning(
                "courriel repris par une autre instance : résultat non enregistré",
                extra={
                    "action": "mail.lost",
                    "outbox_id": outcome.id,
                    "outcome": outcome.state,
                    "owner": self.owner,
                },
            )

    async def close(self) -> None:
        """Commit everything still waiting. The waiting group is written by a plain call first,
        so that a cancellation (SIGTERM) arriving now cannot keep accepted messages unmarked."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self.waiting = self.waiting, []
        if group:
            self._commit_here(group)
        if self._writing is not None:
            try:
                await asyncio.shield(self._writing)
            finally:
                # A commit that failed in the worker gave its group back: one more try here.
                group, self.waiting = self.waiting, []
                if group:
                    self._commit_here(group)

    def _commit_here(self, group: Sequence[Outcome]) -> None:
        """``_commit`` in the calling thread; on the ledger's terms if the pass has one (a cut
        under it made good, ``Ledger.run``), as the commits of its worker threads."""
        if self.ledger is None:
            self._commit(group)
        else:
            self.ledger.run(partial(self._commit, group))


def release_claims(
    app: App, rows: Sequence[Claimed], owner: str, unsent: Sequence[int] = ()
) -> None:
    """Give rows claimed ahead back to the queue untouched: this pass will not send them.

    A row already handed to the server (fenced) is not given back, since it may have arrived,
    unless it is in ``unsent``: fenced ahead, known not to have left."""
    ids = {row.id for row in rows} | set(unsent)
    if not ids:
        return
    with app.transaction() as session:
        _limit(app, session)
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(sorted(ids)),
                OutboxMessage.claimed_by == owner,
                or_(
                    and_(
                        OutboxMessage.state == OutboxState.SENDING.value,
                        OutboxMessage.send_started_at.is_(None),
                    ),
                    # Known not sent: back even if another instance, seeing the lease over,
                    # made it uncertain meanwhile.
                    and_(
                        OutboxMessage.id.in_(sorted(set(unsent)) or [-1]),
                        OutboxMessage.state.in_(
                            (OutboxState.SENDING.value, OutboxState.UNCERTAIN.value)
                        ),
                    ),
                ),
            )
            .values(
                state=OutboxState.PENDING.value,
                claimed_at=None,
                claimed_by=None,
                lease_until=None,
                send_started_at=None,
            )
            .execution_options(synchronize_session=False)
        )


#: What ``DispatchReport.stopped`` says when the service asked the pass to stop.
STOP_REQUESTED = "arrêt demandé"


def _log_failure(row: Claimed, outcome: Outcome) -> None:
    """One line per message the server did not take, so an operator sees which and why."""
    log.warning(
        "mail not delivered",
        extra={
            "action": f"mail.{'retry' if outcome.state == 'pending' else outcome.state}",
            "outbox_id": row.id,
            "kind": row.kind,
            "attempts": outcome.attempts,
            "error": mask_addresses(outcome.last_error),  # the row keeps who was refused
        },
    )


class MessagesAhead:
    """Builds each row's wire message while the message before it is on the wire.

    ``prepare(i)`` schedules the build of row ``i`` as a loop callback just before a send: it runs
    once the send has written its first command and waits for the server, time the loop would
    otherwise spend idle (BENCHMARKS.md). ``take(i)`` returns that message, or builds it then if
    the callback did not run (a send that never waited). What a build raises is returned, not
    raised, so that it reaches its own row at its own turn.
    """

    def __init__(
        self,
        factory: MessageFactory,
        batch: Sequence[Claimed],
        date: Callable[[], datetime] | None = None,
    ) -> None:
        self.factory = factory
        self.batch = batch
        self.date = date
        self.built: dict[int, OutgoingMessage | Exception] = {}
        self.pending: asyncio.Handle | None = None

    def prepare(self, index: int) -> None:
        if index < len(self.batch):
            self.pending = asyncio.get_running_loop().call_soon(self._build_into, index)

    def take(self, index: int) -> OutgoingMessage | Exception:
        self.cancel()
        built = self.built.pop(index, None)
        return built if built is not None else self._build(index)

    def cancel(self) -> None:
        if self.pending is not None:
            self.pending.cancel()  # harmless once it has run
            self.pending = None

    def _build_into(self, index: int) -> None:
        self.built[index] = self._build(index)

    def _build(self, index: int) -> OutgoingMessage | Exception:
        try:
            return self.factory.build(self.batch[index], self.date() if self.date else None)
        except Exception as exc:  # raised again, or recorded, at the row's own turn
            return exc


@dataclass
class Pass:
    """What one dispatcher run carries through its batches."""

    app: App
    now: datetime
    terms: Claim
    wall: Callable[[], datetime]
    rand: Callable[[], float]
    should_stop: Callable[[], bool]
    reaches_inboxes: bool
    #: The real clock at the start, to date each message when it leaves.
    wall_start: datetime = field(default_factory=real_now)
    refreshed: datetime | None = None
    #: A send of this pass went through: the route works (``release_outage_waiting``).
    route_works: bool = False
    #: Where fences are committed; None: a worker thread and a pooled connection each time.
    ledger: Ledger | None = None
    #: Rows per fence commit once under way (``FencesAhead``).
    fence_chunk: int = FENCE_CHUNK

    def send_date(self) -> datetime:
        """The pass's instant moved on by the time spent since; never ahead of the real clock
        for real inboxes."""
        wall = self.wall()
        date = self.now + (wall - self.wall_start)
        return min(date, wall) if self.reaches_inboxes else date

    def fence(
        self, rows: Sequence[Claimed], connection: Connection | None = None
    ) -> tuple[datetime, set[int]]:
        """When the fence was taken, and the rows it kept."""
        wall = self.wall()
        # Extending every row held costs one more statement: once a third of the lease is gone.
        refresh = self.refreshed is None or wall - self.refreshed >= self.terms.lease / 3
        ids = [row.id for row in rows]
        if connection is not None and not refresh and self.ledger is not None:
            ours = self.ledger.fence(connection)(connection, ids, self.terms, wall)
        else:
            ours = fence_rows(self.app, ids, self.terms, wall, refresh, connection)
        if ours and refresh:
            self.refreshed = wall
        return wall, ours

    def fence_in_thread(self, rows: Sequence[Claimed]) -> asyncio.Future[tuple[datetime, set[int]]]:
        """``fence`` in a worker thread (the ledger's, if the pass has one), started now."""
        if self.ledger is None:
            return asyncio.ensure_future(asyncio.to_thread(self.fence, rows))
        return self.ledger.submit(lambda connection: self.fence(rows, connection))

    def fresh(self, fenced_at: datetime) -> bool:
        """A fence younger than a third of the lease leaves room for the longest send."""
        return self.wall() - fenced_at < self.terms.lease / 3


class FencesAhead:
    """Fences rows a few at a time, the next few while the messages before them are on the
    wire, in a worker thread.

    One commit per message, waited for between two sends, would cost a database round trip per
    message (half the dispatcher's pace on SQLite). Fenced ahead, a row counts as handed over a
    few messages early: a crash in that window leaves it ``uncertain`` although it never left,
    the safe side, so never more than ``window`` rows are fenced and not handed over. A stop
    gives such rows back (``unsent``), since they are known not sent.

    The first fence of a batch takes a whole window; then ``chunk`` rows at a time, as soon as
    they fit in the window. With a chunk of half the window (PostgreSQL, where a commit waits for
    the disk), a fence has two or three sends to come back in instead of one; with a chunk of
    the whole window (SQLite), there are half as many commits.
    """

    def __init__(
        self,
        run: Pass,
        batch: Sequence[Claimed],
        window: int = FENCE_WINDOW,
        chunk: int | None = None,
    ) -> None:
        self.run = run
        self.batch = batch
        self.window = window
        self.chunk = max(1, min(run.fence_chunk if chunk is None else chunk, window))
        #: Each window: its first row's index, its row count, its fence (the ids it kept).
        self.windows: list[tuple[int, int, asyncio.Future[tuple[datetime, set[int]]]]] = []
        self.covered = 0  # rows [0, covered) have a fence started
        self.tried = 0  # rows [0, tried) were handed to the connection or settled

    def start(self) -> None:
        """Fence a whole window if no fence covers the next row to try; else the next ``chunk``
        rows as soon as they fit within ``window`` rows fenced and not handed over."""
        while self.covered < len(self.batch):
            if self.covered <= self.tried:
                count = self.window
            elif self.covered + self.chunk <= self.tried + self.window:
                count = self.chunk
            else:
                return
            rows = self.batch[self.covered : self.covered + count]
            future = self.run.fence_in_thread(rows)
            self.windows.append((self.covered, len(rows), future))
            self.covered += len(rows)

    def _fence_of(self, index: int) -> asyncio.Future[tuple[datetime, set[int]]] | None:
        for first, count, future in self.windows:
            if first <= index < first + count:
                return future
        return None

    async def take(self, index: int) -> bool:
        """Whether this run still holds row ``index``, fenced; from here on it counts as tried."""
        self.tried = index
        self.start()
        self.tried = index + 1
        future = self._fence_of(index)
        assert future is not None  # start() covered it
        row = self.batch[index]
        fenced_at, ours = await future
        if row.id in ours and not self.run.fresh(fenced_at):
            # The send before took long: fenced again now, in case the lease ran out meanwhile.
            fenced_at, ours = await self.run.fence_in_thread([row])
        if row.id in ours:
            return True
        # Another instance took it, or found its lease over and made it uncertain: this run
        # knows it never left, so an uncertain row of its own goes back to the queue.
        run = self.run
        await asyncio.to_thread(release_claims, run.app, [], run.terms.owner, [row.id])
        return False

    async def settle(self, index: int) -> None:
        """Row ``index`` gets an outcome without a send: a fence on it must be committed first."""
        future = self._fence_of(index)
        if future is not None:
            await asyncio.gather(future, return_exceptions=True)
        self.tried = max(self.tried, index + 1)

    async def unsent(self) -> list[int]:
        """Rows fenced and not tried: their fences are waited for, then they may go back."""
        ids = []
        for first, count, future in self.windows:
            try:
                _, ours = await asyncio.shield(future)
            except Exception:  # a failed fence fenced nothing
                continue
            for index in range(max(first, self.tried), first + count):
                if self.batch[index].id in ours:
                    ids.append(self.batch[index].id)
        self.windows.clear()
        return ids


async def _deliver_batch(
    connection: MailConnection,
    factory: MessageFactory,
    batch: Sequence[Claimed],
    recorder: Recorder,
    run: Pass,
) -> None:
    ahead = MessagesAhead(factory, batch, run.send_date)
    fences = FencesAhead(run, batch)
    now, rand, owner = run.now, run.rand, run.terms.owner
    try:
        for index, row in enumerate(batch):
            if run.should_stop():
                # Asked to stop (SIGTERM): the message before this one was finished and will be
                # recorded; this one and the rest go back to the queue for the next start.
                release_claims(recorder.app, batch[index:], owner, await fences.unsent())
                recorder.report.stopped = STOP_REQUESTED
                return
            message = ahead.take(index)
            try:
                if isinstance(message, Exception):
                    # The build failed: handled as if it had just been raised; its outcome
                    # (refused) replaces a fence taken ahead.
                    await fences.settle(index)
                    raise message
                if not await fences.take(index):
                    _log_lost(row, owner)
                    recorder.report.lost += 1
                    continue
                ahead.prepare(index + 1)
                fences.start()
                accepted = await connection.send(message)
                run.route_works = True
            except (asyncio.CancelledError, KeyboardInterrupt):
                # Stopped mid-batch: the rows not handed over go back to the queue at once. The
                # one in flight stays ``sending``; once its lease is over it is ``uncertain``.
                fences.tried = index + 1  # the row in flight is not given back
                release_claims(recorder.app, batch[index + 1 :], owner, await fences.unsent())
                fences.tried = len(batch)  # given back: not again below
                raise
            except ConnectionFailure as exc:
                # The server is out of reach: every row left in the batch waits like this one.
                fences.tried = len(batch)  # every row gets an outcome below, which clears it
                await fences.unsent()
                for rest in batch[index:]:
                    recorder.add(failed_outcome(rest, exc, now, rand))
                recorder.report.stopped = exc.message
                recorder.report.outage = True
                log.warning(
                    exc.message,
                    extra={
                        "action": "mail.unreachable",
                        "error": exc.message,
                        "detail": exc.detail,
                    },
                )
                return
            except (TransientFailure, PermanentFailure) as exc:
                _record_failure(row, exc, recorder, now, rand)
                continue
            recorder.add(sent_outcome(row, accepted, now))
    except BaseException:
        # An error (an outcome commit the database refused, a fence that failed): the rows of
        # the batch not handed over go back now, with those fenced ahead, instead of waiting
        # for their lease; the pass fails all the same. A row handed over stays for
        # ``mark_uncertain``: ``tried`` counts it, and its fence noted it handed over.
        unsent = await fences.unsent() if fences.windows else []
        _release_after_error(recorder.app, batch[fences.tried :], owner, unsent)
        raise
    finally:
        ahead.cancel()
        if fences.windows:  # rows fenced and not tried (none on a normal end): they go back
            release_claims(recorder.app, [], owner, await fences.unsent())


async def _release_ahead_after_error(
    app: App, claiming: asyncio.Future[list[Claimed]], owner: str
) -> None:
    """Give back the batch claimed ahead by a pass that fails; the claim itself may have
    failed (nothing claimed, its transaction rolled back)."""
    try:
        rows = await asyncio.shield(claiming)
    except Exception:
        return
    _release_after_error(app, rows, owner)


def _release_after_error(
    app: App, rows: Sequence[Claimed], owner: str, unsent: Sequence[int] = ()
) -> None:
    """``release_claims`` on a pass's failure path: a release that fails too (the database
    still refusing) is logged, not raised over the error that failed the pass; the rows then
    wait for their lease, as before."""
    if not rows and not unsent:
        return
    try:
        release_claims(app, rows, owner, unsent)
    except Exception as exc:
        log.warning(
            "courriels réservés non rendus à la file : ils repartiront à la fin de leur bail",
            extra={
                "action": "mail.release_failed",
                "count": len({row.id for row in rows} | set(unsent)),
                "detail": str(getattr(exc, "orig", None) or exc).partition("\n")[0],
            },
        )


def _log_timed_out(app: App, exc: DBAPIError) -> None:
    """A statement of the pass stopped by PostgreSQL: said with the settings that bound it."""
    limits = statement_limits(app)
    bounds = (
        f" (au plus {limits.lock:g} s d'attente d'un verrou, CLAUSES_MAIL_DB_LOCK_TIMEOUT, et "
        f"{limits.statement:g} s par opération, CLAUSES_MAIL_DB_TIMEOUT)"
        if limits is not None
        else ""
    )
    log.warning(
        "envoi interrompu : la base n'a pas répondu à temps%s ; les courriels pas encore "
        "remis au serveur retournent dans la file, le prochain passage les envoie",
        bounds,
        extra={
            "action": "mail.db_timeout",
            "detail": str(exc.orig).partition("\n")[0],
        },
    )


def _log_released(count: int) -> None:
    log.info(
        "serveur d'envoi de nouveau joignable : les courriels qui l'attendaient partent maintenant",
        extra={"action": "mail.route_back", "count": count},
    )


def _log_lost(row: Claimed, owner: str) -> None:
    log.warning(
        "courriel repris par une autre instance : pas envoyé par celle-ci",
        extra={"action": "mail.lost", "outbox_id": row.id, "kind": row.kind, "owner": owner},
    )


def _record_failure(
    row: Claimed,
    error: DeliveryError,
    recorder: Recorder,
    now: datetime,
    rand: Callable[[], float],
) -> None:
    outcome = failed_outcome(row, error, now, rand)
    _log_failure(row, outcome)
    recorder.add(outcome)


async def dispatch_due_async(
    app: App,
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    group_size: int = GROUP_SIZE,
    rand: Callable[[], float] = random.random,
    transport: MailTransport | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    wall: Callable[[], datetime] = real_now,
    lease: timedelta | None = None,
    outage_now: bool = False,
) -> DispatchReport:
    """Send every row due at ``now``: claim a batch, send it, record the outcomes, repeat.

    The next batch is claimed (in a worker thread) while the current one is on the wire. Rows
    that fail go back with a later ``next_attempt_at``, so the loop ends once nothing due is left;
    it also stops at the first batch that cannot reach the server, and between two messages once
    ``should_stop()`` says so (the service's SIGTERM), giving the rows not sent back to the queue.

    Rows waiting for a route that was down wait for their retry slot (up to 6 hours), so that a
    server still down is not tried at every pass; but once a send of the pass goes through, the
    route is back and all of them are made due, and leave in the same pass. ``outage_now`` takes
    them at once, slot or not: a person asked to send now (``clauses mail send``).

    ``wall`` is the real clock (leases, and for SMTP the limit on what may be sent), read here
    and not taken from ``now``, which a simulation or ``tick --now`` may set anywhere.
    """
    require_aware(now)
    transport = transport or app.transport
    factory = MessageFactory(app.settings)
    report = DispatchReport()
    start = wall()
    reaches_inboxes = transport.reaches_inboxes
    terms = Claim(
        new_owner(),
        lease if lease is not None else timedelta(seconds=app.settings.mail_lease),
        resend_uncertain=app.settings.uncertain_mail == "resend",
        sendable_until=start if reaches_inboxes else None,
        outage_now=outage_now,
    )
    due = now if terms.sendable_until is None else min(now, terms.sendable_until)
    # Before any claim: an email whose promised date has passed at ``due`` leaves written
    # again as things stand now, never as it was (the claim below takes none of them).
    await asyncio.to_thread(_write_stale_promises, app, due, start)
    ledger = Ledger(app)
    run = Pass(
        app,
        now,
        terms,
        wall,
        rand,
        should_stop,
        reaches_inboxes,
        wall_start=start,
        ledger=ledger,
        fence_chunk=fence_chunk(app),
    )
    recorder = Recorder(app, terms.owner, report, group_size=group_size, ledger=ledger)

    def claim() -> asyncio.Future[list[Claimed]]:
        return asyncio.ensure_future(
            asyncio.to_thread(claim_due, app, now, batch_size, terms, wall(), report)
        )

    async with transport.connect() as connection:
        claiming: asyncio.Future[list[Claimed]] | None = claim()
        #: Rows were made due after the claim in flight had started: it may not have seen them.
        released_since_claim = False
        looked_for_waiting = False
        failed = False
        try:
            while claiming is not None:
                batch = await claiming
                if not batch and released_since_claim:
                    released_since_claim = False
                    claiming = claim()
                    continue
                claiming = claim() if batch else None
                report.claimed += len(batch)
                await _deliver_batch(connection, factory, batch, recorder, run)
                if report.stopped is not None:
                    break
                if run.route_works and not looked_for_waiting:
                    # The route is back: what waited for it leaves now, in this pass.
                    looked_for_waiting = True
                    report.released = await asyncio.to_thread(release_outage_waiting, app, due)
                    if report.released:
                        _log_released(report.released)
                        if claiming is None:
                            claiming = claim()
                        else:
                            released_since_claim = True
        except BaseException as exc:
            failed = True
            if isinstance(exc, DBAPIError) and timed_out(exc):
                _log_timed_out(app, exc)
            raise
        finally:
            try:
                closed = False
                try:
                    await recorder.close()
                    closed = True
                except DBAPIError as exc:
                    if not failed and timed_out(exc):  # the last outcomes' commit timed out
                        _log_timed_out(app, exc)
                    raise
                finally:
                    # Stopped early (server out of reach, stop asked, error, cancellation):
                    # rows claimed ahead go back untouched, also when the pass fails or its
                    # last outcomes cannot be committed (the database refusing them), so that
                    # they need not wait for their lease.
                    if claiming is not None and (failed or not closed):
                        await _release_ahead_after_error(app, claiming, terms.owner)
                    elif claiming is not None:
                        release_claims(app, await asyncio.shield(claiming), terms.owner)
            finally:
                ledger.close()
    if reaches_inboxes:
        _warn_future(app, start)
    if report.outage:
        # The digest that would tell the facilitator is stuck behind the same route; it may
        # have been written before the outage was known: its copy says it first.
        copy_time = wall()
        stranded, waiting = await asyncio.to_thread(stranded_digests, app, now, copy_time)
        if stranded and waiting is not None:
            notice = outage_notice(app.settings, waiting, copy_time)
            await copy_stranded(
                app.settings,
                stranded,
                lambda row: factory.build(with_notice(row, notice), copy_time),
            )
    log.info(
        "mail dispatched",
        extra={
            "action": "mail.dispatch",
            "commits": recorder.commits,
            "released": report.released,
            **report.as_dict(),
        },
    )
    return report


def _write_stale_promises(app: App, due: datetime, wall_now: datetime) -> int:
    """``stale_promises.write_stale_again`` in a short transaction of its own."""
    # Imported here: the builders import most of the services, which the dispatcher needs not.
    from workflow.services.promise_rewriters import REWRITERS
    from workflow.services.stale_promises import write_stale_again

    try:
        with app.transaction() as session:
            _limit(app, session)
            return write_stale_again(app, session, due, wall_now, REWRITERS)
    except DBAPIError:
        # The database or the connection itself (a cut, a lock timeout on the look for stale
        # rows, the commit refused): a fault of the pass like any other, redone at once
        # (``serve``'s retry). One row the database refuses is not that: ``write_stale_again``
        # leaves it as it was and goes on.
        raise
    except Exception:
        # Never a reason for no mail to leave: the claim takes no stale row, those wait for
        # the next delivery; every other email goes now.
        log.exception(
            "écriture à nouveau des courriels à date passée échouée ; les autres partent",
            extra={"action": "mail.stale_promises_failed"},
        )
        return 0


def with_notice(row: Claimed, notice: OutageNotice) -> Claimed:
    """``row`` with ``notice`` before its text and inside its HTML body, for its copy on disk."""
    return replace(
        row,
        body_text=notice.before_text(row.body_text),
        body_html=notice.inside_html(row.body_html),
    )


def stranded_digests(
    app: App, now: datetime, wall_now: datetime
) -> tuple[list[Claimed], OutageWaiting | None]:
    """The facilitator's digests of the days before ``now`` waiting for a route that is down
    (none dated after the real clock), and what the outage holds back, read together."""
    columns = [getattr(OutboxMessage, name) for name in _CLAIMED_COLUMNS]
    with app.transaction() as session:
        waiting = outage_waiting(session, with_last_sent=True)
        rows = session.execute(
            select(*columns).where(
                OutboxMessage.kind.in_(COPIED_KINDS),
                OutboxMessage.state == OutboxState.PENDING.value,
                OutboxMessage.last_error.startswith(OUTAGE_ERROR_PREFIX, autoescape=True),
                OutboxMessage.created_at >= now - RECENT,
                OutboxMessage.created_at <= min(now, wall_now),
            )
        ).all()
        files = message_attachments(session, [row.id for row in rows])
    return [
        Claimed(**row._asdict(), attachments=tuple(files.get(row.id, ()))) for row in rows
    ], waiting


def _warn_future(app: App, wall_now: datetime) -> None:
    """Mail queued for a moment still to come (a simulated clock): kept, and said once."""
    with app.transaction() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.state == OutboxState.PENDING.value,
                OutboxMessage.created_at > wall_now,
            )
        )
    if waiting:
        log.warning(
            "courriels datés dans le futur : gardés, pas envoyés avant leur date réelle",
            extra={"action": "mail.future", "count": int(waiting)},
        )


def dispatch_due(
    app: App,
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    group_size: int = GROUP_SIZE,
    rand: Callable[[], float] = random.random,
    transport: MailTransport | None = None,
    wall: Callable[[], datetime] = real_now,
    lease: timedelta | None = None,
    outage_now: bool = False,
) -> DispatchReport:
    """The same for synchronous callers (CLI, simulations); not from inside a running loop.

    In the main thread of a process with no SIGTERM handler, SIGTERM cancels the pass instead of
    killing the process outright, so the outcomes already known are committed first; the pass then
    ends with ``SystemExit(143)``.
    """

    async def run() -> DispatchReport:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        terminated = []

        def on_sigterm() -> None:
            terminated.append(True)
            if task is not None:
                task.cancel()

        # Only where SIGTERM would kill the process outright: a handler someone else installed
        # (the scheduler's own) is left alone.
        installed = False
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            try:
                loop.add_signal_handler(signal.SIGTERM, on_sigterm)
                installed = True
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
                pass
        try:
            return await dispatch_due_async(
                app,
                now,
                batch_size=batch_size,
                group_size=group_size,
                rand=rand,
                transport=transport,
                wall=wall,
                lease=lease,
                outage_now=outage_now,
            )
        except asyncio.CancelledError:
            if terminated:
                raise SystemExit(128 + signal.SIGTERM) from None
            raise
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGTERM)  # back to SIG_DFL

    return asyncio.run(run())
