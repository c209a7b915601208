"""A declaration « replaced » by the same lines changes nothing and tells nobody it changed.

A company that sends its file again (or a facilitator who imports it twice with ``--replace``)
used to get a « Déclaration corrigée » receipt for a correction that corrected nothing, a history
row « remplace 370,17 h » by 370,17 h, and a validated month lost its validation. Now: nothing
written (no history, no receipt, the validation kept), and the command says so. A file that
does change the month still replaces it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, HOLDER, edit, ids, start_sample, write
from tests.integration.test_declarations import NOVEMBER as DECLARED_ON
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, Declaration, OutboxMessage
from workflow.app import declarations as declaration_commands
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState

OCTOBER = date(2026, 10, 1)


def run(app: App, *args: str) -> str:
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def written(app: App) -> tuple[int, int]:
    """The history rows and the outbox rows: what a change leaves behind."""
    with app.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(ClauseHistory)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        )


def started(app: App, clock: Clock) -> App:
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    clock.set(DECLARED_ON)
    return app


def test_the_same_file_imported_again_with_replace_changes_nothing_and_sends_nothing(
    app: App, clock: Clock
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    clause_id, company_id = ids(app)
    declaration_commands.validate_declaration(
        app, clause=clause_id, company=company_id, month=OCTOBER, actor="Camille Martin"
    )
    before = written(app)

    said = run(app, "declaration", "import", str(DECLARATION), "--replace")

    assert "Déclaration d'octobre 2026 inchangée : Bâtiments Gascons SARL" in said
    assert "Le fichier donne les lignes enregistrées le 5 novembre 2026 (370,17\u00a0h)" in said
    assert "rien n'est modifié, aucun accusé de réception." in said
    assert written(app) == before  # no history row, no receipt
    with app.transaction() as session:
        declaration = session.scalars(select(Declaration)).one()
        assert declaration.validated_by == "Camille Martin"  # the validation stands
        assert declaration.replaced_total_hours is None


def test_a_file_that_changes_the_month_still_replaces_it(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    history, outbox = written(app)
    # One participant's hours changed, the rest as recorded.
    changed = write(tmp_path, edit(2, 9, "100"))

    said = run(
        app, "declaration", "import", str(changed), "--replace", "--reason", "Erreur de saisie"
    )

    assert "Déclaration d'octobre 2026 remplacée" in said
    assert "inchangée" not in said
    after_history, after_outbox = written(app)
    assert after_history == history + 1 and after_outbox == outbox + 1  # history, receipt


def test_a_month_already_at_zero_declared_at_zero_again_changes_nothing(
    app: App, clock: Clock
) -> None:
    started(app, clock)
    clause_id, _ = ids(app)
    args = ["declaration", "zero", "--clause", str(clause_id), "--company", HOLDER]
    run(app, *args, "--month", "10/2026")
    before = written(app)

    said = run(app, *args, "--month", "10/2026", "--replace")

    assert "déjà enregistrée à zéro heure le 5 novembre 2026 : rien n'est modifié" in said
    assert written(app) == before
