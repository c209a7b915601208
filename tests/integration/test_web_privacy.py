"""« Données détenues (RGPD) » on the dashboard (/corrections/participants/{N}/donnees), over the
real ASGI application and the real App, on SQLite and PostgreSQL.

The page and its two files give what ``clauses privacy export --participant`` gives: the JSON file
is the command's ``--json`` output, the text file its text output, and the page shows every line of
that text. All three are behind the login, answered ``no-store``, the files as attachments; an
unknown participant has the French 404. Like the command, an export writes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import local
from tests.integration.test_corrections import dump
from tests.integration.test_dashboard import PASSWORD, dashboard_site, sign_in
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_web_corrections_people import participant_id
from tests.text import squash, visible
from workflow.app import participants, web_accounts
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site

NBSP = "\u00a0"


def command(app: App, reference: str, *options: str) -> str:
    """What ``clauses privacy export --participant REFERENCE`` prints."""
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(
        cli, ["privacy", "export", "--participant", reference, *options], obj=state,
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout


def address(number: int, suffix: str = "") -> str:
    return f"/corrections/participants/{number}/donnees{suffix}"


def main(page: str) -> str:
    """The page's own content, without the navigation and the footer every page has."""
    found = re.search(r'<main id="contenu">(.*)</main>', page, re.S)
    assert found is not None
    return found.group(1)


def page_words(text: str) -> str:
    """The command's words as the page writes them: one line, its NBSP read as spaces."""
    return squash(text.replace(NBSP, " "))


@pytest.fixture
def site(app: App, clock: Clock) -> TestClient:
    """The sample territory: lot 01's April declared with P-WEB-1 and P-WEB-2."""
    return dashboard_site(app, clock)


@pytest.fixture
def with_outcome(app: App, site: TestClient) -> TestClient:
    """P-WEB-1 has 151,67 h in April 2026 on lot 01, and an outcome: a CDI on 20 April."""
    clause_id, _, _ = lot_01(app)
    participants.record_outcome(
        app, "P-WEB-1", clause=clause_id, outcome_type=OutcomeType.CDI, on=date(2026, 4, 20),
        actor="Camille Martin",
    )  # fmt: skip
    sign_in(site)
    return site


def test_the_json_file_is_the_commands_json(app: App, with_outcome: TestClient) -> None:
    number = participant_id(app, "P-WEB-1")

    downloaded = with_outcome.get(address(number, ".json"))

    assert downloaded.status_code == 200
    assert json.loads(downloaded.content) == json.loads(command(app, "P-WEB-1", "--json"))
    data = json.loads(downloaded.content)
    assert data["reference"] == "P-WEB-1"
    assert [(d["mois"], d["heures"]) for d in data["declarations"]] == [("2026-04", 151.67)]
    assert [(s["type"], s["date"]) for s in data["sorties"]] == [("cdi", "2026-04-20")]
    # Another participant's export is theirs, not this one's.
    other = with_outcome.get(address(participant_id(app, "P-WEB-2"), ".json")).json()
    assert other == json.loads(command(app, "P-WEB-2", "--json"))
    assert other["sorties"] == [] and other["reference"] == "P-WEB-2"


def test_the_text_file_is_the_commands_text(app: App, with_outcome: TestClient) -> None:
    downloaded = with_outcome.get(address(participant_id(app, "P-WEB-1"), ".txt"))

    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "text/plain; charset=utf-8"
    assert downloaded.text.rstrip("\n") == command(app, "P-WEB-1").rstrip("\n")
    assert downloaded.text.startswith("Données détenues sur le participant P-WEB-1\n")


def test_the_page_lists_the_hours_and_outcomes_and_every_line_of_the_export(
    app: App, with_outcome: TestClient
) -> None:
    number = participant_id(app, "P-WEB-1")

    page = with_outcome.get(address(number))

    assert page.status_code == 200
    said = visible(main(page.text))
    plain = page_words(said)
    assert "Heures déclarées : 151,67 h sur 1 mois" in plain
    assert "avril 2026 : 151,67 h, Embauche directe, CDD ; clause n° 1" in plain
    assert "Sorties (1) CDI (emploi durable) le 20/04/2026, clause n° 1" in plain
    # Every line the command prints is on the page, in the same order.
    shown = plain
    at = 0
    for line in command(app, "P-WEB-1").splitlines():
        words = page_words(line.removeprefix("- "))
        if words:
            found = shown.find(words, at)
            assert found >= 0, f"missing or out of order: {words}"
            at = found + len(words)
    # The page's own French: no plain space before a colon in what it shows.
    assert " :" not in said
    # Both files are offered from the page, and the page is reached from the participant's sheet.
    assert f'href="{address(number, ".json")}"' in page.text
    assert f'href="{address(number, ".txt")}"' in page.text
    sheet = with_outcome.get(f"/corrections/participants/{number}")
    assert f'href="{address(number)}"' in sheet.text
    assert "Données détenues (RGPD)" in visible(sheet.text)


def test_page_and_files_are_private_and_kept_in_no_cache(
    app: App, with_outcome: TestClient
) -> None:
    number = participant_id(app, "P-WEB-1")
    for suffix, extension in ((".json", "json"), (".txt", "txt")):
        answer = with_outcome.get(address(number, suffix))
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="donnees-participant-{number}.{extension}"'
        )
    page = with_outcome.get(address(number))
    assert page.headers["cache-control"] == "no-store"
    assert "content-disposition" not in page.headers


def test_signed_out_goes_to_the_login_and_shows_nothing(app: App, site: TestClient) -> None:
    number = participant_id(app, "P-WEB-1")
    for suffix in ("", ".json", ".txt"):
        answer = site.get(address(number, suffix), follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == (
            f"/connexion?suite=%2Fcorrections%2Fparticipants%2F{number}%2Fdonnees" + suffix
        )
        assert "P-WEB-1" not in answer.text


def test_an_unknown_participant_has_the_french_404(app: App, with_outcome: TestClient) -> None:
    for number in (999_999, 3_000_000_000):
        for suffix in ("", ".json", ".txt"):
            answer = with_outcome.get(address(number, suffix))
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            said = visible(answer.text)
            assert "introuvable" in said and "Traceback" not in said


def test_an_export_writes_nothing(app: App, with_outcome: TestClient) -> None:
    """The command writes no history row for an export (it keeps no journal of reads): the
    page writes none either, and changes no row."""
    number = participant_id(app, "P-WEB-1")
    before = _without_sessions(dump(app))
    for suffix in ("", ".json", ".txt"):
        assert with_outcome.get(address(number, suffix)).status_code == 200
    assert _without_sessions(dump(app)) == before
    command(app, "P-WEB-1")
    assert _without_sessions(dump(app)) == before


def _without_sessions(rows: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Every table but the web sessions, whose « last seen » a signed-in request may move."""
    return {name: found for name, found in rows.items() if "session" not in name}


def test_a_participant_named_in_history_texts_and_mails(app: App, clock: Clock) -> None:
    """The 2018 territory: PRV-1 is named by a final report, history rows and mails; the page and
    the JSON file give all of it, as the command does."""
    scenario.build(app, clock)
    clock.set(local(date(2018, 10, 1), 10))
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)
    number = participant_id(app, "PRV-1")

    data = client.get(address(number, ".json")).json()
    page = page_words(visible(client.get(address(number)).text))

    expected = json.loads(command(app, "PRV-1", "--json"))
    assert data == expected
    assert expected["historique"] and expected["textes"] and expected["courriels"]
    for mail in expected["courriels"]:
        assert f"Courriel n° {mail['courriel']}" in page
    for text in expected["textes"]:
        assert page_words(text["texte"]) in page
