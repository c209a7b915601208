"""« Contrôle de cohérence » (/controle-coherence): ``clauses audit verify`` from the dashboard, over
the real ASGI application and the real App, on SQLite and PostgreSQL.

A visit runs nothing (the checks may be long on a big database): its button, a GET form, runs them
and the page shows what the command prints, « Aucun problème (… vérifiés). » on a clean database;
with a clause whose stage was changed by hand, the problem with the clause it concerns, and the
command's verdict. Reading writes nothing.
"""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.integration.test_corrections import dump
from tests.integration.test_dashboard import sign_in
from tests.integration.test_dashboard import site as site
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_web_privacy import _without_sessions, main, page_words
from tests.text import visible
from workflow.adapters.orm import Clause
from workflow.bootstrap import App
from workflow.domain.stages import Stage
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState

ADDRESS = "/controle-coherence"


def command(app: App) -> Any:
    """``clauses audit verify`` on ``app``."""
    state = CliState()
    state.factory = lambda: app
    return CliRunner().invoke(
        cli, ["audit", "verify"], obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
    )


def said(answer: Any) -> str:
    return page_words(visible(main(answer.text)))


def test_a_visit_runs_nothing_and_the_button_runs_the_commands_checks(
    app: App,
    site: TestClient,
) -> None:
    sign_in(site)
    before = _without_sessions(dump(app))

    visit = site.get(ADDRESS)
    run = site.get(ADDRESS, params={"lancer": "1"})

    assert visit.status_code == run.status_code == 200
    assert "Aucun problème" not in said(visit) and "Lancer le contrôle" in said(visit)
    assert 'action="/controle-coherence"' in visit.text and 'method="get"' in visit.text
    printed = command(app)
    assert printed.exit_code == 0, printed.output
    verdict = printed.stdout.strip()
    assert verdict.startswith("Aucun problème (") and verdict.endswith(" vérifiés).")
    assert "Résultat " + page_words(verdict) in said(run)
    assert "Relancer le contrôle" in said(run)
    assert run.headers["cache-control"] == "no-store"
    assert " :" not in visible(main(run.text))
    assert _without_sessions(dump(app)) == before


def test_a_stage_changed_by_hand_is_shown_with_its_clause(
    app: App,
    site: TestClient,
) -> None:
    sign_in(site)
    clause_id, _, _ = lot_01(app)
    with app.transaction() as session:
        session.execute(update(Clause).where(Clause.id == clause_id).values(stage=Stage.CLOSED))
    before = _without_sessions(dump(app))

    run = site.get(ADDRESS, params={"lancer": "1"})

    printed = command(app)
    assert printed.exit_code == 1
    lines = printed.stdout.splitlines()
    assert page_words(lines[0]) == (
        f"Clause n° {clause_id} : l'historique finit à l'étape « mise en œuvre » mais la clause "
        "est à « clôturée »"
    )
    assert lines[-1].startswith("1 problème trouvé (")
    shown = said(run)
    assert run.status_code == 200
    for line in lines:
        assert page_words(line) in shown, line
    assert f"Problèmes Clause n° {clause_id} : l'historique finit à l'étape « mise en" in shown
    assert "Aucun problème" not in shown
    # Where the problem is, set apart from what it is.
    assert f"<strong>Clause n° {clause_id}</strong>&nbsp;:" in run.text
    assert _without_sessions(dump(app)) == before


def test_signed_out_the_page_goes_to_the_login(
    app: App,
    site: TestClient,
) -> None:
    answer = site.get(ADDRESS, params={"lancer": "1"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/connexion?suite=%2Fcontrole-coherence%3Flancer%3D1"
