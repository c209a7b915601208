"""What several service instances rely on to share the work: one wins each race, and a pass sees
every row it may send.

The races run on PostgreSQL with real transactions: the first instance holds its transaction open
until the others are waiting on its lock, so the race is the same on every run. Found with
``test_three_instances.py``: psycopg gave -1 as the row count of an ``INSERT ... ON CONFLICT DO
NOTHING``, so every instance believed it had claimed the day's digest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.test_dispatch import NOW, StubRenderer, queue, row
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage, PeriodicRun
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import Claim, claim_due, fence
from workflow.services.outbox import Recipient, queue_email
from workflow.services.summaries import claim_period
from workflow.services.ticks import outbox_has_due, run_pass

INSTANCES = 3


@pytest.fixture
def instances(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[list[App]]:
    _empty_postgres(postgres_url)
    apps = [bootstrap(make_settings(tmp_path, postgres_url), clock=clock) for _ in range(INSTANCES)]
    yield apps
    for app in apps:
        app.close()


def waiting_on_a_lock(app: App) -> int:
    with app.engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )


def race(apps: list[App], work: Callable[[Session], bool]) -> list[bool]:
    """``work`` in one transaction per instance; the first one's commits once all the others wait
    for it. What each returned, in the instances' order."""
    first, *others = apps
    results: dict[int, bool] = {}

    def run(number: int, app: App) -> None:
        with app.transaction() as session:
            results[number] = work(session)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(others, 1)]
    with first.transaction() as session:
        results[0] = work(session)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while waiting_on_a_lock(first) < len(others):
            assert time.monotonic() < deadline, "the other instances never waited for the first"
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=30)
    return [results[number] for number in range(len(apps))]


@pytest.mark.postgres
def test_one_instance_claims_a_period_when_three_try_at_once(instances: list[App]) -> None:
    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    claimed = race(
        instances, lambda session: claim_period(session, "daily_digest", "2026-12-02", now)
    )

    assert claimed == [True, False, False]
    with instances[0].transaction() as session:
        assert session.scalar(select(func.count()).select_from(PeriodicRun)) == 1


@pytest.mark.postgres
def test_one_instance_queues_a_key_when_three_write_it_at_once(instances: list[App]) -> None:
    def write(session: Session) -> bool:
        return queue_email(
            session,
            StubRenderer(),  # type: ignore[arg-type]
            key="digest:2026-12-02",
            kind="facilitator_digest",
            recipients=[Recipient("Camille Martin", "camille.martin@example.org")],
            context={},
            now=NOW,
        )

    # The others wrote after checking the key was free: only the unique key stops them.
    assert race(instances, write) == [True, False, False]
    with instances[0].transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_with_resend_a_pass_sends_a_queue_left_with_uncertain_rows_only(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    memory = MemoryTransport()
    app = bootstrap(
        make_settings(tmp_path, database_url, uncertain_mail="resend"),
        clock=clock,
        transport=memory,
    )
    # A Sunday: no digest, nothing else due, so that nothing but the uncertain row opens a pass.
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    sunday = saturday + timedelta(days=1)
    try:
        queue(app, "in-flight", now=saturday)
        # An instance handed the row to the server and died; another one, set to ask (or this
        # one before its setting changed), found its lease over and left it uncertain.
        crashed = Claim("crashed-run", lease=timedelta(minutes=1))
        [claimed] = claim_due(app, saturday, 10, crashed, saturday)
        assert fence(app, claimed.id, crashed, saturday)
        later = saturday + timedelta(minutes=2)
        assert claim_due(app, saturday, 10, Claim("asking-run"), later) == []
        assert row(app, "in-flight").state == "uncertain"

        report = run_pass(app, sunday)

        assert report.queued == 0
        assert report.dispatch is not None and report.dispatch.sent == 1
        assert memory.keys() == ["in-flight"]
        assert row(app, "in-flight").state == "sent"
    finally:
        app.close()


class InboxTransport(MemoryTransport):
    """The memory transport standing for SMTP: messages reach real people."""

    reaches_inboxes = True


def test_a_pass_opens_no_connection_for_mail_dated_after_the_real_clock(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    settings = make_settings(tmp_path, database_url)
    app = bootstrap(settings, clock=clock, transport=InboxTransport())
    try:
        queue(app, "queued-by-a-simulation", now=tomorrow)
        # Over SMTP the row waits for its date: no pass before it is due to open a connection.
        assert not outbox_has_due(app, tomorrow)
        # To files (a simulation), the pass's own instant is what counts.
        app.transport = MemoryTransport()
        assert outbox_has_due(app, tomorrow)
    finally:
        app.close()
