"""The dispatcher against the real database (SQLite and PostgreSQL) and the in-memory transport."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock, make_settings
from workflow.adapters.mail import (
    Accepted,
    ConnectionFailure,
    MailConnection,
    MailTransport,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import RenderedEmail
from workflow.bootstrap import App, bootstrap
from workflow.errors import InputRefused
from workflow.services import outbox, outbox_corrections
from workflow.services.dispatch import (
    LEASE,
    RETRY_DELAYS,
    Claimed,
    MessageFactory,
    dispatch_due,
    dispatch_due_async,
    retry_delay,
)
from workflow.services.outbox import Recipient, queue_email

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def middle() -> float:
    """A random source that always picks the middle: no jitter."""
    return 0.5


class StubRenderer:
    """Stands for the template renderer: the dispatcher only sees what the outbox row holds."""

    def render(self, kind: str, context: dict[str, Any]) -> RenderedEmail:
        return RenderedEmail(
            subject=context.get("subject", "Rappel : déclaration de février"),
            text="Bonjour,\nMerci de déclarer vos heures.\n",
            html="<p>Bonjour,</p><p>Merci de déclarer vos heures.</p>",
        )


def queue(
    app: App,
    key: str,
    *recipients: Recipient,
    now: datetime = NOW,
    kind: str = "reminder",
) -> None:
    with app.transaction() as session:
        queue_email(
            session,
            StubRenderer(),  # type: ignore[arg-type]
            key=key,
            kind=kind,
            recipients=list(recipients) or [Recipient("Élodie Durand", "elodie@btp-gers.fr")],
            context={},
            now=now,
        )


def row(app: App, key: str) -> OutboxMessage:
    with app.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
        session.expunge(message)
        return message


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport


def test_it_sends_due_messages_through_one_connection_and_marks_them_sent(
    app: App, memory: MemoryTransport
) -> None:
    for n in range(3):
        queue(app, f"reminder:{n}")

    report = dispatch_due(app, NOW, rand=middle)

    assert (report.claimed, report.sent, report.retried, report.failed) == (3, 3, 0, 0)
    assert sorted(memory.keys()) == ["reminder:0", "reminder:1", "reminder:2"]
    assert memory.connections == 1
    sent = row(app, "reminder:1")
    assert (sent.state, sent.attempts, sent.sent_at, sent.claimed_at) == ("sent", 1, NOW, None)
    assert dispatch_due(app, NOW + timedelta(hours=1)).claimed == 0


def test_it_builds_the_wire_message_from_the_row_and_the_settings(
    app: App, memory: MemoryTransport
) -> None:
    queue(app, "reminder:1", Recipient("Élodie Durand", "elodie@btp-gers.fr"))

    dispatch_due(app, NOW)

    [message] = memory.parsed()
    assert memory.sent[0].sender == "clauses@example.org"
    assert memory.sent[0].recipients == ("elodie@btp-gers.fr",)
    assert str(message["From"]) == "Camille Martin <clauses@example.org>"
    assert str(message["Reply-To"]) == "Camille Martin <camille.martin@example.org>"
    assert str(message["To"]) == "Élodie Durand <elodie@btp-gers.fr>"
    assert message["Auto-Submitted"] == "auto-generated"


def test_it_leaves_messages_that_are_not_due_yet(app: App, memory: MemoryTransport) -> None:
    queue(app, "later", now=NOW + timedelta(minutes=5))

    assert dispatch_due(app, NOW).claimed == 0
    assert dispatch_due(app, NOW + timedelta(minutes=5)).sent == 1


def test_it_backs_off_on_transient_failures_then_gives_up(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda message: TransientFailure("451 4.3.0 boîte pleine")
    queue(app, "flaky")
    moment = NOW
    waits = []
    for _attempt in range(len(RETRY_DELAYS)):
        report = dispatch_due(app, moment, rand=middle)
        assert report.retried == 1
        message = row(app, "flaky")
        assert message.state == "pending"
        assert message.next_attempt_at is not None
        waits.append(message.next_attempt_at - moment)
        assert dispatch_due(app, message.next_attempt_at - timedelta(seconds=1)).claimed == 0
        moment = message.next_attempt_at

    report = dispatch_due(app, moment, rand=middle)

    assert waits == list(RETRY_DELAYS)
    assert report.dead == 1
    dead = row(app, "flaky")
    assert (dead.state, dead.attempts) == ("dead", 6)
    assert dead.last_error == "Abandon après 6 tentatives : 451 4.3.0 boîte pleine"


def test_it_spreads_retries_with_an_injected_random_source() -> None:
    assert retry_delay(1, lambda: 0.0) == timedelta(seconds=48)
    assert retry_delay(1, lambda: 0.5) == timedelta(minutes=1)
    assert retry_delay(2, lambda: 1.0) == timedelta(minutes=6)
    assert retry_delay(5, lambda: 0.5) == timedelta(hours=6)
    assert retry_delay(6, lambda: 0.5) is None


def test_it_fails_a_permanently_refused_message_at_once(app: App, memory: MemoryTransport) -> None:
    memory.script = lambda message: PermanentFailure("550 5.1.1 boîte inconnue")
    queue(app, "refused")

    report = dispatch_due(app, NOW)

    assert report.failed == 1
    failed = row(app, "refused")
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.last_error == "Refus définitif : 550 5.1.1 boîte inconnue"


def test_it_keeps_the_recipients_the_server_refused(app: App, memory: MemoryTransport) -> None:
    memory.script = lambda message: Accepted(refused={"b@x.fr": "550 5.1.1 inconnu"})
    queue(app, "two", Recipient("A", "a@x.fr"), Recipient("B", "b@x.fr"))

    report = dispatch_due(app, NOW)

    assert (report.sent, report.partly_refused) == (1, 1)
    sent = row(app, "two")
    assert sent.state == "sent"
    assert sent.refused_recipients == "b@x.fr : 550 5.1.1 inconnu"
    assert sent.last_error is not None and "b@x.fr (550 5.1.1 inconnu)" in sent.last_error
    with app.transaction() as session:
        assert [m.key for m in outbox.undelivered(session)] == ["two"]


def test_it_holds_the_whole_batch_when_the_server_is_out_of_reach(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda message: ConnectionFailure("connexion refusée")
    for n in range(3):
        queue(app, f"m{n}")

    report = dispatch_due(app, NOW, rand=middle)

    assert (report.claimed, report.retried, report.stopped) == (3, 3, "connexion refusée")
    states = {row(app, f"m{n}").state for n in range(3)}
    assert states == {"pending"}
    assert row(app, "m2").next_attempt_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("batch_size", [1, 2, 200])
def test_once_one_message_goes_through_all_that_waited_for_the_route_leave_in_the_same_pass(
    app: App, memory: MemoryTransport, batch_size: int
) -> None:
    """Messages waiting for a server that was down keep their retry slot (up to 6 hours) while
    nothing shows the server is back; the first message it takes shows it, and every waiting
    one is made due and sent in that pass, whatever the batch size (with small batches the
    next claim may already be under way when they are made due: it is claimed again)."""
    server_down = [True]

    def script(message: OutgoingMessage) -> ConnectionFailure | None:
        return ConnectionFailure("connexion refusée") if server_down[0] else None

    memory.script = script
    waiting = [f"w{n}" for n in range(5)]
    for key in waiting:
        queue(app, key)
    for minutes in (0, 1, 6):  # slots after each failure: +1 min, +5 min, +30 min
        assert dispatch_due(app, NOW + timedelta(minutes=minutes), rand=middle).outage
    assert {row(app, key).next_attempt_at for key in waiting} == {NOW + timedelta(minutes=36)}

    server_down[0] = False
    back = NOW + timedelta(minutes=7)
    assert dispatch_due(app, back, batch_size=batch_size, rand=middle).claimed == 0
    queue(app, "new", now=back)
    report = dispatch_due(app, back, batch_size=batch_size, rand=middle)

    assert (report.claimed, report.sent, report.released, report.outage) == (6, 6, 5, False)
    assert memory.keys() == ["new", *waiting]
    assert {row(app, key).state for key in [*waiting, "new"]} == {"sent"}
    assert "released" not in report.as_dict()  # the CLI's keys stay what they are


def test_mail_send_now_takes_what_waits_for_the_route_but_nothing_else_early(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda message: ConnectionFailure("connexion refusée")
    queue(app, "waiting")
    queue(app, "later", now=NOW + timedelta(hours=1))  # queued for later: not due
    queue(app, "retry")
    dispatch_due(app, NOW, rand=middle)
    with app.transaction() as session:  # a 4xx for one message: its own wait, not the route's
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "retry")
            .values(last_error="Échec passager : 451 plus tard", attempts=1)
        )
    memory.script = None

    report = dispatch_due(app, NOW + timedelta(seconds=10), rand=middle, outage_now=True)

    assert memory.keys() == ["waiting"]
    assert (report.sent, row(app, "later").state, row(app, "retry").state) == (
        1,
        "pending",
        "pending",
    )


def test_it_refuses_a_row_whose_address_cannot_be_sent(app: App, memory: MemoryTransport) -> None:
    queue(app, "bad", Recipient("Sans domaine", "pas-une-adresse"))

    report = dispatch_due(app, NOW)

    assert report.failed == 1
    assert memory.sent == []
    assert "adresse électronique invalide" in (row(app, "bad").last_error or "")


def test_it_takes_over_claims_whose_lease_is_over_and_never_resends_one_in_flight(
    app: App, memory: MemoryTransport
) -> None:
    """Judged on the real clock (``wall``), whatever instant the pass is for."""
    wall = NOW + timedelta(days=30)
    for key in ("never-handed", "held", "in-flight"):
        queue(app, key)
    claims = {
        # A run that stopped after claiming: its lease is over, nothing was handed over.
        "never-handed": {"lease_until": wall - timedelta(seconds=1), "send_started_at": None},
        # A run still alive: its lease runs on.
        "held": {"lease_until": wall + timedelta(minutes=1), "send_started_at": None},
        # A run that stopped with this one on the wire: it may have arrived.
        "in-flight": {"lease_until": wall - timedelta(seconds=1), "send_started_at": NOW},
    }
    with app.transaction() as session:
        for key, claim in claims.items():
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key)
                .values(state="sending", claimed_by="stopped-run", claimed_at=NOW, **claim)
            )

    report = dispatch_due(app, NOW, wall=lambda: wall)

    assert memory.keys() == ["never-handed"]
    assert (report.sent, report.uncertain) == (1, 1)
    assert row(app, "held").state == "sending"
    assert row(app, "in-flight").state == "uncertain"
    assert dispatch_due(app, NOW + timedelta(days=1), wall=lambda: wall).claimed == 0


def test_it_puts_failed_messages_back_in_the_queue_with_fresh_attempts(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda message: PermanentFailure("550 non")
    queue(app, "a")
    queue(app, "b")
    dispatch_due(app, NOW)
    memory.script = None

    ids = [row(app, "a").id, row(app, "b").id]

    with app.transaction() as session:
        assert outbox_corrections.retry_all_failed(session, NOW + timedelta(hours=1)) == ids
    again = row(app, "a")
    assert (again.state, again.attempts, again.next_attempt_at) == (
        "pending",
        0,
        NOW + timedelta(hours=1),
    )
    assert dispatch_due(app, NOW + timedelta(hours=1)).sent == 2
    with app.transaction() as session, pytest.raises(InputRefused, match="envoyé"):
        outbox_corrections.retry_message(session, again.id, NOW)


def test_it_writes_one_eml_per_message_grouped_by_kind(app: App, tmp_path: Path) -> None:
    app.transport = FileTransport(tmp_path / "mail")
    queue(app, "reminder:12:34:2026-02:first", kind="reminder")
    queue(app, "notice:awarded:12", kind="notice_awarded")

    dispatch_due(app, NOW)
    # As if the instance had stopped before recording the acceptance: once its lease is over
    # the message is uncertain; sent again by the facilitator's decision, it overwrites its file.
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "notice:awarded:12")
            .values(
                state="sending",
                claimed_by="stopped-run",
                lease_until=NOW - timedelta(seconds=1),
                send_started_at=NOW - LEASE,
            )
        )
    assert dispatch_due(app, NOW, wall=lambda: NOW).uncertain == 1
    with app.transaction() as session:
        outbox_corrections.retry_message(session, row(app, "notice:awarded:12").id, NOW)
    assert dispatch_due(app, NOW, wall=lambda: NOW).sent == 1

    files = sorted(p.relative_to(tmp_path / "mail") for p in (tmp_path / "mail").rglob("*"))
    names = [str(p) for p in files if p.suffix == ".eml"]
    assert len(names) == 2
    assert names[0].startswith("notice_awarded/notice_awarded_12-")
    assert names[1].startswith("reminder/reminder_12_34_2026-02_first-")
    assert not [p for p in files if p.suffix == ".tmp"]


@pytest.fixture
def two_instances(settings: Any, clock: Clock) -> Iterator[tuple[App, App]]:
    first, second = bootstrap(settings, clock=clock), bootstrap(settings, clock=clock)
    yield first, second
    first.close()
    second.close()


def test_it_lets_two_instances_dispatch_at_once_without_double_sending(
    two_instances: tuple[App, App],
) -> None:
    first, second = two_instances
    for n in range(200):
        queue(first, f"concurrent:{n:03}")
    transports = []
    for instance in (first, second):
        # A slow server, so that both instances are claiming and sending at the same time.
        transport = MemoryTransport(script=lambda m: time.sleep(0.0005))  # type: ignore[func-returns-value]
        instance.transport = transport
        transports.append(transport)
    reports = []

    def run(instance: App) -> None:
        reports.append(dispatch_due(instance, NOW, batch_size=10))

    threads = [threading.Thread(target=run, args=(instance,)) for instance in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    keys = [message.key for transport in transports for message in transport.sent]
    assert sorted(keys) == [f"concurrent:{n:03}" for n in range(200)]
    assert all(transport.sent for transport in transports), "both instances took a share"
    assert sum(r.sent for r in reports) == 200
    with first.transaction() as session:
        assert outbox.count_by_state(session)["sent"] == 200


@pytest.mark.postgres
def test_it_claims_nothing_twice_on_postgres_while_a_claim_is_open(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    other = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    other.transport = transport = MemoryTransport()
    try:
        for n in range(4):
            queue(app, f"locked:{n}")
        with app.transaction() as session:
            held = session.scalars(
                select(OutboxMessage.key)
                .order_by(OutboxMessage.id)
                .limit(2)
                .with_for_update(skip_locked=True)
            ).all()
            # While this transaction holds two rows, another instance claims only the other two.
            report = dispatch_due(other, NOW)
        assert held == ["locked:0", "locked:1"]
        assert report.claimed == 2
        assert sorted(transport.keys()) == ["locked:2", "locked:3"]
    finally:
        app.close()
        other.close()


def test_it_never_sends_a_message_it_could_not_build(app: App, memory: MemoryTransport) -> None:
    def refuse_empty(message: OutgoingMessage) -> None:
        assert message.data.startswith(b"From: ")

    memory.script = refuse_empty
    queue(app, "ok")

    assert dispatch_due(app, NOW).sent == 1


class WaitingConnection(MailConnection):
    """Takes each message after a turn of the loop, as a server across the network would."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def send(self, message: OutgoingMessage) -> Accepted:
        self.events.append(f"send {message.key}")
        await asyncio.sleep(0)
        self.events.append(f"sent {message.key}")
        return Accepted()


class WaitingTransport(MailTransport):
    def __init__(self) -> None:
        self.events: list[str] = []

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        yield WaitingConnection(self.events)

    def describe(self) -> str:
        return "waiting"


def test_it_builds_each_message_while_the_one_before_is_on_the_wire(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(app, "m0")
    queue(app, "bad", Recipient("Sans domaine", "pas-une-adresse"))
    queue(app, "m2")
    transport = WaitingTransport()
    build = MessageFactory.build

    def logged_build(
        self: MessageFactory, claimed: Claimed, date: datetime | None = None
    ) -> OutgoingMessage:
        transport.events.append(f"build {claimed.key}")
        return build(self, claimed, date)

    monkeypatch.setattr(MessageFactory, "build", logged_build)

    report = dispatch_due(app, NOW, transport=transport)

    # "bad" is built while m0 waits for the server, and refused at its own turn.
    assert transport.events == [
        "build m0",
        "send m0",
        "build bad",
        "sent m0",
        "build m2",
        "send m2",
        "sent m2",
    ]
    assert (report.sent, report.failed) == (2, 1)
    assert "adresse électronique invalide" in (row(app, "bad").last_error or "")


def test_it_gives_back_the_rows_it_claimed_ahead_when_the_server_is_out_of_reach(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda message: ConnectionFailure("connexion refusée")
    for n in range(5):
        queue(app, f"m{n}")

    report = dispatch_due(app, NOW, batch_size=2, rand=middle)

    assert report.retried == 2
    assert [(row(app, f"m{n}").state, row(app, f"m{n}").attempts) for n in range(5)] == [
        ("pending", 1),
        ("pending", 1),
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
    ]
    assert row(app, "m2").claimed_at is None


class StallingConnection(MailConnection):
    """Accepts messages until the third, which never gets an answer."""

    def __init__(self, stalled: asyncio.Event) -> None:
        self.accepted = 0
        self.stalled = stalled

    async def send(self, message: OutgoingMessage) -> Accepted:
        if self.accepted == 2:
            self.stalled.set()
            await asyncio.Event().wait()
        self.accepted += 1
        return Accepted()


class StallingTransport(MailTransport):
    def __init__(self) -> None:
        self.stalled = asyncio.Event()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MailConnection]:
        yield StallingConnection(self.stalled)

    def describe(self) -> str:
        return "stalling"


def test_it_records_what_was_accepted_when_stopped_mid_batch(app: App) -> None:
    for n in range(6):
        queue(app, f"m{n}")

    async def stop_while_the_third_is_in_flight() -> None:
        transport = StallingTransport()
        task = asyncio.create_task(dispatch_due_async(app, NOW, transport=transport))
        await transport.stalled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(stop_while_the_third_is_in_flight())

    states = [row(app, f"m{n}").state for n in range(6)]
    assert states == ["sent", "sent", "sending", "pending", "pending", "pending"]


def test_it_commits_in_small_groups_or_one_by_one(app: App, memory: MemoryTransport) -> None:
    for n in range(7):
        queue(app, f"m{n}")

    assert dispatch_due(app, NOW, group_size=1).sent == 7
    assert {row(app, f"m{n}").state for n in range(7)} == {"sent"}


SIGTERM_CHILD = """
import asyncio, sys
from contextlib import asynccontextmanager
from datetime import datetime
from workflow.adapters.mail import Accepted, MailConnection, MailTransport
from workflow.bootstrap import bootstrap
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

class Stalling(MailConnection):
    sent = 0
    async def send(self, message):
        if self.sent == 2:
            print("stalled", flush=True)
            await asyncio.Event().wait()
        self.sent += 1
        return Accepted()

class Transport(MailTransport):
    @asynccontextmanager
    async def connect(self):
        yield Stalling()
    def describe(self):
        return "stalling"

app = bootstrap(Settings(database_url=sys.argv[1]), handlers={}, transport=Transport())
dispatch_due(app, datetime.fromisoformat(sys.argv[2]))
"""


def test_it_commits_what_was_accepted_before_a_sigterm(sqlite_url: str) -> None:
    import signal
    import subprocess
    import sys

    from workflow.settings import Settings

    local = bootstrap(Settings(database_url=sqlite_url), handlers={})
    try:
        for n in range(5):
            queue(local, f"m{n}")
        with subprocess.Popen(
            [sys.executable, "-c", SIGTERM_CHILD, sqlite_url, NOW.isoformat()],
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "stalled"
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=60) == 128 + signal.SIGTERM

        states = [row(local, f"m{n}").state for n in range(5)]
        assert states == ["sent", "sent", "sending", "pending", "pending"]
    finally:
        local.close()


def test_it_stops_between_two_messages_when_asked_and_gives_the_rest_back(
    app: App, memory: MemoryTransport
) -> None:
    """The service's SIGTERM: the message on the wire finishes, the others wait for the restart."""
    for number in range(30):
        queue(app, f"k{number}")
    stop = threading.Event()

    def script(message: OutgoingMessage) -> None:
        if len(memory.sent) == 2:  # the third message is on the wire when the stop comes
            stop.set()

    memory.script = script
    report = asyncio.run(dispatch_due_async(app, NOW, rand=middle, should_stop=stop.is_set))

    assert report.stopped == "arrêt demandé"
    assert len(memory.sent) == report.sent == 3
    with app.transaction() as session:
        states = [m.state for m in session.scalars(select(OutboxMessage))]
    assert states.count("sent") == 3 and states.count("pending") == 27
    later = dispatch_due(app, NOW, rand=middle)  # the next start sends the rest, nothing twice
    assert later.sent == 27 and len(set(memory.keys())) == 30


def test_it_logs_each_message_the_server_did_not_take(
    app: App, memory: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    queue(app, "refused")
    queue(app, "busy")
    memory.script = lambda m: (
        PermanentFailure("550 boîte inconnue")
        if m.key == "refused"
        else TransientFailure("451 réessayez")
    )
    with caplog.at_level("WARNING"):
        dispatch_due(app, NOW, rand=middle)

    lines = {r.action: r for r in caplog.records if getattr(r, "action", "").startswith("mail.")}  # type: ignore[attr-defined]
    assert set(lines) == {"mail.failed", "mail.retry"}
    assert "550" in lines["mail.failed"].error  # type: ignore[attr-defined]
