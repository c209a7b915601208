"""An outcome counts while its participant has hours on its lot: a cancelled declaration that took
someone's only hours there takes their outcome out of the figures, and the month declared again
puts it back. The row is never lost: the lists show it « non comptée », and the cancellation
says so.

The scenario, on the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL:
October 2026 declared with P-0007, P-0012 and P-0031 (P-0040 at 0 h), November with P-0012
only; outcomes recorded for P-0007 (CDI, October only) and P-0012 (short temp work, October and
November). October is cancelled through ``clauses declaration cancel``: P-0007's CDI no longer
counts, P-0012's still does; the annual report, the October summary, the ``clauses`` commands
and the participant list all say the same; October declared again with P-0007 counts it again.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, ids, import_file, start_sample
from tests.text import squash
from workflow.adapters.orm import ClauseHistory, Declaration, DeclarationLine, Outcome
from workflow.bootstrap import App, bootstrap
from workflow.domain.outcomes import OutcomeType
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.errors import InputRefused
from workflow.services.annual_report import AnnualReport, compile_annual_report
from workflow.services.declaration_imports import import_declaration_file
from workflow.services.outcomes import record_outcome
from workflow.services.summaries import MonthlySummary, compile_for
from workflow.settings import Settings

NOVEMBER_5 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
DECEMBER_3 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DECEMBER_4 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DECEMBER_7 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
OCTOBER_30 = date(2026, 10, 30)
CDI = OutcomeType.CDI.value
SHORT_TEMP = OutcomeType.SHORT_TEMP_WORK.value
UNCOUNTED = (
    "non comptée : aucune heure déclarée sur ce lot depuis l'annulation de la déclaration "
    "d'octobre 2026"
)


def run_cli(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def november_file(tmp_path: Path) -> Path:
    """The sample's October file turned into November, P-0012 alone."""
    lines = DECLARATION.read_bytes().decode("cp1252").split("\r\n")
    kept = [line.replace("10/2026", "11/2026") for line in lines[1:] if ";P-0012;" in line]
    path = tmp_path / "novembre.csv"
    path.write_bytes("\r\n".join([lines[0], *kept, ""]).encode("cp1252"))
    return path


def record(app: App, reference: str, outcome_type: OutcomeType) -> None:
    with app.transaction() as session:
        record_outcome(
            session,
            reference=reference,
            clause_id=ids(app)[0],
            outcome_type=outcome_type,
            on=OCTOBER_30,
            actor="Camille Martin",
            now=DECEMBER_3,
            zone=app.settings.zone,
        )


@pytest.fixture
def scenario(app: App, clock: Clock, tmp_path: Path) -> App:
    handlers, app.handlers = app.handlers, {}
    start_sample(app)
    app.handlers = handlers
    clock.set(NOVEMBER_5)
    import_file(app)  # October, at NOVEMBER_5
    clock.set(DECEMBER_3)
    with app.transaction() as session:
        import_declaration_file(
            session,
            november_file(tmp_path),
            actor="Camille Martin",
            now=DECEMBER_3,
            publish=app.publish,
            zone=app.settings.zone,
        )
    record(app, "P-0007", OutcomeType.CDI)
    record(app, "P-0012", OutcomeType.SHORT_TEMP_WORK)
    return app


def cancel_october(app: App, settings: Settings, clock: Clock) -> str:
    clock.set(DECEMBER_4)
    clause_id, company_id = ids(app)
    return squash(
        run_cli(settings, clock, "declaration", "cancel", "--clause", str(clause_id),
                "--company", str(company_id), "--month", "10/2026",
                "--reason", "Heures saisies sur le mauvais lot")
    )  # fmt: skip


def annual(app: App) -> AnnualReport:
    with app.transaction() as session:
        return compile_annual_report(
            session, 2026, groups=app.settings.outcome_groups, now=app.clock(),
            zone=app.settings.zone,
        )  # fmt: skip


def outcomes_of_people_who_worked(app: App) -> int:
    """The outcomes dated in 2026 whose participant has hours worked on their lot, read straight
    from the rows: what the report may count."""
    with app.transaction() as session:
        worked = {
            (person, lot)
            for person, lot in session.execute(
                select(DeclarationLine.participant_id, Declaration.clause_id)
                .join(Declaration, Declaration.id == DeclarationLine.declaration_id)
                .where(DeclarationLine.hours > 0)
            )
        }
        outcomes = session.execute(
            select(Outcome.participant_id, Outcome.clause_id).where(
                Outcome.date >= date(2026, 1, 1), Outcome.date <= date(2026, 12, 31)
            )
        )
        return sum(1 for person, lot in outcomes if (person, lot) in worked)


def by_type(report: AnnualReport) -> dict[str, int]:
    return {line.code: line.count for line in report.outcomes_by_type if line.count}


def by_group(report: AnnualReport) -> dict[str, int]:
    return {line.code: int(line.value) for line in report.outcomes_by_group if line.value}


def summary_outcomes(summary: MonthlySummary) -> dict[str, tuple[int, int]]:
    """{type: (in October, up to its end)} of the October summary, every buyer."""
    return {c.code: (c.month, c.cumulated) for c in summary.overall.outcomes_by_type if c.cumulated}


def printed_annual(settings: Settings, clock: Clock) -> dict[tuple[str, str], str]:
    """``clauses report annual --year 2026 --format csv``: {(table, line): value}."""
    text = run_cli(settings, clock, "report", "annual", "--year", "2026", "--format", "csv")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    return {(row[0], row[1]): row[3] for row in rows[1:]}


def printed_outcomes(printed: dict[tuple[str, str], str]) -> tuple[str, dict[str, str]]:
    """The printed outcome total, and the types printed with a count other than 0."""
    types = {
        line: value
        for (table, line), value in printed.items()
        if table == "Sorties par type" and value != "0"
    }
    return printed[("Chiffres clés 2026", "Sorties")], types


def listed(settings: Settings, clock: Clock, clause_id: int) -> dict[str, list[dict[str, Any]]]:
    text = run_cli(settings, clock, "participant", "list", "--clause", str(clause_id), "--json")
    return {line["reference"]: line["sorties"] for line in json.loads(text)}


@dataclass(frozen=True)
class Figures:
    """The outcome figures at one moment, from every place that shows them."""

    totals: tuple[int, ...]  # the report's total, its types, its groups, the rows, printed, summary
    by_type: dict[str, int]  # the report's
    october: dict[str, tuple[int, int]]  # the October summary's, {type: (month, cumulated)}
    printed: dict[str, str]  # ``clauses report annual``'s types with a count


def figures(app: App, settings: Settings, clock: Clock) -> Figures:
    report = annual(app)
    printed_total, printed_types = printed_outcomes(printed_annual(settings, clock))
    october = summary_outcomes(compile_for(app, OCTOBER))
    return Figures(
        (
            report.outcomes,
            sum(by_type(report).values()),
            sum(by_group(report).values()),
            outcomes_of_people_who_worked(app),
            int(printed_total),
            sum(cumulated for _, cumulated in october.values()),
        ),
        by_type(report),
        october,
        printed_types,
    )


def outcome_list(settings: Settings, clock: Clock, clause_id: int) -> dict[str, list[Any]]:
    """``participant list --clause --json``: each outcome's type, whether it counts, and why not."""
    return {
        reference: [(o["type"], o["comptee"], o["non_comptee"]) for o in outcomes]
        for reference, outcomes in listed(settings, clock, clause_id).items()
        if outcomes
    }


def test_a_cancelled_month_takes_the_outcome_out_of_every_figure_until_declared_again(
    scenario: App, settings: Settings, clock: Clock
) -> None:
    app = scenario
    clause_id = ids(app)[0]
    before = figures(app, settings, clock)

    said = cancel_october(app, settings, clock)
    cancelled = figures(app, settings, clock)
    listed_cancelled = outcome_list(settings, clock, clause_id)
    footer = squash(run_cli(settings, clock, "participant", "list", "--clause", str(clause_id)))
    # A new outcome still needs hours: P-0031 had October only (a guard kept, not a change).
    with pytest.raises(InputRefused, match="P-0031 n'a aucune heure déclarée"):
        record(app, "P-0031", OutcomeType.QUALIFYING_TRAINING)

    # October declared again, P-0007 with it.
    clock.set(DECEMBER_7)
    with app.transaction() as session:
        import_declaration_file(
            session, DECLARATION, actor="Camille Martin", now=DECEMBER_7, publish=app.publish,
            zone=app.settings.zone,
        )  # fmt: skip
    again = figures(app, settings, clock)
    listed_again = outcome_list(settings, clock, clause_id)

    # The cancellation says which outcome stops counting (P-0012 keeps November on the lot).
    assert said.endswith(
        "la date à laquelle déclarer de nouveau ce mois. 1 sortie (P-0007, CDI) n'est plus "
        "comptée tant que ses heures ne sont pas déclarées à nouveau."
    )
    # Every total equals the sum of its parts, counts only outcomes of people with hours on
    # their lot, and is what ``clauses report annual`` prints and the October summary says:
    # P-0007's CDI leaves with the cancelled month and comes back with it.
    assert [f.totals for f in (before, cancelled, again)] == [(2,) * 6, (1,) * 6, (2,) * 6]
    both = {CDI: 1, SHORT_TEMP: 1}
    assert [f.by_type for f in (before, cancelled, again)] == [both, {SHORT_TEMP: 1}, both]
    assert [f.october for f in (before, cancelled, again)] == [
        {CDI: (1, 1), SHORT_TEMP: (1, 1)},
        {SHORT_TEMP: (1, 1)},
        {CDI: (1, 1), SHORT_TEMP: (1, 1)},
    ]
    short = "Intérim de moins de 6 mois – Emploi de transition"
    assert [f.printed for f in (before, cancelled, again)] == [
        {"CDI – Emploi durable": "1", short: "1"},
        {short: "1"},
        {"CDI – Emploi durable": "1", short: "1"},
    ]
    # The outcome is kept and listed, not counted while its month is cancelled, and why.
    assert [listed_cancelled, listed_again] == [
        {"P-0007": [(CDI, False, UNCOUNTED)], "P-0012": [(SHORT_TEMP, True, None)]},
        {"P-0007": [(CDI, True, None)], "P-0012": [(SHORT_TEMP, True, None)]},
    ]
    assert "2 sorties enregistrées (dont 1 non comptée dans les bilans)." in footer


def test_the_history_keeps_which_outcome_the_cancellation_left_out(
    scenario: App, settings: Settings, clock: Clock
) -> None:
    cancel_october(scenario, settings, clock)

    with scenario.transaction() as session:
        reason = session.scalar(
            select(ClauseHistory.reason)
            .where(ClauseHistory.event == "declaration_cancelled")
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        )
    assert (reason or "").endswith(
        ": Heures saisies sur le mauvais lot – 1 sortie (P-0007, CDI) n'est plus comptée tant "
        "que ses heures ne sont pas déclarées à nouveau."
    )
