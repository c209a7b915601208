"""A month declared late with someone at 0 h: the import's result and the buyer's notice of the
month arrived say the same thing of the same people (user trial: « 4 participants, dont 1 à
0 h » on one side, « 3 participants » on the other). Someone at 0 h did not work that month:
both count those who worked and name the other apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import add_working_days, at_local, local_date
from workflow.emails.late_declarations import participants_phrase
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP = date(2026, 9, 1)
HEADER = (
    "SIRET;Entreprise;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;"
    "Type de contrat;Modalité de réalisation;Heures"
)
PEOPLE = (
    ("P-0007", "Demandeur d'emploi de longue durée", "CDD", "Embauche directe", "151,67"),
    ("P-0012", "Bénéficiaire du RSA", "Intérim d'insertion", "Mise à disposition (ETTI)", "98,5"),
    ("P-0031", "Bénéficiaire du RSA", "CDI", "Embauche directe", "120"),
    ("P-0040", "Travailleur handicapé (RQTH)", "CDI", "Embauche directe", "0"),
)


@pytest.fixture
def wired(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def _squashed(text: str) -> str:
    return squash(text).replace("\u00a0", " ").replace("\u202f", " ")


def test_the_import_and_the_buyers_notice_count_the_same_people(
    wired: App, clock: Clock, tmp_path: Path
) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(
        app, start=SEP, end=date(2027, 6, 30), companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )  # fmt: skip
    simulate(app, SEP, date(2026, 11, 6))  # September called, reminded, the buyer alerted
    with app.transaction() as session:
        [alert] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_escalation")
        ).all()
        alerted_on = local_date(alert.sent_at or alert.created_at, zone)
    declared_at = at_local(add_working_days(alerted_on, 2), time(11), zone)
    clock.set(declared_at)
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
    imported = CliRunner().invoke(
        cli,
        ["declaration", "import", str(path), "--clause", str(lot.clause_id)],
        obj=state,
        catch_exceptions=False,
    )
    with app.transaction() as session:
        [notice] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_late_declaration_received")
        ).all()
        text, html = notice.body_text, notice.body_html

    said = "370,17 h au total, 3 participants ayant travaillé (1 autre déclaré à 0 h)."
    assert imported.exit_code == 0, imported.output
    assert said in _squashed(imported.output)
    assert (
        "que je vous avais signalée manquante le "
        f"{french_date(alerted_on)} : 370,17 h, 3 participants ayant travaillé (1 autre déclaré "
        "à 0 h)."
    ) in _squashed(text)
    assert "370,17 h, 3 participants ayant travaillé (1 autre déclaré à 0 h).</p>" in _squashed(
        unescape(html)
    )


@pytest.mark.parametrize(
    ("worked", "at_zero", "said"),
    [
        (3, 0, "3 participants"),
        (1, 0, "1 participant"),
        (3, 1, "3 participants ayant travaillé (1 autre déclaré à 0\u00a0h)"),
        (1, 2, "1 participant ayant travaillé (2 autres déclarés à 0\u00a0h)"),
        (0, 2, "aucun participant ayant travaillé (2 déclarés à 0\u00a0h)"),
    ],
)
def test_the_phrase_counts_who_worked_and_names_the_others_apart(
    worked: int, at_zero: int, said: str
) -> None:
    assert participants_phrase(worked, at_zero) == said
