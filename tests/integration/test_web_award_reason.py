"""The dashboard's « Corriger l'attribution » form takes the reason of the correction, over the
real ASGI application, on SQLite and PostgreSQL: it is kept at the end of the history row as
``clauses clause award --reason`` keeps it (the same row as the application function's), shown
in the clause's history, kept in the form when the correction is refused; a first award's form
does not ask for it."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_web_board import history_rows, sign_in, site
from tests.integration.test_web_clause_actions import (
    ACTOR,
    at_award,
    award_form,
    field_value,
    rows_after,
)
from tests.text import visible
from workflow.app import clauses as clause_app
from workflow.app.clauses import PartyChoice
from workflow.bootstrap import App
from workflow.domain.vocabulary import PartyRole

__all__ = ["site"]  # the fixture, imported to be used here

REASON = "Avenant n° 1 : heures du titulaire revues"


def test_the_award_correction_form_keeps_its_reason_in_the_history_row(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    by_web, by_app = at_award(app)
    _, holder, partner = lot_01(app)
    assert 'name="motif_attribution"' not in site.get(f"/clauses/{by_web}").text
    first = site.post(f"/clauses/{by_web}/attribution", data=award_form(csrf))
    assert first.status_code == 200, visible(first.text)
    parties = (
        PartyChoice(holder, PartyRole.HOLDER, None, 300),
        PartyChoice(partner, PartyRole.SUBCONTRACTOR, None, 100),
    )
    clause_app.award_clause(
        app,
        by_app,
        parties=parties,
        start_date=date(2026, 6, 1),
        planned_end_date=date(2027, 5, 31),
        actor=ACTOR,
    )
    html = site.get(f"/clauses/{by_web}").text
    assert "Motif de la correction (facultatif, gardé à l'historique)" in visible(html)
    web_count, app_count = len(history_rows(app, by_web)), len(history_rows(app, by_app))

    # Refused (the end before the start): the reason typed comes back in the form.
    refused = site.post(
        f"/clauses/{by_web}/attribution",
        data=award_form(
            csrf, titulaire_heures="350", fin_prevue="2026-05-31", motif_attribution=REASON
        ),
    )
    assert refused.status_code == 422
    assert field_value(refused.text, "motif_attribution") == REASON
    assert len(history_rows(app, by_web)) == web_count

    corrected = site.post(
        f"/clauses/{by_web}/attribution",
        data=award_form(csrf, titulaire_heures="350", motif_attribution=REASON),
        follow_redirects=False,
    )
    clause_app.award_clause(
        app,
        by_app,
        parties=(PartyChoice(holder, PartyRole.HOLDER, None, 350), parties[1]),
        start_date=date(2026, 6, 1),
        planned_end_date=date(2027, 5, 31),
        actor=ACTOR,
        reason=REASON,
    )

    assert corrected.status_code == 303, visible(corrected.text)
    [row] = rows_after(app, by_web, web_count)
    assert [row] == rows_after(app, by_app, app_count)
    assert row[0] == "award_corrected"
    assert row[4] == (
        "attribution corrigée : Heures confiées à Bâtiments Gascons SARL : 300\u00a0h → "
        f"350\u00a0h ; motif : {REASON}"
    )
    page = visible(site.get(corrected.headers["location"]).text)
    assert f"motif : {REASON}" in page
