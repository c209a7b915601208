"""A month a suspension keeps from being called has no date on the other readers either.

The trial's lot (``test_suspension_dates_told``): started 1 September 2026, suspended on 1
October 2026 at 08:00, before the September call. ``notices.owed_due_dates`` gives such a
month no date (« à la reprise »), but three readers still showed the scheduled 12 October,
which nobody was given:

- the holder declared September on 30 September, before its call; the facilitator cancelled it
  on 5 October, the lot suspended: the email read « merci de déclarer à nouveau ce mois d'ici le
  12 octobre 2026 » (and, cancelled later, « Il était à déclarer au plus tard le 12 octobre 2026 »);
- the clause page and ``GET /api/clauses/{id}`` gave the « appel à venir » line of September
  « 12/10/2026 », where ``clauses declaration list`` says « à la reprise »;
- the page of a month already declared, the lot suspended, read « ce mois ne vous a pas encore
  été demandé ».
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_company_left_site import GONE, HOLDER, SEP, local
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_suspension_dates_told import SUSPEND_BEFORE_CALL, _run, _texts
from tests.integration.test_web_finish_released import read
from workflow.adapters.orm import OutboxMessage
from workflow.app import api_tokens, web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.services.declaration_links import month_links

pytestmark = pytest.mark.scenario

DECLARE_SEPTEMBER_EARLY = (date(2026, 9, 30), 11, "declare 09", ())
CANCEL_SEPTEMBER = (
    date(2026, 10, 5),
    10,
    "annulation",
    (
        "declaration",
        "cancel",
        "--clause",
        "{lot}",
        "--company",
        HOLDER,
        "--month",
        "09/2026",
        "--reason",
        "Heures saisies sur le mauvais lot",
    ),
)


def test_a_month_cancelled_before_its_call_while_suspended_is_asked_at_the_resumption(
    app: App,
) -> None:
    lot = _run(
        app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_BEFORE_CALL, CANCEL_SEPTEMBER], date(2026, 10, 5)
    )
    (email,) = _texts(app, lot, "declaration_cancelled", company=0)
    assert (
        "Le mois de septembre 2026 est de nouveau attendu. Le chantier étant suspendu, je ne vous "
        "ai pas encore demandé sa déclaration : elle vous sera demandée à la reprise du chantier, "
        "avec sa date limite. Aucun rappel ne part pendant la suspension ; vous pouvez aussi "
        "déclarer à nouveau ce mois dès maintenant."
    ) in email, email
    # Never the scheduled date, which the suspension made pass without a call.
    assert "12 octobre 2026" not in email and "d'ici le" not in email, email
    assert "les rappels reprendront où ils en étaient" not in email, email
    with app.transaction() as session:
        html = session.scalar(
            select(OutboxMessage.body_html).where(
                OutboxMessage.clause_id == lot.clause_id,
                OutboxMessage.kind == "declaration_cancelled",
            )
        )
    assert html is not None
    assert (
        "<strong>elle vous sera demandée à la reprise du chantier, avec sa date limite</strong>"
    ) in html, html
    assert "12 octobre 2026" not in html, html


def test_the_clause_page_gives_no_date_to_a_call_held_by_the_suspension(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL], date(2026, 10, 19))
    at = local(app, date(2026, 10, 19), 14)
    app.clock = lambda: at
    client = TestClient(create_site(app))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    sign_in(client)
    page = client.get(f"/clauses/{lot.clause_id}")
    assert page.status_code == 200, page.text
    text = read(page.text)
    # September's call waits for the resumption, as ``clauses declaration list`` says it.
    for company in (HOLDER, GONE):
        assert f"septembre 2026 {company} appel à venir – à la reprise" in text, text
    assert "12/10/2026" not in text and "12 octobre 2026" not in text, text


def test_the_api_gives_no_date_to_a_call_held_by_the_suspension(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL], date(2026, 10, 19))
    at = local(app, date(2026, 10, 19), 14)
    app.clock = lambda: at
    token, _ = api_tokens.create_token(app, name="Tableur du Département", read_only=True)
    listed = TestClient(create_site(app)).get(
        "/api/v1/declarations",
        params={"clause": lot.clause_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    september = [line for line in listed.json() if line["mois"] == "2026-09"]
    assert len(september) == 2, listed.json()
    for line in september:
        # As ``clauses declaration list --json``: no date, « à la reprise ».
        assert line["echeance"] is None and line["a_la_reprise"] is True, line


def test_the_page_of_a_month_declared_on_a_suspended_lot_does_not_say_it_is_not_asked(
    app: App,
) -> None:
    lot = _run(app, [DECLARE_SEPTEMBER_EARLY, SUSPEND_BEFORE_CALL], date(2026, 10, 5))
    at = local(app, date(2026, 10, 5), 15)
    app.clock = lambda: at
    with app.transaction() as session:
        (link,) = month_links(session, app.settings, lot.clause_id, lot.company_ids[0], [SEP], at)
    page = TestClient(create_site(app)).get(urlparse(link.url).path)
    assert page.status_code == 200, page.text
    text = read(page.text)
    # Declared on 30 September: asked of nobody, and not « pas encore demandé ».
    assert "pas encore été demandé" not in text and "à la reprise du chantier" not in text, text
    assert "en retard" not in text, text
    assert (
        "Déjà enregistré pour septembre 2026 Aucune heure ce mois-ci (déclaration enregistrée le "
        "30 septembre 2026)."
    ) in text, text
