"""The connections a pass holds for its fences and outcomes (``Ledger``) outlive a cut backend.

The pool checks a connection at each checkout and replaces a dead one; a connection the pass
holds is not checked before each use, so a cut one is found by its first statement, and the
statement is made again on a new connection. Nothing accepted by the server may be left
``sending`` (it would end ``uncertain``, and be sent twice under ``resend``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from tests.conftest import Clock, make_settings
from tests.integration.test_dispatch import NOW, queue
from tests.integration.test_dispatch_fences_ahead import postgres_app  # noqa: F401
from workflow.adapters.mail import OutgoingMessage
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app.service import PassFault, _pass_faults
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.dispatch import Claim, DriverFence, claim_due, dispatch_due, new_owner

_R = TypeVar("_R")


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path, clock: Clock) -> Iterator[App]:
    application = bootstrap(make_settings(tmp_path, sqlite_url), clock=clock)
    yield application
    application.close()


#: A backend of the database other than the test's, in a transaction or running a statement.
OPEN = (
    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state <> 'idle'"
)
#: The call in the select list: in the WHERE clause it may run before the filter.
CUT = (
    "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def outbox(app: App) -> dict[str, tuple[str, bool]]:
    """Each row's state, and whether it is noted handed to the server, by key."""
    with app.transaction() as session:
        rows = session.execute(
            select(
                OutboxMessage.key,
                OutboxMessage.state,
                OutboxMessage.send_started_at.is_not(None),
            )
        ).all()
    return {key: (state, started) for key, state, started in rows}


@pytest.mark.postgres
@pytest.mark.parametrize("group_size", [1, 20])
def test_a_backend_cut_mid_pass_leaves_every_accepted_message_marked_sent(
    postgres_app: App,  # noqa: F811
    group_size: int,
) -> None:
    app = postgres_app
    count = 12
    for n in range(count):
        queue(app, f"m{n:02d}")
    url = app.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    cut: list[int] = []

    def server(message: OutgoingMessage) -> None:
        if message.key == "m05":
            with psycopg.connect(url, autocommit=True) as admin:
                # Between two transactions (the fences and outcome commits under way done),
                # as a server restart finds a pass waiting for its mail server.
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and admin.execute(OPEN).fetchone():
                    time.sleep(0.01)
                # Every other backend of the database, the pass's held connections included;
                # each call waits until its backend is gone.
                cut.extend(pid for pid, done in admin.execute(CUT).fetchall() if done)

    app.transport = memory = MemoryTransport(script=server)
    report = dispatch_due(app, NOW, group_size=group_size)  # raises nothing

    assert cut, "aucune connexion coupée : le test ne teste rien"
    assert sorted(memory.keys()) == [f"m{n:02d}" for n in range(count)]
    assert report.sent == count and report.lost == 0 and report.stopped is None
    rows = outbox(app)
    assert rows == {f"m{n:02d}": ("sent", False) for n in range(count)}


def test_on_sqlite_a_fence_stores_its_instants_as_sqlalchemy_does(sqlite_app: App) -> None:
    """The fence written for the driver (``DriverFence``) converts its datetimes as SQLAlchemy
    does: the same text, microseconds included, so that text comparisons of instants hold
    (``'… 09:20:00'`` sorts before ``'… 09:20:00.000000'``)."""
    app = sqlite_app
    for n in range(8):
        queue(app, f"m{n:02d}")
    wall = NOW.replace(microsecond=0)
    stored: dict[str, tuple[str, str]] = {}

    def server(message: OutgoingMessage) -> None:
        if message.key == "m05":
            # m04 and m05 were fenced by the driver's statement (the first fence, which also
            # extends every lease, goes through SQLAlchemy).
            with app.engine.connect() as connection:
                for key, started, until in connection.execute(
                    text(
                        "SELECT key, CAST(send_started_at AS TEXT), CAST(lease_until AS TEXT) "
                        "FROM outbox WHERE key IN ('m04', 'm05')"
                    )
                ):
                    stored[key] = (started, until)

    app.transport = MemoryTransport(script=server)
    report = dispatch_due(app, NOW, wall=lambda: wall, lease=timedelta(minutes=20))

    assert report.sent == 8
    assert stored == {
        key: ("2026-03-02 09:00:00.000000", "2026-03-02 09:20:00.000000") for key in ("m04", "m05")
    }
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", s) for s in stored["m04"])


def test_a_fence_the_database_refuses_is_told_like_any_statement_it_refuses(
    sqlite_app: App,
) -> None:
    """The driver's error comes out as SQLAlchemy's (« database is locked » here), which the
    service turns into its French line and a pass run again, not a raw ``sqlite3`` error."""
    app = sqlite_app
    queue(app, "m00")
    terms = Claim(new_owner())
    (row,) = claim_due(app, NOW, 10, terms, wall_now=NOW)
    with app.engine.connect() as holder, app.engine.connect() as connection:
        holder.begin()
        holder.execute(text("UPDATE outbox SET attempts = attempts"))  # the write lock
        driver = connection.connection.dbapi_connection
        assert driver is not None
        driver.execute("PRAGMA busy_timeout = 0")  # refused at once, not after 10 s
        fence = DriverFence(connection)
        with pytest.raises(PassFault) as caught, _pass_faults(app):
            fence(connection, [row.id], terms, NOW)
        holder.rollback()
    assert isinstance(caught.value.__cause__, OperationalError)
    assert caught.value.words == (
        "passage échoué, la base a refusé l'opération : database is locked ; "
        "le prochain passage refait le travail"
    )
    assert not caught.value.connection_cut
    assert outbox(app) == {"m00": ("sending", False)}


#: The pass's statement waiting for a row lock the test holds, by what it writes first.
WAITING = (
    "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE outbox SET %'"
)


class CutMidStatement:
    """Holds some rows locked from a send on, so that the pass's next statement on them (a fence
    or an outcome commit) waits; terminates the backend running it while it waits, then lets go.

    In a thread of its own: the pass's statements run in its ledger's threads, not in the
    server's callback, which only starts the cut and returns."""

    def __init__(self, url: str, keys: list[str]) -> None:
        self.url = url
        self.keys = keys
        self.cut: list[str] = []  # the statements cut, as the server saw them
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.locked = threading.Event()

    def start(self) -> None:
        self.thread.start()
        assert self.locked.wait(5), "les lignes n'ont pas pu être verrouillées"

    def _run(self) -> None:
        with (
            psycopg.connect(self.url) as holder,
            psycopg.connect(self.url, autocommit=True) as admin,
        ):
            holder.execute("SELECT id FROM outbox WHERE key = ANY(%s) FOR UPDATE", [self.keys])
            self.locked.set()
            deadline = time.monotonic() + 10
            while not self.cut and time.monotonic() < deadline:
                for pid, query in admin.execute(WAITING).fetchall():
                    row = admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()
                    if row and row[0]:
                        self.cut.append(query)
                time.sleep(0.01)
            holder.rollback()


def run_bounded(target: Callable[[], _R], seconds: float = 60) -> _R:
    """``target()`` in a thread, waited for at most ``seconds``: a pass that hangs fails the test
    instead of hanging it."""
    result: list[_R] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(target())
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"le passage ne s'est pas terminé en {seconds} s"
    if errors:
        raise errors[0]
    return result[0]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("locked", "statement"),
    [
        # Fenced two at a time once under way: m10 and m11 by one fence, taken while m08 goes.
        (["m10", "m11"], "UPDATE outbox SET lease_until"),
        # m00's outcome: in a group committed while the next messages go, or in the last one,
        # committed as the pass ends; both on the ledger's connections.
        (["m00"], "UPDATE outbox SET state"),
    ],
    ids=["fence", "outcome"],
)
def test_a_backend_cut_under_a_fence_or_an_outcome_commit_is_made_good_and_the_pass_goes_on(
    postgres_app: App,  # noqa: F811
    locked: list[str],
    statement: str,
) -> None:
    """The cut statement is made again on a new connection (both are idempotent: a fence made
    twice extends the same lease, an outcome written twice is found written): every message
    goes once, ends ``sent``, and the pass ends as if nothing happened (``mail send``: code 0)."""
    app = postgres_app
    count = 16
    for n in range(count):
        queue(app, f"m{n:02d}")
    url = app.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    cutter = CutMidStatement(url, locked)

    def server(message: OutgoingMessage) -> None:
        if message.key == "m01":
            cutter.start()

    app.transport = memory = MemoryTransport(script=server)
    state = CliState()
    state.factory = lambda: app
    result = run_bounded(lambda: CliRunner().invoke(cli, ["mail", "send", "--json"], obj=state))
    cutter.thread.join(15)

    assert [query[: len(statement)] for query in cutter.cut] == [statement], cutter.cut
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["envoyes"] == count
    assert sorted(memory.keys()) == [f"m{n:02d}" for n in range(count)]  # each once
    assert outbox(app) == {f"m{n:02d}": ("sent", False) for n in range(count)}
