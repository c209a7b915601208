"""A month cancelled, its company merged into another since, then declared again by the company
that stays: the declaration replaces that cancellation (review of 0029's rename-safe history).

The cancellation's row keeps the number of the company merged since; it was compared with the
number of the company that stays, so ``replaced_cancellation`` found none when no email of the
cancellation was written (nobody with an address): the declaration said nothing of the
cancellation it replaced. The row's number is followed through the merge (SQLite and
PostgreSQL).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_company_rename_history import FEB, cancelling, declaring
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.orm import ClauseHistory, OutboxMessage
from workflow.app import catalog, corrections
from workflow.bootstrap import App
from workflow.emails.cancellations import KIND
from workflow.services.cancellation_withdrawals import replaced_cancellation

pytestmark = pytest.mark.scenario

MERGED, KEPT = "Bâtiments Test", "Bâtiments Test Gascogne"


def test_a_cancellation_of_a_company_merged_since_is_the_one_its_month_replaces(
    app: App, clock: Clock
) -> None:
    clock.set(paris(date(2027, 1, 4), 8))
    lot = make_lot(
        app, start=date(2027, 1, 4), end=date(2027, 9, 30), companies=(MERGED,),
        at=paris(date(2027, 1, 4), 8),
    )  # fmt: skip
    [merged] = lot.company_ids
    clock.set(paris(date(2027, 3, 2), 10))
    declaring(lot, 0, FEB, {"P-0201": "40", "P-0202": "20.25"})(app, paris(date(2027, 3, 2), 10))
    clock.set(paris(date(2027, 3, 5), 10))
    cancelling(lot, 0, FEB)(app, paris(date(2027, 3, 5), 10))
    with app.transaction() as session:
        # Nobody with an address: no email of the cancellation keyed by the company's number.
        session.execute(delete(OutboxMessage).where(OutboxMessage.kind == KIND))
        numbers = session.scalars(
            select(ClauseHistory.company_id).where(ClauseHistory.event == "declaration_cancelled")
        ).all()
    assert numbers == [merged]

    clock.set(paris(date(2027, 3, 6), 10))
    kept = catalog.add_company(app, KEPT, city="Auch")
    corrections.merge_companies(app, merged, into=kept.id, reason="doublon")

    with app.transaction() as session:
        found = replaced_cancellation(
            session, clause_id=lot.clause_id, company_id=kept.id, company=KEPT, month=FEB
        )
    assert found is not None
    assert found.total_hours == Decimal("60.25")
    assert found.reason == "erreur"
    assert not found.told
