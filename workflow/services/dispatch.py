"""Delivering the outbox: claim due rows, send them through one connection, record each outcome.

States: ``pending`` -> ``sending`` (claimed) -> ``sent`` | ``failed`` (permanent) | ``dead`` (retries
exhausted); a transient failure puts the row back to ``pending`` with a later ``next_attempt_at``.

Several instances may dispatch at once. PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP LOCKED``
and marks the rows ``sending`` in the same short transaction; SQLite claims with a conditional
``UPDATE`` (``WHERE state = 'pending' ...``) inside a ``BEGIN IMMEDIATE`` transaction. A row claimed
by an instance that died stays ``sending``: once its claim is older than ``STALE_CLAIM`` it is due
again.

At-least-once, not exactly-once: a row is marked ``sent`` once the server has accepted it, in a
small group committed within ``GROUP_DELAY`` (50 ms) of the acceptance (``group_size=1`` commits
each message alone). A stop that cancels the pass (``dispatch_due`` turns SIGTERM into that) still
commits the outcomes it has and gives the claimed rows not tried yet back to the queue. What stays
``sending`` is the message in flight at the stop, and, after a crash or a power cut, those accepted
but not yet committed: the stale-claim rule sends them again ten minutes later, a duplicate if the
server had taken them. The deterministic Message-ID lets the receiving side recognise it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update

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
    Mailbox,
    MessageParts,
    build_message,
    mailbox_from_setting,
    parse_recipients,
)
from workflow.adapters.orm import OutboxMessage
from workflow.domain.events import require_aware

if TYPE_CHECKING:
    from workflow.bootstrap import App
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
#: A ``sending`` row claimed longer ago than this belongs to an instance that stopped.
STALE_CLAIM = timedelta(minutes=10)
#: Each wait is stretched or shrunk by up to this share, so retries of many rows spread out.
JITTER = 0.2
BATCH_SIZE = 200
#: Outcomes committed together at most, and the longest an outcome waits for its commit.
GROUP_SIZE = 20
GROUP_DELAY = 0.05

TABLE = cast(Table, OutboxMessage.__table__)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    #: Sent messages of which the server refused at least one recipient.
    partly_refused: int = 0
    #: Set when the pass stopped early: the server could not be reached, or a stop was asked.
    stopped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def due_condition(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.state == "sending", OutboxMessage.claimed_at <= now - STALE_CLAIM),
    )


def claim_due(app: App, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due rows for this instance, in one short transaction."""
    columns = [getattr(OutboxMessage, name) for name in Claimed.__dataclass_fields__]
    query = (
        select(*columns)
        .where(due_condition(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    with app.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return []
        # On PostgreSQL the rows are already ours (locked); on SQLite the condition is the claim.
        claimed = set(
            session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]), due_condition(now))
                .values(state="sending", claimed_at=now)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    return [Claimed(*row) for row in rows if row.id in claimed]


_RECORD = (
    update(TABLE)
    .where(
        TABLE.c.id == bindparam("row_id"),
        TABLE.c.state == "sending",
        TABLE.c.claimed_at == bindparam("claim"),
    )
    .values(
        state=bindparam("new_state"),
        attempts=bindparam("new_attempts"),
        next_attempt_at=bindparam("new_next"),
        last_error=bindparam("new_error"),
        refused_recipients=bindparam("new_refused"),
        sent_at=bindparam("new_sent_at"),
        claimed_at=None,
    )
)


def record_outcomes(app: App, claimed_at: datetime, outcomes: Sequence[Outcome]) -> None:
    """One commit for the given outcomes; only rows still claimed by this pass are touched."""
    params = [
        {
            "row_id": o.id,
            "claim": claimed_at,
            "new_state": o.state,
            "new_attempts": o.attempts,
            "new_next": o.next_attempt_at,
            "new_error": o.last_error,
            "new_refused": o.refused_recipients,
            "new_sent_at": o.sent_at,
        }
        for o in outcomes
    ]
    with app.transaction() as session:
        session.connection().execute(_RECORD, params)


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
        "sent",
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
        return Outcome(row.id, "failed", attempts, last_error=f"Refus définitif : {text}")
    delay = retry_delay(attempts, rand)
    if delay is None:
        return Outcome(
            row.id, "dead", attempts, last_error=f"Abandon après {attempts} tentatives : {text}"
        )
    return Outcome(
        row.id,
        "pending",
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

    def build(self, row: Claimed) -> OutgoingMessage:
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
            date=row.created_at,
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
        claimed_at: datetime,
        report: DispatchReport,
        group_size: int = GROUP_SIZE,
        group_delay: float = GROUP_DELAY,
    ) -> None:
        self.app = app
        self.claimed_at = claimed_at
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
        if outcome.state == "sent":
            report.sent += 1
            report.partly_refused += outcome.refused_recipients is not None
        elif outcome.state == "pending":
            report.retried += 1
        elif outcome.state == "failed":
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
            await asyncio.to_thread(self._commit, group)

    def _commit(self, group: Sequence[Outcome]) -> None:
        record_outcomes(self.app, self.claimed_at, group)
        self.commits += 1

    async def close(self) -> None:
        """Commit everything still waiting. The waiting group is written by a plain call first,
        so that a cancellation (SIGTERM) arriving now cannot keep accepted messages unmarked."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self.waiting = self.waiting, []
        if group:
            self._commit(group)
        if self._writing is not None:
            await asyncio.shield(self._writing)


def release_claims(app: App, rows: Sequence[Claimed], claimed_at: datetime) -> None:
    """Give rows claimed ahead back to the queue untouched: this pass will not send them."""
    if not rows:
        return
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([row.id for row in rows]),
                OutboxMessage.state == "sending",
                OutboxMessage.claimed_at == claimed_at,
            )
            .values(state="pending", claimed_at=None)
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
            "error": outcome.last_error,
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

    def __init__(self, factory: MessageFactory, batch: Sequence[Claimed]) -> None:
        self.factory = factory
        self.batch = batch
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
            return self.factory.build(self.batch[index])
        except Exception as exc:  # raised again, or recorded, at the row's own turn
            return exc


async def _deliver_batch(
    connection: MailConnection,
    factory: MessageFactory,
    batch: Sequence[Claimed],
    recorder: Recorder,
    now: datetime,
    rand: Callable[[], float],
    should_stop: Callable[[], bool],
) -> None:
    ahead = MessagesAhead(factory, batch)
    try:
        for index, row in enumerate(batch):
            if should_stop():
                # Asked to stop (SIGTERM): the message before this one was finished and will be
                # recorded; this one and the rest go back to the queue for the next start.
                release_claims(recorder.app, batch[index:], now)
                recorder.report.stopped = STOP_REQUESTED
                return
            message = ahead.take(index)
            try:
                if isinstance(message, Exception):
                    raise message  # the build failed: handled as if it had just been raised
                ahead.prepare(index + 1)
                accepted = await connection.send(message)
            except (asyncio.CancelledError, KeyboardInterrupt):
                # Stopped mid-batch: the rows not tried yet go back to the queue at once. The
                # one in flight stays ``sending``; the stale-claim rule resends it if the server
                # had not taken it (and duplicates it if it had: the at-least-once edge).
                release_claims(recorder.app, batch[index + 1 :], now)
                raise
            except ConnectionFailure as exc:
                # The server is out of reach: every row left in the batch waits like this one.
                for rest in batch[index:]:
                    recorder.add(failed_outcome(rest, exc, now, rand))
                recorder.report.stopped = exc.message
                log.warning(
                    "mail server unreachable",
                    extra={"action": "mail.unreachable", "error": exc.message},
                )
                return
            except (TransientFailure, PermanentFailure) as exc:
                _record_failure(row, exc, recorder, now, rand)
                continue
            recorder.add(sent_outcome(row, accepted, now))
    finally:
        ahead.cancel()


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
) -> DispatchReport:
    """Send every row due at ``now``: claim a batch, send it, record the outcomes, repeat.

    The next batch is claimed (in a worker thread) while the current one is on the wire. Rows
    that fail go back with a later ``next_attempt_at``, so the loop ends once nothing due is left;
    it also stops at the first batch that cannot reach the server, and between two messages once
    ``should_stop()`` says so (the service's SIGTERM), giving the rows not sent back to the queue.
    """
    require_aware(now)
    transport = transport or app.transport
    factory = MessageFactory(app.settings)
    report = DispatchReport()
    recorder = Recorder(app, now, report, group_size=group_size)

    def claim() -> asyncio.Future[list[Claimed]]:
        return asyncio.ensure_future(asyncio.to_thread(claim_due, app, now, batch_size))

    async with transport.connect() as connection:
        claiming: asyncio.Future[list[Claimed]] | None = claim()
        try:
            while claiming is not None:
                batch = await claiming
                claiming = claim() if batch else None
                report.claimed += len(batch)
                await _deliver_batch(connection, factory, batch, recorder, now, rand, should_stop)
                if report.stopped is not None:
                    break
        finally:
            await recorder.close()
            if claiming is not None:
                # Stopped early (server out of reach, error, cancellation): rows claimed ahead
                # go back untouched; if even this fails, the stale-claim rule frees them.
                release_claims(app, await asyncio.shield(claiming), now)
    log.info(
        "mail dispatched",
        extra={"action": "mail.dispatch", "commits": recorder.commits, **report.as_dict()},
    )
    return report


def dispatch_due(
    app: App,
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    group_size: int = GROUP_SIZE,
    rand: Callable[[], float] = random.random,
    transport: MailTransport | None = None,
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
            )
        except asyncio.CancelledError:
            if terminated:
                raise SystemExit(128 + signal.SIGTERM) from None
            raise
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGTERM)  # back to SIG_DFL

    return asyncio.run(run())
