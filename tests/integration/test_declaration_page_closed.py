"""The company's page of a month: the people already declared on the lot, whatever the month,
and a plain word once the lot's follow-up is closed.

A lot awarded from 1 April to 31 December 2026, started on 15 July. On 2 December the company
declares September (two people) and October (one more) on its pages. Every month's page then
offers the three people, as the emails promise (« vous y retrouvez les personnes déjà
déclarées »): April's (before anyone's first month), September's (with the person first declared
in October) and November's alike.

The facilitator finishes the lot at the end of November, records its report and closes it. The
November link then says, in the company's words, that the lot's follow-up is closed, that no
declaration is expected for November any more and whom to write to: no due date, no form, no
clause number nor stage; a post records nothing.

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

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_online_declaration import declarations, form
from tests.text import visible
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_links import month_links
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

APR, SEP, OCT, NOV = (date(2026, m, 1) for m in (4, 9, 10, 11))
SEPTEMBER = {
    "reference": ["P-SEP-1", "P-SEP-2"],
    "hours": ["35", "70"],
    "contract": ["cdd", "cdi"],
    "mode": ["direct_hiring", "direct_hiring"],
    "criterion": ["long_term_jobseeker", "long_term_jobseeker"],
}
OCTOBER = {
    "reference": ["P-OCT-1"],
    "hours": ["20"],
    "contract": ["cdd"],
    "mode": ["direct_hiring"],
    "criterion": ["long_term_jobseeker"],
}
PEOPLE = ("P-OCT-1", "P-SEP-1", "P-SEP-2")
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


def links(app: App, lot: Lot, *months: date) -> list[str]:
    """The paths of the company's links for ``months``, as its emails give them."""
    with app.transaction() as session:
        made = month_links(
            session, app.settings, lot.clause_id, lot.company_ids[0], months, app.clock()
        )
    return [urlparse(link.url).path for link in made]


def declared_lot(app: App, clock: Clock) -> tuple[Lot, TestClient]:
    lot = make_lot(app, start=APR, end=date(2026, 12, 31), at=paris(date(2026, 7, 15), 10))
    simulate(app, date(2026, 7, 15), date(2026, 12, 2))
    clock.set(paris(date(2026, 12, 2), 15))
    client = TestClient(create_site(app))
    september, october = links(app, lot, SEP, OCT)
    for path, people in ((september, SEPTEMBER), (october, OCTOBER)):
        done = client.post(path, data=form(people, "confirmer"), follow_redirects=False)
        assert done.status_code == 303, visible(done.text)
    months = [d.month for d in declarations(app, lot.clause_id, lot.company_ids[0])]
    assert sorted(months) == [SEP, OCT]
    return lot, client


def offered(page: str) -> list[str]:
    """The references of the people the form offers again (hidden ``reference`` fields)."""
    return sorted(set(re.findall(r'type="hidden" name="reference" value="([^"]+)"', page)))


def test_every_month_offers_the_people_already_declared_on_the_lot(app: App, clock: Clock) -> None:
    lot, client = declared_lot(app, clock)
    april, september, november = links(app, lot, APR, SEP, NOV)
    for path in (april, september, november):
        page = client.get(path)
        assert page.status_code == 200
        assert offered(page.text) == list(PEOPLE), (path, offered(page.text))
    # The person first declared in October, offered in April, with her October line.
    text = visible(client.get(april).text).replace("\u00a0", " ")
    assert "P-OCT-1 octobre 2026 : 20 h" in text, text


def test_a_closed_lot_says_so_plainly_and_records_nothing(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, client = declared_lot(app, clock)
    (november,) = links(app, lot, NOV)
    assert DUE in visible(client.get(november).text)
    at = paris(date(2026, 12, 3), 10)
    for args in (
        ("clause", "advance", str(lot.clause_id), "achever", "--end-date", "30/11/2026"),
        ("clause", "report", str(lot.clause_id), "--text", "Bilan de l'opération."),
        ("clause", "advance", str(lot.clause_id), "cloturer"),
    ):
        code, said = run_cli(settings, clock, at, *args)
        assert code == 0, (args, said)

    clock.set(paris(date(2026, 12, 3), 11))
    page = client.get(november)
    assert page.status_code == 200
    text = visible(page.text)
    closed = "Le suivi des heures d'insertion du lot 1 « Gros œuvre » (marché "
    assert closed in text.replace("\u00a0", " "), text
    said = (
        "est clôturé : aucune déclaration n'est plus attendue pour novembre 2026, vous n'avez "
        f"rien à faire. Pour toute question, écrivez à {settings.facilitator_name} "
        f"({settings.facilitator_email}"
    )
    assert said in text.replace("\u00a0", " "), text
    assert DUE not in text and FORM not in text and "Lire le fichier" not in text
    assert "clause n°" not in text.lower() and "étape" not in text and "mise en œuvre" not in text

    # A post (a form kept open, a replay) records nothing and says the same.
    for action in ("verifier", "confirmer", "ajouter"):
        posted = client.post(november, data=form(OCTOBER, action), follow_redirects=False)
        assert posted.status_code in (200, 422), (action, posted.status_code)
        shown = visible(posted.text).replace("\u00a0", " ")
        assert said in shown and FORM not in shown and "étape" not in shown, action
    months = [d.month for d in declarations(app, lot.clause_id, lot.company_ids[0])]
    assert sorted(months) == [SEP, OCT]
