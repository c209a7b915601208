"""The page of an expired link of a month still owed names the later email that carried a link
of that month still valid (user trial, 7 December 2026: it said only « Le prochain courriel …
vous donnera un nouveau lien » when a reminder had given one already). It names the email by
its subject and day and its link's last day, never the link itself (a link found in an old
email must not lead to a valid one); the company that opens that email and follows its link
gets the form.

Through the real ASGI application over the real App and passes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from tests.integration.test_declaration_link_validity_closed_lots import page_text
from tests.integration.test_welcome_promise import paris
from workflow.adapters.orm import OutboxMessage
from workflow.adapters.templates import french_date
from workflow.bootstrap import App
from workflow.emails.ladder import KIND_CALL, KIND_REMINDER
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import run_pass
from workflow.settings import Settings

MARCH = date(2026, 3, 1)
LINK = re.compile(r"https?://\S+/declarer/(\d+\.\d+\.(\d{6})\.(\d{8})\.\S+)")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def sent_links(app: App, kind: str) -> list[tuple[OutboxMessage, str, date]]:
    """Each sent email of ``kind`` with its link for March and that link's last day."""
    found = []
    with app.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind, OutboxMessage.state == "sent")
            .order_by(OutboxMessage.id)
        ).all()
        session.expunge_all()
    for row in rows:
        for token, month, last in LINK.findall(row.body_text):
            if month == f"{MARCH:%Y%m}":
                last_day = date(int(last[:4]), int(last[4:6]), int(last[6:]))
                found.append((row, token, last_day))
    return found


def test_an_expired_link_names_the_reminder_whose_link_still_works(app: App, clock: Clock) -> None:
    make_lot(app, start=MARCH, end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 10))
    # April's passes: March's call, then its two reminders, each with a fresh link.
    day = date(2026, 4, 1)
    while day <= date(2026, 4, 30):
        clock.set(paris(day, 9, 30))
        run_pass(app, clock())
        day += timedelta(days=1)
    [(_, call_token, call_last)] = sent_links(app, KIND_CALL)
    reminders = sent_links(app, KIND_REMINDER)
    assert len(reminders) == 2, reminders
    latest, latest_token, latest_last = reminders[-1]
    assert call_last < latest_last
    client = TestClient(create_site(app))

    # The day after the call's link's last day: expired, the reminder's link still valid.
    clock.set(paris(call_last + timedelta(days=1), 10))
    expired = client.get(f"/declarer/{call_token}")
    assert expired.status_code == 410
    text = page_text(expired)
    assert latest.sent_at is not None
    sent_on = (latest.sent_at.astimezone(app.settings.zone)).date()
    assert (
        "Un courriel plus récent vous a donné un lien valable pour mars 2026 : "
        f"« {latest.subject} », que je vous ai envoyé le {french_date(sent_on)}, son lien "
        f"valable jusqu'au {french_date(latest_last)}. Ouvrez ce courriel et suivez son lien "
        "pour déclarer."
    ) in text, text
    assert "Rien n'a été enregistré avec ce lien." in text
    # Neither the link nor its signature is on the page.
    assert latest_token not in expired.text and latest_token.rsplit(".", 1)[1] not in expired.text

    # The company opens that reminder and follows its link: the form.
    followed = client.get(urlparse(f"https://x/declarer/{latest_token}").path)
    assert followed.status_code == 200, page_text(followed)
    assert "Vérifier la déclaration" in page_text(followed)

    # Once that link has expired too, nothing newer to name.
    clock.set(paris(latest_last + timedelta(days=1), 10))
    later = page_text(client.get(f"/declarer/{call_token}"))
    assert "Un courriel plus récent" not in later, later
