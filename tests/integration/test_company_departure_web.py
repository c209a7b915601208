"""A company that left the site, recorded from the site (/corrections/lots/N/depart) and the API
(``POST /api/v1/clauses/N/depart-entreprise``), as ``clauses clause company-left`` records it.

The lot: Bâtiments Garonne (holder) and Gimone Second Œuvre SAS, started 1 September 2026;
the subcontractor declared September to February; on 20 March 2027 its departure is recorded
ahead (last month March): March stays owed, nothing after is asked.
"""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_dashboard import login_token
from tests.text import squash, visible
from workflow.adapters.orm import AwardParty, ClauseHistory, OutboxMessage
from workflow.app import api_tokens, web_accounts
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.entrypoints.web.site import create_site

HOLDER, GONE = "Bâtiments Garonne", "Gimone Second Œuvre SAS"
SEP = date(2026, 9, 1)
PASSWORD = "un mot de passe assez long"
USER = "Léa Roux"
NBSP = "\u00a0"


def _site(app: App) -> TestClient:
    return TestClient(create_site(app))


@pytest.fixture
def lot(app: App, clock: Clock) -> Lot:
    at = at_local(SEP, time(8), app.settings.zone)
    made = make_lot(app, start=SEP, end=date(2027, 12, 31), companies=(HOLDER, GONE), at=at)
    months = [date(2026, m, 1) for m in (9, 10, 11, 12)] + [date(2027, 1, 1), date(2027, 2, 1)]
    for month in months:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        declare(app, made, month, at_local(following, time(11), app.settings.zone), company=1)
    clock.set(at_local(date(2027, 3, 20), time(10), app.settings.zone))
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    return made


def _sign_in(client: TestClient) -> str:
    response = client.post(
        "/connexion",
        data={"csrf": login_token(client), "identifiant": "lea", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, visible(response.text)
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/corrections").text)
    assert found is not None
    return found.group(1)


def _last_month(app: App, lot: Lot) -> date | None:
    with app.transaction() as session:
        return session.scalar(
            select(AwardParty.last_month).where(
                AwardParty.clause_id == lot.clause_id, AwardParty.company_id == lot.company_ids[1]
            )
        )


def _departure_emails(app: App, lot: Lot) -> list[OutboxMessage]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.clause_id == lot.clause_id)
                .where(OutboxMessage.kind == "company_left")
            )
        )


def test_the_form_confirms_then_records_as_the_command_does(app: App, lot: Lot) -> None:
    site = _site(app)
    csrf = _sign_in(site)
    path = f"/corrections/lots/{lot.clause_id}/depart"
    form = site.get(path)
    assert form.status_code == 200
    page = visible(form.text)
    assert GONE in page and HOLDER in page  # the award's companies, not only those that declared
    gone = str(lot.company_ids[1])
    data = {"csrf": csrf, "entreprise": gone, "mois": "2027-03", "reason": "sa part est finie"}
    # The confirmation page says what it will do; nothing is written yet.
    asked = site.post(path, data=data)
    assert asked.status_code == 200, visible(asked.text)
    said = squash(visible(asked.text))
    assert (
        squash(
            f"{GONE} quittera le chantier{NBSP}: son dernier mois à déclarer sera mars 2027, aucun "
            "mois suivant ne lui sera demandé"
        )
        in said
    ), said
    # It still owes March only (September to February declared), with its due date.
    assert re.search(
        rf"Elle devra encore{NBSP}: mars 2027 \(au plus tard le \d\d/04/2027\)\.", said
    )
    assert "Confirmer le départ" in said
    assert _last_month(app, lot) is None
    assert _departure_emails(app, lot) == []
    # Confirmed: recorded, with the signed-in user as the actor, and the command's words.
    done = site.post(path, data={**data, "confirmation": "oui"})
    assert done.status_code == 200, visible(done.text)
    result = squash(visible(done.text))
    assert (
        squash(
            f"Clause n°{NBSP}{lot.clause_id}{NBSP}: {GONE} a quitté le chantier{NBSP}: son dernier "
            "mois "
            "à déclarer est mars 2027, aucun mois suivant ne lui est demandé."
        )
        in result
    ), result
    assert squash(f"{GONE} en est informée par courriel (") in result, result
    assert _last_month(app, lot) == date(2027, 3, 1)
    # The lot's page says it among its companies, not only in the history (user trial, 7
    # December 2026: listed with its hours as if still on the site).
    shown = squash(visible(site.get(f"/clauses/{lot.clause_id}").text))
    assert squash(f"{GONE} partie du chantier, dernier mois{NBSP}: mars 2027") in shown, shown
    assert squash(f"{HOLDER} partie du chantier") not in shown
    with app.transaction() as session:
        rows = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "company_left"
            )
        ).all()
        assert [(r.actor, r.reason.startswith("sa part est finie.")) for r in rows] == [
            (USER, True)
        ]
    assert len(_departure_emails(app, lot)) == 1
    # The same again, with another reason: nothing new, no second email, and the reason is
    # said not recorded rather than dropped silently.
    again = site.post(path, data={**data, "reason": "un autre motif", "confirmation": "oui"})
    assert again.status_code == 200
    assert "Rien de nouveau" in visible(again.text)
    assert squash(
        f"Rien à changer : le départ de {GONE} du chantier (clause n° {lot.clause_id}) est "
        "déjà enregistré, dernier mois 03/2027 (motif « un autre motif » non enregistré : le "
        "départ l'était déjà)."
    ) in squash(visible(again.text)).replace(NBSP, " ")
    assert len(_departure_emails(app, lot)) == 1


def test_a_refusal_shows_the_form_again_naming_the_field(app: App, lot: Lot) -> None:
    site = _site(app)
    csrf = _sign_in(site)
    path = f"/corrections/lots/{lot.clause_id}/depart"
    gone = str(lot.company_ids[1])
    # January is declared after December: leaving after December is refused, nothing written.
    refused = site.post(
        path,
        data={"csrf": csrf, "entreprise": gone, "mois": "2026-12", "reason": "part finie"},
    )
    assert refused.status_code == 422
    text = squash(visible(refused.text))
    assert "Départ refusé" in text
    assert (
        squash(
            f"Dernier mois{NBSP}: {GONE} ne peut pas avoir décembre 2026 pour dernier mois sur "
            f"le chantier{NBSP}: elle a déjà déclaré"
        )
        in text
    ), text
    assert "Rien n'a été modifié" in text
    bad = site.post(
        path, data={"csrf": csrf, "entreprise": gone, "mois": "mars", "reason": "part finie"}
    )
    assert bad.status_code == 422
    assert squash(f"Dernier mois{NBSP}: «{NBSP}mars{NBSP}» n'est pas un mois") in squash(
        visible(bad.text)
    )
    # Left empty: asked for, not « «  » n'est pas un mois » (user trial, 7 December 2026).
    empty = site.post(
        path, data={"csrf": csrf, "entreprise": gone, "mois": "", "reason": "part finie"}
    )
    assert empty.status_code == 422
    assert squash(
        f"Dernier mois{NBSP}: indiquez le dernier mois que l'entreprise doit déclarer"
    ) in squash(visible(empty.text))
    # A company the lot does not have: the message spaced as French wants on a page.
    # (14 digits read as a SIRET: refused as one, or not found.)
    for siret in ("12345678901234", "73282932000074"):
        unknown = site.post(
            path, data={"csrf": csrf, "entreprise": siret, "mois": "2027-03", "reason": "x"}
        )
        assert unknown.status_code == 422
        refusal = visible(unknown.text).split("Départ refusé", 1)[1].split("Rien n'a été", 1)[0]
        assert siret in refusal, refusal
        assert " »" not in refusal and "« " not in refusal and " :" not in refusal, refusal
    # The lot's number kept on one line with its « n° ».
    assert f"clause n°&nbsp;{lot.clause_id}," in site.get(path).text
    assert f"clause n°&nbsp;{lot.clause_id}," in bad.text
    # Without the session's token: nothing done.
    forged = site.post(
        path,
        data={"entreprise": gone, "mois": "2027-03", "reason": "x", "confirmation": "oui"},
    )
    assert forged.status_code == 403
    assert _last_month(app, lot) is None


def test_the_api_records_it_and_refuses_bad_input_in_french(app: App, lot: Lot) -> None:
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    headers = {"Authorization": f"Bearer {token}"}
    client = _site(app)
    path = f"/api/v1/clauses/{lot.clause_id}/depart-entreprise"
    gone = lot.company_ids[1]
    bad_month = client.post(
        path, headers=headers, json={"entreprise": gone, "dernier_mois": "03/2027", "motif": "x"}
    )
    assert bad_month.status_code == 422
    assert "« dernier_mois »" in bad_month.json()["erreur"]
    declared_after = client.post(
        path, headers=headers, json={"entreprise": gone, "dernier_mois": "2026-12", "motif": "x"}
    )
    assert declared_after.status_code == 422
    assert declared_after.json()["erreur"].startswith(
        f"«{NBSP}dernier_mois{NBSP}»{NBSP}: {GONE} ne peut pas avoir décembre 2026 pour "
        "dernier mois sur le chantier"
    )
    no_reason = client.post(
        path, headers=headers, json={"entreprise": gone, "dernier_mois": "2027-03", "motif": " "}
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["erreur"].startswith(f"«{NBSP}motif{NBSP}»{NBSP}: indiquez pourquoi")
    assert _last_month(app, lot) is None
    body = {"entreprise": gone, "dernier_mois": "2027-03", "motif": "sa part est finie"}
    done = client.post(path, headers=headers, json=body)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["modifie"] is True
    assert answer["dernier_mois"] == "2027-03-01"
    assert len(answer["entreprise_informee"]) == 1
    assert answer["donneur_ordre_informe_pour"] == []
    assert squash(answer["message"]).startswith(
        squash(
            f"Clause n° {lot.clause_id} : {GONE} a quitté le chantier{NBSP}: son dernier mois à "
            "déclarer est mars 2027"
        )
    )
    with app.transaction() as session:
        actors = session.scalars(
            select(ClauseHistory.actor).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "company_left"
            )
        ).all()
    assert actors == ["Logiciel du PLIE"]
    twice = client.post(path, headers=headers, json=body)
    assert twice.status_code == 200
    assert twice.json()["modifie"] is False
    assert twice.json()["message"].startswith("Rien à changer")
    assert len(_departure_emails(app, lot)) == 1
