"""Whole passes: idempotence, downtime, DST, two instances at once, and the CLI around them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from tests.conftest import Clock, make_settings
from tests.integration._ladders import ladder_emails, ladder_pass, make_lot
from workflow.adapters.db import make_engine
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Base, Clause, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import month_schedule, months_between
from workflow.entrypoints.cli import cli
from workflow.services.ladder_keys import withdrawn_by_service
from workflow.services.reminders import step_key
from workflow.services.ticks import run_pass, simulate, simulation_instants
from workflow.settings import Settings


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def mail_app(settings: Settings, clock: Clock, transport: MemoryTransport) -> Iterator[App]:
    application = bootstrap(settings, clock=clock, transport=transport)
    yield application
    application.close()


def outbox(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def to_deliver(app: App) -> list[OutboxMessage]:
    """The outbox but the emails the service withdrew before they left: ``make_lot`` records
    the award while the « clause rédigée » notice waits, which gives way to the award's."""
    return [row for row in outbox(app) if not withdrawn_by_service(row.state, row.last_error)]


def test_a_pass_run_twice_queues_and_sends_nothing_new(
    mail_app: App, transport: MemoryTransport
) -> None:
    make_lot(mail_app, companies=("A", "B"))
    # 22 April, 09:30 in Paris: March's calls (the lot started on 2 March) are due, three weeks
    # late (no pass ran before): they give a new due date, which March's summary waits for.
    first = run_pass(mail_app, utc(2026, 4, 22, 7, 30))
    rows = len(outbox(mail_app))
    sent = len(transport.sent)

    again = run_pass(mail_app, utc(2026, 4, 22, 7, 30))

    assert first.ladders.calls == 2 and first.summaries == 0 and first.sent == sent
    assert again.queued == 0 and again.dispatch is None
    assert (len(outbox(mail_app)), len(transport.sent)) == (rows, sent)
    assert all(row.state == "sent" for row in to_deliver(mail_app))


def test_a_stop_request_leaves_the_rest_for_the_next_pass(mail_app: App) -> None:
    make_lot(mail_app)
    report = run_pass(mail_app, utc(2026, 4, 1, 7, 30), stop=lambda: True)
    assert report.interrupted and report.queued == 0 and report.dispatch is None
    assert run_pass(mail_app, utc(2026, 4, 1, 7, 30)).ladders.calls == 1


def test_downtime_across_a_month_end_sends_each_message_once(
    mail_app: App, transport: MemoryTransport
) -> None:
    lot = make_lot(mail_app, start=date(2026, 3, 2))
    company = lot.company_ids[0]
    simulate(mail_app, date(2026, 4, 1), date(2026, 5, 28))  # stopped on the 28th...
    simulate(mail_app, date(2026, 6, 3), date(2026, 6, 30))  # ...restarted on the 3rd

    keys = Counter(m.key for m in transport.sent)
    assert max(keys.values()) == 1
    assert Counter(m.key for m in to_deliver(mail_app)) == keys
    created = {m.key: m.created_at for m in outbox(mail_app)}
    april, may = date(2026, 4, 1), date(2026, 5, 1)
    # April's ladder ran through the downtime: its escalation was due on 3 June at 09:00.
    assert created[step_key(lot.clause_id, company, april, "reminder_2")] == utc(2026, 5, 21, 7)
    assert created[step_key(lot.clause_id, company, april, "escalation")] == utc(2026, 6, 3, 7)
    # May's call was due on Monday 1 June: it leaves on the restart day at the call time
    # (09:00, not at the 07:00 pass), and gives 7 working days from then (due 12 June).
    assert created[step_key(lot.clause_id, company, may, "call")] == utc(2026, 6, 3, 7)
    assert created[step_key(lot.clause_id, company, may, "reminder_1")] == utc(2026, 6, 17, 7)
    summaries = sorted(k for k in keys if k.startswith("summary:") and "facilitator" in k)
    # Months the lot worked in (from March: it started on 2 March), each once; April's before
    # the stop (22 May, the working day after its last reminder), May's after the restart on
    # 24 June: its call, late, gave 12 June (not the calendar's 10th); reminders 3 and 7
    # working days later, the summary the day after, at 07:00 in Paris.
    assert summaries == [f"summary:2026-0{m}:facilitator" for m in (3, 4, 5)]
    assert created["summary:2026-04:facilitator"] == utc(2026, 5, 22, 5)
    assert created["summary:2026-05:facilitator"] == utc(2026, 6, 24, 5)
    digests = [k for k in keys if k.startswith("digest:")]
    assert "digest:2026-06-01" not in digests and len(digests) == len(set(digests))


@pytest.mark.parametrize(
    ("month", "due_day", "called", "first", "expected"),
    [
        # February, called Monday 2 March (09:00 = 08:00 UTC in winter), due Wednesday
        # 25 March; reminder 3 working days later on Monday 30 March, the day after clocks go
        # forward: 09:00 in Paris is 07:00 UTC.
        (date(2026, 2, 1), 25, utc(2026, 3, 2, 8), utc(2026, 3, 29, 0), utc(2026, 3, 30, 7)),
        # September, called Thursday 1 October (07:00 UTC), due Wednesday 21 October;
        # reminder on Monday 26 October, the day after clocks go back: 09:00 in Paris is
        # 08:00 UTC.
        (date(2026, 9, 1), 21, utc(2026, 10, 1, 7), utc(2026, 10, 25, 0), utc(2026, 10, 26, 8)),
    ],
)
def test_a_nine_oclock_reminder_fires_once_at_nine_local_across_dst(
    app: App, month: date, due_day: int, called: datetime, first: datetime, expected: datetime
) -> None:
    lot = make_lot(app, start=month, buyer_due_day=due_day)
    ladder_pass(app, called)  # the call, on time
    moment = first
    while moment <= first + timedelta(hours=36):  # every 30 minutes, DST night included
        ladder_pass(app, moment)
        moment += timedelta(minutes=30)

    reminders = [m for m in ladder_emails(app) if m.key.endswith(f"{month:%Y-%m}:reminder_1")]
    assert [m.created_at for m in reminders] == [expected]
    assert reminders[0].clause_id == lot.clause_id


def test_tick_runs_one_pass_at_the_given_local_time(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    settings = make_settings(tmp_path, sqlite_url)
    app = bootstrap(settings)
    make_lot(app)
    app.close()
    runner = CliRunner()

    early = runner.invoke(cli, ["tick", "--now", "2026-04-01T08:59"])
    on_time = runner.invoke(cli, ["tick", "--now", "2026-04-01T09:00"])
    again = runner.invoke(cli, ["tick", "--now", "2026-04-01T09:00", "--json"])
    wrong = runner.invoke(cli, ["tick", "--now", "demain"])

    assert early.exit_code == 0, early.output
    assert "0 appel à déclarer" in early.output
    assert "1 appel à déclarer" in on_time.output and "1 courriel envoyé" in on_time.output
    assert '"appels": 0' in again.output and '"envoi": null' in again.output
    # Keys in French like every other --json output; none of the report's English names.
    keys = set(json.loads(again.output))
    assert "appels" in keys and not keys & {"calls", "now", "digests", "dispatch"}
    assert wrong.exit_code == 1 and "ISO 8601" in wrong.output
    assert len(list((tmp_path / "mail" / "declaration_call").glob("*.eml"))) == 1


def test_tick_keeps_log_lines_off_the_terminal_unless_asked(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Log lines are English, for operators, and only on stderr with --log."""
    app = bootstrap(make_settings(tmp_path, sqlite_url))
    make_lot(app)
    app.close()
    env = {**os.environ, "CLAUSES_DATABASE_URL": sqlite_url, "CLAUSES_MAIL_DIR": str(tmp_path)}
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()", "tick"]

    quiet = subprocess.run(
        [*command, "--now", "2026-08-03T10:00"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    logged = subprocess.run(
        [*command, "--now", "2026-09-01T10:00", "--log"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    # Months overdue, found at 10:00: held to the next call time, none skipped any more.
    assert quiet.returncode == 0 and "Passage du 3 août 2026" in quiet.stdout
    assert "sautée" not in quiet.stdout
    assert quiet.stderr == ""
    assert logged.returncode == 0 and "Passage du 1er septembre 2026" in logged.stdout
    actions = [json.loads(line)["action"] for line in logged.stderr.splitlines()]
    assert "pass.done" in actions


def test_simulate_prints_a_french_summary_by_kind(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    app = bootstrap(make_settings(tmp_path, sqlite_url))
    make_lot(app)
    app.close()

    result = CliRunner().invoke(cli, ["simulate", "--from", "01/04/2026", "--to", "30/04/2026"])
    backwards = CliRunner().invoke(cli, ["simulate", "--from", "30/04/2026", "--to", "01/04/2026"])

    assert result.exit_code == 0, result.output
    assert "Simulation du 1er avril 2026 au 30 avril 2026" in result.output
    assert "Appels à déclarer (entreprises)" in result.output
    assert "Rappels (entreprises)" in result.output
    assert backwards.exit_code == 1 and "précède" in backwards.output


def test_simulate_refuses_to_send_real_emails_over_smtp(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLAUSES_MAIL_TRANSPORT", "smtp")
    app = bootstrap(make_settings(tmp_path, sqlite_url))
    make_lot(app)
    app.close()
    args = ["simulate", "--from", "01/04/2026", "--to", "30/04/2026"]

    refused = CliRunner().invoke(cli, args)
    queued_only = CliRunner().invoke(cli, [*args, "--no-dispatch"])

    assert refused.exit_code == 1 and "CLAUSES_MAIL_TRANSPORT=file" in refused.output
    assert queued_only.exit_code == 0, queued_only.output


# --- two instances on one PostgreSQL database --------------------------------------------------


def _truncate(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_instances_running_passes_together_send_every_message_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    _truncate(postgres_url)
    settings = make_settings(tmp_path, postgres_url)
    transports = [MemoryTransport(), MemoryTransport()]
    apps = [bootstrap(settings, transport=t) for t in transports]
    first, last = date(2026, 3, 1), date(2027, 2, 28)
    lots = [
        make_lot(apps[0], start=date(2026, 3, 2), end=date(2026, 12, 18), companies=("A", "B")),
        make_lot(apps[0], start=date(2026, 5, 4), end=date(2027, 6, 30), companies=("C",)),
        make_lot(apps[0], start=date(2026, 9, 1), end=date(2027, 3, 31), companies=("D", "E")),
    ]
    instants = simulation_instants(first, last, settings)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def instance(app: App) -> None:
        try:
            for instant in instants:
                barrier.wait()  # both start each pass together: maximum contention
                run_pass(app, instant)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=instance, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    sent = Counter(m.key for t in transports for m in t.sent)
    assert sent and max(sent.values()) == 1
    rows = to_deliver(apps[0])
    assert {r.key for r in rows} == set(sent)
    assert all(r.state == "sent" for r in rows)
    assert sum(len(t.sent) for t in transports) == len(rows)

    end = instants[-1]
    rules = settings.calendar_rules
    expected = set()
    with apps[0].transaction() as session:
        clauses = {c.id: c for c in session.scalars(select(Clause))}
    for lot in lots:
        clause = clauses[lot.clause_id]
        assert clause.start_date is not None and clause.planned_end_date is not None
        for month in months_between(clause.start_date, clause.planned_end_date):
            schedule = month_schedule(month, rules, settings.zone)
            for company in lot.company_ids:
                expected |= {
                    step_key(lot.clause_id, company, month, s.name)
                    for s in schedule.steps
                    if s.at <= end
                }
    assert {k for k in sent if k.startswith("reminder:")} == expected
    summaries = {k for k in sent if k.startswith("summary:") and k.endswith("facilitator")}
    # Every month the lots worked in (from March), once; February had no lot started.
    assert summaries == {f"summary:{m:%Y-%m}:facilitator" for m in months_between(first, last)[:-1]}
    for app in apps:
        app.close()
