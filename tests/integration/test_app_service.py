"""The service clock through the application layer: a pass at an instant, passes over simulated
days, and what ``clauses serve`` builds on (a refused pass told in French, a schema never
created, an outage). On SQLite and PostgreSQL unless said."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from tests.integration.smtp_server import free_port
from tests.integration.test_dispatch import queue, row
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.app import service
from workflow.app.admin import init_database, require_schema
from workflow.bootstrap import App, bootstrap
from workflow.errors import InputRefused

#: Calls for March 2026 are due (09:00 in Paris, a working day).
CALLS_DUE = datetime(2026, 4, 8, 7, 0, tzinfo=UTC)


@pytest.fixture
def memory(app: App) -> MemoryTransport:
    transport = MemoryTransport()
    app.transport = transport
    return transport


@pytest.fixture
def unreachable(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[App]:
    """SMTP settings pointing at a loopback port nobody listens on."""
    settings = make_settings(
        tmp_path, database_url, mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port()
    )
    app = bootstrap(settings, clock=clock)
    yield app
    app.close()


def test_a_tick_at_an_instant_queues_the_calls_due_and_sends_them(
    app: App, memory: MemoryTransport
) -> None:
    lot = make_lot(app, companies=("Bâtiments A", "Bâtiments B"))

    done = service.run_tick(app, CALLS_DUE)

    assert done.now == CALLS_DUE
    assert done.ladders.calls == 2 and done.queued >= 2
    assert done.dispatch is not None and done.sent == len(memory.sent) >= 2
    with app.transaction() as session:
        calls = session.execute(
            select(OutboxMessage.state).where(OutboxMessage.kind == "declaration_call")
        ).all()
    assert [state for (state,) in calls] == ["sent"] * len(lot.company_ids) == ["sent"] * 2
    assert done.delivery_trouble is None
    # Run again at the same instant: everything is keyed, nothing new.
    again = service.run_tick(app, CALLS_DUE)
    assert again.queued == 0 and again.dispatch is None


def test_a_tick_at_another_instant_is_refused_over_smtp(unreachable: App) -> None:
    make_lot(unreachable)

    with pytest.raises(InputRefused, match="vrais courriels par SMTP"):
        service.run_tick(unreachable, CALLS_DUE)
    with unreachable.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DeclarationLadder)) == 0


def test_mail_waiting_for_a_server_out_of_reach_is_said_at_every_tick(
    unreachable: App, clock: Clock
) -> None:
    queue(unreachable, "waiting", now=clock.now)

    tried = service.run_tick(unreachable)
    clock.set(clock.now + timedelta(seconds=10))  # before its retry slot: nothing is tried
    waiting = service.run_tick(unreachable)

    assert tried.dispatch is not None and tried.dispatch.outage
    assert tried.delivery_trouble is not None
    assert tried.delivery_trouble.startswith("Envoi interrompu : serveur SMTP 127.0.0.1:")
    assert waiting.dispatch is None
    assert waiting.delivery_trouble is not None
    assert waiting.delivery_trouble.startswith(
        "Envoi impossible : 1 courriel attend le retour du serveur d'envoi"
    )
    assert row(unreachable, "waiting").state == "pending"


def test_simulated_days_run_the_passes_a_live_service_would(
    app: App, memory: MemoryTransport
) -> None:
    make_lot(app)
    start, end = date(2026, 4, 6), date(2026, 4, 12)  # Monday to Sunday
    heard: list[service.PassDone] = []

    simulated = service.simulate_days(app, start, end, on_pass=heard.append)

    assert simulated.passes == service.simulation_passes(app, start, end) == len(heard)
    assert [p.now for p in heard] == sorted(p.now for p in heard)
    assert simulated.sent == sum(p.sent for p in heard) == len(memory.sent)
    assert dict(simulated.by_kind)["declaration_call"] == 1
    assert simulated.queued == sum(count for _, count in simulated.by_kind)
    assert simulated.start.astimezone(app.settings.zone).date() == start


def test_a_simulation_that_would_send_real_mail_is_refused(unreachable: App) -> None:
    with pytest.raises(InputRefused, match="--no-dispatch"):
        service.simulate_days(unreachable, date(2026, 4, 6), date(2026, 4, 7))
    target = service.simulation_target(unreachable, dispatch=False)
    assert target.transport == unreachable.transport.describe()


def test_a_pass_the_database_refuses_is_told_in_french_for_the_log(
    tmp_path: Path, clock: Clock
) -> None:
    """A database never initialised: the service's pass fails, says why, and is not retried."""
    app = bootstrap(make_settings(tmp_path, f"sqlite:///{tmp_path / 'vide.db'}"), clock=clock)
    try:
        with pytest.raises(InputRefused, match="n'est pas initialisée : lancez d'abord"):
            require_schema(app)
        with pytest.raises(service.PassFault) as refused:
            asyncio.run(service.run_pass_async(app, service.pass_moment(app), lambda: False))
        fault = refused.value
        assert not fault.connection_cut
        assert fault.words.startswith("passage échoué, la base a refusé l'opération : ")
        assert fault.words.endswith(f" ; {service.AGAIN}")
        assert "no such table" in fault.detail

        ready = init_database(app)
        require_schema(app)
        done = asyncio.run(service.run_pass_async(app, clock.now, lambda: False))
    finally:
        app.close()
    assert ready.database == f"sqlite:///{tmp_path / 'vide.db'}" and ready.revision
    assert done.now == clock.now and done.queued == 0
