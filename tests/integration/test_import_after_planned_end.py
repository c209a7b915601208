"""A month after a lot's planned end, its end not recorded, imported by the facilitator
(SQLite and PostgreSQL): recorded, its hours counted, and the import says that no company of
the lot is asked that month until the end is recorded or the planned end moved.

User trial: 20 h of April imported for a lot whose planned end was 31 March: the summary
counted them in the month's hours and expected no April declaration, and nothing had said why."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from tests.integration.test_declarations import OCTOBER, ids, import_file, started
from workflow.adapters.orm import Clause, Declaration
from workflow.bootstrap import App

__all__ = ["started"]  # the fixture, used by name


def test_a_month_after_the_planned_end_is_recorded_and_said(started: App) -> None:
    clause_id, holder = ids(started)
    with started.transaction() as session:
        session.execute(
            update(Clause)
            .where(Clause.id == clause_id)
            .values(planned_end_date=date(2026, 9, 30), end_date=None)
        )
        label = session.get_one(Clause, clause_id).label

    done = import_file(started)

    notes = [w for w in done.warnings if "suit la fin prévue" in w.message]
    assert [(w.column, w.message) for w in notes][:1] == [
        (
            "Mois",
            f"octobre 2026 suit la fin prévue de la c{label[1:]} (30/09/2026) : la déclaration "
            "est enregistrée et ses heures comptent, mais ce mois n'est demandé à aucune "
            "entreprise du lot tant que la fin d'exécution n'est pas enregistrée ou la fin "
            "prévue reportée.",
        )
    ]
    with started.transaction() as session:
        months = session.scalars(
            select(Declaration.month).where(
                Declaration.clause_id == clause_id, Declaration.company_id == holder
            )
        ).all()
    assert OCTOBER in months


def test_a_month_within_the_planned_end_says_nothing_of_it(started: App) -> None:
    done = import_file(started)
    assert not [w for w in done.warnings if "fin prévue" in w.message]
