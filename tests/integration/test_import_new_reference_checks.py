"""A declaration file bringing a new participant under a reference that a spreadsheet would read
as a formula (« -P12 », « =1+1 ») is refused with the words of « clauses participant add » and
of the company's web page (``services.participants.new_reference_problem``, which checks the
formula and the name alike), at the line and column, on SQLite and PostgreSQL. Before, the
import checked the name only and recorded « -P12 ». A person recorded under such a reference
before is still declared under it; the shared sample imports as before."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tests.integration import test_declarations
from tests.integration.test_declarations import (
    declarations,
    edit,
    import_file,
    refused_on_the_web,
    write,
)
from workflow.adapters.orm import Participant
from workflow.bootstrap import App
from workflow.services.participants import new_reference_problem

#: The territory in execution (November 2026).
started = test_declarations.started
#: The sample's reference column (0-based), as ``edit`` takes it.
REFERENCE = 5


def references(app: App) -> list[str]:
    with app.transaction() as session:
        return sorted(session.scalars(select(Participant.reference)))


def test_a_file_bringing_a_formula_as_a_new_reference_is_refused_whole(
    started: App, tmp_path: Path
) -> None:
    before = references(started)
    for reference in ("-P12", "=1+1", "@SOMME"):
        message = refused_on_the_web(started, write(tmp_path, edit(3, REFERENCE, reference)))
        said = new_reference_problem(reference)
        assert said is not None and "qu'un tableur lirait comme une formule" in said
        assert message == (
            "declaration.csv : 1 erreur, rien n'a été importé.\n"
            f"  - ligne 3, colonne «\u00a0Référence participant\u00a0» : {said}"
        )
    assert declarations(started) == [] and references(started) == before
    # The shared sample's references are references: it imports as before.
    import_file(started)
    assert declarations(started) == [(Decimal("370.17"), 4)]


def test_a_person_recorded_under_such_a_reference_before_is_still_declared(
    started: App, tmp_path: Path
) -> None:
    with started.transaction() as session:
        session.add(
            Participant(
                reference="-P12",
                criterion="minimum_income",
                created_at=datetime(2026, 3, 20, tzinfo=UTC),
            )
        )
    import_file(started, write(tmp_path, edit(3, REFERENCE, "-P12")))
    assert declarations(started) == [(Decimal("370.17"), 4)]
