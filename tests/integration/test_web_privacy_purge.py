"""« Données personnelles : anonymisation » (/donnees-personnelles): ``clauses privacy purge`` from
the dashboard, over the real ASGI application and the real App, on SQLite and PostgreSQL, on the
2018 territory of ``privacy_scenario`` on 3 June 2024 (lot A closed in September 2018: PRV-1,
PRV-12 and PRV-IDLE past five years; PRV-2 and PRV-OPEN kept, lot B still runs).

The page is the command's dry run, line for line; its « Durée de conservation » is the command's
``--older-than`` (same parsing, same refusal naming the field, nothing changed). Confirming runs the
purge with the signed-in user as the actor: on a twin database the command run with ``--yes
--actor`` leaves the same rows (the random tokens that replace the references aside). A second
purge finds nothing and says so; a POST without the session's CSRF token, or with a wrong one,
changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import local
from tests.integration.test_web_imports import (
    PASSWORD,
    RANDOM,
    USER,
    WEB_TABLES,
    dump,
    hidden,
    twin_postgres_url,
)
from tests.integration.test_web_imports import twin as twin
from tests.integration.test_web_privacy import main, page_words
from tests.text import visible
from workflow.adapters.orm import Base, Participant, PrivacyPurge, ServiceSecret
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site

__all__ = ["twin_postgres_url"]  # the module fixture ``twin`` asks for

NBSP = "\u00a0"
PURGE_DAY = local(date(2024, 6, 3), 9)
ADDRESS = "/donnees-personnelles"
#: The dry run's last line on the page, where the command says « relancez avec --yes ».
CONFIRM = "Rien n'a été modifié : confirmez avec le bouton « Anonymiser » ci-dessous."
TOKEN = re.compile(r"anonyme\W?[0-9a-f]{12}", re.IGNORECASE)  # searched as typed, too
CHANCE = RANDOM | {("outbox", "claimed_by")}


def command(app: App, *options: str) -> Any:
    """``clauses privacy purge OPTIONS`` on ``app``."""
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(
        cli, ["privacy", "purge", *options], obj=state, catch_exceptions=False,
        env={"COLUMNS": "200"},
    )  # fmt: skip


def territory(app: App, clock: Clock) -> None:
    # One key signs the companies' links in every database, so that twins' emails read the same.
    clock.set(local(date(2018, 1, 1)))
    with app.transaction() as session:
        session.add(ServiceSecret(name="declaration_links", value="s" * 43, created_at=clock()))
    scenario.build(app, clock)
    clock.set(PURGE_DAY)


@pytest.fixture
def site(app: App, clock: Clock) -> Iterator[TestClient]:
    territory(app, clock)
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    yield TestClient(create_site(app))


def sign_in(client: TestClient) -> str:
    """Signs Léa in; the CSRF token of the purge's form."""
    page = client.get("/connexion").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    done = client.post(
        "/connexion",
        data={"csrf": token.group(1), "identifiant": "lea", "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303, visible(done.text)
    return hidden(client.get(ADDRESS).text)["csrf"]


def said(answer: Any) -> str:
    """The page's own words on one line, its no-break spaces read as spaces."""
    return page_words(visible(main(answer.text)))


def twin_rows(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row but the web side's, with what differs between two databases by chance written
    alike: each random token that replaced a reference, the instance that sent an email."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with app.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in WEB_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in CHANCE]
            rows = conn.execute(select(*columns).order_by(*table.primary_key))
            tables[table.name] = [
                tuple(TOKEN.sub("anonyme-…", v) if isinstance(v, str) else v for v in row)
                for row in rows
            ]
    return tables


def references(app: App) -> list[str]:
    with app.transaction() as session:
        return sorted(session.scalars(select(Participant.reference)))


def purges(app: App) -> list[tuple[Any, ...]]:
    with app.transaction() as session:
        return [
            (p.actor, p.retention, p.cutoff, p.participants)
            for p in session.scalars(select(PrivacyPurge).order_by(PrivacyPurge.id))
        ]


def test_the_page_is_the_commands_dry_run(app: App, site: TestClient) -> None:
    sign_in(site)
    before = dump(app)

    page = site.get(ADDRESS)

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    shown = said(page)
    printed = command(app)
    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    assert lines[0] == (
        "À anonymiser (5 ans de conservation, dernière activité avant le 03/06/2019) : "
        "3 participants"
    )
    assert lines[-1] == "Rien n'a été modifié : relancez avec --yes pour anonymiser."
    # Every other line the command prints is on the page, in the same order.
    at = 0
    for line in lines[:-1]:
        words = page_words(line.removeprefix("- "))
        found = shown.find(words, at)
        assert found >= 0, f"missing or out of order: {words}"
        at = found + len(words)
    assert CONFIRM in shown
    assert "- PRV-1 : dernière activité le 03/09/2018, clause n° 1" in lines
    assert "PRV-IDLE : dernière activité le 20/01/2018" in shown
    assert "Durée de conservation réglée : 5 ans après la dernière activité" in shown
    assert "Anonymiser ces 3 participants" in shown
    # The dry run changes nothing, on the page as on the command line.
    assert dump(app) == before
    # The page's own French: no plain space before a colon in what it shows.
    assert " :" not in visible(main(page.text))


def test_the_retention_field_is_the_commands_option(app: App, site: TestClient) -> None:
    sign_in(site)
    for typed in ("69mois", "68m", "7a"):
        shown = said(site.get(ADDRESS, params={"duree": typed}))
        printed = command(app, "--older-than", typed)
        assert page_words(printed.stdout.splitlines()[0]) in shown, typed
    shown = said(site.get(ADDRESS, params={"duree": "69mois"}))
    assert (
        "À anonymiser (69 mois de conservation, dernière activité avant le 03/09/2018) : "
        "1 participant PRV-IDLE : dernière activité le 20/01/2018"
    ) in shown
    assert "Anonymiser ce participant" in shown
    # The confirmation anonymises what was simulated: it carries the duration typed.
    assert hidden(site.get(ADDRESS, params={"duree": "69mois"}).text)["duree"] == "69mois"
    # Seven years: nothing to anonymise, and no button to do it.
    nothing = said(site.get(ADDRESS, params={"duree": "7a"}))
    assert "Rien à purger : aucun participant n'a toutes ses clauses closes" in nothing
    assert "Anonymiser" not in nothing


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5x", "« 5x » n'est pas une durée : un nombre d'années ou de mois, par exemple 5a"),
        ("0a", "« 0a » : une durée d'au moins 1 mois est attendue."),
    ],
)
def test_a_bad_retention_is_refused_naming_the_field_and_nothing_changes(
    app: App, site: TestClient, value: str, message: str
) -> None:
    csrf = sign_in(site)
    before = dump(app)

    asked = site.get(ADDRESS, params={"duree": value})
    confirmed = site.post(ADDRESS, data={"csrf": csrf, "duree": value})

    printed = command(app, "--older-than", value, "--yes")
    assert printed.exit_code == 1
    assert page_words(printed.stderr).startswith(f"Refusé : --older-than : {message}")
    for answer in (asked, confirmed):
        assert answer.status_code == 422
        shown = said(answer)
        assert f"Durée refusée Durée de conservation : {message}" in shown
        assert "Rien n'a été modifié." in shown
        assert f'value="{value}"' in answer.text and 'aria-invalid="true"' in answer.text
    assert dump(app) == before
    assert purges(app) == []


def test_a_confirmation_without_the_right_token_changes_nothing(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    before = dump(app)

    for data in ({"duree": ""}, {"duree": "", "csrf": csrf[:-2] + "xx"}, {"csrf": ""}):
        answer = site.post(ADDRESS, data=data)
        assert answer.status_code == 403
        assert "Formulaire périmé" in visible(answer.text)
    signed_out = TestClient(create_site(app)).post(
        ADDRESS, data={"csrf": csrf}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/connexion"

    assert dump(app) == before
    assert "PRV-1" in references(app)


def test_signed_out_the_page_goes_to_the_login(app: App, site: TestClient) -> None:
    answer = site.get(ADDRESS, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/connexion?suite=%2Fdonnees-personnelles"
    assert "PRV-1" not in answer.text


def test_confirming_anonymises_as_the_command_does_with_the_user_as_actor(
    app: App,
    twin: App,
    clock: Clock,
    site: TestClient,
) -> None:
    csrf = sign_in(site)
    territory(twin, clock)
    assert twin_rows(twin) == twin_rows(app)
    form = hidden(site.get(ADDRESS).text)
    assert form["duree"] == ""  # the setting's retention, as without --older-than

    done = site.post(
        ADDRESS, data={"csrf": csrf, "duree": form["duree"], "attendus": form["attendus"]}
    )
    printed = command(twin, "--yes", "--actor", USER)

    assert done.status_code == 200
    assert done.headers["cache-control"] == "no-store"
    assert printed.exit_code == 0, printed.output
    # The same rows: the same participants anonymised, the same texts rewritten, the same
    # history row of the purge with Léa as its actor.
    assert twin_rows(app) == twin_rows(twin)
    assert purges(app) == [(USER, "5 ans", date(2019, 6, 3), 3)]
    for database in (app, twin):
        kept = [r for r in references(database) if not TOKEN.fullmatch(r)]
        assert (kept, len(references(database))) == (["PRV-2", "PRV-OPEN"], 5)
    assert "PRV-1" not in references(app) and "PRV-IDLE" not in references(app)
    # The page says what the command printed.
    shown = said(done)
    for line in printed.stdout.splitlines():
        assert page_words(line) in shown, line
    assert (
        "Purge n° 1 (5 ans de conservation, dernière activité avant le 03/06/2019) : "
        "3 participants anonymisés (référence remplacée, justificatif effacé"
    ) in shown
    assert "Anonymisation faite" in shown
    assert "Gardés, une de leurs clauses étant en cours : 2 participants." in shown
    assert "PRV-1" not in shown and "PRV-IDLE" not in shown


def test_a_second_purge_finds_nothing_and_says_so(app: App, site: TestClient) -> None:
    csrf = sign_in(site)
    shown_first = hidden(site.get(ADDRESS).text)["attendus"]
    assert shown_first == "PRV-1,PRV-12,PRV-IDLE"
    first = site.post(ADDRESS, data={"csrf": csrf, "duree": "", "attendus": shown_first})
    assert first.status_code == 200 and "Anonymisation faite" in said(first)
    after_first = dump(app)

    again = site.post(ADDRESS, data={"csrf": csrf, "duree": "", "attendus": ""})

    assert again.status_code == 200
    shown = said(again)
    assert "Rien à anonymiser" in shown
    assert (
        "Rien à purger : aucun participant n'a toutes ses clauses closes et sa dernière activité "
        "avant le 03/06/2019 (5 ans de conservation). "
        "Déjà anonymisés par une purge précédente : 3 participants. "
        "Gardés, une de leurs clauses étant en cours : 2 participants."
    ) in shown
    assert dump(app) == after_first
    assert len(purges(app)) == 1
    # The page itself now says the same, with no button.
    page = said(site.get(ADDRESS))
    assert "Rien à purger" in page and "Anonymiser ces" not in page


def test_the_navigation_leads_to_both_pages(app: App, site: TestClient) -> None:
    sign_in(site)
    for page in ("/tableau-de-bord", "/courriels", ADDRESS):
        nav = site.get(page).text
        assert '<a href="/donnees-personnelles">Données personnelles</a>' in nav
        assert '<a href="/controle-coherence">Contrôle de cohérence</a>' in nav
    assert "<title>Données personnelles&nbsp;: anonymisation – " in site.get(ADDRESS).text


def test_a_list_changed_since_the_simulation_anonymises_nobody(app: App, site: TestClient) -> None:
    """The button names the participants she saw: a form that carries another list (a day
    passed, a clause closed or reopened since) is refused, nothing anonymised, and the page
    shows the list as it stands now, to confirm again."""
    csrf = sign_in(site)
    before = dump(app)

    answer = site.post(ADDRESS, data={"csrf": csrf, "duree": "", "attendus": "PRV-1"})

    assert answer.status_code == 200
    shown = said(answer)
    assert "La liste a changé" in shown and "rien n'a été anonymisé" in shown
    assert "Anonymiser ces 3 participants" in shown
    assert dump(app) == before and purges(app) == []
