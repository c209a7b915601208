"""The link of a month the lot no longer asks: the page says there is nothing to declare.

November is called on 1 December; the facilitator finishes the lot on 3 December « le
31/10/2026 » (a typo for 30/11). The company follows its November call: the page says November
is no longer asked and why, in its own words (not the CLI's refusal with the facilitator's
clause number), with no due date and no form; a post records nothing. October, the month of the
end, is still owed. Corrected to 30/11 the next day, the same link shows the form again.

Through the real ASGI application over the real App, commands and passes, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import NOV, OCT, SEP, correct, paris, run_cli
from tests.integration.test_online_declaration import declarations, form
from tests.text import visible
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

ONE_PERSON = {
    "reference": ["P-NOV-1"],
    "hours": ["35"],
    "contract": ["cdd"],
    "mode": ["direct_hiring"],
    "criterion": ["long_term_jobseeker"],
}
DUE = "À déclarer au plus tard le"
FORM = "Vérifier la déclaration"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def call_link(app: App, lot: Lot, month: date) -> str:
    """The path of the link in the call of ``month`` the holder got."""
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.kind == "declaration_call",
                OutboxMessage.key.startswith(
                    f"reminder:{lot.clause_id}:{lot.company_ids[0]}:{month:%Y-%m}"
                ),
            )
        ).one()
    # A call links every month it asks, the late ones too: the one of ``month`` is taken.
    found = re.findall(rf"https?://\S+/declarer/\d+\.\d+\.{month:%Y%m}\.\S+", body)
    assert len(found) == 1, body
    return urlparse(found[0]).path


def market_of(app: App, lot: Lot) -> str:
    with app.transaction() as session:
        return session.get_one(Clause, lot.clause_id).market.reference


def test_a_month_released_by_the_finish_says_there_is_nothing_to_declare_until_owed_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    september = TimedAction(
        paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)
    )
    simulate(app, SEP, date(2026, 12, 2), actions=[september])
    november, october = call_link(app, lot, NOV), call_link(app, lot, OCT)
    client = TestClient(create_site(app))

    # Called, November is asked: its due date and the form.
    clock.set(paris(date(2026, 12, 2), 16))
    before = visible(client.get(november).text)
    assert DUE in before and FORM in before

    code, said = run_cli(settings, clock, paris(date(2026, 12, 3), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said

    # The same link: nothing to declare, said in the company's words; no due date, no form.
    clock.set(paris(date(2026, 12, 3), 11))
    released = (
        "Novembre 2026 ne vous est plus demandé\u00a0: l'exécution du lot 1 «\u00a0Gros "
        f"œuvre\u00a0» (marché {market_of(app, lot)}) s'est achevée le 31 octobre 2026. "
        "Vous n'avez rien à déclarer pour ce mois."
    )
    page = client.get(november)
    assert page.status_code == 200
    text = visible(page.text)
    assert released in text, text
    assert DUE not in text and FORM not in text and "Lire le fichier" not in text
    assert "clause n°" not in text and "suit la fin d'exécution" not in text
    assert "Heures d'insertion de novembre 2026" in text

    # A post (a form kept open, a replay) records nothing and says the same.
    for action in ("verifier", "confirmer", "ajouter"):
        posted = client.post(november, data=form(ONE_PERSON, action), follow_redirects=False)
        assert posted.status_code in (200, 422), (action, posted.status_code)
        shown = visible(posted.text)
        assert released in shown and FORM not in shown and "À corriger" not in shown, action
    assert [d.month for d in declarations(app, lot.clause_id, lot.company_ids[0])] == [SEP]

    # October, the month of the end, is still owed: its link shows the form.
    owed = visible(client.get(october).text)
    assert FORM in owed and "ne vous est plus demandé" not in owed

    # Corrected to 30/11, November is owed again: the same link shows the form again.
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    clock.set(paris(date(2026, 12, 4), 11))
    again = visible(client.get(november).text)
    assert DUE in again and FORM in again and "ne vous est plus demandé" not in again
    done = client.post(november, data=form(ONE_PERSON, "confirmer"), follow_redirects=False)
    assert done.status_code == 303
    months = [d.month for d in declarations(app, lot.clause_id, lot.company_ids[0])]
    assert sorted(months) == [SEP, NOV]
