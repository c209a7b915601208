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

Every action is one JSON line on stderr with a stable ``action`` key. The work of a pass, the
reading of the database's faults (a connection cut mid-pass is worth one retry at once) and the
lock that keeps a second service off an SQLite file are the application layer's
(``workflow.app.service``); this module is the clock, the signals and the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from typing import IO, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from workflow.app.admin import database_shown, require_schema
from workflow.app.service import (
    AGAIN,
    PassFault,
    pass_moment,
    run_pass_async,
    single_instance,
)
from workflow.bootstrap import App

__all__ = ["JsonFormatter", "Service", "configure_logging", "serve", "single_instance"]

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

    async def tick(self) -> None:
        """One pass: the clock is read once, everything below gets that instant."""
        assert self._busy is not None
        if self.stopping or self._busy.locked():
            return  # a pass longer than the interval: this one is skipped, without a word
        async with self._busy:
            now = pass_moment(self.app)
            try:
                try:
                    await run_pass_async(self.app, now, self.should_stop)
                except PassFault as fault:
                    if not fault.connection_cut or self.stopping:
                        raise
                    # Cut mid-transaction (server restarted, backend terminated): that
                    # transaction left nothing, the pool reconnects, and the pass run again
                    # redoes only what is left (keys, compare-and-set). Once, not in a loop.
                    log.warning(
                        "connexion à la base coupée pendant le passage : passage refait",
                        extra={"action": "pass.retried", "now": now, "detail": fault.detail},
                    )
                    await run_pass_async(self.app, now, self.should_stop)
            except PassFault as fault:
                log.error(fault.words, extra={"action": "pass.failed", "now": now})
                return
            except Exception:
                # Unforeseen (the mail server's faults are outcomes, not exceptions): the
                # traceback is for whoever has to fix it; the next pass tries again.
                log.exception(
                    "passage échoué ; %s", AGAIN, extra={"action": "pass.failed", "now": now}
                )
                return
            self.passes += 1

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
                "database": database_shown(self.app),
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


async def serve_async(app: App, interval: float = DEFAULT_INTERVAL, *, web: bool = False) -> int:
    """The clock until SIGTERM or SIGINT; with ``web``, the pages too, in the same event loop
    (their requests run the application layer in threads, as the passes do)."""
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
    if not web:
        await service.run(stop)
        return service.passes
    from workflow.entrypoints.web.server import SharedLoopServer, announce, bind, web_config

    listening = bind(app)
    server = SharedLoopServer(web_config(app))
    pages = asyncio.create_task(server.serve(sockets=[listening]))
    announce(app, listening)
    try:
        await service.run(stop)
    finally:
        server.should_exit = True
        await pages
    return service.passes


def serve(app: App, interval: float = DEFAULT_INTERVAL, *, web: bool = False) -> int:
    """Run until SIGTERM or SIGINT; the number of passes made. Refuses a second SQLite service."""
    require_schema(app)
    with single_instance(app.settings.database_url):
        return asyncio.run(serve_async(app, interval, web=web))
