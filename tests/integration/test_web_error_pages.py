"""Error pages keep the way back: signed in, a wrong address, a record that is gone or a form
refused still show the dashboard's navigation; without a session they show none (a company
reaching a wrong address must not see the facilitator's menu)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.text import visible
from workflow.bootstrap import App

NAVIGATION = 'aria-label="Tableau de bord"'


def test_error_pages_behind_the_login_keep_the_navigation(app: App, clock: Clock) -> None:
    site = dashboard_site(app, clock)
    sign_in(site)

    for address, status, title in (
        ("/nulle-part", 404, "Page introuvable"),
        ("/courriels/abc", 404, "Page introuvable"),
        ("/corrections/entreprises/999999", 404, "Fiche introuvable"),
    ):
        page = site.get(address)
        assert page.status_code == status, address
        assert title in visible(page.text), address
        assert NAVIGATION in page.text, address
        # The navigation's sign-out form carries the session's token: it works from there.
        assert re.search(r'action="/deconnexion".*?name="csrf" value="[^"]+"', page.text, re.S)

    stale = site.post("/declarations/valider", data={"csrf": "faux"})
    assert stale.status_code == 403 and "Formulaire périmé" in visible(stale.text)
    assert NAVIGATION in stale.text


def test_error_pages_without_a_session_show_no_navigation(app: App, clock: Clock) -> None:
    site = dashboard_site(app, clock)
    page = site.get("/nulle-part")
    assert page.status_code == 404 and "Page introuvable" in visible(page.text)
    assert NAVIGATION not in page.text

    signed_out = TestClient(site.app, cookies={"clauses_session": "invente"})
    page = signed_out.get("/nulle-part")
    assert page.status_code == 404 and NAVIGATION not in page.text
