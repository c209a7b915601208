"""The award form of a lot in execution (SQLite and PostgreSQL): offered as « Corriger
l'attribution », with the first month of the companies added; a company joining then declares
from that month, as ``clauses clause award … --from MM/AAAA`` records it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_web_board import sign_in, site
from tests.integration.test_web_clause_actions import forms_of, twins
from tests.text import visible
from workflow.adapters.orm import AwardParty, Company, Correspondent
from workflow.bootstrap import App
from workflow.domain.stages import Stage

__all__ = ["site"]  # the fixture, imported to be used here


def award_fields(html: str) -> dict[str, str]:
    """The award form as the page fills it in: its inputs and each line's role, by name."""
    start = html.index('action="/clauses/', html.index('id="attribution"') - 300)
    form = html[start : html.index("</form>", start)]
    fields = dict(re.findall(r'name="(\w+)" type="(?:text|date|month)"[^>]*value="([^"]*)"', form))
    roles = re.findall(
        r'<select id="role_\d+" name="(role_\d+)">.*?<option value="([^"]+)" selected', form, re.S
    )
    return {**fields, **dict(roles)}


def test_a_lot_in_execution_takes_a_subcontractor_from_the_month_given(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, _ = twins(app, Stage.EXECUTION)
    with app.transaction() as session:
        company = Company(
            name="Échafaudages Sud",
            created_at=datetime(2026, 1, 5, tzinfo=UTC),
            correspondents=[Correspondent(name="Inès Durand", email="ines@echafaudages.example")],
        )
        session.add(company)
        session.flush()
        company_id = company.id
    html = site.get(f"/clauses/{clause_id}").text
    assert "attribution" in forms_of(html)
    page = visible(html)
    assert "Corriger l'attribution" in page
    assert "Premier mois des entreprises ajoutées (facultatif)" in page
    typed = award_fields(html)
    free = next(
        n for n in range(1, 10) if f"entreprise_{n}" in typed and not typed[f"entreprise_{n}"]
    )
    start = date.fromisoformat(typed["demarrage"])
    first = date(start.year + (start.month == 12), start.month % 12 + 1, 1)

    sent = site.post(
        f"/clauses/{clause_id}/attribution",
        data={
            **typed,
            "csrf": csrf,
            f"role_{free}": "sous-traitant",
            f"entreprise_{free}": str(company_id),
            f"heures_{free}": "120",
            "premier_mois": f"{first:%Y-%m}",
        },
        follow_redirects=False,
    )

    assert sent.status_code == 303, visible(sent.text)
    assert "attribution-corrigee" in sent.headers["location"]
    with app.transaction() as session:
        joined = session.scalar(
            select(AwardParty.first_month).where(
                AwardParty.clause_id == clause_id, AwardParty.company_id == company_id
            )
        )
    assert joined == first

    refused = site.post(
        f"/clauses/{clause_id}/attribution",
        data={**typed, "csrf": csrf, "premier_mois": "onze"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert (
        "Premier mois des entreprises ajoutées\u00a0: «\u00a0onze\u00a0» n'est pas un mois"
        in visible(refused.text)
    )
