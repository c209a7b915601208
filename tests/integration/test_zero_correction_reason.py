"""A month of hours corrected to zero is a correction: it takes a reason, as a cancellation does.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
declared on 5 November with P-0007 and P-0012 (250,17 h), P-0007's CDI recorded on the 10th.
On 3 December ``clauses declaration zero --replace`` without ``--reason`` is refused, the
option named, nothing written; with it, the command says what it replaced and why, the history
row keeps the reason (« (remplace 250,17 h, motif : …) »), ``clause show`` shows it, and the
audit still reads the row back (no finding). A month recorded at zero needs no reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_corrected_outcomes import (
    GONE,
    OCTOBER_OF,
    last_declaration_history,
    october_with_the_cdi,
)
from tests.integration.test_declarations import ids
from tests.integration.test_end_date_correction import run_cli as run_cli_at
from tests.integration.test_outcomes_audit_and_cancel import (
    DECEMBER_3,
    DECEMBER_4,
    run_cli,
    sample,  # noqa: F401 (fixture)
)
from workflow.adapters.orm import ClauseHistory, Declaration
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

#: What the facilitator types: its round brackets are kept square in the history row.
REASON = "L'entreprise a déclaré ses heures sur le mauvais lot (voir son courriel)"
KEPT = "L'entreprise a déclaré ses heures sur le mauvais lot [voir son courriel]"


def zero(clause_id: int, company_id: int, *more: str) -> tuple[str, ...]:
    return (
        "declaration", "zero", "--clause", str(clause_id), "--company", str(company_id),
        "--month", "10/2026", "--replace", *more,
    )  # fmt: skip


def october(app: App) -> tuple[str, int]:
    """October's hours as recorded, and how many declaration history rows the lot has."""
    clause_id, company_id = ids(app)
    with app.transaction() as session:
        hours = session.scalar(
            select(Declaration.total_hours).where(
                Declaration.clause_id == clause_id, Declaration.company_id == company_id
            )
        )
        rows = session.scalar(
            select(func.count()).where(
                ClauseHistory.clause_id == clause_id, ClauseHistory.event == "declaration"
            )
        )
    return f"{hours:f}", rows or 0


def test_a_correction_to_zero_without_a_reason_is_refused_naming_the_option(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    before = october(sample)

    code, said = run_cli_at(settings, clock, DECEMBER_3, *zero(*ids(sample)))

    assert code != 0
    assert (
        "Correction de la déclaration d'octobre 2026 de Bâtiments Gascons SARL à zéro heure : "
        "indiquez le motif (--reason), il est gardé à l'historique ; elle compte 250,17 h, "
        "enregistrées le 5 novembre 2026."
    ) in said.replace("\u00a0", " "), said
    assert october(sample) == before

    code, said = run_cli_at(settings, clock, DECEMBER_3, *zero(*ids(sample)), "--reason", "  ")
    assert code != 0 and "(--reason)" in said, said
    assert october(sample) == before


def test_the_reason_is_said_kept_in_the_history_and_read_back_by_the_audit(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    clause_id, company_id = ids(sample)

    said = run_cli(settings, clock, *zero(clause_id, company_id, "--reason", REASON))
    said = said.replace("\u00a0", " ")

    assert said.startswith(
        "Déclaration d'octobre 2026 à zéro heure enregistrée : Bâtiments Gascons SARL, clause "
        f"n° {clause_id} (remplace 250,17 h ; motif : {KEPT})."
    ), said
    assert said.endswith(GONE)
    assert last_declaration_history(sample) == (
        f"{OCTOBER_OF}0 h (remplace 250,17 h, motif : {KEPT}) – {GONE}"
    )
    shown = json.loads(run_cli(settings, clock, "clause", "show", str(clause_id), "--json"))
    reasons = [(row["motif"] or "").replace("\u00a0", " ") for row in shown["historique"]]
    assert any(f"(remplace 250,17 h, motif : {KEPT})" in r for r in reasons), reasons
    assert verify_database(sample).findings == ()

    # Already at zero: nothing to correct, no reason asked, nothing written.
    clock.set(DECEMBER_4)
    again = json.loads(run_cli(settings, clock, *zero(clause_id, company_id, "--json")))
    assert again["inchangee"] is True and again["motif"] is None


def test_the_json_says_what_was_replaced_and_why(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)

    declared = json.loads(
        run_cli(settings, clock, *zero(*ids(sample), "--reason", "Erreur de saisie", "--json"))
    )

    assert declared["remplacee"] is True
    assert declared["heures_remplacees"] == 250.17
    assert declared["motif"] == "Erreur de saisie"
    assert declared["sorties_message"] == GONE
