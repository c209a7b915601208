"""The dashboard's email log: by state, page by page, each email readable as its recipient reads
it, and one that should not leave taken back with its reason and her name.

Over the real ASGI application and the real App, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_dashboard import dashboard_site, sign_in
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.entrypoints.web import mail_log
from workflow.services.outbox import OutboxState


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The dashboard's own scenario: a called territory, a declaration in, Camille's account."""
    return dashboard_site(app, clock)


def ids_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/courriels/(\d+)" aria-label', html)]


def test_the_log_goes_page_by_page_and_by_state_missing_no_email(
    app: App, site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_log, "PAGE_SIZE", 2)
    with app.transaction() as session:
        every = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())).all()
        pending = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.PENDING)
        )
    assert len(every) > 2
    sign_in(site)

    seen: list[int] = []
    address = "/courriels"
    while True:
        page = site.get(address)
        assert page.status_code == 200
        seen += ids_on(page.text)
        older = re.search(r'href="(/courriels\?avant=\d+)">Plus anciens', page.text)
        if older is None:
            break
        address = older.group(1)
    assert seen == list(every)  # every email once, newest first

    by_state = site.get(f"/courriels?etat={OutboxState.PENDING.value}")
    assert f"<strong>en attente</strong> ({pending})" in by_state.text
    assert len(ids_on(by_state.text)) == min(pending or 0, 2)
    assert site.get("/courriels?etat=perdu").status_code == 422


def test_an_email_reads_as_its_recipient_reads_it_and_is_taken_back_with_a_reason(
    app: App, site: TestClient
) -> None:
    with app.transaction() as session:
        message = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.PENDING)
            .order_by(OutboxMessage.id)
        ).first()
        assert message is not None
        message_id, body, subject = message.id, message.body_text, message.subject
    csrf = sign_in(site)

    page = site.get(f"/courriels/{message_id}")
    assert page.status_code == 200
    text = visible(page.text)
    assert subject in text and squash(body.splitlines()[0]) in squash(text)
    assert "Annuler ce courriel" in text

    # No reason, or no CSRF token: nothing changes.
    assert site.post(f"/courriels/{message_id}/annuler", data={"csrf": csrf}).status_code == 422
    forged = site.post(f"/courriels/{message_id}/annuler", data={"motif": "doublon"})
    assert forged.status_code == 403
    with app.transaction() as session:
        assert session.get(OutboxMessage, message_id).state == OutboxState.PENDING  # type: ignore[union-attr]

    done = site.post(
        f"/courriels/{message_id}/annuler",
        data={"csrf": csrf, "motif": "adresse d'un ancien salarié"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with app.transaction() as session:
        cancelled = session.get(OutboxMessage, message_id)
        assert cancelled is not None and cancelled.state == OutboxState.CANCELLED
        assert "Camille Martin" in (cancelled.last_error or "")
        assert "adresse d'un ancien salarié" in (cancelled.last_error or "")
    shown = visible(site.get(done.headers["location"]).text)
    assert "Courriel annulé : il ne partira pas." in shown and "Annuler ce courriel" not in shown
    # Why, said as why, not as an error.
    assert "Pourquoi il ne partira pas\u00a0: Annulé par Camille Martin" in shown
    assert "Dernière erreur" not in shown

    assert site.get("/courriels/999999").status_code == 404


def test_an_address_no_page_has_gets_a_french_page(site: TestClient) -> None:
    sign_in(site)
    for address in ("/courriels/abc", "/courriels/99999999999999999999"):
        page = site.get(address)
        assert page.status_code == 404
        assert "Cette adresse ne mène à aucune page du service." in visible(page.text)
        assert page.headers["content-type"].startswith("text/html")
