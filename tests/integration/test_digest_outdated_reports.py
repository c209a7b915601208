"""A final report outdated is a task of the day (« Bilans à mettre à jour »): the facilitator
learns it from her digest and her dashboard, not from the closure refused.

The lot is listed exactly when the closure guard refuses for that reason (the same rule,
``services.outdated_reports``): its report told to the buyer (sent, on the wire, uncertain,
refused or given up), then a change of its figures; a report never told, or recorded again,
is no task.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_dashboard_tasks import task_of
from tests.integration.test_digest import resolve, suggested
from tests.integration.test_final_report_outdated import (
    _correct_april,
    _lived_to_the_report,
    _report,
    _sent,
    _state_of_reports,
)
from tests.integration.test_notices import Walk, at
from tests.text import squash
from workflow.adapters.orm import OutboxMessage
from workflow.app import dashboard as dashboard_view
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.emails.digest import Category, DigestItem
from workflow.entrypoints.web.site import create_site
from workflow.services import clauses as clause_service
from workflow.services.digest import compile_digest, queue_daily_digest

NBSP = "\u00a0"


def outdated(app: App, day: date) -> list[DigestItem]:
    with app.transaction() as session:
        digest = compile_digest(session, at(day), app.settings)
    return [item for item in digest.items if item.category is Category.FINAL_REPORT_OUTDATED]


def lot_label(walk: Walk) -> str:
    return f"clause n° {walk.clause_id} (marché "


def test_a_report_told_then_outdated_is_listed_until_it_is_recorded_again(
    app: App, clock: Clock
) -> None:
    walk = _lived_to_the_report(app, clock)  # the report of 15 September 2026
    _sent(app)
    assert outdated(app, date(2026, 9, 16)) == []  # told, its figures still the lot's

    _correct_april(walk, date(2026, 9, 16))
    (item,) = outdated(app, date(2026, 9, 17))
    cid = walk.clause_id
    assert item.clause_id == cid
    assert item.title.startswith(f"Bilan à mettre à jour : {lot_label(walk)}")
    assert squash(item.detail) == (
        "Les chiffres du lot ont changé depuis le bilan du 15 septembre 2026 adressé au donneur "
        "d'ordre (déclaration mensuelle) : la clause ne se clôture qu'avec un bilan à jour."
    )
    assert item.days == 2  # since the report
    assert f"(clauses clause report {cid} --file bilan.txt)" in item.action
    assert "qui remplace celui du 15 septembre 2026" in item.action
    # Each command it names exists, and suits the lot's stage.
    assert [resolve(tokens)[0] for tokens in suggested(item.action)] == [
        ["clause", "report"],
        ["clause", "advance"],
    ]
    assert item.web is not None and item.web.path == f"/clauses/{cid}#bilan-form"
    assert "« Réécrire le bilan de l'opération »" in squash(item.web.todo)

    # The closure guard names the same change.
    with app.transaction() as session:
        facts = clause_service.facts_of(clause_service.get_clause(session, cid))
    assert facts.final_report_outdated_by == ("déclaration mensuelle",)

    # The digest email, as she reads it.
    clock.set(datetime(2026, 9, 17, 8, 0, tzinfo=UTC))
    assert queue_daily_digest(app, clock()) == 1
    with app.transaction() as session:
        email = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "facilitator_digest")
        ).one()
        text = squash(email.body_text)
    assert "== Bilans à mettre à jour (1) ==" in text
    assert f"* Bilan à mettre à jour : clause n° {cid} (marché" in text
    assert (
        "le bilan du 15 septembre 2026 adressé au donneur d'ordre (déclaration mensuelle)" in text
    )

    # The dashboard: the same task, its link to the form that records the report again.
    tasks = dashboard_view.day_tasks(app, per_section=5)
    (section,) = [s for s in tasks.sections if s.category is Category.FINAL_REPORT_OUTDATED]
    assert section.title == "Bilans à mettre à jour" and section.count == 1
    assert section.items == (item,)
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    client = TestClient(create_site(app))
    sign_in(client)
    page = client.get("/tableau-de-bord").text
    task = task_of(page, f"Bilan à mettre à jour : clause n° {cid} ")
    assert "adressé au donneur d'ordre (déclaration mensuelle)" in task
    assert f'href="/clauses/{cid}#bilan-form"' in task and ">Réécrire le bilan</a>" in task
    assert "Réécrire le bilan de l'opération" in client.get(f"/clauses/{cid}").text

    # Recorded again: no longer a task, and the clause closes.
    _report(walk, date(2026, 9, 18), "Bilan à jour.")
    assert outdated(app, date(2026, 9, 21)) == []
    walk.advance(ClauseEvent.CLOSE, date(2026, 9, 21))
    assert outdated(app, date(2026, 9, 22)) == []


def test_every_change_of_the_figures_since_the_report_is_named_once(app: App, clock: Clock) -> None:
    walk = _lived_to_the_report(app, clock)
    _sent(app)
    _correct_april(walk, date(2026, 9, 16))
    walk.clock.set(at(date(2026, 9, 17)))
    with app.transaction() as session:
        clause_service.set_hours_override(
            session,
            walk.clause_id,
            1100,
            reason="Avenant n° 2",
            actor="Camille Martin",
            now=walk.clock(),
        )
    _correct_april(walk, date(2026, 9, 18))
    (item,) = outdated(app, date(2026, 9, 21))
    assert "(déclaration mensuelle, heures imposées) :" in squash(item.detail)


@pytest.mark.parametrize(
    ("state", "listed"),
    [
        ("pending", False),  # not left: the closure writes it again with the figures of then
        ("cancelled", False),
        ("sent", True),
        ("uncertain", True),
        ("failed", True),  # « Renvoyer » would send it as written
        ("dead", True),
    ],
)
def test_a_lot_is_listed_exactly_when_its_closure_is_refused_for_its_report(
    app: App, clock: Clock, state: str, listed: bool
) -> None:
    walk = _lived_to_the_report(app, clock)
    _state_of_reports(app, state)
    _correct_april(walk, date(2026, 9, 16))
    with app.transaction() as session:
        facts = clause_service.facts_of(clause_service.get_clause(session, walk.clause_id))
    assert bool(facts.final_report_outdated_by) is listed
    assert [item.clause_id for item in outdated(app, date(2026, 9, 17))] == (
        [walk.clause_id] if listed else []
    )


@pytest.mark.parametrize(
    ("state", "reached"),
    [("sent", True), ("uncertain", True), ("failed", False), ("dead", False)],
)
def test_the_task_says_the_buyer_read_the_report_only_when_its_notice_may_have_reached_him(
    app: App, clock: Clock, state: str, reached: bool
) -> None:
    # A report whose every notice failed was never read: the task must not say it was
    # « adressé au donneur d'ordre », nor that the new one « remplace » it.
    walk = _lived_to_the_report(app, clock)
    _state_of_reports(app, state)
    _correct_april(walk, date(2026, 9, 16))
    (item,) = outdated(app, date(2026, 9, 17))
    said = squash(f"{item.detail} {item.action} {item.web.todo if item.web else ''}")
    assert ("adressé au donneur d'ordre" in said) is reached
    assert ("remplace celui du 15 septembre 2026" in said) is reached
    assert ("son envoi au donneur d'ordre a échoué" in said) is not reached
    if not reached:
        assert "le donneur d'ordre recevra le bilan à jour" in said
