"""An outcome left uncounted by a cancelled declaration is left out everywhere the figures are
told, not only in the annual report and the summaries: the buyer's final report email counts
what the annual report counts, the dashboard's cancellation says
which outcomes stop counting as ``clauses declaration cancel`` does, and the annual report's
files say the rule in their definitions.

The scenario of ``test_cancelled_outcomes``, on SQLite and PostgreSQL: lot 01 of the middle
school, October 2026 declared with P-0007, P-0012 and P-0031, November with P-0012 only;
outcomes recorded for P-0007 (CDI) and P-0012 (short temp work). October cancelled: P-0007's CDI
no longer counts, P-0012's still does.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_cancelled_outcomes import (  # noqa: F401 (fixture)
    DECEMBER_4,
    DECEMBER_7,
    annual,
    by_type,
    cancel_october,
    record,
    run_cli,
    scenario,
)
from tests.integration.test_declarations import ids
from tests.integration.test_web_corrections import PASSWORD, USER, sign_in
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.app import web_accounts
from workflow.app.clauses import advance_clause, record_final_report
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType, outcome_label
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.settings import Settings

NBSP = "\u00a0"
#: What the annual report's definitions say of an outcome's place in the figures.
RULE = (
    "Une sortie est comptée tant que le participant a des heures déclarées sur la clause où "
    "elle est enregistrée : si une déclaration annulée, ou corrigée sans lui, lui retire toutes "
    "ses heures sur cette clause, elle n'est plus comptée jusqu'à ce que des heures lui soient "
    "de nouveau déclarées."
)
#: The final report as the facilitator types it, naming a participant (buyers must not read who).
FINAL_REPORT = "P-0007 a signé un CDI chez le titulaire ; P-0012 poursuit en intérim."


def final_report_email(app: App, clause_id: int) -> str:
    """The text of the buyer's final report email, the one that tells the lot's outcomes."""
    with app.transaction() as session:
        (row,) = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.clause_id == clause_id, OutboxMessage.kind == "notice_final_report"
            )
        )
        return squash(row.body_text)


def told_outcomes(text: str) -> tuple[int, str]:
    """The outcome total an email tells (« Sorties des participants (1 connue) ») and its line
    by type (« Par type : … . »)."""
    total = re.search(r"Sorties des participants \((\d+) connues?\)", text)
    types = re.search(r"Par type : ([^.]*)\.", text)
    assert total is not None and types is not None, text
    return int(total.group(1)), types.group(1)


def test_the_buyers_results_count_the_outcomes_the_annual_report_counts(
    scenario: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
) -> None:
    app = scenario
    clause_id = ids(app)[0]
    cancel_october(app, settings, clock)
    # The lot ends and its final report is recorded: the buyer's email tells its results.
    clock.set(DECEMBER_7)
    advance_clause(app, clause_id, ClauseEvent.FINISH, end_date=date(2026, 12, 4), actor="Léa")
    record_final_report(app, clause_id, FINAL_REPORT, actor="Léa")

    report = annual(app)
    email = final_report_email(app, clause_id)

    # P-0007's CDI left the annual report with the cancelled October (its only hours on the
    # lot); P-0012's temp work stays (November). The buyer reads the same count, by type.
    assert (report.outcomes, by_type(report)) == (1, {OutcomeType.SHORT_TEMP_WORK.value: 1})
    expected_types = " ; ".join(
        f"{outcome_label(code)} : {count}" for code, count in by_type(report).items()
    )
    assert told_outcomes(email) == (report.outcomes, expected_types)
    assert "Emploi durable : 0" in email and "Emploi de transition : 1" in email
    # The report typed by hand still hides P-0007, whose outcome no longer counts.
    assert "[participant] a signé un CDI" in email and "P-0007" not in email


def test_the_dashboard_cancellation_says_which_outcomes_stop_counting(
    scenario: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
) -> None:
    app = scenario
    clause_id, company_id = ids(app)
    record(app, "P-0031", OutcomeType.QUALIFYING_TRAINING)  # October only, as P-0007
    web_accounts.add_user(app, login="lea", name=USER, password=PASSWORD)
    clock.set(DECEMBER_4)
    site = TestClient(create_site(app))
    csrf = sign_in(site)

    page = site.post(
        f"/corrections/lots/{clause_id}/annulation",
        data={"csrf": csrf, "entreprise": str(company_id), "mois": "2026-10",
              "reason": "Heures saisies sur le mauvais lot"},
    )  # fmt: skip

    assert page.status_code == 200, visible(page.text)
    shown = visible(page.text)
    assert "Déclaration annulée" in shown
    # What ``clauses declaration cancel`` prints, the space before « ; » kept on its line.
    assert (
        f"2 sorties (P-0007, CDI{NBSP}; P-0031, {outcome_label('qualifying_training')}) ne sont "
        "plus comptées tant que leurs heures ne sont pas déclarées à nouveau."
    ) in shown
    assert (annual(app).outcomes, by_type(annual(app))) == (
        1,
        {OutcomeType.SHORT_TEMP_WORK.value: 1},
    )


def test_the_annual_report_files_say_when_an_outcome_counts(
    scenario: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    cancel_october(scenario, settings, clock)

    text = run_cli(settings, clock, "report", "annual", "--year", "2026", "--format", "csv")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    workbook = tmp_path / "bilan.xlsx"
    run_cli(settings, clock, "report", "annual", "--year", "2026", "--format", "xlsx",
            "--output", str(workbook))  # fmt: skip
    front = load_workbook(workbook).worksheets[0]
    cells = [str(c) for row in front.iter_rows(values_only=True) for c in row if c is not None]

    # The count the note explains: P-0007's CDI is out, P-0012's temp work in.
    assert ["Chiffres clés 2026", "Sorties", "Valeur", "1", "nombre"] in [row[:5] for row in rows]
    notes = [row[3] for row in rows if row[:3] == ["Définitions", "", "Note"]]
    outcomes_note = next(note for note in notes if note.startswith("Sorties : "))
    assert outcomes_note.endswith(RULE)
    assert outcomes_note in cells
