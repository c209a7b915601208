"""The import's result counts the participants by criterion as it counts them in all: those
who worked that month (``participants.worked``). Someone declared at 0 h is said apart (user
trial: « 3 participants ayant travaillé (1 autre déclaré à 0 h) » above « Par critère (3) »
whose counts added up to 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_participants_worked_wording import HEADER, PEOPLE
from tests.text import squash
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)


@pytest.fixture
def wired(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def test_the_criteria_count_who_worked_and_name_the_ones_at_zero_apart(
    wired: App, clock: Clock, tmp_path: Path
) -> None:
    app = wired
    lot = make_lot(
        app, start=SEP, end=date(2027, 6, 30), companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )  # fmt: skip
    clock.set(datetime.fromisoformat("2026-10-05T11:00:00+02:00"))
    # Four people: one long-term jobseeker, two on minimum income, one disabled worker at 0 h.
    path = tmp_path / "septembre.csv"
    path.write_text(
        "\r\n".join(
            [HEADER]
            + [
                f";Bâtiments Gascons SARL;;;09/2026;{ref};{criterion};{contract};{mode};{hours}"
                for ref, criterion, contract, mode, hours in PEOPLE
            ]
        ),
        encoding="utf-8",
    )
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(
        cli,
        ["declaration", "import", str(path), "--clause", str(lot.clause_id)],
        obj=state,
        catch_exceptions=False,
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    said = squash(result.output).replace("\u00a0", " ")

    assert "370,17 h au total, 3 participants ayant travaillé (1 autre déclaré à 0 h)." in said
    # Two criteria among the three who worked: 1 + 2 = 3, as the line above.
    assert (
        "Par critère (2) : Demandeur d'emploi de longue durée : 1 ; Bénéficiaire du RSA, de "
        "l'ASS, de l'AAH ou d'une pension d'invalidité : 2."
    ) in said, said
    assert "Déclarés à 0 h, hors de ces comptes : Travailleur handicapé (RQTH) : 1." in said
