"""``clauses demo`` (what ``make demo`` runs): 14 simulated months through the real code path."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from workflow.adapters.orm import Clause, Company, Market, OutboxMessage, Outcome
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    (folder / "var" / "mail" / "old").mkdir(parents=True)
    (folder / "var" / "mail" / "old" / "stale.eml").write_text("left by a previous run")
    previous = Path.cwd()
    try:
        os.chdir(folder)
        result = CliRunner().invoke(cli, ["demo"], env={"COLUMNS": "120"})
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    return folder, result.output


def test_it_says_where_the_demo_writes_and_where_the_emails_are(demo: tuple[Path, str]) -> None:
    folder, output = demo
    assert "var/demo.db" in output and "remplace CLAUSES_DATABASE_URL" in output
    assert "var/mail/ vidé" in output
    assert not (folder / "var" / "mail" / "old").exists()
    assert "Les courriels sont dans var/mail/, un dossier par type" in output
    for kind in ("declaration_call", "declaration_reminder", "declaration_escalation"):
        assert f"var/mail/{kind}/" in output
        assert any((folder / "var" / "mail" / kind).glob("*.eml"))
    assert "Dernière synthèse mensuelle, février 2027" in output
    assert "Heures par modalité de réalisation" in output


def _steps_by_company(folder: Path) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    settings = Settings(database_url=f"sqlite:///{folder / 'var' / 'demo.db'}")
    app = bootstrap(settings)
    try:
        with app.transaction() as session:
            names = {
                cid: siret for cid, siret in session.execute(select(Company.id, Company.siret))
            }
            stages = [c.stage for c in session.scalars(select(Clause))]
            rows = session.execute(
                select(OutboxMessage.key, OutboxMessage.recipients).where(
                    OutboxMessage.key.startswith("reminder:")
                )
            ).all()
    finally:
        app.close()
    steps: dict[str, set[str]] = defaultdict(set)
    escalated_to: dict[str, list[str]] = defaultdict(list)
    for key, recipients in rows:
        _, _clause, company, _month, step = key.split(":")
        siret = str(names[int(company)])
        steps[siret].add(step)
        if step == "escalation":
            escalated_to[siret].append(recipients)
    steps["stages"] = set(stages)
    return steps, escalated_to


def test_each_company_is_reminded_as_far_as_its_habit_takes_it(demo: tuple[Path, str]) -> None:
    steps, escalated_to = _steps_by_company(demo[0])
    assert steps["41234567800012"] == {"call"}  # Bâtiments Gascons, on time
    assert steps["38765432100018"] == {"call"}  # Propreté du Val, on time
    assert steps["79123456700018"] == {"call"}  # Travaux Publics du Savès, on time
    assert steps["44113478900011"] == {"call", "reminder_1"}  # after the first reminder
    assert steps["52098761300012"] == {"call", "reminder_1", "reminder_2"}  # after the second
    never = "83345678900019"  # Gascogne Insertion Bâtiment never declares
    assert steps[never] == {"call", "reminder_1", "reminder_2", "escalation"}
    assert set(escalated_to) == {never}
    assert all("helene.duprat@example.org" in r for r in escalated_to[never])


def test_one_lot_is_abandoned_and_one_is_closed_after_its_final_report(
    demo: tuple[Path, str],
) -> None:
    steps, _ = _steps_by_company(demo[0])
    assert {"abandoned", "closed", "execution", "follow_up", "award"} <= steps["stages"]
    folder = demo[0]
    assert any((folder / "var" / "mail" / "notice_final_report").glob("*.eml"))
    assert any((folder / "var" / "mail" / "notice_abandoned").glob("*.eml"))


def test_the_reported_lot_counts_its_outcomes_in_the_report_and_the_last_summary(
    demo: tuple[Path, str],
) -> None:
    folder, output = demo
    settings = Settings(database_url=f"sqlite:///{folder / 'var' / 'demo.db'}")
    app = bootstrap(settings)
    try:
        with app.transaction() as session:
            outcomes = session.execute(
                select(Market.reference, Outcome.group)
                .join(Clause, Clause.id == Outcome.clause_id)
                .join(Market, Market.id == Clause.market_id)
                .order_by(Outcome.id)
            ).all()
    finally:
        app.close()
    assert sorted(tuple(row) for row in outcomes) == [
        ("2026-AC-03", "lasting_job"),
        ("2026-V1", "lasting_job"),
        ("2026-V1", "positive_exit"),
    ]
    [report] = (folder / "var" / "mail" / "notice_final_report").glob("*.eml")
    assert "Sorties des participants (2 connues)" in report.read_text()
    summary = output.split("Sorties par groupe", 1)[1]
    assert "Emploi durable" in summary.split("Clauses par étape", 1)[0]
