"""The months a change makes owed are named wherever the change is made: the lot's page, the
JSON API, the command line, from one reading in the change's own transaction.

The user trial of ``test_calls_to_come_dates``: a lot planned to end on 31 March 2026, its
company's calls parked past that end, so April and May were asked of nobody. On 10 June at
14:00 the facilitator records the end of its works on 15 May, or moves its planned end to 30
June: April and May become owed, called at the next pass (11 June, 09:00: today's call time has
passed) and due on 22 June. ``clause advance`` and ``lot set-end`` said so; the lot's page and
the API said nothing of it, so the facilitator who finished the lot from the site never learnt
that Bâtiments Test would be asked for two months the next morning.

On the real passes of a simulated clock, the real site; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import Clock
from tests.integration.test_calls_to_come_dates import _lot_past_its_planned_end
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.text import squash, visible
from workflow.app import api_tokens, web_accounts
from workflow.app import clauses as clause_app
from workflow.app.months_asked_texts import asked_sentences
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
APR, MAY = date(2026, 4, 1), date(2026, 5, 1)
ASKED = (
    "Avril et mai 2026 seront demandés à Bâtiments Test au prochain passage, le 11 juin 2026 "
    "(à déclarer au plus tard le 22 juin 2026)."
)


def local(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def at_ten_past_two(app: App, clock: Clock) -> None:
    """10 June 2026 at 14:00, Paris: after the day's call time, the next pass is tomorrow's."""
    clock.set(local(app, date(2026, 6, 10), 14))
    app.clock = clock


def site(app: App) -> tuple[TestClient, str]:
    """Camille signed in on the site; the CSRF token of her forms."""
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def api(app: App) -> tuple[TestClient, dict[str, str]]:
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    return TestClient(create_site(app)), {"Authorization": f"Bearer {token}"}


def message(page: str) -> str:
    """The confirmation at the top of the page, as read: tags out, one line."""
    found = re.search(r'<div class="success" role="status" id="message">(.*?)</div>', page, re.S)
    assert found is not None, visible(page)
    return squash(unescape(re.sub(r"<[^>]+>", " ", found.group(1))))


def sent(client: TestClient, path: str, data: dict[str, str]) -> tuple[str, str]:
    """A form of the lot's page sent: the address it leads to and the page there."""
    answer = client.post(path, data=data, follow_redirects=False)
    assert answer.status_code == 303, visible(answer.text)
    address = answer.headers["location"]
    shown = client.get(address)
    assert shown.status_code == 200
    return address, shown.text


def asked_json(app: App, company_id: int) -> list[dict[str, object]]:
    """What ``mois_a_demander`` says of the lot: April and May, tomorrow's call, 22 June."""
    return [
        {
            "entreprise_id": company_id,
            "entreprise": "Bâtiments Test",
            "mois": ["2026-04", "2026-05"],
            "appel_prevu": local(app, date(2026, 6, 11), 9),
            "echeance": "2026-06-22",
        }
    ]


def read_json(said: list[dict[str, object]]) -> list[dict[str, object]]:
    """The API's ``mois_a_demander`` with its moments read back as moments (any offset)."""
    return [{**a, "appel_prevu": datetime.fromisoformat(str(a["appel_prevu"]))} for a in said]


def test_the_page_after_a_finish_names_the_months_it_makes_owed_and_when_they_are_asked(
    app: App, clock: Clock
) -> None:
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    client, csrf = site(app)

    address, page = sent(
        client,
        f"/clauses/{lot.clause_id}/avancer",
        {"csrf": csrf, "etape": "execution", "fin": "2026-05-15", "motif": "Réception"},
    )

    told = message(page)
    assert told == (
        f"Clause passée à l'étape «{NBSP}suivi et bilan{NBSP}» ; l'historique le garde à votre "
        f"nom. {ASKED}"
    ), told
    assert address.endswith("#message")

    # An address typed or kept names nothing the pass will not do: a company of no lot, March
    # (called on 1 April already), a month never owed.
    forged = client.get(
        f"/clauses/{lot.clause_id}?fait=follow_up&ademander=999999:2026-04"
        f"&ademander={lot.company_ids[0]}:2026-03,2026-09"
    )
    assert "sera demandé" not in message(forged.text)
    assert "demandés" not in message(forged.text)
    # Once the pass of 11 June has asked for them, the same address no longer announces it.
    run_pass(app, local(app, date(2026, 6, 11), 9), dispatch=False)
    clock.set(local(app, date(2026, 6, 11), 10))
    sign_in(client)  # the session of the day before has lapsed
    later = client.get(address.split("#")[0])
    assert "demandés" not in message(later.text), message(later.text)


def test_the_page_after_a_later_planned_end_names_the_months_it_makes_owed(
    app: App, clock: Clock
) -> None:
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    client, csrf = site(app)

    _, page = sent(
        client,
        f"/clauses/{lot.clause_id}/fin-prevue",
        {"csrf": csrf, "nouvelle_fin": "2026-06-30", "raison_fin": "avenant n° 2"},
    )

    told = message(page)
    assert told == (
        f"Clause n°{NBSP}{lot.clause_id}{NBSP}: fin prévue changée, désormais le 30 juin 2026"
        f"{NBSP}; l'historique garde la raison à votre nom. Les appels à déclarer suivent la "
        f"nouvelle fin. {ASKED}"
    ), told


def test_the_api_finish_and_the_api_planned_end_say_the_months_they_make_owed(
    app: App, clock: Clock
) -> None:
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    client, headers = api(app)

    moved = client.post(
        f"/api/v1/clauses/{lot.clause_id}/fin-prevue",
        headers=headers,
        json={"fin_prevue": "2026-06-30", "motif": "avenant n° 2"},
    )
    assert moved.status_code == 200, moved.text
    assert read_json(moved.json()["mois_a_demander"]) == asked_json(app, lot.company_ids[0])

    # The end of the work recorded on 15 May: April and May were made owed by the amendment
    # already, so the finish makes nothing more owed, and says so (an empty list).
    finished = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers=headers,
        json={"evenement": "achever", "date_fin": "2026-05-15"},
    )
    assert finished.status_code == 200, finished.text
    assert finished.json()["mois_a_demander"] == []


def test_the_api_finish_past_the_planned_end_says_the_months_it_makes_owed(
    app: App, clock: Clock
) -> None:
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    client, headers = api(app)

    finished = client.post(
        f"/api/v1/clauses/{lot.clause_id}/avancer",
        headers=headers,
        json={"evenement": "achever", "date_fin": "2026-05-15"},
    )

    assert finished.status_code == 200, finished.text
    assert read_json(finished.json()["mois_a_demander"]) == asked_json(app, lot.company_ids[0])


def test_the_application_names_the_months_from_the_one_transaction_of_the_change(
    app: App, clock: Clock
) -> None:
    """No interface reads before and after: the application's change returns the months, read
    in the transaction that made it (one transaction opened, for the move and both readings)."""
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    opened: list[Session] = []
    real = app.transaction

    @contextmanager
    def counted() -> Iterator[Session]:
        with real() as session:
            opened.append(session)
            yield session

    app.transaction = counted  # type: ignore[method-assign]
    try:
        done = clause_app.set_planned_end(
            app, lot.clause_id, date(2026, 6, 30), reason="avenant n° 2", actor="Camille"
        )
        moved_once = len(opened)
        again = clause_app.set_planned_end(
            app, lot.clause_id, date(2026, 6, 30), reason="avenant n° 2", actor="Camille"
        )
    finally:
        app.transaction = real  # type: ignore[method-assign]

    assert moved_once == 1
    assert [(a.company_id, a.months, a.due_on, a.late) for a in done.asked] == [
        (lot.company_ids[0], (APR, MAY), date(2026, 6, 22), True)
    ]
    assert done.asked[0].call_at == local(app, date(2026, 6, 11), 9)
    assert asked_sentences(done.asked, app.settings.zone) == [ASKED]
    # The same end again changes nothing, and makes nothing owed.
    assert (again.changed, again.asked) == (False, ())


def test_a_finish_before_the_planned_end_makes_nothing_owed(app: App, clock: Clock) -> None:
    """The finish reads the calls to come only to name what it adds: within the planned end it
    adds none, and the application says none (``clause advance`` then prints no such line)."""
    lot = _lot_past_its_planned_end(app)
    at_ten_past_two(app, clock)
    moved = clause_app.advance_clause(
        app, lot.clause_id, ClauseEvent.FINISH, end_date=date(2026, 3, 31), actor="Camille"
    )
    assert moved.asked == ()
