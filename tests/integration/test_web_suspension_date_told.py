"""The page behind a departure email's link, while the lot is suspended, gives no due date.

The trial's case (``test_suspension_dates_told``): the lot suspended on 1 October 2026 at 08:00,
before the September call; the co-contractor's departure recorded on 20 October, last month
September. The email's link to September led to a page reading « À déclarer au plus tard le
lundi 12 octobre 2026 (en retard de 6 jours ouvrés) »: a date nobody was given, the call held
back by the suspension. The page reads the emails' rule now (``notices.owed_due_dates``): the
month is asked at the resumption, with its date then. The real site, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_company_left_site import local
from tests.integration.test_suspension_dates_told import (
    GONE_AFTER_SEPTEMBER,
    SUSPEND_BEFORE_CALL,
    _run,
)
from tests.integration.test_web_finish_released import read
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"


def test_the_page_of_a_month_held_by_the_suspension_is_not_late(app: App) -> None:
    lot = _run(app, [SUSPEND_BEFORE_CALL, GONE_AFTER_SEPTEMBER], date(2026, 10, 20))
    with app.transaction() as session:
        body = session.scalar(
            select(OutboxMessage.body_text).where(
                OutboxMessage.clause_id == lot.clause_id, OutboxMessage.kind == "company_left"
            )
        )
    assert body is not None
    (path,) = re.findall(r"https?://\S+(/declarer/\S+)", body)
    at = local(app, date(2026, 10, 20), 15)
    app.clock = lambda: at
    page = TestClient(create_site(app)).get(path)
    assert page.status_code == 200, page.text
    text = read(page.text)
    assert "Mois déclaréseptembre 2026 À déclarerà la reprise du chantier" in text, text
    assert (
        f"à la reprise du chantier{NBSP}: le lot est suspendu, ce mois ne vous a pas encore été "
        "demandé. Sa date limite vous sera donnée avec l'appel, après la reprise."
    ) in text, text
    assert "en retard" not in text and "12 octobre 2026" not in text, text
