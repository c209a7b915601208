"""The page a welcome's link opens, while the lot's start is not recorded, says so in the
company's words: the start is to be recorded, the call will give the date, whom to write to if
the works began (user trial, 7 December 2026: it said « Clause n° 3 (…) est à l'étape
« attribution » : les heures se déclarent pendant la mise en œuvre », under a due date that held
only for a start recorded in time). Nothing can be recorded from it; once the start is recorded,
the same link gives the form.

Through the real ASGI application over the real App, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import make_lot
from tests.integration.test_declaration_link_validity_closed_lots import page_text
from tests.integration.test_welcome_promise import paris
from workflow.adapters.orm import Declaration, OutboxMessage
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

FORM = "Vérifier la déclaration"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def test_a_welcome_link_before_the_start_says_when_it_will_work(
    app: App, clock: Clock, settings: Settings
) -> None:
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False)
    with app.transaction() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "company_welcome")
        ).one()
    paths = [urlparse(url).path for url in re.findall(r"https?://\S+/declarer/\S+", body)]
    assert len(paths) == 3, body  # January to March
    client = TestClient(create_site(app))

    text = page_text(client.get(paths[0]))
    assert ("Le démarrage des travaux du lot 1 « Gros œuvre » (marché ") in text and (
        "n'est pas encore enregistré : vous pourrez déclarer janvier 2027 sur cette page dès "
        "qu'il le sera. Mon appel à déclarer vous donnera alors sa date limite. Si les travaux "
        f"ont commencé, écrivez à {settings.facilitator_name}"
    ) in text, text
    assert "À déclarer après l'enregistrement du démarrage des travaux" in text, text
    assert "au plus tard le" not in text and "l'étape" not in text and FORM not in text, text

    # Started: the same link gives the form and its date.
    clock.set(paris(date(2027, 4, 1), 10))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    started = page_text(client.get(paths[0]))
    assert FORM in started and "À déclarer au plus tard le" in started, started
    assert "n'est pas encore enregistré" not in started
    with app.transaction() as session:
        assert session.scalars(select(Declaration.id)).all() == []
