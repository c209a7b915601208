"""The facilitator's dashboard: login, CSRF, sessions, and the actions it offers.

Over the real ASGI application and the real App, on SQLite and PostgreSQL: a wrong password is
refused and, past five, even the right one for a while; a POST without the session's CSRF token
does nothing; the session cookie carries its flags; validating a month and sending a refused
email again leave the same rows as the command line, with the signed-in user as the actor.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import start_sample
from tests.integration.test_online_declaration import (
    CALLED,
    TWO_PEOPLE,
    call_link,
    form,
)
from tests.text import visible
from workflow.adapters.orm import ClauseHistory, Declaration, OutboxMessage, WebSession
from workflow.app import web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.errors import InputRefused
from workflow.services.outbox import OutboxState
from workflow.services.ticks import run_pass

PASSWORD = "un mot de passe assez long"


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    return dashboard_site(app, clock)


def dashboard_site(app: App, clock: Clock) -> TestClient:
    """The sample territory called for April, a company's declaration in, Camille's account."""
    start_sample(app)
    clock.set(CALLED)
    run_pass(app, CALLED)
    clause_id, holder_id, _ = lot_01(app)
    client = TestClient(create_site(app))
    client.post(call_link(app, clause_id, holder_id), data=form(TWO_PEOPLE, "confirmer"))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    return client


def login_token(client: TestClient) -> str:
    page = client.get("/connexion")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, password: str = PASSWORD) -> str:
    """Signs in; the CSRF token of the session's forms."""
    response = client.post(
        "/connexion",
        data={"csrf": login_token(client), "identifiant": "Camille", "mot_de_passe": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, visible(response.text)
    board = client.get("/tableau-de-bord")
    found = re.search(r'name="csrf" value="([^"]+)"', board.text)
    assert found is not None
    return found.group(1)


def test_the_dashboard_is_behind_the_login_and_the_cookie_keeps_its_flags(
    app: App, site: TestClient
) -> None:
    for page in ("/tableau-de-bord", "/courriels"):
        assert site.get(page, follow_redirects=False).headers["location"].startswith("/connexion")

    response = site.post(
        "/connexion",
        data={"csrf": login_token(site), "identifiant": "camille", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "clauses_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    with app.transaction() as session:
        stored = session.scalars(select(WebSession.id)).one()
    token = site.cookies.get("clauses_session")
    assert token and stored != token  # the database keeps a digest, never the token

    board = visible(site.get("/tableau-de-bord").text)
    assert "Tâches du 4 mai 2026" in board and "Camille Martin" in board
    assert "Déclarations à valider (1)" in board and "Bâtiments Gascons SARL" in board


def test_a_page_asked_for_signed_out_is_where_the_login_leads(app: App, site: TestClient) -> None:
    """A digest's link (« /clauses/7#bilan-form ») opened without a session: after the login, the
    page asked for, not the dashboard; never another site."""
    clause_id = lot_01(app)[0]
    asked = site.get(f"/clauses/{clause_id}?onglet=1", follow_redirects=False)
    assert asked.headers["location"] == f"/connexion?suite=%2Fclauses%2F{clause_id}%3Fonglet%3D1"
    login = site.get(asked.headers["location"])
    assert f'name="suite" value="/clauses/{clause_id}?onglet=1"' in login.text
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    wrong = site.post(
        "/connexion",
        data={"csrf": token.group(1), "identifiant": "camille", "mot_de_passe": "faux",
              "suite": f"/clauses/{clause_id}"},
        follow_redirects=False,
    )  # fmt: skip
    assert f'name="suite" value="/clauses/{clause_id}"' in wrong.text  # kept on a retry
    signed = site.post(
        "/connexion",
        data={"csrf": login_token(site), "identifiant": "camille", "mot_de_passe": PASSWORD,
              "suite": f"/clauses/{clause_id}?onglet=1"},
        follow_redirects=False,
    )  # fmt: skip
    assert signed.headers["location"] == f"/clauses/{clause_id}?onglet=1"
    assert site.get(signed.headers["location"]).status_code == 200
    # Already signed in: straight there.
    assert (
        site.get("/connexion?suite=%2Fcourriels", follow_redirects=False).headers["location"]
        == "/courriels"
    )
    for elsewhere in ("//ailleurs.example/x", "https://ailleurs.example/", "/\\ailleurs.example"):
        assert (
            site.get(f"/connexion?suite={elsewhere}", follow_redirects=False).headers["location"]
            == "/tableau-de-bord"
        )
    # A form sent without a session goes to the login page alone (its data is not kept).
    site.cookies.clear()
    posted = site.post("/declarations/valider", data={"csrf": "x"}, follow_redirects=False)
    assert posted.headers["location"] == "/connexion"


def test_a_session_cookie_is_secure_behind_https(tmp_path: object, sqlite_url: str) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    app = bootstrap(make_settings(tmp_path, sqlite_url, base_url="https://clauses.exemple.fr"))
    try:
        web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
        client = TestClient(create_site(app), base_url="https://clauses.exemple.fr")
        response = client.post(
            "/connexion",
            data={"csrf": login_token(client), "identifiant": "camille", "mot_de_passe": PASSWORD},
            follow_redirects=False,
        )
        assert "Secure" in response.headers["set-cookie"]
    finally:
        app.close()


def test_wrong_passwords_are_refused_then_limited_even_for_the_right_one(
    app: App, site: TestClient, clock: Clock
) -> None:
    wall = Clock(clock())  # the lockout counts real time (App.wall_clock), not the App's clock
    app.wall_clock = wall
    for _ in range(5):
        refused = site.post(
            "/connexion",
            data={"csrf": login_token(site), "identifiant": "camille", "mot_de_passe": "non"},
        )
        assert refused.status_code == 401
        assert "Identifiant ou mot de passe incorrect." in visible(refused.text)
    unknown = site.post(
        "/connexion",
        data={"csrf": login_token(site), "identifiant": "personne", "mot_de_passe": "non"},
    )
    assert "Identifiant ou mot de passe incorrect." in visible(unknown.text)  # same words

    limited = site.post(
        "/connexion",
        data={"csrf": login_token(site), "identifiant": "camille", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert limited.status_code == 401
    assert "Trop de tentatives de connexion" in visible(limited.text)
    wall.set(wall() + timedelta(minutes=16))
    assert sign_in(site)


def test_a_post_without_its_csrf_token_does_nothing(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    clause_id, holder_id, _ = lot_01(app)
    wanted = {"clause_id": str(clause_id), "company_id": str(holder_id), "month": "2026-04-01"}

    for token in ("", "faux" + csrf):
        refused = site.post("/declarations/valider", data={**wanted, "csrf": token})
        assert refused.status_code == 403
        assert "Le jeton de sécurité du formulaire manque" in visible(refused.text)
    no_login_token = site.post(
        "/connexion", data={"identifiant": "camille", "mot_de_passe": PASSWORD}
    )
    assert no_login_token.status_code == 403
    with app.transaction() as session:
        assert session.scalars(select(Declaration.validated_at)).all() == [None]


def test_a_month_validated_from_the_dashboard_is_signed_by_who_did_it(
    app: App, site: TestClient
) -> None:
    csrf = sign_in(site)
    clause_id, holder_id, _ = lot_01(app)

    done = site.post(
        "/declarations/valider",
        data={"csrf": csrf, "clause_id": str(clause_id), "company_id": str(holder_id),
              "month": "2026-04-01"},
        follow_redirects=False,
    )  # fmt: skip

    assert done.status_code == 303
    # The address carries ids only; the page names them from the database.
    location = done.headers["location"]
    assert f"clause={clause_id}&entreprise={holder_id}&mois=2026-04" in location
    board = visible(site.get(location).text)
    assert "Toutes les déclarations reçues sont validées." in board
    assert (
        f"Déclaration d'avril 2026 de Bâtiments Gascons SARL (clause n°\xa0{clause_id}) validée"
        in board
    )
    with app.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        history = session.scalars(
            select(ClauseHistory).where(ClauseHistory.event == "declaration_validated")
        ).one()
    assert declaration.validated_by == "Camille Martin" and history.actor == "Camille Martin"
    # The company's link now shows the month, read-only.
    page = visible(site.get(call_link(app, clause_id, holder_id)).text)
    assert "validée le 4 mai 2026 par Camille Martin" in page


def test_a_refused_email_is_sent_again_from_the_log(app: App, site: TestClient) -> None:
    with app.transaction() as session:
        message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert message is not None
        message.state = OutboxState.FAILED
        message.last_error = "Refus définitif : 550 boîte inconnue"
        message_id = message.id
    csrf = sign_in(site)

    # The task names its recipient as a person reads it, accents decoded (not =?utf-8?b?…?=).
    board = visible(site.get("/tableau-de-bord").text)
    assert "à Hélène Duprat <helene.duprat@example.org>" in board and "=?utf-8?" not in board
    log = visible(site.get("/courriels").text)
    assert f"Renvoyer le courriel n° {message_id}" in site.get("/courriels").text
    assert "550 boîte inconnue" in log
    again = site.post(
        f"/courriels/{message_id}/renvoyer", data={"csrf": csrf}, follow_redirects=False
    )

    assert again.status_code == 303
    with app.transaction() as session:
        assert session.get(OutboxMessage, message_id).state == OutboxState.PENDING  # type: ignore[union-attr]
    # Sent again twice: still one message, never a copy.
    site.post(f"/courriels/{message_id}/renvoyer", data={"csrf": csrf})
    with app.transaction() as session:
        key = session.get(OutboxMessage, message_id).key  # type: ignore[union-attr]
        same = session.scalars(select(OutboxMessage.id).where(OutboxMessage.key == key)).all()
    assert same == [message_id]
    missing = site.post("/courriels/999999/renvoyer", data={"csrf": csrf})
    assert missing.status_code == 422 and "999999" in visible(missing.text)


def test_a_new_password_closes_the_open_sessions(app: App, site: TestClient) -> None:
    sign_in(site)
    web_accounts.change_password(app, login="camille", password="un autre mot de passe long")
    assert site.get("/tableau-de-bord", follow_redirects=False).status_code == 303
    with pytest.raises(InputRefused, match="trop court"):
        web_accounts.add_user(app, login="lea", name="Léa Roux", password="court")


def test_an_uncertain_email_waits_on_the_dashboard_for_her_decision(
    app: App, site: TestClient
) -> None:
    """Issue 11: a message whose send was cut off may have arrived; it is shown, never resent
    silently, and « Renvoyer » is her decision."""
    with app.transaction() as session:
        message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert message is not None
        message.state = OutboxState.UNCERTAIN
        message_id, subject = message.id, message.subject
    csrf = sign_in(site)

    board = visible(site.get("/tableau-de-bord").text)
    log = site.get("/courriels").text

    assert "1 courriel à regarder (refusé, abandonné ou peut-être arrivé)" in board
    # The dashboard asks her to check first, and its button is hers to press (no command line).
    assert "Demandez d'abord au destinataire s'il l'a reçu." in board and subject in board
    assert f'action="/courriels/{message_id}/renvoyer"' in site.get("/tableau-de-bord").text
    assert "clauses mail retry" not in board
    assert "incertain" in visible(log) and f"Renvoyer le courriel n° {message_id}" in log
    site.post(f"/courriels/{message_id}/renvoyer", data={"csrf": csrf})
    with app.transaction() as session:
        assert session.get(OutboxMessage, message_id).state == OutboxState.PENDING  # type: ignore[union-attr]


def test_a_long_section_shows_its_most_urgent_tasks_and_counts_the_rest(
    site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.entrypoints.web import dashboard

    sign_in(site)
    monkeypatch.setattr(dashboard, "TASKS_SHOWN", 0)
    board = visible(site.get("/tableau-de-bord").text)
    assert "Éligibilités à vérifier (1)" in board
    assert "… et 1 autre, moins urgente (le récapitulatif du matin les donne toutes)." in board
    assert "Heures déclarées sans justificatif validé" not in board


def test_a_failed_login_keeps_the_login_typed_and_the_log_says_what_it_shows(
    site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = site.post(
        "/connexion",
        data={"csrf": login_token(site), "identifiant": "camille", "mot_de_passe": "non"},
    )
    assert 'name="identifiant" value="camille"' in refused.text

    from workflow.entrypoints.web import mail_log

    sign_in(site)
    monkeypatch.setattr(mail_log, "PAGE_SIZE", 2)
    page = site.get("/courriels").text
    log = visible(page)
    # Which emails it shows, how many there are in all, and the way to the older ones.
    assert re.search(r"N° \d+ à \d+, du plus récent au plus ancien", log)
    assert re.search(r"Tous \(\d+\)", log) and "Plus anciens" in log
    assert not re.search(r"·\s*(N°|$)", log)
