"""The day a finished lot's work ended, corrected from its web page (« Corriger la date de fin
d'exécution »), as ``clause end-date`` does.

The user's case (``test_end_date_correction``): the works ended on 30 November 2026; the
facilitator recorded 31/10/2026 on 3 December, after November's call had left. From the lot's
page, the next day, she corrects it to 30/11: the page she lands on says November is asked again,
with the reminder and the due date the pass then really uses (the pass is run, its emails
compared). A refusal (a date before the start, no motif) is shown next to its field, in the form's
words, and changes nothing; the same date again says there is nothing to change. Corrected back
to 31/10, the page names November released, as a finish does. The JSON API carries the facts of
``clause end-date --json``.

On the real commands, passes and site of a simulated clock; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, ladders
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_end_date_correction import (
    COMPANY,
    NBSP,
    NOV,
    a_lot_finished_a_month_too_early,
    corrections,
    paris,
    steps_of,
)
from tests.integration.test_finish_rewrites_reminder import october_and_november_waiting, row
from tests.integration.test_web_finish_released import message, nobody_to_write_to, read
from tests.text import squash, visible
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import Clause
from workflow.adapters.templates import french_date
from workflow.app import api_tokens, web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.web.site import create_site
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

CORRECTED = (
    f"Date de fin d'exécution corrigée du 31/10/2026 au 30/11/2026{NBSP}; l'historique garde le "
    "motif à votre nom."
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def site(app: App) -> tuple[TestClient, str]:
    """Camille signed in on the site; the CSRF token of her forms."""
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def correct_on_the_page(
    client: TestClient, csrf: str, lot: Lot, end: str, reason: str = "Erreur de saisie"
) -> Any:
    return client.post(
        f"/clauses/{lot.clause_id}/fin-execution",
        data={"csrf": csrf, "fin_execution": end, "motif_fin_execution": reason},
        follow_redirects=False,
    )


def end_of(app: App, lot: Lot) -> date | None:
    with app.transaction() as session:
        return session.scalars(select(Clause.end_date).where(Clause.id == lot.clause_id)).one()


def refusal_next_to(page: str, field: str) -> str:
    """The refusal shown under ``field`` of the end's form, as read."""
    found = re.search(
        rf'<input id="{field}"[^>]*aria-describedby="{field}-refus"[^>]*>\s*'
        rf'<span class="errors" role="alert" id="{field}-refus">(.*?)</span>',
        page,
        re.S,
    )
    assert found is not None, visible(page)
    return read(found.group(1))


def test_the_page_says_november_is_asked_again_as_the_pass_then_asks_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder_at, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    client, csrf = site(app)

    # The form, on the lot's page in follow-up, holds the end recorded.
    page = client.get(f"/clauses/{lot.clause_id}")
    assert "Corriger la date de fin d'exécution" in visible(page.text)
    assert re.search(r'id="fin_execution" name="fin_execution" type="date" required '
                     r'value="2026-10-31"', page.text), page.text  # fmt: skip

    sent = correct_on_the_page(client, csrf, lot, "2026-11-30")
    assert sent.status_code == 303, visible(sent.text)
    assert "liberes=" not in sent.headers["location"]
    shown = client.get(sent.headers["location"])
    assert shown.status_code == 200
    told = read(message(shown.text))

    found = re.fullmatch(
        re.escape(f"{CORRECTED} Novembre 2026 est désormais demandé à {COMPANY}{NBSP}: "
                  f"l'exécution s'est achevée le 30/11/2026{NBSP}; novembre 2026{NBSP}: ")
        + r"rappel n° 1 le (\d\d/\d\d/\d{4}) à (\d{1,2})\u00a0h(?:\u00a0(\d\d))?, date limite "
        + r"le (\d\d/\d\d/\d{4})\.",
        told,
    )  # fmt: skip
    assert found is not None, told
    said_at = datetime.strptime(
        f"{found.group(1)} {found.group(2)}:{found.group(3) or '00'}", "%d/%m/%Y %H:%M"
    )
    said_due = datetime.strptime(found.group(4), "%d/%m/%Y").date()
    assert end_of(app, lot) == date(2026, 11, 30)
    # The same words as the history keeps (and the command prints).
    [(_, actor, reason)] = corrections(app, lot)
    assert actor == "Camille Martin"
    assert reason is not None and reason.endswith(told.removeprefix(CORRECTED).strip())

    # An address typed cannot add months released after a later end.
    forged = client.get(
        f"/clauses/{lot.clause_id}?fait=fin-execution&liberes={lot.company_ids[0]}:2026-12::::::"
    )
    assert read(message(forged.text)) == told

    # What the pass then does: the first reminder at the moment the page gave, the company held
    # to the date the page gave.
    simulate(app, date(2026, 12, 5), date(2027, 1, 15))
    sent_steps = {step: (at, text) for step, at, _, text in steps_of(app, NOV)}
    first_at, first_text = sent_steps["reminder_1"]
    local = first_at.astimezone(app.settings.zone)
    assert (local.replace(tzinfo=None), said_due) == (said_at, due_on)
    assert first_at == reminder_at
    assert f"Elle était attendue le {french_date(said_due)}." in first_text
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.due_on == said_due


def test_a_forged_address_tells_nothing_the_lot_did_not_do(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    client, _ = site(app)

    # Never corrected: no correction, no month asked again, whatever the address says.
    page = client.get(
        f"/clauses/{lot.clause_id}?fait=fin-execution&liberes={lot.company_ids[0]}:2026-12::::::"
    )
    assert page.status_code == 200
    assert 'id="message"' not in page.text, read(message(page.text))


def test_a_refusal_is_shown_next_to_its_field_and_changes_nothing(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    client, csrf = site(app)

    before_start = correct_on_the_page(client, csrf, lot, "2026-08-31")
    assert before_start.status_code == 422
    assert refusal_next_to(before_start.text, "fin_execution") == (
        f"Rien n'a été fait{NBSP}: Date de fin d'exécution{NBSP}: le 31/08/2026 est avant le "
        "démarrage (01/09/2026)."
    )
    # What was typed stays in the form.
    assert 'value="2026-08-31"' in before_start.text and 'value="Erreur de saisie"' in (
        before_start.text
    )

    no_reason = correct_on_the_page(client, csrf, lot, "2026-11-30", reason="  ")
    assert no_reason.status_code == 422
    said = refusal_next_to(no_reason.text, "motif_fin_execution")
    assert said.startswith(
        f"Rien n'a été fait{NBSP}: Motif{NBSP}: indiquez pourquoi la date de fin d'exécution change"
    ), said
    for page in (before_start, no_reason):
        shown = squash(visible(page.text))
        assert "--end-date" not in shown and "--reason" not in shown
        assert 'id="message"' not in page.text
    assert end_of(app, lot) == date(2026, 10, 31)
    assert corrections(app, lot) == []
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.next_step == "done"


def test_the_same_date_says_there_is_nothing_to_change(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    client, csrf = site(app)

    sent = correct_on_the_page(client, csrf, lot, "2026-10-31")
    assert sent.status_code == 303, visible(sent.text)
    told = read(message(client.get(sent.headers["location"]).text))
    assert told == (
        f"Rien à changer{NBSP}: la date de fin d'exécution de la clause n°{NBSP}{lot.clause_id} "
        "est déjà le 31/10/2026."
    )
    assert corrections(app, lot) == []


def test_corrected_back_the_page_names_november_released(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, _, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    client, csrf = site(app)
    assert correct_on_the_page(client, csrf, lot, "2026-11-30").status_code == 303
    clock.set(paris(date(2026, 12, 4), 11))

    sent = correct_on_the_page(client, csrf, lot, "2026-10-31", reason="Le PV disait vrai")
    assert sent.status_code == 303, visible(sent.text)
    told = read(message(client.get(sent.headers["location"]).text))

    released = (
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        "31/10/2026."
    )
    assert told == (
        f"Date de fin d'exécution corrigée du 30/11/2026 au 31/10/2026{NBSP}; l'historique garde "
        f"le motif à votre nom. {released}"
    ), told
    assert [reason for _, _, reason in corrections(app, lot)][1] == (
        f"fin d'exécution{NBSP}: 30/11/2026 → 31/10/2026{NBSP}; Le PV disait vrai. {released}"
    )


def test_a_reminder_still_asking_a_released_month_is_linked_to_its_page(
    app: App, clock: Clock
) -> None:
    """Finished « le 30/11/2026 » while the reminder for October and November waits, the company
    with nobody to write to any more; corrected to 31/10 from the page: November is released,
    and the reminder that could not be written again is named and linked to its page."""
    app.transport = MemoryTransport()
    lot, day, key = october_and_november_waiting(app, "reminder_1")
    waiting = row(app, key)
    nobody_to_write_to(app, lot)
    clock.set(paris(day, 10))
    client, csrf = site(app)
    finished = client.post(
        f"/clauses/{lot.clause_id}/avancer",
        data={"csrf": csrf, "etape": "execution", "fin": "2026-11-30", "motif": "Réception"},
        follow_redirects=False,
    )
    assert finished.status_code == 303, visible(finished.text)

    sent = correct_on_the_page(client, csrf, lot, "2026-10-31")
    assert sent.status_code == 303, visible(sent.text)
    said = message(client.get(sent.headers["location"]).text)

    assert read(said) == (
        f"Date de fin d'exécution corrigée du 30/11/2026 au 31/10/2026{NBSP}; l'historique garde "
        f"le motif à votre nom. Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution "
        f"s'est achevée le 31/10/2026{NBSP}; 1 courriel en attente demande encore novembre 2026 "
        f"et n'a pas pu être écrit à nouveau (rappel n° 1, courriel n°{NBSP}{waiting.id}){NBSP}: "
        f"annulez-le depuis sa page s'il ne doit pas partir («{NBSP}Annuler ce courriel{NBSP}»)."
    ), read(said)
    links = re.findall(r'<a href="([^"]+)">courriel n°&nbsp;(\d+)</a>', said)
    assert links == [(f"/courriels/{waiting.id}#motif", str(waiting.id))]
    assert row(app, key).state == "pending"


def test_the_api_corrects_the_end_with_the_facts_of_the_command(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder_at, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    clock.set(paris(date(2026, 12, 4), 10))
    token, _ = api_tokens.create_token(app, name="Logiciel du PLIE", read_only=False)
    client = TestClient(create_site(app))
    address = f"/api/v1/clauses/{lot.clause_id}/fin-execution"
    headers = {"Authorization": f"Bearer {token}"}

    refused = client.post(address, headers=headers, json={"date_fin": "2026-11-30", "motif": ""})
    assert refused.status_code == 422
    assert refused.json()["erreur"].startswith(f"«{NBSP}motif{NBSP}»{NBSP}: indiquez pourquoi")
    refused = client.post(address, headers=headers, json={"date_fin": "2026-08-31", "motif": "x"})
    assert refused.status_code == 422
    assert refused.json()["erreur"] == (
        f"«{NBSP}date_fin{NBSP}»{NBSP}: le 31/08/2026 est avant le démarrage (01/09/2026)."
    )
    assert end_of(app, lot) == date(2026, 10, 31)

    done = client.post(
        address, headers=headers, json={"date_fin": "2026-11-30", "motif": "Erreur de saisie"}
    )
    assert done.status_code == 200, done.text
    given = done.json()
    assert (given["numero"], given["fin_avant"], given["fin"], given["modifiee"]) == (
        lot.clause_id,
        "2026-10-31",
        "2026-11-30",
        True,
    )
    assert given["mois_plus_demandes"] == []
    assert given["mois_de_nouveau_demandes"] == [
        {
            "entreprise_id": lot.company_ids[0],
            "entreprise": COMPANY,
            "mois": [
                {
                    "mois": "2026-11",
                    "etapes_envoyees": ["call"],
                    "etape": "reminder_1",
                    "date": given["mois_de_nouveau_demandes"][0]["mois"][0]["date"],
                    "echeance": due_on.isoformat(),
                    "courriel_retire": None,
                }
            ],
        }
    ]
    at = datetime.fromisoformat(given["mois_de_nouveau_demandes"][0]["mois"][0]["date"])
    assert at == reminder_at

    again = client.post(address, headers=headers, json={"date_fin": "2026-11-30", "motif": "x"})
    assert again.status_code == 200 and again.json()["modifiee"] is False
    assert len(corrections(app, lot)) == 1
