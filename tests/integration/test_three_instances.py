"""Three ``clauses serve`` on one PostgreSQL and one SMTP server; one of them killed mid-batch.

In this process, the sample territory of the demo gets what its people did up to August 2026
and one catch-up pass (its mail written to files); then a quarter, September to November 2026, is
played day by day with its mail only queued (``simulate(dispatch=False)``, what ``clauses
simulate --no-dispatch`` runs): 125 messages. Three real ``clauses serve`` processes then run on
the real clock over SMTP, to a sink in a process of its own (``sink_process.py``) that notes every
message whose data reached it and answers ``SINK_DELAY`` later, so that a sender always has a
message on the wire. Once a few dozen have arrived, the instance holding rows in the middle of a
batch is killed (SIGKILL). The two others take its rows over once its lease has ended: the rows
it never handed to the server, and, since ``CLAUSES_UNCERTAIN_MAIL=resend``, the ones it had
(``uncertain``) again.

Claims: every row of the quarter and of the real day's passes reached the sink; the only ones
that reached it twice were in flight in the killed instance when it died, and at most as many;
the work of the real day (calls, reminders, digest, summaries) was queued exactly once across the
three instances and none of it is left undone; the two others stop with exit code 0 on SIGTERM.
The counts are printed and kept as properties of the test (JUnit XML).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as local_time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import _empty_postgres, make_settings
from workflow.adapters.mail.message import message_id
from workflow.adapters.orm import OutboxMessage, PeriodicRun
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, is_working_day
from workflow.sample import load_sample
from workflow.services import demo
from workflow.services.dispatch import real_now
from workflow.services.ticks import queue_work, run_pass, simulate

#: The quarter the instances deliver: in the past of any real clock that runs this test.
QUARTER = (date(2026, 9, 1), date(2026, 11, 30))
INSTANCES = 3
#: The sink's wait before answering each message.
SINK_DELAY = 0.03
#: Arrivals before the kill: the victim is well into its batch.
ARRIVED_BEFORE_KILL = 30
#: Seconds. Short, so that the takeover comes soon, yet accepted by the settings: from a fence a
#: third of a lease old (``dispatch.Pass.fresh``), 2/3 of 10 s outlast four commands of 1 s and
#: the final dot's 2 s (the sink answers in 30 ms).
LEASE = 10
SMTP_TIMEOUT = 1
SMTP_DATA_TIMEOUT = 2
#: Generous: the whole serve phase takes about 20 s on the CI machine.
DEADLINE = 120.0

LADDER_KINDS = {"declaration_call", "declaration_reminder", "declaration_escalation"}
SUMMARY_KINDS = {"monthly_summary", "monthly_summary_buyer"}
DIGEST_KIND = "facilitator_digest"
RECEIPT_KIND = "declaration_receipt"
UNFINISHED = ("pending", "sending", "uncertain")
MIDNIGHT = local_time(0)


@dataclass(frozen=True)
class Row:
    id: int
    key: str
    kind: str
    state: str
    created_at: datetime
    claimed_by: str | None
    send_started_at: datetime | None
    message_id: str


def rows(app: App) -> list[Row]:
    sender = app.settings.mail_from
    with app.transaction() as session:
        found = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.key,
                OutboxMessage.kind,
                OutboxMessage.state,
                OutboxMessage.created_at,
                OutboxMessage.claimed_by,
                OutboxMessage.send_started_at,
                OutboxMessage.message_token,
            ).order_by(OutboxMessage.id)
        ).all()
    return [
        Row(*values[:7], message_id(values.key, sender, values.message_token)) for values in found
    ]


def owner_pid(owner: str | None) -> int | None:
    """The process of a dispatcher run, from its id (``dispatch.new_owner``: host-pid-random)."""
    if owner is None:
        return None
    return int(owner.rsplit("-", 2)[1])


def arrivals(received: Path) -> Counter[str]:
    if not received.exists():
        return Counter()
    return Counter(line for line in received.read_text(encoding="utf-8").splitlines() if line)


def log_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of an instance's stderr; a line cut by SIGKILL is left out."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return lines


def build_territory(app: App) -> None:
    """The demo's territory: what its people did before the quarter, the service started on the
    eve of it (one catch-up pass, its mail written to files), then the quarter day by day with
    its mail queued only."""
    app.init_database()
    load_sample(app, demo.local(app, demo.LOADED_ON, 10))
    actions = demo.scenario(app)
    zone = app.settings.zone
    start, end = QUARTER
    quarter_start = at_local(start, MIDNIGHT, zone)
    quarter_end = at_local(end + timedelta(days=1), MIDNIGHT, zone)
    # Living the months before day by day would take a minute on PostgreSQL, for nothing here.
    for action in actions:
        if action.at < quarter_start:
            action.run(app, action.at)
    run_pass(app, quarter_start - timedelta(hours=1))
    during = [a for a in actions if quarter_start <= a.at < quarter_end]
    simulate(app, start, end, actions=during, dispatch=False)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    received = tmp_path / "received.txt"
    command = [sys.executable, "-m", "tests.integration.sink_process", str(received)]
    process = subprocess.Popen(
        [*command, "--delay", str(SINK_DELAY)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[:1] == ["ready"], ready
        yield int(ready[1]), received
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def instance_environment(database_url: str, port: int, tmp_path: Path) -> dict[str, str]:
    # Nothing of the caller's own settings: only what is written here.
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLAUSES_")}
    env.update(
        CLAUSES_DATABASE_URL=database_url,
        CLAUSES_MAIL_TRANSPORT="smtp",
        CLAUSES_SMTP_HOST="127.0.0.1",
        CLAUSES_SMTP_PORT=str(port),
        CLAUSES_SMTP_TIMEOUT=str(SMTP_TIMEOUT),
        CLAUSES_SMTP_DATA_TIMEOUT=str(SMTP_DATA_TIMEOUT),
        CLAUSES_MAIL_LEASE=str(LEASE),
        CLAUSES_UNCERTAIN_MAIL="resend",
        CLAUSES_PASS_INTERVAL="1",
        CLAUSES_WEB_PORT="0",  # three instances, three pages: each on a free port
        CLAUSES_MAIL_DIR=str(tmp_path / "mail"),
        CLAUSES_FACILITATOR_NAME="Camille Martin",
        CLAUSES_FACILITATOR_EMAIL="camille.martin@example.org",
        CLAUSES_FACILITATOR_ORGANISATION="Maison de l'emploi de l'Exemple",
    )
    return env


def start_instances(env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    logs.mkdir()
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()", "serve"]
    processes = []
    for number in range(INSTANCES):
        # Files, not pipes: nobody reads them while the instances run, a full pipe would block.
        with (logs / f"{number}.err").open("wb") as err, (logs / f"{number}.out").open("wb") as out:
            processes.append(
                subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=logs.parent)
            )
    return processes


def wait_for(condition: Any, what: str, deadline: float) -> None:
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.02)


def passes_done_once(
    app: App, lines: list[dict[str, Any]], made: list[Row], started: datetime
) -> None:
    """Each unit of the real day's work (a ladder step, the digest, a month's summaries) was
    claimed in the database once and logged by one instance, and its emails are the rows the
    passes made."""
    kinds = Counter(row.kind for row in made)
    # Receipts too: those rewritten when their months' calls leave late.
    assert set(kinds) <= LADDER_KINDS | SUMMARY_KINDS | {DIGEST_KIND, RECEIPT_KIND}, kinds
    with app.transaction() as session:
        claims = session.execute(
            select(PeriodicRun.job, PeriodicRun.period).where(PeriodicRun.done_at >= started)
        ).all()

    def logged(action: str) -> list[dict[str, Any]]:
        return [line for line in lines if line["action"] == action]

    def claimed(job: str) -> list[str]:
        return sorted(period for claim_job, period in claims if claim_job == job)

    steps = [line for line in logged("ladder.step_queued") if line["queued"]]
    assert len(steps) == len({line["key"] for line in steps})
    assert len(steps) == sum(kinds[kind] for kind in LADDER_KINDS)
    # The digest: looked at once (sent, or found empty), on the day, if it was due.
    digests = logged("digest_queued") + logged("digest_empty")
    assert sorted(line["period"] for line in digests) == claimed("daily_digest")
    assert len(logged("digest_queued")) == kinds[DIGEST_KIND] <= 1
    zone = app.settings.zone
    today = started.astimezone(zone).date()
    if is_working_day(today) and started >= at_local(today, app.settings.digest_time, zone):
        assert claimed("daily_digest") == [today.isoformat()]
    summaries = logged("summary_queued")
    assert sorted(line["period"] for line in summaries) == claimed("monthly_summary")
    assert sum(line["emails"] for line in summaries) == sum(kinds[k] for k in SUMMARY_KINDS)


@pytest.fixture
def app(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    """This process's view of the database; its own mail (before the quarter) goes to files."""
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url, mail_transport="file"))
    yield application
    application.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_instances_one_killed_mid_batch_deliver_the_quarter_once(
    app: App, postgres_url: str, tmp_path: Path, sink: tuple[int, Path], record_property: Any
) -> None:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        build_territory(app)
        before = {row.id: row for row in rows(app)}
        queued = [row for row in before.values() if row.state == "pending"]
        # Everything before the quarter went to files; the whole quarter waits for the instances,
        # but for the reminders of months its companies declared before they left: withdrawn
        # (``reminder_emails.withdraw_answered``), each a ladder email, none to be delivered;
        # and for the receipts still waiting when the company declared its next month: each
        # withdrawn for its rewrite (``receipt_withdrawals.rewrite_others``).
        assert {row.state for row in before.values()} <= {"sent", "pending", "cancelled"}
        withdrawn = [row for row in before.values() if row.state == "cancelled"]
        # (The « clause rédigée » notices gave way to the awards' before they left.)
        keys = {row.key for row in before.values()}
        receipts = [
            row
            for row in withdrawn
            if not row.key.startswith("reminder:")
            and row.kind
            not in (
                "notice_drafted",
                "notice_late_declaration_received",
                "notice_final_report",
                "notice_awarded",
            )
            # A welcome still waiting at its lot's start gave way to the same welcome written
            # for the lot started (``notices.rewrite_welcomes_at_start``).
            and not (row.kind == "company_welcome" and f"{row.key}~2" in keys)
        ]
        assert all(row.kind == "declaration_receipt" for row in receipts), [
            (row.kind, row.key) for row in receipts if row.kind != "declaration_receipt"
        ]
        # A buyer told that a month its alert named arrived, the declaration corrected before
        # that notice left: withdrawn for the notice with the corrected figures, which left or
        # waits (``late_declaration_notices``).
        late = [r for r in withdrawn if r.kind == "notice_late_declaration_received"]
        late_kept = {
            tuple(r.key.split(":")[:4])
            for r in before.values()
            if r.kind == "notice_late_declaration_received" and r.state != "cancelled"
        }
        assert all(tuple(row.key.split(":")[:4]) in late_kept for row in late), late
        # A final report's notice still waiting at the closure gave way to the same report
        # saying the closure, keyed by the closure's instant (``notices.rewrite_final_report``).
        # Likewise an award's notice still waiting at the start, for the same award saying the
        # start (``notices.rewrite_award_notice``).
        reports = [r for r in withdrawn if r.kind in ("notice_final_report", "notice_awarded")]
        assert all(
            any(
                other.key.startswith(row.key + "@") and other.state != "cancelled"
                for other in before.values()
            )
            for row in reports
        ), reports
        # Each withdrawn receipt's last rewrite left (before the quarter) or waits.
        rewritten = {
            row.key.split(":maj:")[0]
            for row in before.values()
            if ":maj:" in row.key and row.state != "cancelled"
        }
        assert all(row.key.split(":maj:")[0] in rewritten for row in receipts)
        quarter_end = at_local(QUARTER[1] + timedelta(days=1), MIDNIGHT, app.settings.zone)
        assert all(row.created_at < quarter_end for row in queued)
        assert real_now() > quarter_end

        port, received = sink
        env = instance_environment(postgres_url, port, tmp_path)
        started = real_now()
        deadline = time.monotonic() + DEADLINE
        processes = start_instances(env, tmp_path / "logs")
        pids = {process.pid: number for number, process in enumerate(processes)}

        # The victim: an instance with rows handed to the server and rows still to send.
        victim: list[int] = []

        def mid_batch() -> bool:
            if sum(arrivals(received).values()) < ARRIVED_BEFORE_KILL:
                return False
            current = rows(app)
            assert any(row.state in UNFINISHED for row in current), "all sent before a kill"
            held: dict[int, Counter[bool]] = {}
            for row in current:
                pid = owner_pid(row.claimed_by)
                if row.state == "sending" and pid in pids:
                    held.setdefault(pid, Counter())[row.send_started_at is not None] += 1
            for pid, counts in held.items():
                if counts[True] and counts[False]:
                    victim.append(pid)
                    return True
            return False

        wait_for(mid_batch, "no instance in the middle of a batch", deadline)
        os.kill(victim[0], signal.SIGKILL)
        killed_at = real_now()
        killed = processes[pids[victim[0]]]
        killed.wait(timeout=30)
        held_at_kill = [
            row
            for row in rows(app)
            if row.state == "sending" and owner_pid(row.claimed_by) == victim[0]
        ]
        in_flight = {row.message_id for row in held_at_kill if row.send_started_at is not None}
        arrived_at_kill = sum(arrivals(received).values())

        def all_settled() -> bool:
            return not any(row.state in UNFINISHED for row in rows(app))

        wait_for(all_settled, "mail still waiting", deadline)
        survivors = [p for p in processes if p is not killed]
        for process in survivors:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in survivors]
    finally:
        for process in processes:
            if process.poll() is None:  # only when the test failed before stopping them
                process.kill()
                process.wait()

    after = rows(app)
    logs = [log_lines(tmp_path / "logs" / f"{n}.err") for n in range(INSTANCES)]
    arrived = arrivals(received)
    made_by_passes = [row for row in after if row.id not in before]
    by_id = {row.id: row for row in after}
    # The receipts still waiting when their companies' months were called late (the instances
    # start after the quarter) were withdrawn by the passes and written again with the date the
    # call gives (``receipt_withdrawals.rewrite_for_late_calls``): each one's rewrite is among
    # the rows the passes made, and it is what leaves.
    withdrawn_now = [row for row in queued + made_by_passes if by_id[row.id].state == "cancelled"]
    assert {row.kind for row in withdrawn_now} <= {"declaration_receipt"}
    leaving = {
        row.key.split(":maj:")[0]
        for row in made_by_passes
        if ":maj:" in row.key and by_id[row.id].state != "cancelled"
    }
    assert all(row.key.split(":maj:")[0] in leaving for row in withdrawn_now)
    gone = {row.id for row in withdrawn_now}
    to_deliver = [row for row in queued + made_by_passes if row.id not in gone]
    twice = {mid: count for mid, count in arrived.items() if count > 1}
    marked = {
        line["outbox_id"] for lines in logs for line in lines if line["action"] == "mail.uncertain"
    }
    sent_by = Counter(pids.get(owner_pid(by_id[row.id].claimed_by) or 0) for row in to_deliver)
    figures = {
        "queued_for_the_instances": len(to_deliver),
        "of_which_queued_by_the_real_passes": len(made_by_passes),
        "arrived_before_the_kill": arrived_at_kill,
        "held_by_the_killed_instance": len(held_at_kill),
        "in_flight_at_the_kill": len(in_flight),
        "marked_uncertain": len(marked),
        "arrived_twice": len(twice),
        "recorded_as_sent_by_instance": dict(sorted(sent_by.items(), key=str)),
        "killed_instance": pids[victim[0]],
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\nTrois instances, une tuée : {json.dumps(figures)}")

    # The two others stopped cleanly, after saying so.
    assert codes == [0, 0], logs
    for number, lines in enumerate(logs):
        if number != pids[victim[0]]:
            assert lines[-1]["action"] == "service.stopped", lines[-3:]
    # Every line says its action (APScheduler used to add an English one at each skipped tick).
    assert [line for lines in logs for line in lines if not line["action"]] == []
    # The victim was killed with rows on the wire and rows still to send.
    assert in_flight and len(held_at_kill) > len(in_flight)

    # Every message delivered: each row sent, and its Message-ID at the sink.
    assert Counter(by_id[row.id].state for row in to_deliver) == {"sent": len(to_deliver)}
    expected = {row.message_id for row in to_deliver}
    assert expected - set(arrived) == set()
    # Nothing else reached the sink (the months before the quarter went to files).
    assert set(arrived) - expected == set()
    # None twice but what was in flight in the killed instance, and never more than that.
    assert set(twice) <= in_flight, figures
    assert set(twice.values()) <= {2}, twice
    assert len(twice) <= len(in_flight), figures
    # The rows taken over as maybe delivered are those the victim had handed to the server.
    assert {by_id[i].message_id for i in marked} <= in_flight, figures

    # No pass lost, none done twice: the real day's work was done once across the three
    # instances, and nothing of it is left.
    passes_done_once(app, [line for instance in logs for line in instance], made_by_passes, started)
    left = queue_work(app, killed_at)
    assert (left.queued, left.ladders.armed) == (0, 0), left.as_dict()
