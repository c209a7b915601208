"""Outages and simulated clocks at the command line: exit code 3, and no future mail over SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Clock, make_settings
from tests.e2e.test_mail_cli import run
from tests.integration.smtp_server import ScriptedHandler, free_port, running_server
from tests.integration.test_dispatch import queue, row
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.dispatch import EXIT_DELIVERY_FAILED


@pytest.fixture
def unreachable(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[App]:
    """SMTP settings pointing at a loopback port nobody listens on."""
    settings = make_settings(
        tmp_path, database_url, mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port()
    )
    app = bootstrap(settings, clock=clock)
    yield app
    app.close()


def test_mail_send_exits_3_with_one_french_line_when_the_server_is_unreachable(
    unreachable: App, clock: Clock
) -> None:
    queue(unreachable, "waiting", now=clock.now)

    result = run(unreachable, "mail", "send")

    assert result.exit_code == EXIT_DELIVERY_FAILED == 3
    assert "serveur SMTP 127.0.0.1:" in result.stderr
    assert "injoignable : connexion refusée" in result.stderr
    assert "Connect call failed" not in result.stderr.split("(")[0]
    assert row(unreachable, "waiting").state == "pending"
    # Asked again before its retry slot: a person asks to send now, so it is tried again (the
    # service's passes wait for the slot), and the outage is said again.
    as_json = run(unreachable, "mail", "send", "--json")
    assert as_json.exit_code == 3
    assert '"panne": true' in as_json.stdout
    assert row(unreachable, "waiting").attempts == 2


def test_mail_send_exits_0_when_the_server_takes_the_mail(
    tmp_path: Path, sqlite_url: str, clock: Clock
) -> None:
    handler = ScriptedHandler()
    with running_server(handler) as server:
        settings = make_settings(
            tmp_path,
            sqlite_url,
            mail_transport="smtp",
            smtp_host=server.hostname,
            smtp_port=server.port,
        )
        app = bootstrap(settings, clock=clock)
        try:
            queue(app, "m", now=clock.now)
            result = run(app, "mail", "send")
        finally:
            app.close()
    assert result.exit_code == 0, result.output
    assert len(handler.received) == 1


def test_tick_exits_3_when_the_server_is_unreachable(unreachable: App, clock: Clock) -> None:
    queue(unreachable, "waiting", now=clock.now)

    result = run(unreachable, "tick")

    assert result.exit_code == 3
    assert "injoignable" in result.stderr
    assert row(unreachable, "waiting").state == "pending"


def test_tick_keeps_exiting_3_while_mail_waits_for_the_server_even_with_nothing_tried(
    unreachable: App, clock: Clock
) -> None:
    queue(unreachable, "waiting", now=clock.now)
    assert run(unreachable, "tick").exit_code == 3
    clock.set(clock.now + timedelta(seconds=10))  # before the retry slot: nothing is tried

    result = run(unreachable, "tick")

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Envoi impossible : 1 courriel attend le retour du serveur d'envoi, le plus ancien depuis"
    )
    assert "Dernière erreur : " in result.stderr
    assert row(unreachable, "waiting").attempts == 1


def test_tick_at_another_instant_refuses_smtp_and_writes_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    real = Clock(datetime.now(UTC))
    settings = make_settings(
        tmp_path, sqlite_url, mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port()
    )
    app = bootstrap(settings, clock=real)
    try:
        future = (real.now + timedelta(days=40)).isoformat()
        refused = run(app, "tick", "--now", future)
        assert refused.exit_code == 1
        assert "vrais courriels par SMTP" in refused.output
        assert "CLAUSES_MAIL_TRANSPORT=file" in refused.output
        with app.transaction() as session:
            assert session.query(OutboxMessage).count() == 0
        # The real instant, written out (cron: --now "$(date -Iseconds)"), is accepted.
        assert run(app, "tick", "--now", real.now.isoformat()).exit_code == 0
    finally:
        app.close()
