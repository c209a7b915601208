"""What a send costs the database: fences taken ahead within a bound, connections held by the pass.

Every send is fenced (``FencesAhead``): the rows are checked to be still this run's and noted
handed over, in a commit that must be done before they go. On PostgreSQL that commit waits for
the disk, so the next rows are fenced a few messages early, never more than ``FENCE_WINDOW``
rows fenced and not handed over (what a crash can leave uncertain although it never left).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_dispatch import NOW, queue
from workflow.adapters.mail import OutgoingMessage
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import FENCE_WINDOW, dispatch_due


@pytest.fixture
def postgres_app(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[App]:
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    yield application
    application.close()


def fenced_not_handed(app: App, handed: list[str]) -> set[str]:
    """Rows noted handed over by a fence that the server has not been given yet."""
    with app.transaction() as session:
        keys = session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.state == "sending", OutboxMessage.send_started_at.is_not(None)
            )
        ).all()
    return set(keys) - set(handed)


@pytest.mark.postgres
def test_on_postgresql_the_next_rows_are_fenced_while_the_messages_before_them_go(
    postgres_app: App,
) -> None:
    app = postgres_app
    count = 12
    for n in range(count):
        queue(app, f"m{n:02d}")
    seen: dict[str, set[str]] = {}

    def server(message: OutgoingMessage) -> None:
        handed = [m.key for m in memory.sent] + [message.key]
        waiting = fenced_not_handed(app, handed)
        if message.key == "m01":
            # The fence of the rows after the first window is under way by now: it has this
            # send and the next ones to come back in, instead of being waited for after m03.
            deadline = time.monotonic() + 3
            while not {"m04", "m05"} <= waiting and time.monotonic() < deadline:
                time.sleep(0.02)
                waiting = fenced_not_handed(app, handed)
        seen[message.key] = waiting

    app.transport = memory = MemoryTransport(script=server)
    report = dispatch_due(app, NOW)

    assert report.sent == count
    assert seen["m01"] == {"m02", "m03", "m04", "m05"}
    # Never more rows fenced ahead than a crash may leave uncertain although they never left.
    assert max(len(waiting) for waiting in seen.values()) <= FENCE_WINDOW


def test_a_pass_holds_its_connections_instead_of_taking_one_per_commit(
    app: App, memory: MemoryTransport
) -> None:
    """Each connection taken from the pool costs a checkout, and on PostgreSQL a liveness ping
    (a round trip): a pass of 40 messages (10 fences, a few outcome commits) takes a handful."""
    count = 40
    for n in range(count):
        queue(app, f"m{n:02d}")
    checkouts: list[object] = []

    def on_checkout(*_: object) -> None:
        checkouts.append(True)

    event.listen(app.engine, "checkout", on_checkout)
    try:
        report = dispatch_due(app, NOW)
    finally:
        event.remove(app.engine, "checkout", on_checkout)

    assert report.sent == count
    assert len(memory.keys()) == count
    # Two claims (the batch, then the empty one that ends the pass), the connections of the
    # pass's fences and outcomes (one on SQLite, at most three on PostgreSQL), the last
    # outcomes committed at the end, the look for mail waiting for the route.
    assert len(checkouts) <= 8


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport
