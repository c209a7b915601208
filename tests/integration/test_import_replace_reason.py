"""A declaration file that corrects a month recorded before takes a reason, as
``declaration zero --replace`` does.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
imported on 5 November (4 participants, 370,17 h). On 12 November a file that changes the month,
imported with ``--replace`` but without ``--reason``, is refused whole: the file, the month, the
company and the clause named, ``--reason`` asked for, nothing written (no declaration changed,
no history row, no receipt queued). With ``--reason`` it is replaced; the command says what it
replaced (« Remplace la déclaration du 5 novembre 2026 : 370,17 h, 4 participants. Motif : … »),
its JSON gives the previous total, lines, recording date and motif, the history row keeps the
motif and the audit still reads it back. The same file sent again needs no reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, edit, ids, write
from tests.integration.test_identical_replacement import run, started, written
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, Declaration
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState

NOVEMBER_12 = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
#: What the facilitator types: its round brackets are kept square in the history row.
REASON = "Heures de P-0007 mal reportées (voir le courriel de l'entreprise)"
KEPT = "Heures de P-0007 mal reportées [voir le courriel de l'entreprise]"


def refused(app: App, *args: str) -> str:
    """What a refused command prints (it exits with an error code)."""
    state = CliState()
    state.factory = lambda: app
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code != 0, result.output
    return squash(result.output).replace("\u00a0", " ")


def recorded(app: App) -> list[tuple[int, Decimal, datetime, int, str | None]]:
    """Every declaration as recorded: N°, hours, when, how many lines, what it replaced."""
    with app.transaction() as session:
        return [
            (
                d.id,
                Decimal(d.total_hours),
                d.recorded_at,
                len(d.lines),
                None if d.replaced_total_hours is None else f"{d.replaced_total_hours:f}",
            )
            for d in session.scalars(select(Declaration).order_by(Declaration.id))
        ]


def last_history(app: App) -> str:
    with app.transaction() as session:
        row = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.event == "declaration")
            .order_by(ClauseHistory.id.desc())
        ).first()
        assert row is not None
        return (row.reason or "").replace("\u00a0", " ")


def changed(tmp_path: Path) -> Path:
    """The sample with P-0007's October hours brought from 151,67 h to 100 h."""
    return write(tmp_path, edit(2, 9, "100"))


def test_a_correction_without_a_reason_is_refused_whole_and_changes_nothing(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    clause_id, _ = ids(app)
    before, outbox_before = recorded(app), written(app)
    clock.set(NOVEMBER_12)
    path = changed(tmp_path)

    said = refused(app, "declaration", "import", str(path), "--replace")

    assert "declaration.csv : 1 erreur, rien n'a été importé." in said, said
    assert (
        "ligne 2 : la déclaration d'octobre 2026 de Bâtiments Gascons SARL pour la clause "
        f"n° {clause_id} "
    ) in said, said
    assert (
        "enregistrée le 5 novembre 2026 (370,17 h, 4 participants), serait corrigée par le "
        "fichier sans motif : recommencez avec --reason « motif de la correction » (gardé à "
        "l'historique de chaque déclaration remplacée)."
    ) in said, said
    assert recorded(app) == before
    assert written(app) == outbox_before  # no history row, no receipt queued

    # A reason of blanks is no reason.
    said = refused(app, "declaration", "import", str(path), "--replace", "--reason", "  ")
    assert "--reason" in said
    assert recorded(app) == before and written(app) == outbox_before


def test_with_a_reason_the_month_is_replaced_and_the_reason_kept_and_said(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    history, outbox = written(app)
    clock.set(NOVEMBER_12)

    said = run(
        app, "declaration", "import", str(changed(tmp_path)), "--replace", "--reason", REASON
    ).replace("\u00a0", " ")

    assert "Déclaration d'octobre 2026 remplacée : Bâtiments Gascons SARL" in said, said
    assert (
        "Remplace la déclaration du 5 novembre 2026 : 370,17 h, 3 participants ayant "
        f"travaillé (1 autre déclaré à 0 h). Motif : {KEPT} 318,50 h au total, 3 participants "
        "ayant travaillé (1 autre déclaré à 0 h)."
    ) in said, said
    assert written(app) == (history + 1, outbox + 1)  # its history row, its receipt
    assert f"(remplace 370,17 h, motif : {KEPT})" in last_history(app)
    assert verify_database(app).findings == ()


def test_the_json_says_what_was_replaced_and_why(app: App, clock: Clock, tmp_path: Path) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    clock.set(NOVEMBER_12)
    args = ("--replace", "--reason", "Erreur de saisie", "--json")

    shown = json.loads(run(app, "declaration", "import", str(changed(tmp_path)), *args))

    (declared,) = shown["declarations"]
    assert declared["remplacee"] is True
    assert declared["heures"] == 318.5
    assert declared["heures_remplacees"] == 370.17
    assert declared["lignes_remplacees"] == 4
    assert declared["remplacee_enregistree_le"].startswith("2026-11-05T09:00:00")
    assert declared["motif"] == "Erreur de saisie"


def test_the_same_file_again_needs_no_reason(app: App, clock: Clock) -> None:
    started(app, clock)
    run(app, "declaration", "import", str(DECLARATION))
    before = written(app)
    clock.set(NOVEMBER_12)

    said = run(app, "declaration", "import", str(DECLARATION), "--replace", "--json")

    (declared,) = json.loads(said)["declarations"]
    assert declared["inchangee"] is True and declared["remplacee"] is False
    assert declared["heures_remplacees"] is None and declared["motif"] is None
    assert written(app) == before
