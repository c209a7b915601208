"""``clauses serve``: one service per SQLite file, a graceful stop, one JSON line per action."""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from workflow.adapters.db import current_revision, make_engine, upgrade
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.scheduler import JsonFormatter, Service, single_instance
from workflow.errors import SchedulerAlreadyRunning


def test_a_second_service_on_the_same_sqlite_file_is_refused(sqlite_url: str) -> None:
    with single_instance(sqlite_url) as lock:
        assert lock is not None and lock.name == "clauses.db.lock"
        with pytest.raises(SchedulerAlreadyRunning) as refused, single_instance(sqlite_url):
            pass  # pragma: no cover
    message = refused.value.message
    assert "tourne déjà sur la base SQLite" in message
    assert f"processus {os.getpid()}" in message and "PostgreSQL" in message
    with single_instance(sqlite_url):  # released with the first one
        pass


def test_the_cli_refuses_a_second_serve_with_a_clear_french_message(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    with single_instance(sqlite_url):
        result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "Refusé" in result.output and "un seul service à la fois" in result.output


def test_several_services_may_share_a_postgresql_database() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/whatever"
    with single_instance(url) as first, single_instance(url) as second:
        assert first is None and second is None


def test_serve_refuses_a_database_that_was_never_initialised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", f"sqlite:///{tmp_path / 'vide.db'}")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1 and "clauses init" in result.output


def test_each_log_line_is_one_json_object_with_its_action() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("ladder step", extra={"action": "ladder.step_queued", "step": "call"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["action"] == "ladder.step_queued" and line["step"] == "call"
    assert line["level"] == "WARNING" and line["time"].endswith("+00:00")


def test_the_service_job_reads_the_clock_once_and_runs_the_pass(
    app: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    transport = MemoryTransport()
    reads: list[datetime] = []

    def counted_clock() -> datetime:
        reads.append(clock())
        return reads[-1]

    service_app = bootstrap(app.settings, clock=counted_clock, transport=transport)
    make_lot(service_app)
    clock.set(datetime(2026, 4, 1, 7, 0, tzinfo=UTC))
    reads.clear()
    service = Service(service_app, interval=3600)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        # The first pass starts at once; a pass that fails would leave ``passes`` at 0 forever.
        async with asyncio.timeout(60):
            while service.passes == 0:
                await asyncio.sleep(0.01)
        stop.set()
        await running

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    service_app.close()

    # Only the service's own lines carry an action: APScheduler's chatter ("Adding job", at INFO
    # unless ``configure_logging`` quietened it earlier in the process) is not the service's.
    actions = [r.action for r in caplog.records if hasattr(r, "action")]
    assert actions[0] == "service.started" and actions[-1] == "service.stopped"
    assert "pass.done" in actions and "ladder.step_queued" in actions
    assert any(m.kind == "declaration_call" for m in transport.sent)
    assert reads == [datetime(2026, 4, 1, 7, 0, tzinfo=UTC)]


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "clauses.db"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap(make_settings(tmp_path, url))
    start = date.today() - timedelta(days=70)  # the service runs on the real clock
    make_lot(app, start=start, end=start + timedelta(days=365))
    app.close()
    env = {
        **os.environ,
        "CLAUSES_DATABASE_URL": url,
        "CLAUSES_MAIL_DIR": str(tmp_path / "mail"),
        "CLAUSES_PASS_INTERVAL": "1",
        "CLAUSES_WEB_PORT": "0",
    }
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()", "serve"]
    process = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert process.stderr is not None
        lines = []
        for raw in process.stderr:  # wait for a first complete pass
            lines.append(json.loads(raw))
            if lines[-1]["action"] == "pass.done":
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
    lines += [json.loads(raw) for raw in rest.splitlines() if raw.strip()]
    actions = [line["action"] for line in lines]
    assert process.returncode == 0
    # The pages start first (their port is bound before the clock runs), then the clock.
    assert actions[:2] == ["web.started", "service.started"]
    assert "service.stopping" in actions and actions[-1] == "service.stopped"
    # The months since the start were opened in that first pass, and it was logged (their
    # one catch-up call waits for the call time, 09:00 on a working day).
    assert "ladder.opened" in actions


def test_serve_with_migrate_sets_up_a_fresh_database_first(tmp_path: Path) -> None:
    """What the container runs on an empty /data volume."""
    database = tmp_path / "fresh.db"
    env = {
        **os.environ,
        "CLAUSES_DATABASE_URL": f"sqlite:///{database}",
        "CLAUSES_MAIL_DIR": str(tmp_path / "mail"),
        "CLAUSES_PASS_INTERVAL": "1",
        "CLAUSES_WEB_PORT": "0",
    }
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "serve", "--migrate"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    # A pass with nothing due logs nothing, so wait for the start; the watchdog ends a hung run.
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        actions = []
        for raw in process.stderr:
            actions.append(json.loads(raw)["action"])
            if actions[-1] == "service.started":
                break
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
    assert process.returncode == 0
    assert "service.started" in actions
    engine = make_engine(f"sqlite:///{database}")
    assert current_revision(engine) is not None
    engine.dispose()


def test_a_stop_during_a_pass_ends_the_sending_between_two_messages(app: App, clock: Clock) -> None:
    """SIGTERM with a long queue: the service does not send the whole queue before stopping."""
    from tests.integration.test_dispatch import NOW, queue

    transport = MemoryTransport()
    service_app = bootstrap(app.settings, clock=clock, transport=transport)
    for number in range(40):
        queue(service_app, f"k{number}")
    clock.set(NOW)
    service = Service(service_app, interval=3600)

    def stop_after_the_fifth(message: object) -> None:
        if len(transport.sent) == 4:
            service.stopping = True  # what the SIGTERM handler's stop leads to

    transport.script = stop_after_the_fifth

    async def one_pass() -> None:
        service._busy = asyncio.Lock()
        await service.tick()

    asyncio.run(one_pass())
    service_app.close()

    assert len(transport.sent) == 5
    with app.transaction() as session:
        states = [m.state for m in session.scalars(select(OutboxMessage))]
    assert states.count("sent") == 5 and states.count("pending") == 35


def _serve_process(tmp_path: Path, **more: str) -> subprocess.Popen[str]:
    database = tmp_path / "web.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSES_")}
    env.update(
        CLAUSES_DATABASE_URL=f"sqlite:///{database}",
        CLAUSES_MAIL_DIR=str(tmp_path / "mail"),
        CLAUSES_PASS_INTERVAL="3600",
        CLAUSES_WEB_HOST="127.0.0.1",
        **more,
    )
    command = [sys.executable, "-c", "from workflow.entrypoints.cli import main; main()"]
    return subprocess.Popen(
        [*command, "serve", "--migrate"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def test_serve_answers_the_web_pages_from_the_same_process_and_stops_both(tmp_path: Path) -> None:
    import urllib.request

    process = _serve_process(tmp_path, CLAUSES_WEB_PORT="0")
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        started: dict[str, object] = {}
        seen = []
        for raw in process.stderr:
            line = json.loads(raw)
            seen.append(line["action"])
            if line["action"] == "web.started":
                started = line
            if started and "service.started" in seen:
                break
        url = f"http://127.0.0.1:{started['port']}/"
        with urllib.request.urlopen(url, timeout=10) as response:
            page = html.unescape(response.read().decode("utf-8"))
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if process.poll() is None:  # pragma: no cover - only when the test fails
            process.kill()
    assert process.returncode == 0
    assert "Clauses sociales d'insertion" in page and 'lang="fr"' in page
    assert json.loads(rest.splitlines()[-1])["action"] == "service.stopped"


def test_serve_refuses_a_web_port_already_taken_before_starting_anything(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve_process(tmp_path, CLAUSES_WEB_PORT=str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"Les pages web ne peuvent pas écouter sur 127.0.0.1:{port}" in err
    assert "--no-web" in err
    assert '"service.started"' not in err
