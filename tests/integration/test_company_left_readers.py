"""A company that left the site is expected nowhere after its last month: the summaries, the
day's tasks, its receipts and its own page.

The scenario of ``test_company_left_site``: Gimone Second Œuvre SAS declared September to
February, left the site in March (March undeclared); its departure (last month March) was
recorded on 3 May, after April's call had been queued. April's ladder stopped then; nothing
that reads the months owed may still count April against it, nor May.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.test_company_left_site import (
    APR,
    GONE,
    MAR,
    MAY,
    _scenario,
    local,
)
from tests.text import squash
from workflow.adapters.orm import Clause, Company
from workflow.bootstrap import App
from workflow.emails.digest import Category
from workflow.services.declarations import declaration_problems
from workflow.services.digest import compile_digest, compile_tasks
from workflow.services.summaries import compile_for

pytestmark = pytest.mark.scenario


def test_the_summaries_and_the_days_tasks_stop_at_its_last_month(app: App) -> None:
    _scenario(app, date(2027, 5, 3), dispatch=False)
    now = local(app, date(2027, 6, 21), 16)
    for month in (APR, MAY):
        summary = compile_for(app, month, now=now)
        declarations = summary.overall.declarations
        # Only the holder is expected for April and May: it declared both.
        assert declarations.expected == 1, month
        assert declarations.received == 1, month
        named = [m.company for m in (*declarations.missing, *declarations.pending)]
        assert GONE not in named, month
    # May's summary names March, still missing, among the earlier months; never April.
    earlier = compile_for(app, MAY, now=now).overall.declarations.earlier
    assert [(e.company, e.months) for e in earlier] == [(GONE, (MAR,))]
    with app.transaction() as session:
        digest = compile_digest(session, now, app.settings)
        tasks = compile_tasks(session, now, app.settings, 10)
    full = [i for i in digest.items if i.category is Category.DECLARATION]
    shown = [
        item
        for section in tasks.sections
        if section.category is Category.DECLARATION
        for item in section.items
    ]
    assert [i.title for i in shown] == [i.title for i in full]
    assert len(full) == 1
    assert full[0].title.startswith(f"{GONE} : heures de mars 2027 non déclarées"), full[0].title
    assert full[0].detail.startswith("1 mois en retard"), full[0].detail
    assert "avril" not in squash(full[0].title)


def test_its_page_refuses_a_month_after_it_left(app: App) -> None:
    lot, _ = _scenario(app, date(2027, 5, 3), dispatch=False)
    now = local(app, date(2027, 6, 21), 16)
    with app.transaction() as session:
        clause = session.get_one(Clause, lot.clause_id)
        company = session.get_one(Company, lot.company_ids[1])
        market = clause.market.reference
        said = declaration_problems(
            session, clause, company, APR, now=now, zone=app.settings.zone, from_company=True
        )
        assert [squash(s) for s in said] == [
            squash(
                f"Avril 2027 n'est pas demandé à {GONE} sur le lot 1 « Gros œuvre » (marché "
                f"{market}) : elle a quitté le chantier, son dernier mois à déclarer est mars 2027. "
                "Si elle a travaillé sur le lot en avril 2027, écrivez à la facilitatrice, qui "
                "enregistrera ces heures."
            )
        ]
        # March, which it owes, is open to it; the facilitator may record April.
        assert not declaration_problems(
            session, clause, company, MAR, now=now, zone=app.settings.zone, from_company=True
        )
        assert not declaration_problems(
            session, clause, company, APR, now=now, zone=app.settings.zone
        )


def test_its_page_for_a_month_after_it_left_gives_no_due_date(app: App) -> None:
    """User trial: the page of April (after its last month, March) read « À déclarer au plus
    tard le 10 mai 2027 » above « Avril 2027 n'est pas demandé … elle a quitté le chantier »:
    a date to meet for a month nobody asks. It says only the latter."""
    from fastapi.testclient import TestClient

    from tests.integration.test_web_finish_released import read
    from workflow.entrypoints.web.site import create_site
    from workflow.services.declaration_links import month_links

    lot, _ = _scenario(app, date(2027, 5, 3), dispatch=False)
    now = local(app, date(2027, 6, 21), 16)
    with app.transaction() as session:
        (link,) = month_links(session, app.settings, lot.clause_id, lot.company_ids[1], [APR], now)
    app.clock = lambda: now
    page = TestClient(create_site(app)).get(link.url[link.url.index("/declarer/") :])
    assert page.status_code == 200, page.text
    text = read(page.text)
    assert f"Avril 2027 n'est pas demandé à {GONE}" in text, text
    assert "au plus tard" not in text and "en retard" not in text, text
    assert "Mois déclaréavril 2027" in text, text
