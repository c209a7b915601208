"""A lot finished from its web page says what the finish released, as ``clause advance`` does.

The user's case (``test_finish_rewrites_reminder``): a lot started on 1 October 2026, called once
for October and November; their « rappel n° 1 » waits in the outbox, one email for both months,
when the facilitator records, from the lot's page, that the works ended on 31 October. November
is no longer asked; the reminder is written again for October only. The page the form leads to
names November, the company and the reminder written again, in the words the command prints;
when the reminder cannot be written again (the company has nobody to write to any more), it
names the email by its N° and links to its page in the email log, where it is cancelled; no
command line. The JSON API's finish carries the same facts as ``clause advance --json``.

On the real passes of a simulated clock, the real site; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_finish_rewrites_reminder import (
    COMPANY,
    NBSP,
    october_and_november_waiting,
    paris,
    row,
)
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import AwardParty, ClauseHistory, Correspondent
from workflow.app import api_tokens, web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

RELEASED = (
    f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le 31/10/2026"
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def site(app: App) -> tuple[TestClient, str]:
    """Camille signed in on the site; the CSRF token of her forms."""
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def finish_on_the_page(client: TestClient, csrf: str, lot: Lot) -> str:
    """« Avancer à l'étape suivante » with the end of the work, as the lot's page offers it;
    the page it leads to."""
    page = client.get(f"/clauses/{lot.clause_id}")
    stage = re.search(r'name="etape" value="(\w+)"', page.text)
    assert stage is not None and stage.group(1) == "execution"
    sent = client.post(
        f"/clauses/{lot.clause_id}/avancer",
        data={"csrf": csrf, "etape": "execution", "fin": "2026-10-31", "motif": "Réception"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, visible(sent.text)
    shown = client.get(sent.headers["location"])
    assert shown.status_code == 200
    return shown.text


def message(page: str) -> str:
    """The confirmation at the top of the page, as HTML."""
    found = re.search(r'<div class="success" role="status" id="message">(.*?)</div>', page, re.S)
    assert found is not None, visible(page)
    return found.group(1)


def read(html: str) -> str:
    """``html`` as read: its tags out (a link inside a sentence adds no space), one line."""
    return squash(unescape(re.sub(r"<[^>]+>", "", html)))


def nobody_to_write_to(app: App, lot: Lot) -> None:
    """The lot's companies have no correspondent any more: a reminder cannot be written again."""
    with app.transaction() as session:
        session.execute(
            update(AwardParty)
            .where(AwardParty.clause_id == lot.clause_id)
            .values(correspondent_id=None)
        )
        session.execute(delete(Correspondent).where(Correspondent.company_id.in_(lot.company_ids)))


def finish_reason(app: App, lot: Lot) -> str | None:
    with app.transaction() as session:
        return session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "finish"
            )
        ).one()


def test_the_page_after_the_finish_names_the_month_released_and_the_reminder_written_again(
    app: App, clock: Clock
) -> None:
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    clock.set(paris(day, 10))
    client, csrf = site(app)

    page = finish_on_the_page(client, csrf, lot)

    told = read(message(page))
    sentence = (
        f"{RELEASED}{NBSP}; 1 courriel en attente écrit à nouveau sans novembre 2026 (rappel n° 1)."
    )
    assert told == (
        f"Clause passée à l'étape «{NBSP}suivi et bilan{NBSP}» ; l'historique le garde à votre "
        f"nom. {sentence}"
    ), told
    # The same facts as the history keeps (and the command prints), word for word.
    assert finish_reason(app, lot) == f"Réception. {sentence}"
    assert row(app, old_key).state == "cancelled"
    assert row(app, old_key.replace("2026-10..2026-11", "2026-10")).state == "pending"

    # The address names no company in words; one of another lot, or a month before the end,
    # tells nothing.
    other = client.get(
        f"/clauses/{lot.clause_id}?fait=follow_up&liberes=999999:2026-11::::::"
        f"&liberes={lot.company_ids[0]}:2026-10::::::"
    )
    assert read(message(other.text)) == (
        f"Clause passée à l'étape «{NBSP}suivi et bilan{NBSP}» ; l'historique le garde à votre nom."
    )


def test_a_reminder_that_cannot_be_written_again_is_linked_to_its_page_to_cancel_it(
    app: App, clock: Clock
) -> None:
    """The company has nobody to write to any more: the reminder naming November stays. The
    page names it by its N°, links to its page in the email log, and there it is cancelled."""
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    old = row(app, old_key)
    nobody_to_write_to(app, lot)
    clock.set(paris(day, 10))
    client, csrf = site(app)

    page = finish_on_the_page(client, csrf, lot)

    said = message(page)
    told = read(said)
    assert told.endswith(
        f"{RELEASED}{NBSP}; 1 courriel en attente demande encore novembre 2026 et n'a pas pu être "
        f"écrit à nouveau (rappel n° 1, courriel n°{NBSP}{old.id}){NBSP}: annulez-le depuis sa "
        f"page s'il ne doit pas partir («{NBSP}Annuler ce courriel{NBSP}»)."
    ), told
    assert "clauses " not in told and "--reason" not in told
    links = re.findall(r'<a href="([^"]+)">courriel n°&nbsp;(\d+)</a>', said)
    assert links == [(f"/courriels/{old.id}#motif", str(old.id))]
    assert row(app, old_key).state == "pending"

    # The link opens the email, waiting, with its « Annuler ce courriel » form; cancelled there.
    email = client.get(links[0][0].split("#")[0])
    assert email.status_code == 200
    shown = squash(visible(email.text))
    assert f"Courriel n° {old.id}" in shown and "Annuler ce courriel" in shown
    assert 'id="motif"' in email.text
    cancelled = client.post(
        f"/courriels/{old.id}/annuler",
        data={"csrf": csrf, "motif": "Novembre n'est plus demandé"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert row(app, old_key).state == "cancelled"


def test_the_api_finish_carries_what_was_released_as_the_command_does(
    app: App, clock: Clock
) -> None:
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    clock.set(paris(day, 10))
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))

    moved = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers={"Authorization": f"Bearer {token}"},
        json={"evenement": "achever", "date_fin": "2026-10-31"},
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["mois_plus_demandes"] == [
        {
            "entreprise_id": lot.company_ids[0],
            "entreprise": COMPANY,
            "mois": ["2026-11"],
            "courriels_retires": [],
            "courriels_ecrits_a_nouveau": ["rappel n° 1"],
            "sans": ["2026-11"],
            "courriels_demandant_encore": [],
        }
    ]
    assert row(app, old_key).state == "cancelled"


def test_the_api_finish_links_a_reminder_that_could_not_be_written_again(
    app: App, clock: Clock
) -> None:
    lot, day, old_key = october_and_november_waiting(app, "reminder_1")
    old = row(app, old_key)
    nobody_to_write_to(app, lot)
    clock.set(paris(day, 10))
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))

    moved = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers={"Authorization": f"Bearer {token}"},
        json={"evenement": "achever", "date_fin": "2026-10-31"},
    )

    assert moved.status_code == 200, moved.text
    [released] = moved.json()["mois_plus_demandes"]
    assert (released["mois"], released["courriels_ecrits_a_nouveau"]) == (["2026-11"], [])
    assert released["courriels_demandant_encore"] == [
        {"etape": "rappel n° 1", "courriel": old.id, "lien": f"/courriels/{old.id}"}
    ]
