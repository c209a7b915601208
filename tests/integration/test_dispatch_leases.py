"""Claims with an owner and a lease, fencing before each send, ``uncertain`` rows, the real clock.

Runs on SQLite and PostgreSQL. The real clock (``wall``) is injected, so a lease's end is a
moment the test chooses; the pass's own instant (``now``) is the simulated one the rows are due at.
"""

from __future__ import annotations

import email
import email.policy
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import delete

from tests.conftest import Clock, make_settings
from tests.integration.test_dispatch import NOW, middle, queue, row
from workflow.adapters.mail import Accepted, OutgoingMessage, TransientFailure
from workflow.adapters.mail.files import FileTransport
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.errors import InputRefused
from workflow.services import outbox, outbox_corrections
from workflow.services.dispatch import (
    FENCE_WINDOW,
    LEASE,
    Claim,
    Outcome,
    claim_due,
    dispatch_due,
    fence,
    record_outcomes,
)

WALL = NOW + timedelta(days=10)


class Clockwork:
    """A real clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class InboxTransport(MemoryTransport):
    """The memory transport standing for SMTP: messages reach real people."""

    reaches_inboxes = True


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport


def test_a_run_that_lost_its_claim_neither_sends_nor_records(app: App) -> None:
    queue(app, "m")
    first = Claim("run-a", lease=timedelta(minutes=1))
    [claimed] = claim_due(app, NOW, 10, first, WALL)
    # Run A stalls past its lease; run B claims the row (never handed over, so it is free).
    later = WALL + timedelta(minutes=1, seconds=1)
    second = Claim("run-b")
    assert [c.id for c in claim_due(app, NOW, 10, second, later)] == [claimed.id]

    assert not fence(app, claimed.id, first, later)
    lost = record_outcomes(app, "run-a", [Outcome(claimed.id, "sent", 1, sent_at=NOW)])

    assert [o.id for o in lost] == [claimed.id]
    taken = row(app, "m")
    assert (taken.state, taken.claimed_by) == ("sending", "run-b")
    assert fence(app, claimed.id, second, later)
    assert record_outcomes(app, "run-b", [Outcome(claimed.id, "sent", 1, sent_at=NOW)]) == []
    assert row(app, "m").state == "sent"


def test_a_row_whose_lease_ended_on_the_wire_is_uncertain_and_waits_for_a_decision(
    app: App, memory: MemoryTransport
) -> None:
    queue(app, "in-flight")
    queue(app, "behind")
    crashed = Claim("crashed-run", lease=timedelta(minutes=1))
    claimed = claim_due(app, NOW, 10, crashed, WALL)
    # The run handed the first row to the server, then died before its outcome was written.
    assert fence(app, claimed[0].id, crashed, WALL)

    too_soon = dispatch_due(app, NOW, wall=lambda: WALL + timedelta(seconds=30))
    report = dispatch_due(app, NOW, wall=lambda: WALL + timedelta(minutes=2))

    assert too_soon.claimed == 0
    assert (report.uncertain, report.sent) == (1, 1)
    assert memory.keys() == ["behind"]
    uncertain = row(app, "in-flight")
    assert uncertain.state == "uncertain"
    assert dispatch_due(app, NOW + timedelta(days=1), wall=lambda: WALL + LEASE).claimed == 0
    with app.transaction() as session:
        assert [m.key for m in outbox.list_messages(session, states=["uncertain"])] == ["in-flight"]
        assert outbox.parse_state("incertain") == "uncertain"
        # The facilitator decides: « clauses mail retry N° ».
        outbox_corrections.retry_message(session, uncertain.id, NOW)
    assert dispatch_due(app, NOW, wall=lambda: WALL + LEASE).sent == 1
    assert memory.keys() == ["behind", "in-flight"]


def test_with_resend_an_uncertain_row_goes_again_on_its_own(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    app = bootstrap(
        make_settings(tmp_path, database_url, uncertain_mail="resend"),
        clock=clock,
        transport=(memory := MemoryTransport()),
    )
    try:
        queue(app, "in-flight")
        crashed = Claim("crashed-run", lease=timedelta(minutes=1))
        [claimed] = claim_due(app, NOW, 10, crashed, WALL)
        assert fence(app, claimed.id, crashed, WALL)

        report = dispatch_due(app, NOW, wall=lambda: WALL + timedelta(minutes=2))

        assert (report.uncertain, report.sent) == (1, 1)
        assert memory.keys() == ["in-flight"]
        assert row(app, "in-flight").state == "sent"
    finally:
        app.close()


def test_the_owner_still_settles_its_uncertain_row_with_a_sure_answer_only(app: App) -> None:
    queue(app, "accepted-late")
    queue(app, "timed-out")
    run = Claim("slow-run", lease=timedelta(minutes=1))
    claimed = claim_due(app, NOW, 10, run, WALL)
    for message in claimed:
        assert fence(app, message.id, run, WALL)
    # Another instance finds both leases over: both uncertain.
    assert claim_due(app, NOW, 10, Claim("other"), WALL + timedelta(minutes=2)) == []
    assert {row(app, k).state for k in ("accepted-late", "timed-out")} == {"uncertain"}

    accepted, timed_out = claimed
    lost = record_outcomes(
        app,
        "slow-run",
        [
            Outcome(accepted.id, "sent", 1, sent_at=NOW),
            # A timeout says nothing sure: the message may have arrived.
            Outcome(timed_out.id, "pending", 1, next_attempt_at=NOW, last_error="délai"),
        ],
    )

    assert [o.id for o in lost] == [timed_out.id]
    assert row(app, "accepted-late").state == "sent"
    assert row(app, "timed-out").state == "uncertain"


def test_a_facilitator_retry_takes_the_row_from_its_late_owner(app: App) -> None:
    queue(app, "m")
    run = Claim("slow-run", lease=timedelta(minutes=1))
    [claimed] = claim_due(app, NOW, 10, run, WALL)
    assert fence(app, claimed.id, run, WALL)
    claim_due(app, NOW, 10, Claim("other"), WALL + timedelta(minutes=2))
    with app.transaction() as session:
        outbox_corrections.retry_message(session, claimed.id, NOW)

    lost = record_outcomes(app, "slow-run", [Outcome(claimed.id, "sent", 1, sent_at=NOW)])

    assert len(lost) == 1
    assert (row(app, "m").state, row(app, "m").claimed_by) == ("pending", None)


def test_a_live_run_keeps_every_row_it_holds_while_a_slow_batch_goes_out(app: App) -> None:
    """Each fence extends the leases of the rows still waiting in the run's batches."""
    for n in range(4):
        queue(app, f"m{n}")
    clock = Clockwork(WALL)
    stolen: list[int] = []

    def slow_server(message: OutgoingMessage) -> None:
        clock.now += timedelta(seconds=40)  # each message takes 40 s; the lease is 60 s
        stolen.extend(c.id for c in claim_due(app, NOW, 10, Claim("other"), clock.now))

    app.transport = memory = MemoryTransport(script=slow_server)
    report = dispatch_due(app, NOW, wall=clock, lease=timedelta(seconds=60), batch_size=4)

    assert stolen == []
    assert (report.sent, report.lost, report.uncertain) == (4, 0, 0)
    assert memory.keys() == ["m0", "m1", "m2", "m3"]


def test_rows_taken_over_while_a_run_was_stuck_are_skipped_not_sent_twice(app: App) -> None:
    count = FENCE_WINDOW + 2
    for n in range(count):
        queue(app, f"m{n}")
    clock = Clockwork(WALL)
    other = MemoryTransport()

    def stuck_server(message: OutgoingMessage) -> None:
        if message.key == "m0":
            # Stuck longer than the lease: another instance passes meanwhile.
            clock.now += timedelta(minutes=2)
            with ThreadPoolExecutor(1) as pool:  # another instance, not this pass's loop
                pool.submit(dispatch_due, app, NOW, wall=clock, transport=other).result()

    app.transport = memory = MemoryTransport(script=stuck_server)
    report = dispatch_due(app, NOW, wall=clock, lease=timedelta(minutes=1), batch_size=count)

    # The other instance sent the rows never fenced; those fenced with m0 (one commit for a
    # window of rows) it could only find uncertain.
    window = [f"m{n}" for n in range(1, FENCE_WINDOW)]
    assert other.keys() == [f"m{n}" for n in range(FENCE_WINDOW, count)]
    assert memory.keys() == ["m0"]
    # m0's owner then got the server's yes; it knew the rest of its window never left, and
    # gave those rows back instead of sending them or leaving them uncertain.
    assert row(app, "m0").state == "sent"
    assert report.lost == count - 1
    assert {row(app, key).state for key in window} == {"pending"}
    assert dispatch_due(app, NOW, wall=clock).sent == len(window)
    delivered = memory.keys() + other.keys()
    assert sorted(delivered) == sorted(f"m{n}" for n in range(count))


def test_real_inboxes_never_get_a_message_dated_after_the_real_clock(app: App) -> None:
    queue(app, "today", now=WALL - timedelta(hours=1))
    queue(app, "next-month", now=WALL + timedelta(days=30))
    app.transport = inbox = InboxTransport()

    # A simulated pass two months ahead: it may queue, it does not send the future.
    report = dispatch_due(app, WALL + timedelta(days=60), wall=lambda: WALL)

    assert inbox.keys() == ["today"]
    assert report.sent == 1
    assert row(app, "next-month").state == "pending"
    [message] = inbox.parsed()
    assert parsedate_to_datetime(message["Date"]) <= WALL


def test_a_simulation_into_files_sends_its_simulated_future(app: App, tmp_path: Path) -> None:
    queue(app, "next-month", now=WALL + timedelta(days=30))
    app.transport = FileTransport(tmp_path / "mail")

    assert dispatch_due(app, WALL + timedelta(days=30), wall=lambda: WALL).sent == 1


def test_date_is_when_the_message_leaves_and_message_id_is_stable_across_retries(
    app: App,
) -> None:
    queue(app, "flaky")
    attempts: list[OutgoingMessage] = []

    def fail_first(message: OutgoingMessage) -> TransientFailure | None:
        attempts.append(message)
        return TransientFailure("451 réessayez") if len(attempts) == 1 else None

    app.transport = MemoryTransport(script=fail_first)
    dispatch_due(app, NOW, rand=middle)
    later = row(app, "flaky").next_attempt_at
    assert later is not None
    dispatch_due(app, later, rand=middle)

    first, second = (
        email.message_from_bytes(m.data, policy=email.policy.default) for m in attempts
    )
    assert first["Message-ID"] == second["Message-ID"]
    assert parsedate_to_datetime(first["Date"]) - NOW < timedelta(seconds=5)
    assert timedelta(0) <= parsedate_to_datetime(second["Date"]) - later < timedelta(seconds=5)
    assert row(app, "flaky").state == "sent"


def test_the_same_key_in_another_database_gets_another_message_id(
    app: App, memory: MemoryTransport
) -> None:
    """A database started again (or a second territory on the same domain) reuses keys."""
    queue(app, "reminder:1:2:2026-02:first")
    dispatch_due(app, NOW)
    with app.transaction() as session:
        session.execute(delete(OutboxMessage))
    queue(app, "reminder:1:2:2026-02:first")
    dispatch_due(app, NOW)

    first, second = memory.parsed()
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].endswith("@example.org>")


def test_a_row_being_sent_cannot_be_retried_and_the_refusal_names_uncertain(app: App) -> None:
    queue(app, "m")
    [claimed] = claim_due(app, NOW, 10, Claim("run"), WALL)
    with app.transaction() as session, pytest.raises(InputRefused, match="incertain"):
        outbox_corrections.retry_message(session, claimed.id, NOW)


def test_an_accepted_message_is_recorded_sent_by_its_owner(
    app: App, memory: MemoryTransport
) -> None:
    memory.script = lambda m: Accepted()
    queue(app, "m")

    dispatch_due(app, NOW)

    sent = row(app, "m")
    assert sent.state == "sent"
    assert sent.claimed_by is not None and sent.lease_until is None


def test_the_facilitator_digest_lists_an_uncertain_message_with_how_to_resend_it(
    app: App,
) -> None:
    from workflow.emails.digest import Category
    from workflow.services.digest import compile_digest

    queue(app, "in-flight")
    crashed = Claim("crashed-run", lease=timedelta(minutes=1))
    [claimed] = claim_due(app, NOW, 10, crashed, WALL)
    assert fence(app, claimed.id, crashed, WALL)
    claim_due(app, NOW, 10, Claim("other"), WALL + timedelta(minutes=2))

    with app.transaction() as session:
        digest = compile_digest(session, NOW, app.settings)

    [item] = [i for i in digest.items if i.category == Category.EMAIL]
    assert "incertain (peut-être déjà arrivé)" in item.title
    assert "Rappel : déclaration de février" in item.title
    assert f"clauses mail retry {claimed.id}" in item.action
    assert "interrompu avant la réponse du serveur" in item.detail
