"""PostgreSQL never leaves a pass waiting forever: TCP keepalives, and timeouts on its statements.

- Every connection of the service's engines probes a silent server (``CLAUSES_DB_KEEPALIVES_*``):
  read here from the kernel's own socket options of a real connection.
- The dispatcher's short statements (claim, fence, outcomes, giving rows back) are bounded
  (``CLAUSES_MAIL_DB_TIMEOUT``, ``CLAUSES_MAIL_DB_LOCK_TIMEOUT``): an outcome commit blocked by a
  lock another connection holds fails after the lock timeout, the pass fails with a French line,
  the rows not handed over go back to the queue at once, and the next pass sends each once. The
  limits stay with the dispatcher: a connection back in the pool has PostgreSQL's defaults.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.smtp_server import Received, ScriptedHandler, running_server
from tests.integration.test_dispatch import NOW, queue
from tests.integration.test_dispatch_connection_cut import run_bounded
from tests.integration.test_dispatch_failed_pass_release import message_keys, outbox_rows
from workflow.adapters.db import Keepalives, make_engine
from workflow.app.service import PassFault, _pass_faults
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

pytestmark = pytest.mark.postgres


def socket_keepalives(engine: Engine) -> tuple[int, int, int, int, int]:
    """SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT (ms) of one
    of ``engine``'s connections, as the kernel has them."""
    with engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        assert isinstance(driver, psycopg.Connection)
        probe = socket.socket(fileno=os.dup(driver.fileno()))
        try:
            return (
                probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            )
        finally:
            probe.close()  # the duplicate only: the connection keeps its own descriptor


def test_every_postgresql_connection_probes_a_silent_server(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = make_settings(tmp_path, postgres_url)
    # The defaults: a silent server found out after 30 + 10 × 3 = 60 s, not two hours and more.
    assert (
        settings.db_keepalives_idle,
        settings.db_keepalives_interval,
        settings.db_keepalives_count,
    ) == (30, 10, 3)
    app = bootstrap(settings, clock=clock)
    try:
        assert socket_keepalives(app.engine) == (1, 30, 10, 3, 60_000)
    finally:
        app.close()
    engine = make_engine(postgres_url, keepalives=Keepalives(idle=7, interval=3, count=2))
    try:
        assert socket_keepalives(engine) == (1, 7, 3, 2, 13_000)
        with engine.connect() as connection:
            driver = connection.connection.dbapi_connection
            assert isinstance(driver, psycopg.Connection)
            parameters = driver.info.get_parameters()
        assert {k: parameters.get(k) for k in ("keepalives", "keepalives_idle")} == {
            "keepalives": "1",
            "keepalives_idle": "7",
        }
    finally:
        engine.dispose()


def test_the_settings_read_the_timeouts_and_keepalives_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAUSES_MAIL_DB_TIMEOUT", "12.5")
    monkeypatch.setenv("CLAUSES_MAIL_DB_LOCK_TIMEOUT", "4")
    monkeypatch.setenv("CLAUSES_DB_KEEPALIVES_IDLE", "15")
    monkeypatch.setenv("CLAUSES_DB_KEEPALIVES_INTERVAL", "5")
    monkeypatch.setenv("CLAUSES_DB_KEEPALIVES_COUNT", "4")
    settings = Settings()
    assert (settings.mail_db_timeout, settings.mail_db_lock_timeout) == (12.5, 4.0)
    assert (
        settings.db_keepalives_idle,
        settings.db_keepalives_interval,
        settings.db_keepalives_count,
    ) == (15, 5, 4)


COUNT = 12
HELD = "m00"


class LockingHandler(ScriptedHandler):
    """A real SMTP server that, when ``HELD``'s message arrives, has another connection lock
    that row (``SELECT … FOR UPDATE``, as a command or an administrator's session left open
    would) until ``release``; it answers every message after the first a little slowly, so
    that the pass is still sending when the recording of ``HELD`` gives up."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.keys: dict[str, str] = {}
        self.locked = threading.Event()
        self.release = threading.Event()
        self.holder: threading.Thread | None = None
        self.answer_delay = self._delay

    def _delay(self, received: Received) -> float:
        return 0.0 if self._key(received) == HELD else 0.4

    def _key(self, received: Received) -> str:
        return self.keys[str(received.message["Message-ID"])]

    def _hold(self) -> None:
        with psycopg.connect(self.url) as holder:
            holder.execute("SELECT id FROM outbox WHERE key = %s FOR UPDATE", [HELD])
            self.locked.set()
            self.release.wait(30)  # bounded: the test ends it at once
            holder.rollback()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        if self._key(received) == HELD and self.holder is None:
            self.holder = threading.Thread(target=self._hold, daemon=True)
            self.holder.start()
            assert self.locked.wait(10), "la ligne n'a pas pu être verrouillée"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def locking(postgres_url: str) -> Iterator[LockingHandler]:
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    handler = LockingHandler(url)
    yield handler
    handler.release.set()
    if handler.holder is not None:
        handler.holder.join(10)


@pytest.fixture
def bounded_app(
    locking: LockingHandler, postgres_url: str, tmp_path: Path, clock: Clock
) -> Iterator[App]:
    _empty_postgres(postgres_url)
    with running_server(locking) as server:
        settings = make_settings(
            tmp_path,
            postgres_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
            smtp_timeout=5,
            smtp_data_timeout=10,
            mail_db_lock_timeout=1,
            mail_db_timeout=5,
        )
        application = bootstrap(settings, clock=clock)
        yield application
        application.close()


def test_an_outcome_commit_blocked_by_a_lock_fails_the_pass_after_the_timeout_and_loses_nothing(
    bounded_app: App, locking: LockingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    app = bounded_app
    keys = [f"m{n:02d}" for n in range(COUNT)]
    for key in keys:
        queue(app, key)
    locking.keys = message_keys(app)

    def failing_pass() -> PassFault | None:
        with pytest.raises(PassFault) as caught, _pass_faults(app):
            dispatch_due(app, NOW, batch_size=4, group_size=1)
        return caught.value

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="workflow.services.dispatch"):
        # Without a lock timeout the pass would wait for the lock as long as it is held (30 s).
        fault = run_bounded(failing_pass, seconds=20)
    elapsed = time.monotonic() - started
    locking.release.set()
    assert locking.holder is not None
    locking.holder.join(10)

    assert fault is not None and not fault.connection_cut
    assert fault.detail == "canceling statement due to lock timeout"
    database = app.settings.database_url.replace("postgresql://", "postgresql+psycopg://")
    assert fault.words == (
        f"La base {database} n'a pas pu faire l'opération à temps : elle attendait des lignes "
        "qu'une autre connexion tenait (une autre instance, une commande ou une session "
        "d'administration restée ouverte, une connexion coupée que le serveur n'a pas encore "
        "fermée) ; la transaction en cours a été annulée en entier, ce qui était validé avant "
        "elle reste. Le prochain passage refait le travail (détail : canceling statement due "
        "to lock timeout)."
    )
    said = [r.getMessage() for r in caplog.records if getattr(r, "action", "") == "mail.db_timeout"]
    assert said == [
        "envoi interrompu : la base n'a pas répondu à temps (au plus 1 s d'attente d'un verrou, "
        "CLAUSES_MAIL_DB_LOCK_TIMEOUT, et 5 s par opération, CLAUSES_MAIL_DB_TIMEOUT) ; les "
        "courriels pas encore remis au serveur retournent dans la file, le prochain passage "
        "les envoie"
    ]
    assert elapsed < 15

    # Nothing lost: the held row and any row whose outcome went down with it stay noted handed
    # over (uncertain once their lease ends, never sent twice); the others wait again, now.
    arrived = Counter(locking._key(r) for r in locking.arrived)
    rows = outbox_rows(app)
    assert set(arrived.values()) == {1}
    assert rows[HELD][0] == "sending" and rows[HELD][3]
    for key in keys:
        state, owner, leased, started_ = rows[key]
        if key in arrived:
            assert state == "sent" or (state == "sending" and started_), (key, rows[key])
        else:
            assert (state, owner, leased, started_) == ("pending", None, False, False), key
    waiting = {key for key in keys if key not in arrived}
    assert {"m08", "m09", "m10", "m11"} <= waiting  # the batch claimed ahead

    # The limits were the dispatcher's: connections back in the pool have the defaults.
    pooled = [app.engine.connect() for _ in range(5)]
    try:
        for connection in pooled:
            shown = connection.execute(text("SHOW statement_timeout")).scalar()
            assert (shown, connection.execute(text("SHOW lock_timeout")).scalar()) == ("0", "0")
    finally:
        for connection in pooled:
            connection.close()

    locking.answer_delay = lambda received: 0.0
    report = run_bounded(lambda: dispatch_due(app, NOW, batch_size=4, group_size=1))

    assert report.sent == len(waiting)
    again = Counter(locking._key(r) for r in locking.arrived)
    assert set(again) == set(keys) and set(again.values()) == {1}
    assert all(outbox_rows(app)[key][0] == "sent" for key in waiting)
