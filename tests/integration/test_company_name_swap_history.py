"""A company takes the name another company of the lot had (review of 0029's rename-safe
history): the rows written before they kept the company's number name it as it was called
then, and a name two companies had is the company's that held it at the row's instant.

« Bâtiments Test » declared February on 3 March, then was renamed « Bâtiments Test SAS »;
« Constructions Sud » (which declared February on 2 March) then took the name « Bâtiments
Test »; its February was cancelled on 5 May. Before, the reminder of February asked again read
the other company's recording « de Bâtiments Test » (3 March) as the company's, since the name
was one it had: « reçue le 3 mars ». The rows are stripped of their number (``company_id``) as
the rows written before 0029 were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_company_rename_history import (
    FEB,
    MAR,
    action,
    cancelling,
    declaring,
)
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.app.corrections import edit_company
from workflow.bootstrap import App
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

APR = date(2027, 4, 1)
FIRST, SECOND, FIRST_NOW = "Bâtiments Test", "Constructions Sud", "Bâtiments Test SAS"


def renaming(company_id: int, name: str) -> Callable[[App, datetime], None]:
    def run(app: App, at: datetime) -> None:
        edit_company(app, company_id, name=name, reason="Kbis")

    return run


def before_0029(app: App, at: datetime) -> None:
    """The lot's rows as written before they kept the company's number."""
    with app.transaction() as session:
        session.execute(update(ClauseHistory).values(company_id=None))


def swapped_names(app: App) -> Lot:
    """The lot to 4 June 2027: « Bâtiments Test » renamed « Bâtiments Test SAS », « Constructions
    Sud » renamed « Bâtiments Test », its February cancelled, the rows stripped of their number."""
    lot = make_lot(
        app,
        start=date(2027, 1, 4),
        end=date(2027, 9, 30),
        companies=(FIRST, SECOND),
        at=paris(date(2027, 1, 4), 8),
    )
    first, second = lot.company_ids
    steps = [
        action(paris(date(2027, 2, 3), 10), "jan A", declaring(lot, 0, date(2027, 1, 1), {"P-0101": "100"})),
        action(paris(date(2027, 2, 3), 11), "jan B", declaring(lot, 1, date(2027, 1, 1), {"P-0201": "35"})),
        action(paris(date(2027, 3, 2), 10), "feb B", declaring(lot, 1, FEB, {"P-0201": "40", "P-0202": "20.25"})),
        action(paris(date(2027, 3, 3), 10), "feb A", declaring(lot, 0, FEB, {"P-0101": "110.75"})),
        action(paris(date(2027, 4, 2), 10), "mar A", declaring(lot, 0, MAR, {"P-0101": "120"})),
        action(paris(date(2027, 4, 2), 11), "mar B", declaring(lot, 1, MAR, {"P-0201": "50"})),
        action(paris(date(2027, 4, 5), 10), "rename A", renaming(first, FIRST_NOW)),
        action(paris(date(2027, 4, 5), 11), "B takes A's name", renaming(second, FIRST)),
        action(paris(date(2027, 4, 5), 12), "before 0029", before_0029),
        action(paris(date(2027, 5, 5), 9, 20), "cancel feb B", cancelling(lot, 1, FEB)),
        action(paris(date(2027, 5, 5), 9, 30), "before 0029 again", before_0029),
        action(paris(date(2027, 5, 6), 10), "apr A", declaring(lot, 0, APR, {"P-0101": "90"})),
        action(paris(date(2027, 5, 6), 11), "apr B", declaring(lot, 1, APR, {"P-0201": "45"})),
    ]  # fmt: skip
    simulate(app, date(2027, 1, 4), date(2027, 6, 4), actions=steps, dispatch=False)
    return lot


def test_a_name_taken_by_another_company_tells_of_the_company_that_held_it_then(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = swapped_names(app)
    first, second = lot.company_ids

    # The reminder of February asked again tells when the company's own February came (2 March),
    # not the other company's recording under the name it has today (3 March).
    with app.transaction() as session:
        bodies = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.like(f"reminder:{lot.clause_id}:{second}:%2027-02%")
            )
        )
        said = [squash(body.replace("\u00a0", " ")) for body in bodies]
        reminders = [r for r in said if "j'ai annulé la déclaration" in r]
        # The other company's February was never cancelled: none of its reminders says so.
        others = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.key.like(f"reminder:{lot.clause_id}:{first}:%2027-02%")
            )
        ).all()
    assert reminders, "no reminder of February asked again"
    assert all(", reçue le 2 mars 2027 (motif : « erreur »)" in r for r in reminders), reminders
    assert others and not any("annulé" in body for body in others), others
