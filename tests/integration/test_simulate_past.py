"""``clauses simulate`` never replays time the database has already lived: a simulation starting
before what it holds (a pass, an email queued, a stage change) is refused, and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from workflow.adapters.orm import ClauseHistory, DeclarationLadder, OutboxMessage, PeriodicRun
from workflow.app import clauses as clause_app
from workflow.app import service
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.cli import cli
from workflow.errors import InputRefused
from workflow.services.ticks import simulation_instants


def counts(app: App) -> tuple[int, ...]:
    with app.transaction() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (OutboxMessage, DeclarationLadder, ClauseHistory, PeriodicRun)
        )


def test_a_simulation_from_before_a_resumption_is_refused_and_changes_nothing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUSES_DATABASE_URL", database_url)
    monkeypatch.setenv("CLAUSES_MAIL_DIR", str(tmp_path / "mail"))
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = bootstrap(make_settings(tmp_path, database_url), clock=clock)
    lot = make_lot(app)
    service.simulate_days(app, date(2026, 4, 1), date(2026, 4, 30))
    clock.set(datetime(2026, 5, 4, 8, 0, tzinfo=UTC))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.SUSPEND, reason="chantier arrêté")
    # Resumed on Saturday 20 June 2026 at 14:00 in Paris.
    clock.set(datetime(2026, 6, 20, 12, 0, tzinfo=UTC))
    clause_app.advance_clause(app, lot.clause_id, ClauseEvent.RESUME, reason="reprise")
    before = counts(app)

    refused = CliRunner().invoke(cli, ["simulate", "--from", "01/06/2026", "--to", "30/06/2026"])
    as_json = CliRunner().invoke(
        cli, ["simulate", "--from", "20/06/2026", "--to", "30/06/2026", "--json"]
    )
    after_refusals = counts(app)
    # Saturday's only pass (at the call time) came before the resumption: from the next day.
    allowed = CliRunner().invoke(cli, ["simulate", "--from", "21/06/2026", "--to", "30/06/2026"])

    assert refused.exit_code == 1
    assert " ".join(refused.output.split()) == (
        "Refusé : --from : le 01/06/2026 est antérieur à la dernière action enregistrée dans "
        "la base (un changement d'étape d'une clause, le 20 juin 2026 à 14 h) ; une simulation "
        "ne rejoue pas le passé : simulez à partir du 21/06/2026. Rien n'a été changé."
    )
    assert as_json.exit_code == 1 and "le 20/06/2026 est antérieur" in as_json.output
    assert after_refusals == before
    assert allowed.exit_code == 0, allowed.output
    assert "Simulation du 21 juin 2026 au 30 juin 2026" in allowed.output
    with app.transaction() as session:
        # Nothing is dated between the suspension and the resumption the service already knew of.
        resumed = session.scalar(
            select(ClauseHistory.at).where(ClauseHistory.event == ClauseEvent.RESUME.value)
        )
        assert resumed is not None
        late = session.scalars(
            select(OutboxMessage.created_at).where(
                OutboxMessage.created_at > datetime(2026, 5, 4, 8, 0, tzinfo=UTC),
                OutboxMessage.created_at < resumed,
            )
        ).all()
    assert late == []
    app.close()


def test_consecutive_simulations_go_on_and_the_last_pass_is_named(app: App) -> None:
    make_lot(app)
    service.simulate_days(app, date(2026, 4, 1), date(2026, 4, 30))
    service.simulate_days(app, date(2026, 5, 1), date(2026, 5, 31))
    last = service.last_recorded(app)

    with pytest.raises(InputRefused) as again:
        service.simulate_days(app, date(2026, 5, 31), date(2026, 6, 30))
    follows = service.simulate_days(app, date(2026, 6, 1), date(2026, 6, 30))

    # Sunday 31 May: its one pass, at the call time, opened the day (the daily sweep).
    assert last is not None and last.what == "un passage du service"
    assert last.at == simulation_instants(date(2026, 5, 31), date(2026, 5, 31), app.settings)[0]
    assert "le 31/05/2026 est antérieur" in str(again.value)
    assert "(un passage du service, le 31 mai 2026 à " in str(again.value)
    assert "simulez à partir du 01/06/2026" in str(again.value)
    assert follows.passes == service.simulation_passes(app, date(2026, 6, 1), date(2026, 6, 30))


def test_a_fresh_database_may_be_simulated_from_any_day(app: App) -> None:
    assert service.last_recorded(app) is None
    assert service.simulation_start_refusal(app, date(2026, 1, 1)) is None
