"""``clauses serve``: the long-running service. APScheduler 3 is only its clock.

One interval job reads the clock once and runs a pass at that instant: queue what is due (ladders,
digest, summaries; in a worker thread, short transactions) then dispatch the outbox. What is due
lives in the database, never in APScheduler's job store (kept in memory), so a restart, a second
instance on PostgreSQL or a clock change loses and repeats nothing.

SIGTERM and SIGINT stop it gracefully: no new pass starts, the pass under way stops between two
transactions, and the dispatch under way finishes the messages it has claimed, so nothing is left
half-written. On SQLite a second ``serve`` on the same database file is refused (an OS lock on
``<db>.lock``); on PostgreSQL several instances may run, ``SKIP LOCKED`` and unique keys keep them
apart.

Every action is one JSON line on stderr with a stable ``action`` key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import DBAPIError

from workflow.adapters.db import current_revision, database_fault, safe_url, sqlite_path
from workflow.bootstrap import App
from workflow.errors import InputRefused, SchedulerAlreadyRunning
from workflow.services.dispatch import dispatch_due_async
from workflow.services.ticks import PassReport, log_pass, outbox_has_due, queue_work

log = logging.getLogger("workflow.service")

DEFAULT_INTERVAL = 60.0
MISFIRE_GRACE = 3600

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, ``action``, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "action": getattr(record, "action", None),
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in data:
                data[name] = value
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler's own chatter ("Running job...") would double every line; keep its warnings.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextlib.contextmanager
def single_instance(database_url: str) -> Iterator[Path | None]:
    """Hold ``<db>.lock`` while the service runs on an SQLite file; nothing on PostgreSQL.

    The lock is the kernel's (``flock``): it goes away with the process, even after a crash, so a
    stale file never blocks a restart.
    """
    database = sqlite_path(database_url)
    if database is None:
        yield None
        return
    import fcntl

    lock = database.with_name(database.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = lock.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise SchedulerAlreadyRunning(
            f"Un service « clauses serve » tourne déjà sur la base SQLite {database} "
            f"(processus {holder}, verrou {lock}). Arrêtez-le avant d'en lancer un autre : "
            "sur SQLite, un seul service à la fois. Pour plusieurs instances, utilisez PostgreSQL."
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield lock
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def require_schema(app: App) -> None:
    if current_revision(app.engine) is None:
        raise InputRefused(
            f"La base {safe_url(app.settings.database_url)} n'est pas initialisée : lancez d'abord "
            "« clauses init »."
        )


#: What follows a failed pass, in its log line.
AGAIN = "le prochain passage refait le travail"


class Service:
    """The pass job and the graceful stop around it."""

    def __init__(self, app: App, interval: float = DEFAULT_INTERVAL) -> None:
        self.app = app
        self.interval = interval
        self.stopping = False
        self.passes = 0
        self._busy: asyncio.Lock | None = None

    def should_stop(self) -> bool:
        return self.stopping

    async def _run_pass(self, now: datetime) -> PassReport:
        report = await asyncio.to_thread(queue_work, self.app, now, self.should_stop)
        due = await asyncio.to_thread(outbox_has_due, self.app, now)
        if due and not self.stopping:
            report.dispatch = await dispatch_due_async(self.app, now, should_stop=self.should_stop)
        return report

    async def tick(self) -> None:
        """One pass: the clock is read once, everything below gets that instant."""
        assert self._busy is not None
        if self.stopping or self._busy.locked():
            return  # a pass longer than the interval: this one is skipped, without a word
        async with self._busy:
            now = self.app.clock()
            try:
                try:
                    report = await self._run_pass(now)
                except DBAPIError as exc:
                    if not exc.connection_invalidated or self.stopping:
                        raise
                    # Cut mid-transaction (server restarted, backend terminated): that
                    # transaction left nothing, the pool reconnects, and the pass run again
                    # redoes only what is left (keys, compare-and-set). Once, not in a loop.
                    log.warning(
                        "connexion à la base coupée pendant le passage : passage refait",
                        extra={
                            "action": "pass.retried",
                            "now": now,
                            "detail": str(exc.orig).splitlines()[0] if exc.orig else "",
                        },
                    )
                    report = await self._run_pass(now)
            except DBAPIError as exc:
                url = self.app.settings.database_url
                words = database_fault(exc, url, again=AGAIN) or (
                    f"passage échoué, la base a refusé l'opération : {exc.orig} ; {AGAIN}"
                )
                log.error(words, extra={"action": "pass.failed", "now": now})
                return
            except Exception:
                # Unforeseen (the mail server's faults are outcomes, not exceptions): the
                # traceback is for whoever has to fix it; the next pass tries again.
                log.exception(
                    "passage échoué ; %s", AGAIN, extra={"action": "pass.failed", "now": now}
                )
                return
            self.passes += 1
            log_pass(report)

    async def run(self, stop: asyncio.Event) -> None:
        self._busy = asyncio.Lock()
        settings = self.app.settings
        scheduler = AsyncIOScheduler(
            timezone=settings.zone,
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE,
                # Two, so that APScheduler starts the tick that falls during a long pass and
                # ``tick`` drops it: at one, APScheduler logs an English warning (no ``action``)
                # every interval while a long dispatch runs.
                "max_instances": 2,
            },
        )
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval,
            id="pass",
            name="passage du service",
            next_run_time=datetime.now(settings.zone),
        )
        scheduler.start()
        log.info(
            "service started",
            extra={
                "action": "service.started",
                "pid": os.getpid(),
                "interval": self.interval,
                "timezone": settings.timezone,
                "database": safe_url(settings.database_url),
                "transport": self.app.transport.describe(),
            },
        )
        try:
            await stop.wait()
        finally:
            self.stopping = True
            scheduler.pause()
            async with self._busy:  # the pass under way ends at its next transaction boundary
                scheduler.shutdown(wait=False)
            log.info(
                "service stopped",
                extra={"action": "service.stopped", "passes": self.passes},
            )


async def serve_async(app: App, interval: float = DEFAULT_INTERVAL) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(number: int) -> None:
        log.info(
            "stop requested",
            extra={"action": "service.stopping", "signal": signal.Signals(number).name},
        )
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_signal, number)
    service = Service(app, interval)
    await service.run(stop)
    return service.passes


def serve(app: App, interval: float = DEFAULT_INTERVAL) -> int:
    """Run until SIGTERM or SIGINT; the number of passes made. Refuses a second SQLite service."""
    require_schema(app)
    with single_instance(app.settings.database_url):
        return asyncio.run(serve_async(app, interval))
