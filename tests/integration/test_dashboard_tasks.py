"""The dashboard's day of tasks (issue 10, items 3 and 6): the first few of each section, fast, and
each with its action as a button or a link.

On SQLite and PostgreSQL, on the digest's scenario (``test_digest.build``) made richer so that
several sections hold more tasks than are shown, with ties the titles settle (two companies as late
on one lot, emails of the same weight, reports as old as each other), a lot once suspended and
months whose call left late:

- for every number shown N, every section of the dashboard (application layer, page and API) is
  exactly the first N tasks of the full digest's section, in its order, and its count is the
  section's length;
- each kind of task carries its own button or link, and no command line to type; the API gives
  the same action in words, with the page's path and the ids a program needs;
- validating an eligibility from the dashboard writes the row ``clauses participant validate``
  writes, signed by the user; without the form's CSRF token, or without a proof, nothing changes;
- « Enregistrer un mois sans heure » asks first, on a page of its own, then writes what
  ``clauses declaration zero`` writes (the declaration, the ladder stopped, the history), signed
  by the user; without the confirmation or the CSRF token nothing is written;
- what the page says was just done is read from the database, whatever the address says.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_digest import NOW, T0, _clause, _email, build
from tests.text import squash, visible
from workflow.adapters.orm import (
    AwardParty,
    Buyer,
    Clause,
    ClauseHistory,
    Company,
    Correspondent,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    Market,
    OutboxMessage,
    Participant,
    RecordHistory,
)
from workflow.app import api_tokens, web_accounts
from workflow.app import dashboard as dashboard_view
from workflow.bootstrap import App, bootstrap
from workflow.emails.digest import Category, Digest, WebActionKind
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.entrypoints.web.site import create_site
from workflow.services.digest import compile_digest, compile_tasks

#: A command line to type, as the digest's email names them without a site.
COMMAND = re.compile(r"\bclauses (mail|declaration|clause|participant|buyer|company|digest)\b")


@dataclass
class Rich:
    clauses: dict[str, int]
    emails: dict[str, int]
    participants: list[str]


def rich(app: App) -> Rich:
    """``test_digest.build``, with several tasks in most sections and ties within them."""
    built = build(app)
    emails = dict(built.emails)
    with app.transaction() as session:
        market = session.scalars(select(Market)).one()
        late = session.get(Clause, built.clauses["late"])
        assert late is not None
        extra = {
            # Two reports as old as each other: the clause's number orders them.
            "report_a": _clause(market, "21", "follow_up", NOW - timedelta(days=30)),
            "report_b": _clause(market, "22", "follow_up", NOW - timedelta(days=30)),
            "report_c": _clause(market, "23", "follow_up", NOW - timedelta(days=3)),
            "award_a": _clause(market, "24", "award", NOW - timedelta(days=40)),
            "award_b": _clause(market, "25", "award", NOW - timedelta(days=40)),
            "drafting_b": _clause(market, "26", "drafting", NOW - timedelta(days=130)),
            "drafting_c": _clause(market, "27", "drafting", NOW - timedelta(days=95)),
            "paused": _clause(
                market,
                "28",
                "execution",
                T0,
                hours_computed=500,
                start_date=date(2025, 10, 1),
                planned_end_date=date(2026, 12, 31),
            ),
        }
        session.add_all(extra.values())
        # Created in this order so that their numbers and their names disagree.
        zebra = Company(name="Zèbre Bâtiment", created_at=T0)
        alpha = Company(name="Alpha Travaux", created_at=T0)
        third = Company(name="Maçons Réunis", created_at=T0)
        session.add_all([zebra, alpha, third])
        session.flush()
        person = Correspondent(company=alpha, name="Aline Roux", email="aline@example.org")
        session.add(person)
        session.flush()
        session.add(
            AwardParty(
                clause_id=late.id, company_id=alpha.id, role="co_contractor",
                correspondent_id=person.id,
            )
        )  # fmt: skip

        def ladder(clause_id: int, who: Company, month: date, due: date, **values: object) -> None:
            session.add(
                DeclarationLadder(
                    clause_id=clause_id, company_id=who.id, month=month, due_on=due,
                    next_step="done", next_step_at=None, **values,
                )
            )  # fmt: skip

        # Zèbre and Alpha as late as each other on the same lot: the title (the name) settles it.
        for who in (zebra, alpha):
            ladder(late.id, who, date(2026, 2, 1), date(2026, 3, 10))
        # Called on time, and called late (the due date moves to the call's day).
        called = datetime(2026, 2, 2, 8, tzinfo=UTC)
        ladder(
            built.clauses["on_pace"], third, date(2026, 1, 1), date(2026, 2, 10), called_at=called
        )
        ladder(
            built.clauses["behind"], third, date(2026, 2, 1), date(2026, 3, 10),
            called_at=datetime(2026, 3, 20, 8, tzinfo=UTC),
        )  # fmt: skip
        # A lot suspended for two weeks after the month was due: fewer days late.
        paused = extra["paused"].id
        ladder(paused, third, date(2026, 1, 1), date(2026, 2, 10), called_at=called)
        for at, before, after in (
            (datetime(2026, 2, 20, 9, tzinfo=UTC), "execution", "suspended"),
            (datetime(2026, 3, 6, 9, tzinfo=UTC), "suspended", "execution"),
        ):
            session.add(
                ClauseHistory(
                    clause_id=paused, at=at, actor="test", event="suspend",
                    from_stage=before, to_stage=after,
                )
            )  # fmt: skip

        # Emails: single failures of the same weight (their titles order them), one cause shared
        # by three (one line), one that may have arrived.
        single = [
            _email("zz", "failed", last_error="550 adresse zz inconnue"),
            _email("aa", "failed", last_error="550 adresse aa inconnue"),
            _email("mm", "failed", last_error="550 adresse mm inconnue", clause_id=late.id),
        ]
        grouped = [_email(f"g{n}", "dead", last_error="421 serveur saturé") for n in range(3)]
        unsure = _email("u", "uncertain")
        session.add_all([*single, *grouped, unsure])

        # Eligibility to check on two lots, three people on one of them.
        references = ["P-1", "P-2", "P-3", "P-4"]
        people = {
            ref: Participant(reference=ref, criterion="long_term_jobseeker", created_at=T0)
            for ref in references
        }
        session.add_all(people.values())
        session.flush()
        for clause_key, refs in (("behind", ["P-1", "P-2", "P-3"]), ("on_pace", ["P-4"])):
            declaration = session.scalars(
                select(Declaration).where(Declaration.clause_id == built.clauses[clause_key])
            ).one()
            for ref in refs:
                session.add(
                    DeclarationLine(
                        declaration_id=declaration.id, participant_id=people[ref].id,
                        hours=Decimal(20), delivery_mode="direct_hiring", contract_type="cdd",
                    )
                )  # fmt: skip
        session.flush()
        emails.update({m.subject: m.id for m in [*single, *grouped, unsure]})
        clauses = {**built.clauses, **{name: c.id for name, c in extra.items()}}
    return Rich(clauses=clauses, emails=emails, participants=references)


def full_digest(app: App) -> Digest:
    with app.transaction() as session:
        return compile_digest(session, NOW, app.settings)


@pytest.fixture
def scenario(app: App, clock: Clock) -> Rich:
    clock.set(NOW)
    return rich(app)


def test_the_scenario_cuts_sections_between_tied_tasks(app: App, scenario: Rich) -> None:
    """What the next test relies on: sections longer than the few shown, and ties on weight and
    lot that only the titles settle."""
    sections = dict(full_digest(app).sections())
    assert {category: len(items) for category, items in sections.items()} == {
        Category.EMAIL: 7,
        Category.DECLARATION: 6,
        Category.PACE: 1,
        Category.AWARD: 3,
        Category.FINAL_REPORT: 4,
        Category.ELIGIBILITY: 2,
        Category.WAITING: 3,
    }
    late = [i for i in sections[Category.DECLARATION] if i.clause_id == scenario.clauses["late"]]
    assert [i.title.split(" :")[0] for i in late] == [
        "Bâtir Gascogne",
        "Alpha Travaux",
        "Zèbre Bâtiment",
    ]
    assert late[1].weight == late[2].weight
    failures = [i.title for i in sections[Category.EMAIL] if i.weight == 1 and not i.clause_id]
    assert failures == sorted(failures) and len(failures) >= 2
    # The lot suspended two weeks counts fewer days late than the one called on the same day.
    by_clause = {i.clause_id: i for i in sections[Category.DECLARATION]}
    paused, on_pace = scenario.clauses["paused"], scenario.clauses["on_pace"]
    assert by_clause[paused].weight < by_clause[on_pace].weight


@pytest.mark.parametrize("shown", [0, 1, 2, 3, 8])
def test_each_section_shows_the_digest_first_tasks_and_counts_them_all(
    app: App, scenario: Rich, shown: int
) -> None:
    full = full_digest(app)
    with app.transaction() as session:
        tasks = compile_tasks(session, NOW, app.settings, shown)

    assert tasks == full.first(shown)
    for section, (category, items) in zip(tasks.sections, full.sections(), strict=True):
        assert section.category == category and section.count == len(items)
        assert list(section.items) == items[:shown]
    # What the application layer gives the page and the API is the same.
    assert dashboard_view.day_tasks(app, per_section=shown) == tasks
    assert dashboard_view.dashboard(app, per_section=shown).tasks == tasks


def test_the_months_to_validate_are_the_oldest_few_and_say_how_many_wait(
    app: App, scenario: Rich
) -> None:
    with app.transaction() as session:
        received = session.scalars(
            select(Declaration)
            .where(Declaration.validated_at.is_(None))
            .order_by(Declaration.month, Declaration.clause_id)
        ).all()
        months = [(d.clause_id, d.month) for d in received]
        lines = {(d.clause_id, d.month): len(d.lines) for d in received}
    assert len(months) == 3
    for shown in (1, 2, 3, 4):
        board = dashboard_view.dashboard(app, per_section=shown)
        assert [(d.clause_id, d.month) for d in board.to_validate] == months[:shown]
        assert board.waiting_validation == 3
    # Each month's count of lines is its own (read in the same query as the months).
    board = dashboard_view.dashboard(app, per_section=3)
    assert {(d.clause_id, d.month): d.lines for d in board.to_validate} == lines


def test_the_page_and_the_api_show_those_tasks_in_that_order(
    app: App, scenario: Rich, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.entrypoints.web import dashboard

    shown = 2
    monkeypatch.setattr(dashboard, "TASKS_SHOWN", shown)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)
    expected = full_digest(app).first(shown)

    page = client.get("/tableau-de-bord").text
    titles = [html.unescape(t) for t in re.findall(r"<strong>(.*?)</strong>", page, re.S)]
    assert titles == [item.title for section in expected.sections for item in section.items]
    words = visible(page)
    for section in expected.sections:
        assert f"{section.title} ({section.count})" in words
        if section.hidden:
            assert f"… et {section.hidden} autre" in words
    # The scenario's three months to validate: two shown, the total said.
    assert "Déclarations à valider (3)" in words
    assert "Les 2 plus anciennes sur 3\u00a0; les suivantes" in words

    token, _ = api_tokens.create_token(app, name="lecture", read_only=True)
    bearer = {"Authorization": f"Bearer {token}"}
    listed = client.get(f"/api/v1/taches?par_rubrique={shown}", headers=bearer).json()
    refused = client.get("/api/v1/taches?par_rubrique=0", headers=bearer)
    assert refused.status_code == 422 and "par_rubrique" in refused.json()["erreur"]
    expected_items = [(s, item) for s in expected.sections for item in s.items]
    assert [(t["rubrique"], t["rubrique_total"], t["titre"]) for t in listed] == [
        (section.title, section.count, item.title) for section, item in expected_items
    ]
    for task, (_, item) in zip(listed, expected_items, strict=True):
        assert item.web is not None and task["action"] == item.web.todo
        assert task["type_action"] == item.web.kind.value and task["lien"] == item.web.path
        assert not COMMAND.search(task["action"]), task["action"]


def test_the_api_gives_each_task_its_page_and_what_a_program_needs_to_do_it(
    app: App, scenario: Rich
) -> None:
    token, _ = api_tokens.create_token(app, name="lecture", read_only=True)
    client = TestClient(create_site(app))
    listed = client.get(
        "/api/v1/taches?par_rubrique=100", headers={"Authorization": f"Bearer {token}"}
    ).json()
    by_title = {task["titre"]: task for task in listed}
    clauses = scenario.clauses
    with app.transaction() as session:
        batir = session.scalars(select(Company.id).where(Company.name == "Bâtir Gascogne")).one()

    late = next(t for title, t in by_title.items() if title.startswith("Bâtir Gascogne : heures"))
    assert (late["type_action"], late["clause"], late["entreprise"], late["mois"]) == (
        "declaration", clauses["late"], batir, "2026-01",
    )  # fmt: skip
    assert late["lien"] == "/tableau-de-bord#rubrique-declaration"
    assert "Enregistrer un mois sans heure" in late["action"]
    report = next(t for t in listed if t["type_action"] == "final_report")
    assert report["lien"] == f"/clauses/{report['clause']}#bilan-form"
    refused = next(t for title, t in by_title.items() if "«\xa0Sujet aa\xa0»" in title)
    assert refused["type_action"] == "resend"
    assert refused["courriel"] == scenario.emails["Sujet aa"]
    assert refused["lien"] == f"/courriels/{scenario.emails['Sujet aa']}"
    assert {t["type_action"] for t in listed} >= {
        "resend", "outbox", "declaration", "open_clause", "final_report", "eligibility",
    }  # fmt: skip
    for task in listed:
        assert task["lien"].startswith("/") and not COMMAND.search(task["action"]), task
    # The schema says what the fields are for.
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["TaskOut"]
    assert {"type_action", "lien", "entreprise", "mois", "courriel"} <= set(schema["properties"])


# --- the buttons ----------------------------------------------------------------------------------


@pytest.fixture
def signed_in(app: App, scenario: Rich) -> tuple[TestClient, str]:
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    return client, sign_in(client)


def task_of(page: str, title_start: str) -> str:
    """The HTML of the task whose title starts with ``title_start``, its entities read."""
    for block in page.split("<li>")[1:]:
        found = re.search(r"<strong>(.*?)</strong>", block, re.S)
        if found and html.unescape(found.group(1)).startswith(title_start):
            return html.unescape(block.split("</li>")[0])
    raise AssertionError(f"no task « {title_start} » on the page")


def test_each_task_offers_its_action_and_no_command_line(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, _ = signed_in
    # A buyer nobody can write to (its one contact's address cleared): a task of its own.
    with app.transaction() as session:
        unreachable = session.scalars(select(Buyer).order_by(Buyer.id)).first()
        assert unreachable is not None
        for contact in unreachable.contacts:
            contact.email = ""
        unreachable_id, unreachable_name = unreachable.id, unreachable.name
    page = client.get("/tableau-de-bord").text
    full = full_digest(app)
    kinds = {item.web.kind for item in full.items if item.web}
    assert kinds == set(WebActionKind)  # every kind is on the page below
    clauses = scenario.clauses

    failed = task_of(page, "Courriel refusé définitivement : «\xa0Sujet aa\xa0»")
    assert f'action="/courriels/{scenario.emails["Sujet aa"]}/renvoyer"' in failed
    assert ">Renvoyer</button>" in failed
    unsure = task_of(page, "Courriel incertain")
    assert f'action="/courriels/{scenario.emails["Sujet u"]}/renvoyer"' in unsure
    assert "Demandez d'abord au destinataire s'il l'a reçu." in unsure
    shared = task_of(page, "3 courriels abandonnés")
    assert 'href="/courriels?etat=dead">Voir les courriels abandonnés</a>' in shared

    late = task_of(page, "Bâtir Gascogne : heures")
    assert f'href="/clauses/{clauses["late"]}"' in late and ">Voir la clause</a>" in late
    assert '<form method="get" action="/declarations/mois-sans-heure">' in late
    assert f'name="clause" value="{clauses["late"]}"' in late
    assert 'name="mois" value="2026-01"' in late  # its oldest month late
    assert ">Enregistrer un mois sans heure</button>" in late
    assert 'href="mailto:jean@example.org?subject=D%C3%A9claration%20des%20heures' in late
    assert "Écrire à Jean Dupont" in late and 'href="tel:0562000001"' in late
    alpha = task_of(page, "Alpha Travaux : heures")
    assert 'href="mailto:aline@example.org' in alpha and "tel:" not in alpha

    for title_start, key, anchor in (
        (f"Clause n° {clauses['behind']} ", "behind", "#rythme"),  # the pace
        (f"Clause n° {clauses['award']} ", "award", "#attribution"),  # an incomplete award
        (f"Clause n° {clauses['drafting']} ", "drafting", "#parametres"),  # waiting, no hours
    ):
        task = task_of(page, title_start)
        assert f'href="/clauses/{clauses[key]}{anchor}"' in task, task
        assert ">Ouvrir la clause</a>" in task
    report = task_of(
        page, "Bilan à envoyer au donneur d'ordre : clause n° " + str(clauses["report"])
    )
    assert f'href="/clauses/{clauses["report"]}#bilan-form"' in report
    assert ">Enregistrer le bilan</a>" in report
    # The form the link leads to is on the clause's page, under that id.
    assert 'id="bilan-form"' in client.get(f"/clauses/{clauses['report']}").text

    check = task_of(page, "Éligibilité à vérifier : 3 participants")
    assert 'action="/participants/eligibilite"' in check
    assert re.findall(r'<option value="([^"]+)">', check) == ["P-1", "P-2", "P-3"]
    assert re.search(r'<label for="([^"]+)">Justificatif vérifié</label>', check)
    assert ">Valider l'éligibilité</button>" in check

    nobody = task_of(page, f"{unreachable_name} n'a aucun contact avec une adresse e-mail")
    assert f'href="/corrections/donneurs-d-ordre/{unreachable_id}#ajout-contact"' in nobody
    assert ">Ajouter un contact</a>" in nobody

    words = visible(page)
    commandless = words.replace("clauses sociales", "").replace("clauses en cours", "")
    at = commandless.find("clauses ")
    assert at < 0, commandless[at - 200 : at + 100]  # no command to type
    assert not COMMAND.search(words)
    assert "À faire" not in words
    # Each task says what to do in the site's words.
    for item in full.first(30).sections[0].items:
        assert item.web is not None and item.web.todo in words


def history(app: App) -> list[tuple[int, str, str, str | None, str | None]]:
    with app.transaction() as session:
        return [
            (row.entity_id, row.actor, row.action, row.before, row.after)
            for row in session.scalars(
                select(RecordHistory)
                .where(RecordHistory.entity == "participant")
                .order_by(RecordHistory.id)
            )
        ]


def participant(app: App, reference: str) -> tuple[int, str | None, date | None]:
    with app.transaction() as session:
        found = session.scalars(select(Participant).where(Participant.reference == reference)).one()
        return found.id, found.proof, found.validated_on


def test_an_eligibility_validated_from_the_dashboard_is_the_command_line_one_signed_by_her(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, csrf = signed_in
    proof = "Attestation France Travail DELD"

    done = client.post(
        "/participants/eligibilite",
        data={"csrf": csrf, "reference": "P-1", "proof": proof},
        follow_redirects=False,
    )
    state = CliState()
    state.factory = lambda: app
    command = CliRunner().invoke(
        cli,
        ["participant", "validate", "P-2", "--proof", proof, "--actor", "Camille Martin"],
        obj=state,
        catch_exceptions=False,
    )

    assert done.status_code == 303 and command.exit_code == 0, command.output
    one, two = participant(app, "P-1"), participant(app, "P-2")
    assert one[1:] == two[1:] == (proof, NOW.date())
    (web_row, cli_row) = history(app)
    assert web_row[0] == one[0] and cli_row[0] == two[0]
    assert web_row[1:] == cli_row[1:] and web_row[1] == "Camille Martin"
    board = visible(client.get(done.headers["location"]).text)
    assert (
        "Éligibilité de P-1 validée" in board and "Éligibilité à vérifier : 1 participant," in board
    )


def test_an_eligibility_post_without_its_token_or_its_proof_changes_nothing(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, csrf = signed_in
    wanted = {"reference": "P-1", "proof": "Attestation France Travail DELD"}
    before = participant(app, "P-1")

    for token in ("", "faux" + csrf):
        refused = client.post("/participants/eligibilite", data={**wanted, "csrf": token})
        assert refused.status_code == 403
        assert "Le jeton de sécurité du formulaire manque" in visible(refused.text)
    empty = client.post(
        "/participants/eligibilite", data={"csrf": csrf, "reference": "P-1", "proof": "  "}
    )
    assert empty.status_code == 422 and "justificatif vide" in visible(empty.text)
    unknown = client.post(
        "/participants/eligibilite", data={**wanted, "csrf": csrf, "reference": "P-99"}
    )
    assert unknown.status_code == 422 and "P-99" in visible(unknown.text)
    missing = client.post("/participants/eligibilite", data={"csrf": csrf, "proof": "x"})
    assert missing.status_code == 422 and "participant manque" in visible(missing.text)

    assert participant(app, "P-1") == before and before[2] is None
    assert history(app) == []


# --- a month without hours ------------------------------------------------------------------------


def fields(block: str) -> dict[str, str]:
    """The named fields of a form's HTML, with their values."""
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', block))


def form_of(page: str, action: str) -> str:
    found = re.search(
        rf'<form method="\w+" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S
    )
    assert found is not None, f"no form to {action}"
    return found.group(1)


def month_state(app: App, clause_id: int, company: str, month: date) -> dict[str, Any]:
    """What a month without hours leaves: the declaration, its ladder, the history's row."""
    with app.transaction() as session:
        company_id = session.scalars(select(Company.id).where(Company.name == company)).one()
        declaration = session.scalars(
            select(Declaration).where(
                Declaration.clause_id == clause_id,
                Declaration.company_id == company_id,
                Declaration.month == month,
            )
        ).one_or_none()
        ladder = session.scalars(
            select(DeclarationLadder).where(
                DeclarationLadder.clause_id == clause_id,
                DeclarationLadder.company_id == company_id,
                DeclarationLadder.month == month,
            )
        ).one()
        rows = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == clause_id,
                ClauseHistory.event == "declaration",
                ClauseHistory.reason.contains(company),
            )
        ).all()
        return {
            "declaration": None
            if declaration is None
            else (declaration.total_hours, declaration.recorded_by, declaration.source,
                  len(declaration.lines), declaration.validated_at),
            "ladder": (ladder.declared_at, ladder.next_step, ladder.next_step_at),
            "history": [(row.actor, row.reason.split(" de ")[0]) for row in rows],
        }  # fmt: skip


def test_a_month_without_hours_from_the_dashboard_asks_then_is_the_command_line_one(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, _ = signed_in
    late = scenario.clauses["late"]
    january, february = date(2026, 1, 1), date(2026, 2, 1)
    before = month_state(app, late, "Bâtir Gascogne", january)
    assert before["declaration"] is None and before["history"] == []

    # The dashboard's button: a GET to a page that asks, and writes nothing.
    task = task_of(client.get("/tableau-de-bord").text, "Bâtir Gascogne : heures")
    asked = client.get(
        "/declarations/mois-sans-heure",
        params=fields(form_of(task, "/declarations/mois-sans-heure")),
    )
    assert asked.status_code == 200
    words = visible(asked.text)
    assert "Enregistrer janvier 2026 sans heure" in words
    assert f"Bâtir Gascogne – clause n°\xa0{late} (marché 2025-001 lot 1" in words
    assert "Confirmer\xa0: aucune heure de janvier 2026" in words
    assert month_state(app, late, "Bâtir Gascogne", january) == before

    confirmed = client.post(
        "/declarations/mois-sans-heure",
        data=fields(form_of(asked.text, "/declarations/mois-sans-heure")),
        follow_redirects=False,
    )
    # The command line, for another company late on the same lot.
    state = CliState()
    state.factory = lambda: app
    command = CliRunner().invoke(
        cli,
        ["declaration", "zero", "--clause", str(late), "--company", "Alpha Travaux",
         "--month", "02/2026", "--actor", "Camille Martin"],
        obj=state,
        catch_exceptions=False,
    )  # fmt: skip

    assert confirmed.status_code == 303 and command.exit_code == 0, command.output
    web = month_state(app, late, "Bâtir Gascogne", january)
    line = month_state(app, late, "Alpha Travaux", february)
    # The same record, but each says where it was entered.
    assert web["declaration"][2] == "déclaration à zéro (tableau de bord)"
    assert line["declaration"][2] == "déclaration à zéro (ligne de commande)"
    assert {**web, "declaration": web["declaration"][:2] + web["declaration"][3:]} == {
        **line,
        "declaration": line["declaration"][:2] + line["declaration"][3:],
    }
    assert web["declaration"] == (0, "Camille Martin", web["declaration"][2], 0, None)
    # Each company's receipt says the facilitator recorded the month for it on its word: it
    # sent nothing, so « Je l'ai reçue » would not be true.
    with app.transaction() as session:
        receipts = session.execute(
            select(OutboxMessage.subject, OutboxMessage.body_text).where(
                OutboxMessage.clause_id == late, OutboxMessage.kind == "declaration_receipt"
            )
        ).all()
    assert len(receipts) == 2
    for subject, receipt in receipts:
        assert subject.startswith("Déclaration enregistrée pour vous : ")
        said = squash(receipt)
        assert (
            "Je l'ai enregistrée pour vous le 30 mars 2026, comme vous me l'avez indiqué." in said
        )
        assert "reçue" not in said and "votre déclaration à zéro est bien notée" in said
    assert web["ladder"][0] == NOW and before["ladder"][0] is None  # its reminders stop
    assert web["history"] == [("Camille Martin", "déclaration")]

    board = client.get(confirmed.headers["location"])
    said = visible(board.text)
    assert (
        f"Mois de janvier 2026 enregistré sans heure pour Bâtir Gascogne (clause n°\xa0{late})"
        in said
    )
    # February is now the oldest month late of Bâtir Gascogne: the button offers it.
    task = task_of(board.text, "Bâtir Gascogne : heures")
    assert 'name="mois" value="2026-02"' in task


def test_a_month_without_hours_needs_its_confirmation_and_its_token(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, csrf = signed_in
    late = scenario.clauses["late"]
    with app.transaction() as session:
        batir = session.scalars(select(Company.id).where(Company.name == "Bâtir Gascogne")).one()
    wanted = {"clause_id": str(late), "company_id": str(batir), "month": "2026-01-01"}
    before = month_state(app, late, "Bâtir Gascogne", date(2026, 1, 1))

    # Straight to the POST, without the confirmation page's field: the page asks again.
    unconfirmed = client.post("/declarations/mois-sans-heure", data={**wanted, "csrf": csrf})
    assert unconfirmed.status_code == 200
    assert "Confirmer\xa0: aucune heure de janvier 2026" in visible(unconfirmed.text)
    for token in ("", "faux" + csrf):
        refused = client.post(
            "/declarations/mois-sans-heure",
            data={**wanted, "confirmation": "oui", "csrf": token},
        )
        assert refused.status_code == 403
    unreadable = client.get("/declarations/mois-sans-heure?clause=x&entreprise=1&mois=2026-13")
    assert unreadable.status_code == 422
    assert "la clause, le mois\xa0; rien n'a été enregistré" in visible(unreadable.text)
    # « ² » is a digit to ``str.isdigit``, not to ``int``; nor is a number of 30 digits a N°.
    for odd in ("%C2%B2", "9" * 30):
        page = client.get(f"/declarations/mois-sans-heure?clause={odd}&entreprise=1&mois=2026-04")
        assert page.status_code == 422, odd
        assert client.get(f"/tableau-de-bord?fait=zero&clause={odd}").status_code == 200
    unknown = client.get(
        f"/declarations/mois-sans-heure?clause=99999&entreprise={batir}&mois=2026-01"
    )
    assert unknown.status_code == 404 and "Aucune clause n°\xa099999" in visible(unknown.text)
    assert month_state(app, late, "Bâtir Gascogne", date(2026, 1, 1)) == before

    # A month already declared: nothing to confirm, and a POST all the same is refused.
    behind = scenario.clauses["behind"]
    with app.transaction() as session:
        routes = session.scalars(select(Company.id).where(Company.name == "Routes du Sud")).one()
    declared = client.get(
        f"/declarations/mois-sans-heure?clause={behind}&entreprise={routes}&mois=2026-02"
    )
    assert "déjà enregistrée pour Routes du Sud" in visible(declared.text)
    assert 'name="confirmation"' not in declared.text
    again = client.post(
        "/declarations/mois-sans-heure",
        data={"csrf": csrf, "confirmation": "oui", "clause_id": str(behind),
              "company_id": str(routes), "month": "2026-02-01"},
    )  # fmt: skip
    assert again.status_code == 422 and "Mois sans heure refusé" in visible(again.text)
    # In the page's words, not the command's (it said « recommencez avec --replace »).
    said = " ".join(visible(again.text).replace("\xa0", " ").split())
    assert "--replace" not in said and "--reason" not in said, said
    assert (
        "Pour la corriger, passez par la page « Corrections » : ses lignes y sont remplacées, le "
        "motif gardé à l'historique. Rien n'a été enregistré." in said
    ), said
    with app.transaction() as session:
        hours = session.scalars(
            select(Declaration.total_hours).where(Declaration.clause_id == behind)
        ).one()
    assert hours == Decimal(100)  # the month's 100 h untouched


def test_what_the_page_says_was_done_is_read_from_the_database(
    app: App, scenario: Rich, signed_in: tuple[TestClient, str]
) -> None:
    client, csrf = signed_in
    behind = scenario.clauses["behind"]
    with app.transaction() as session:
        routes = session.scalars(select(Company.id).where(Company.name == "Routes du Sud")).one()
    ids = f"clause={behind}&entreprise={routes}&mois=2026-02"

    # Addresses typed by hand: nothing validated, no month without hours, an unknown lot.
    for address in (
        f"/tableau-de-bord?fait=validee&{ids}",
        f"/tableau-de-bord?fait=zero&{ids}",  # 100 h declared, not zero
        "/tableau-de-bord?fait=validee&clause=99999&entreprise=1&mois=2026-02",
        "/tableau-de-bord?fait=eligibilite&participant=P-1",  # not validated yet
        "/tableau-de-bord?fait=validee&quoi=de+tout+le+territoire",  # the old words
    ):
        page = client.get(address)
        assert page.status_code == 200 and 'role="status"' not in page.text, address
        assert "tout le territoire" not in page.text

    done = client.post(
        "/declarations/valider",
        data={"csrf": csrf, "clause_id": str(behind), "company_id": str(routes),
              "month": "2026-02-01"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and "quoi" not in done.headers["location"]
    assert ids in done.headers["location"]
    said = visible(client.get(done.headers["location"]).text)
    assert f"Déclaration de février 2026 de Routes du Sud (clause n°\xa0{behind}) validée" in said


# --- the queries of a large territory -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
def test_the_dashboard_queries_have_an_index_to_use(postgres_url: str, tmp_path: Path) -> None:
    """On a generated territory (1,000 lots), every statement the dashboard and the API's tasks
    send is explained with sequential scans disabled (as ``test_query_plans`` does for the
    passes): none reads a large table from end to end, but the ones the digest always made to
    find the tasks (their count needs them all), listed here."""
    from sqlalchemy import event

    from tests.conftest import _empty_postgres, make_settings
    from tests.integration.test_generate import generate
    from tests.integration.test_query_plans import PASSES, explainable, full_scans

    _empty_postgres(postgres_url)
    generate(postgres_url, tmp_path, lots=1000, seed=3)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: PASSES[0])
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.setdefault(statement, parameters[0] if many and parameters else parameters)

    try:
        event.listen(app.engine, "before_cursor_execute", record)
        board = dashboard_view.dashboard(app, per_section=5)
        dashboard_view.day_tasks(app, per_section=30)
        event.remove(app.engine, "before_cursor_execute", record)
        assert any(section.hidden for section in board.tasks.sections)
        with app.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            found = {
                " ".join(statement.split())[:300]: tables
                for statement, parameters in sent.items()
                if explainable(statement)
                and (tables := full_scans(connection, statement, parameters))
            }
    finally:
        app.close()
    assert found == {}, "\n\n".join(f"{tables}: {s}" for s, tables in found.items())
