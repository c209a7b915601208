"""Two dispatchers on one PostgreSQL, a real SMTP server that is slow on one message.

Leases are short (2 s) so that one answer outlasts them. The server counts every message whose
data reached it (answered or not): that is what may have arrived in an inbox. The claim is that
no Message-ID arrives twice, that the rows another dispatcher marked ``uncertain`` are exactly
those whose lease ended while they were on the wire, and that such a row is settled by its owner
when it learns the answer, and otherwise waits for the facilitator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration.smtp_server import Received, ScriptedHandler, running_server
from tests.integration.test_dispatch import NOW, queue, row
from workflow.adapters.mail.message import message_id
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services import outbox, outbox_corrections
from workflow.services.dispatch import FENCE_WINDOW, DispatchReport, dispatch_due

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LEASE = timedelta(seconds=2)
MESSAGES = 24
SLOW_KEY = "slow:07"


class Marks(logging.Handler):
    """The rows the dispatchers marked uncertain, from their log (any thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) == "mail.uncertain":
            self.ids.append(record.outbox_id)  # type: ignore[attr-defined]


@pytest.fixture
def marks() -> Iterator[Marks]:
    handler = Marks()
    logger = logging.getLogger("workflow.services.dispatch")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def keys() -> list[str]:
    return [SLOW_KEY if n == 7 else f"fast:{n:02}" for n in range(MESSAGES)]


def arrivals(handler: ScriptedHandler) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in handler.arrived)


def run_two_dispatchers(apps: list[App], deadline: float = 60) -> list[DispatchReport]:
    """Each instance passes again and again until no row is pending or sending."""
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []
    end = time.monotonic() + deadline

    def unfinished(app: App) -> bool:
        with app.transaction() as session:
            states = session.scalars(select(OutboxMessage.state)).all()
        return any(state in ("pending", "sending") for state in states)

    def loop(app: App) -> None:
        try:
            while unfinished(app) and time.monotonic() < end:
                reports.append(dispatch_due(app, NOW, batch_size=4, lease=LEASE))
                time.sleep(0.05)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return reports


@pytest.fixture
def handler() -> ScriptedHandler:
    return ScriptedHandler()


@pytest.fixture
def instances(
    handler: ScriptedHandler, postgres_url: str, tmp_path: Path, clock: Clock
) -> Iterator[list[App]]:
    _empty_postgres(postgres_url)
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            postgres_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
            smtp_timeout=5,
            smtp_data_timeout=6,
        )
        apps = [bootstrap(settings, clock=clock) for _ in range(2)]
        yield apps
        for app in apps:
            app.close()


def slow_id(app: App) -> str:
    return message_id(SLOW_KEY, "clauses@example.org", row(app, SLOW_KEY).message_token)


def test_a_late_answer_is_delivered_once_and_settled_by_its_sender(
    instances: list[App], handler: ScriptedHandler, marks: Marks
) -> None:
    first = instances[0]
    for key in keys():
        queue(first, key)
    slow = slow_id(first)

    def answer_delay(received: Received) -> float:
        # 4 s on one message: twice the lease, well inside the final-dot timeout (6 s).
        return 4.0 if received.message["Message-ID"] == slow else 0.0

    handler.answer_delay = answer_delay

    reports = run_two_dispatchers(instances)

    counts = arrivals(handler)
    assert len(counts) == MESSAGES
    assert [mid for mid, n in counts.items() if n > 1] == []
    # The other instance saw the slow row's lease end mid-send (and maybe the rows fenced with
    # it, a few not sent yet, which their owner then gave back: see FencesAhead).
    assert row(first, SLOW_KEY).id in marks.ids
    assert len(marks.ids) <= FENCE_WINDOW
    assert sum(r.uncertain for r in reports) == len(marks.ids)
    # Its sender then got the server's yes and recorded it: nothing is left uncertain.
    with first.transaction() as session:
        assert outbox.count_by_state(session)["sent"] == MESSAGES
    assert sum(r.sent for r in reports) == MESSAGES


def test_an_answer_never_heard_leaves_the_row_uncertain_until_the_facilitator_decides(
    instances: list[App], handler: ScriptedHandler, marks: Marks
) -> None:
    first = instances[0]
    for key in keys():
        queue(first, key)
    slow = slow_id(first)

    def answer_delay(received: Received) -> float:
        # Longer than the final-dot timeout: the sender never learns whether it arrived.
        return 9.0 if received.message["Message-ID"] == slow else 0.0

    handler.answer_delay = answer_delay

    reports = run_two_dispatchers(instances)

    counts = arrivals(handler)
    assert len(counts) == MESSAGES
    assert [mid for mid, n in counts.items() if n > 1] == []
    assert sum(r.sent for r in reports) == MESSAGES - 1
    uncertain = row(first, SLOW_KEY)
    assert uncertain.id in marks.ids and len(marks.ids) <= FENCE_WINDOW
    with first.transaction() as session:
        # Exactly the row whose lease ended on the wire with no answer is left uncertain.
        assert [m.key for m in outbox.list_messages(session, states=["uncertain"])] == [SLOW_KEY]
        states = outbox.count_by_state(session)
        assert (states["sent"], states["uncertain"]) == (MESSAGES - 1, 1)
        # The facilitator sends it again: the same Message-ID, so a mail client that has it
        # already can tell.
        outbox_corrections.retry_message(session, uncertain.id, NOW)
    handler.answer_delay = lambda received: 0.0
    assert dispatch_due(first, NOW).sent == 1
    assert arrivals(handler)[slow] == 2


DISPATCHER = """
import sys, time
from datetime import datetime, timedelta
from sqlalchemy import select
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import bootstrap
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

app = bootstrap(Settings(), handlers={})
now = datetime.fromisoformat(sys.argv[1])
end = time.monotonic() + 60
def unfinished():
    with app.transaction() as session:
        states = session.scalars(select(OutboxMessage.state)).all()
    return any(state in ("pending", "sending") for state in states)
while unfinished() and time.monotonic() < end:
    report = dispatch_due(app, now, batch_size=4, lease=timedelta(seconds=2))
    print(report.sent, report.uncertain, report.lost, flush=True)
    time.sleep(0.05)
"""


def test_two_dispatcher_processes_deliver_each_message_once_past_a_slow_answer(
    handler: ScriptedHandler, postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    import os
    import subprocess
    import sys

    _empty_postgres(postgres_url)
    with running_server(handler) as server:
        settings = make_settings(tmp_path, postgres_url)
        app = bootstrap(settings, clock=clock)
        try:
            for key in keys():
                queue(app, key)
            slow = slow_id(app)
            handler.answer_delay = lambda received: (
                4.0 if received.message["Message-ID"] == slow else 0.0
            )
            env = {
                **os.environ,
                "CLAUSES_DATABASE_URL": postgres_url,
                "CLAUSES_MAIL_TRANSPORT": "smtp",
                "CLAUSES_SMTP_HOST": server.hostname,
                "CLAUSES_SMTP_PORT": str(server.port),
                "CLAUSES_SMTP_DATA_TIMEOUT": "6",
            }
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", DISPATCHER, NOW.isoformat()],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            outputs = [p.communicate(timeout=120) for p in processes]
            assert [p.returncode for p in processes] == [0, 0], outputs
            counts = arrivals(handler)
            assert len(counts) == MESSAGES
            assert [mid for mid, n in counts.items() if n > 1] == []
            lines = [line.split() for out, _ in outputs for line in out.splitlines()]
            assert sum(int(line[0]) for line in lines) == MESSAGES
            # The slow answer outlasted its lease: the other process found it uncertain (with
            # at most the rows fenced with it), and its sender settled it.
            assert 1 <= sum(int(line[1]) for line in lines) <= FENCE_WINDOW
            with app.transaction() as session:
                assert outbox.count_by_state(session)["sent"] == MESSAGES
        finally:
            app.close()
