"""The facilitator's confirmation of a cancelled month after the last month of a company that
left the site: the month is not expected again (``clause_corrections.ladder_sentence``), and the
company is told it is asked no more, not given a date to declare it again.

The lot of ``test_company_left_owed_texts``: the subcontractor's departure (last month March
2027) recorded on 5 May, after April's call; the facilitator records April on 10 May (she may),
then cancels it on 12 May.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.test_company_left_owed_texts import _lot_gone_after_aprils_call
from tests.integration.test_company_left_site import APR, local
from workflow.app import clause_corrections
from workflow.bootstrap import App

pytestmark = pytest.mark.scenario


def test_a_month_after_the_departure_cancelled_is_not_expected_again(app: App) -> None:
    lot = _lot_gone_after_aprils_call(app, march_on=None, april_on=date(2027, 5, 10))
    at = local(app, date(2027, 5, 12), 11)
    real_clock = app.clock
    app.clock = lambda: at
    try:
        cancelled = clause_corrections.cancel_declaration(
            app,
            clause=lot.clause_id,
            company=lot.company_ids[1],
            month=APR,
            reason="déclaré par erreur",
        )
    finally:
        app.clock = real_clock
    said = clause_corrections.ladder_sentence(cancelled.ladder, app.settings.zone)
    assert said == (
        "Le mois n'est pas de nouveau attendu : l'entreprise a quitté le chantier, son dernier "
        "mois à déclarer est mars 2027 ; aucune relance ne part pour lui."
    )
    assert "de nouveau attendu ;" not in said
    informed = clause_corrections.informed_sentence(cancelled)
    assert informed.endswith("le motif, et que ce mois ne lui est plus demandé."), informed
