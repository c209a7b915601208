"""The buyer's end-of-execution notice counts one declaration per company and month.

Found by a walk-through: a lot with a holder and a subcontractor, the holder declaring three
months, the subcontractor none; the notice said « Mois déclarés : 3 sur 11 (8 restent à
déclarer) » next to « sous-traitant : 0 h sur 300 h »: the subcontractor's eleven months were
hidden. Each company owes its month: 3 received of 22, 19 still to come.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import declare, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause

pytestmark = pytest.mark.scenario


def test_the_end_notice_counts_every_companys_months(app: App, clock: Clock) -> None:
    lot = make_lot(
        app,
        start=date(2026, 3, 1),
        end=date(2026, 6, 30),
        companies=("Titulaire", "Cotraitant"),
        at=paris(date(2026, 3, 2), 10),
    )
    for month in (date(2026, 3, 1), date(2026, 4, 1)):
        declare(app, lot, month, paris(date(month.year, month.month + 1, 5), 10))
    ended_at = paris(date(2026, 6, 30), 17)
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="test",
            reason=None,
            now=ended_at,
            publish=app.publish,
            end_date=date(2026, 6, 30),
        )
    with app.transaction() as session:
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_execution_ended")
        ).one()
        text = squash(notice.body_text)
    # March to June for two companies: 8 owed, the holder's March and April received.
    assert (
        "- Déclarations mensuelles reçues : 2 sur 8 (4 mois × 2 entreprises), 6 encore attendues"
        in text
    ), text
    assert "6 déclarations mensuelles sont encore attendues : à ce jour" in text
    assert "une fois celles-ci reçues" in text
    assert "Mois déclarés" not in text
