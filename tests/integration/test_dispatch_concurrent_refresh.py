"""A refresh (a fence that extends every lease its run holds) never waits for a row another
transaction holds, so it cannot deadlock with it; two dispatchers on one outbox send each
message once.

On PostgreSQL a pass commits its fences and outcomes on several connections at once
(``Ledger``), and several instances share the outbox: a refresh locking every row of its run,
in its own order, while another transaction holds one of them and waits for one the refresh
took, is a deadlock that PostgreSQL breaks by failing one of them (the pass, or an outcome
commit).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import select

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_dispatch import NOW, queue
from workflow.adapters.mail import OutgoingMessage
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import (
    Claim,
    DispatchReport,
    claim_due,
    dispatch_due,
    fence_rows,
    new_owner,
)

_R = TypeVar("_R")


@pytest.fixture
def instances(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[App, App]]:
    """Two instances of the service on one PostgreSQL database."""
    _empty_postgres(postgres_url)
    first = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    second = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    yield first, second
    first.close()
    second.close()


class Bounded:
    """``target()`` in a thread, its result or error kept for the test's thread."""

    def __init__(self, target: Callable[[], _R]) -> None:
        self.result: list[object] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[], object]) -> None:
        try:
            self.result.append(target())
        except BaseException as exc:
            self.errors.append(exc)

    def join(self, seconds: float) -> object:
        """Its result; a thread still running after ``seconds`` (a hang) fails the test."""
        self.thread.join(seconds)
        assert not self.thread.is_alive(), f"toujours en cours après {seconds} s"
        if self.errors:
            raise self.errors[0]
        return self.result[0]


def url_of(app: App) -> str:
    return app.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def ids_by_key(app: App) -> dict[str, int]:
    with app.transaction() as session:
        return {
            key: row_id
            for key, row_id in session.execute(select(OutboxMessage.key, OutboxMessage.id))
        }


@pytest.mark.postgres
def test_a_refresh_skips_a_row_another_transaction_holds_instead_of_deadlocking_with_it(
    instances: tuple[App, App],
) -> None:
    app, _ = instances
    for n in range(4):
        queue(app, f"m{n:02d}")
    terms = Claim(new_owner())
    assert len(claim_due(app, NOW, 10, terms, wall_now=NOW)) == 4
    ids = ids_by_key(app)
    later = NOW + timedelta(minutes=1)

    with psycopg.connect(url_of(app)) as other:
        # Another transaction (an outcome commit of the same run on another connection, another
        # instance) holds m03 and will want m00.
        other.execute("SET lock_timeout = '10s'")
        other.execute("UPDATE outbox SET attempts = attempts WHERE id = %s", [ids["m03"]])
        # The fence of m00 refreshes every lease of the run: m00 is locked by its fence first.
        refresh = Bounded(lambda: fence_rows(app, [ids["m00"]], terms, later, refresh=True))
        with psycopg.connect(url_of(app), autocommit=True) as watcher:
            deadline = time.monotonic() + 5
            while refresh.thread.is_alive() and time.monotonic() < deadline:
                waiting = watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting:
                    break
                time.sleep(0.01)
        # Before, the refresh waited for m03 while holding m00: a deadlock, one side failed.
        other.execute("UPDATE outbox SET attempts = attempts WHERE id = %s", [ids["m00"]])
        other.commit()
        assert refresh.join(15) == {ids["m00"]}

    with app.transaction() as session:
        rows = session.execute(select(OutboxMessage.key, OutboxMessage.lease_until))
        leases = {key: until for key, until in rows}
    extended = later + terms.lease
    # The rows nobody else held are extended; m03 waits for the next refresh.
    assert {key for key, until in leases.items() if until == extended} == {"m00", "m01", "m02"}


def a_few_milliseconds(_: OutgoingMessage) -> None:
    """A send that takes some time, as a real server's: the passes overlap."""
    time.sleep(0.003)


@pytest.mark.postgres
def test_two_dispatchers_on_one_outbox_send_each_message_once_and_both_finish(
    instances: tuple[App, App],
) -> None:
    """Short leases (a refresh every 0.8 s) and small outcome groups (a commit every four
    messages), so that each pass refreshes its leases several times while its own fences and
    outcome commits, and the other instance's claims and refreshes, run side by side. With the
    refresh that waited for row locks (and leases of 1.2 s), three runs in four failed on a
    deadlock. The lease leaves 1.6 s to a stall of a loaded machine before it could run out
    (the exact interleaving is the test above)."""
    first, _ = instances
    count = 1200
    for n in range(count):
        queue(first, f"m{n:03d}")
    transports = [MemoryTransport(script=a_few_milliseconds) for _ in range(2)]

    def deliver(app: App, transport: MemoryTransport) -> Callable[[], DispatchReport]:
        return lambda: dispatch_due(
            app, NOW, transport=transport, batch_size=20, group_size=4, lease=timedelta(seconds=2.4)
        )

    runs = [Bounded(deliver(app, t)) for app, t in zip(instances, transports, strict=True)]
    reports = [run.join(120) for run in runs]

    sent = Counter(chain.from_iterable(t.keys() for t in transports))
    assert sent == Counter(f"m{n:03d}" for n in range(count))  # every message, once
    assert all(t.keys() for t in transports), "une seule instance a envoyé : rien de concurrent"
    assert sum(r.sent for r in reports if isinstance(r, DispatchReport)) == count
    with first.transaction() as session:
        states = Counter(session.scalars(select(OutboxMessage.state)))
    assert states == {"sent": count}
