"""A month whose due date a suspension pushed is not late at a closure before the pushed date.

The company's email at a lot's closure tells a month « pas encore due » (asked, not late) from a
month late (« ne m'est pas parvenue »). It compared the due date of the month's call with the
closure day, but a suspension pushes that date by the working days the lot spent suspended
after the call (as the digest, the summaries, ``declaration list`` count it, and as the
resumption's email gave it to the company). March 2027 called on 1 April, due on 12 April; the
lot suspended from 8 to 20 April (the resumption's email: « à rendre au plus tard le 23 avril
2027 »), finished and closed on 22 April: March was not late, and its date is the one the
company was last given.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import run_cli
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.orm import DeclarationLadder, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
MARCH = date(2027, 3, 1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def sent(app: App, lot: Lot, kind: str) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )
        for message in found:
            session.expunge(message)
        return found


def cli(settings: Settings, clock: Clock, day: date, hour: int, *args: str) -> str:
    code, said = run_cli(settings, clock, paris(day, hour), *args)
    assert code == 0, said
    return said


def called_suspended_then_closed(
    app: App, settings: Settings, clock: Clock, tmp_path: Path, *, resumed: date
) -> Lot:
    """March called on 1 April 2027 (due on the 12th), the lot suspended on 8 April, resumed on
    ``resumed``, finished « le 31/03/2027 » and closed on 22 April, the passes running."""
    lot = make_lot(
        app,
        start=date(2027, 3, 1),
        end=date(2027, 12, 31),
        at=paris(date(2027, 3, 1), 8),
        buyer_due_day=12,
    )
    simulate(app, date(2027, 3, 1), date(2027, 4, 7))
    with app.transaction() as session:
        [march] = session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.clause_id == lot.clause_id)
        ).all()
        assert (march.month, march.due_on) == (MARCH, date(2027, 4, 12))
        assert march.called_at == paris(date(2027, 4, 1), 9)
    number = str(lot.clause_id)
    cli(settings, clock, date(2027, 4, 8), 10, "clause", "advance", number, "suspendre",
        "--reason", "Fouilles archéologiques")  # fmt: skip
    simulate(app, date(2027, 4, 8), resumed - date.resolution)
    cli(settings, clock, resumed, 10, "clause", "advance", number, "reprendre")
    simulate(app, resumed, date(2027, 4, 21))
    cli(settings, clock, date(2027, 4, 22), 9, "clause", "advance", number, "achever",
        "--end-date", "31/03/2027")  # fmt: skip
    report = tmp_path / "bilan.txt"
    report.write_text("Bonne collaboration de l'entreprise.", encoding="utf-8")
    cli(settings, clock, date(2027, 4, 22), 10, "clause", "report", number, "--file", str(report))
    cli(settings, clock, date(2027, 4, 22), 11, "clause", "advance", number, "clôturer")
    return lot


def test_a_month_whose_date_the_suspension_pushed_is_not_late_at_the_closure(
    app: App, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    lot = called_suspended_then_closed(app, settings, clock, tmp_path, resumed=date(2027, 4, 20))

    # What the company was told at the resumption: March's date pushed to 23 April (7 working
    # days from its call: 2, 5, 6, 7 April, then 21, 22, 23 April; 8 to 20 April suspended).
    [resumption] = sent(app, lot, "company_lot_resumed")
    assert "- mars 2027 : à rendre au plus tard le 23 avril 2027" in squash(resumption.body_text)

    [closure] = sent(app, lot, "company_months_released")
    text = squash(closure.body_text)
    assert (
        "La déclaration de mars 2027 vous avait été demandée pour le 23 avril 2027 (date "
        "repoussée par la suspension du lot) ; elle n'était pas encore due. Elle ne vous est plus "
        "demandée : vous n'avez plus rien à déclarer pour ce lot."
    ) in text, text
    assert "ne m'est pas parvenue" not in text
    assert "12 avril" not in text
    html = visible(closure.body_html or "")
    assert (
        "La déclaration de mars 2027 vous avait été demandée pour le 23 avril 2027 (date "
        f"repoussée par la suspension du lot){NBSP}; elle n'était pas encore due." in html
    ), html
    assert "ne m'est pas parvenue" not in html
