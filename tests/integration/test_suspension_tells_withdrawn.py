"""``clauses clause advance N suspendre`` says what the suspension withdrew of the lot's emails
still waiting (``suspension_withdrawals``), as ``achever`` says « 1 courriel en attente retiré
(rappel n° 1) ». Not in its history row: the buyer's notice of the suspension quotes that
row's reason (« Motif indiqué : … »), which stays the one the facilitator gave.

The defect: the suspension withdrew November's first reminder, queued that morning and not yet
sent, and the command printed only « Clause n° … : mise en œuvre → suspendue »; nothing told
the facilitator that an email she may have seen waiting in the log would not leave. Through
the command line (text and ``--json``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_company_end_notices import november_reminder_queued, paris
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.app import api_tokens
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli as cli_group
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
TOLD = (
    f"Bâtiments Test{NBSP}: 1 courriel en attente retiré (rappel n° 1){NBSP}; il sera envoyé "
    "de nouveau après la reprise, avec les dates qu'elle donne, si le mois est encore à "
    "déclarer."
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def suspend(settings: Settings, clock: Clock, lot: Lot, *more: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(
        cli_group,
        ["clause", "advance", str(lot.clause_id), "suspendre", *more],
        obj=state,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_suspension_says_the_reminder_it_withdrew(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 10))

    said = squash(suspend(settings, clock, lot, "--reason", "Fouilles archéologiques"))

    assert said == f"Clause n° {lot.clause_id} : mise en œuvre → suspendue {TOLD}", said
    with app.transaction() as session:
        withdrawn = session.get_one(OutboxMessage, reminder)
        assert withdrawn.state == "cancelled"
        [reason] = session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "suspend"
            )
        ).all()
    # The history row, which the buyer's notice quotes, keeps the reason given, alone.
    assert reason == "Fouilles archéologiques"
    with app.transaction() as session:
        [buyer] = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "notice_suspended")
        ).all()
    assert "Motif indiqué : Fouilles archéologiques" in squash(buyer).replace(NBSP, " ")
    assert "courriel" not in squash(buyer).split("Motif indiqué")[1].split("\n")[0][:80]

    # Resumed, then suspended again with nothing waiting: nothing more is said.
    clock.set(paris(reminder_day, 11))
    resumed = CliRunner().invoke(
        cli_group,
        ["clause", "advance", str(lot.clause_id), "reprendre"],
        obj=_state(settings, clock),
        catch_exceptions=False,
    )
    assert resumed.exit_code == 0, resumed.output
    clock.set(paris(reminder_day, 12))
    said = squash(suspend(settings, clock, lot))
    assert said == f"Clause n° {lot.clause_id} : mise en œuvre → suspendue", said


def test_the_suspension_in_json_lists_what_it_withdrew(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 10))

    said = json.loads(suspend(settings, clock, lot, "--json"))

    assert said["courriels_retires"] == [TOLD]
    with app.transaction() as session:
        [reason] = session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "suspend"
            )
        ).all()
    assert reason is None


def _state(settings: Settings, clock: Clock) -> CliState:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    return state


def test_the_api_suspension_lists_what_it_withdrew(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The API says what the command line says: ``courriels_retires``."""
    lot, reminder, reminder_day, _ = november_reminder_queued(app)
    clock.set(paris(reminder_day, 10))
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))

    moved = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers={"Authorization": f"Bearer {token}"},
        json={"evenement": "suspendre", "motif": "Fouilles archéologiques"},
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["courriels_retires"] == [TOLD]
    with app.transaction() as session:
        assert session.get_one(OutboxMessage, reminder).state == "cancelled"
