"""The buyer's notice of a termination counts « X sur Y » over the same declarations.

A lot (holder Bâtiments Test) started in September 2026. On 5 October the award is corrected:
Échafaudages Sud joins as a subcontractor from October (``--from 10/2026``). It had worked in
September too: the facilitator records its September (her channels accept a month before the
company's first, ``declarations.before_first_month``). The contract is terminated on 30
October, every month declared but the subcontractor's October.

The notice counted « reçues » over every declaration of the companies of the award (X), and
« sur » over the months asked of each company, from its first month (Y): September of the
subcontractor counted in X, not in Y, and the notice read « Déclarations mensuelles reçues : 3
sur 3, 1 encore attendue » (with everything declared, « 4 sur 3 »). Y is now the declarations
received plus those still owed, over the same companies: « 3 sur 4 (2 mois × 2 entreprises),
1 encore attendue », September of both companies declared, October of both asked.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration._ladders import Lot, declare
from tests.integration.test_award_during_works_g import (
    correct,
    newcomer,
    parties_of,
    started_lot,
    subcontractor,
)
from tests.integration.test_company_left_site import _cli
from tests.integration.test_planned_end import paris
from tests.integration.test_suspension_dates_told import _texts
from workflow.bootstrap import App

pytestmark = pytest.mark.scenario

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


@pytest.mark.parametrize(
    ("sub_october", "told"),
    [
        (
            False,
            "Déclarations mensuelles reçues : 3 sur 4 (2 mois × 2 entreprises), 1 encore attendue",
        ),
        (True, "Déclarations mensuelles reçues : 4 sur 4 (2 mois × 2 entreprises)"),
    ],
)
def test_a_month_recorded_before_a_joining_company_s_first_counts_on_both_sides(
    app: App, sub_october: bool, told: str
) -> None:
    lot = started_lot(app)
    declare(app, lot, SEPTEMBER, paris(date(2026, 10, 2), 10))
    sub = newcomer(app)
    correct(
        app,
        lot,
        [*parties_of(app, lot), subcontractor(sub)],
        paris(date(2026, 10, 5), 10),
        joining_from=OCTOBER,
    )
    lot = Lot(lot.clause_id, (*lot.company_ids, sub), lot.buyer_id)
    # The facilitator records the subcontractor's September, before its first month.
    declare(app, lot, SEPTEMBER, paris(date(2026, 10, 6), 10), company=1)
    declare(app, lot, OCTOBER, paris(date(2026, 11, 2), 10))
    if sub_october:
        declare(app, lot, OCTOBER, paris(date(2026, 11, 2), 11), company=1)
    _cli(
        app,
        paris(date(2026, 11, 3), 12),
        "clause",
        "advance",
        str(lot.clause_id),
        "resilier",
        "--end-date",
        "30/10/2026",
        "--reason",
        "Défaillance du titulaire",
    )
    (notice,) = _texts(app, lot, "notice_execution_ended")
    assert told in notice, notice
    if sub_october:
        assert "encore attendue" not in notice, notice
    else:
        assert "- Échafaudages Sud : octobre 2026" in notice, notice
