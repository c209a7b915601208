"""A call or a reminder that lists earlier months still late gives a link for each of them too,
and the call's template covers them all (user trial: a reminder listed ten months overdue, its
« Déclarer en ligne » and its template covered the month asked only): a company following its
email can declare every month it is asked for."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration._ladders import make_lot
from tests.integration.test_call_names_late_months import (
    SEP,
    emails_of,
    mail_app,
    paris,
)
from tests.text import visible
from workflow.adapters.orm import OutboxAttachment
from workflow.bootstrap import App
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import simulate

pytestmark = pytest.mark.scenario

__all__ = ["mail_app"]

_LINK = re.compile(r"^- (\S+ \d{4}) : (https?://\S+/declarer/\S+)", re.MULTILINE)


def links_of(text: str) -> dict[str, str]:
    """The « Déclarer en ligne » links of a plain text email, by month as written."""
    return dict(_LINK.findall(text))


def test_each_month_listed_late_has_its_link_and_a_block_in_the_template(
    mail_app: App,
) -> None:
    lot = make_lot(
        mail_app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons",),
        at=paris(date(2026, 9, 1), 8),
    )
    [gascons] = lot.company_ids

    simulate(mail_app, date(2026, 9, 1), date(2026, 12, 10))

    # The November call: September and October late, each with its page, November too.
    november = emails_of(mail_app, lot.clause_id, gascons, "call")[2]
    text = november.body_text
    assert "ces déclarations ne me sont toujours pas parvenues" in text
    links = links_of(text)
    assert list(links) == ["septembre 2026", "octobre 2026", "novembre 2026"], text
    assert "Ces liens sont réservés" in text
    assert "Le modèle joint couvre septembre, octobre et novembre 2026" in text
    # The how-to lists the late months as late, and the template has a block for each month.
    assert "- septembre 2026 : en retard, attendue depuis le 12 octobre 2026" in text
    assert "- octobre 2026 : en retard, attendue depuis le 10 novembre 2026" in text
    assert "- novembre 2026 : à déclarer à partir du" in text
    with mail_app.transaction() as session:
        attached = {
            a.filename: bytes(a.content)
            for a in session.scalars(
                select(OutboxAttachment).where(OutboxAttachment.outbox_id == november.id)
            )
        }
    [csv] = [content for name, content in attached.items() if name.endswith(".csv")]
    for cell in (b"09/2026", b"10/2026", b"11/2026"):
        assert cell in csv, csv
    # Four links or more: a short list in the HTML, not a button each; here three, buttons.
    assert november.body_html.count('class="button"') == 3

    # The October reminder too (September late); the buyer's alerts carry none.
    reminder = emails_of(mail_app, lot.clause_id, gascons, "reminder_1")[1]
    assert list(links_of(reminder.body_text)) == ["septembre 2026", "octobre 2026"], (
        reminder.body_text
    )
    for alert in emails_of(mail_app, lot.clause_id, gascons, "escalation"):
        assert "/declarer/" not in alert.body_text

    # Each link opens the page of its own month.
    client = TestClient(create_site(mail_app))
    for month, url in links.items():
        page = client.get(urlparse(url).path)
        assert page.status_code == 200, month
        assert month in visible(page.text), month
