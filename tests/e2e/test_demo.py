"""``clauses demo`` (what ``make demo`` runs): 14 simulated months through the real code path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from workflow.adapters.orm import Clause, Company, Market, OutboxMessage, Outcome
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.settings import Settings

# One demo run (half a minute) serves the whole module: under xdist its tests stay on one worker.
pytestmark = [pytest.mark.slow]


#: What a facilitator's real folders hold before the demo runs next to them.
REAL_FILES = {
    "var/mail/notice_awarded/real.eml": "un vrai courriel, à garder",
    "var/clauses.db": "la vraie base, à garder",
    "var/reports/synthese-2026-03.html": "un vrai rapport",
}


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


# Session-wide, as the privacy scan's year: built once even when its tests come in batches.
@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    for name, text in REAL_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    # A previous demo's leftovers: the demo starts its own place afresh.
    (folder / "var" / "demo" / "mail" / "old").mkdir(parents=True)
    (folder / "var" / "demo" / "mail" / "old" / "stale.eml").write_text("démonstration d'avant")
    previous = Path.cwd()
    try:
        os.chdir(folder)
        # The real defaults are what CLAUSES_DATABASE_URL and CLAUSES_MAIL_DIR say: point them at
        # the real folders, as a facilitator's settings would.
        result = CliRunner().invoke(
            cli,
            ["demo"],
            env={
                "COLUMNS": "120",
                "CLAUSES_DATABASE_URL": "sqlite:///var/clauses.db",
                "CLAUSES_MAIL_DIR": "var/mail",
            },
        )
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    return folder, result.output


def test_it_never_touches_the_real_database_and_mail_folders(demo: tuple[Path, str]) -> None:
    folder, output = demo
    files = _files(folder)
    outside = {name for name in files if not name.startswith("var/demo/")}
    assert outside == set(REAL_FILES)
    for name, text in REAL_FILES.items():
        assert files[name] == text.encode()
    assert not (folder / "var" / "demo" / "mail" / "old").exists()
    assert (folder / "var" / "demo" / "clauses.db").is_file()
    assert "var/demo/" in output and "ne sont pas touchés" in output


def test_it_ends_with_commands_that_show_what_it_made(demo: tuple[Path, str]) -> None:
    folder, output = demo
    ending = output.rsplit("Pour explorer la démonstration", 1)[1]
    commands = [line.strip() for line in ending.splitlines() if line.startswith("    ")]
    assert len(commands) == 3
    listing, mail, site = commands
    assert listing == "CLAUSES_DATABASE_URL=sqlite:///var/demo/clauses.db clauses clause list"
    # The site as on the demo's last day (tests/integration/test_web_now.py runs that option).
    assert site == (
        "CLAUSES_DATABASE_URL=sqlite:///var/demo/clauses.db clauses web --now 2027-03-31T18:00"
    )
    # Run as a person would paste them, in the folder where the demo ran, with the installed
    # ``clauses`` on the PATH and no other setting.
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "200",
        "HOME": str(folder),
    }
    clauses = subprocess.run(
        listing, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert clauses.returncode == 0, clauses.stderr
    for market in ("2026-014", "2026-AC-03", "2026-V1"):
        assert market in clauses.stdout
    assert "clôturée" in clauses.stdout and "abandonnée" in clauses.stdout
    listed = subprocess.run(
        mail, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    shown = set(listed.stdout.split())
    written = {p.name for p in (folder / "var" / "demo" / "mail").rglob("*.eml")}
    assert written and written <= shown
    # The real mail folder was never listed nor written to.
    assert "real.eml" not in shown


def test_it_says_where_the_emails_are(demo: tuple[Path, str]) -> None:
    folder, output = demo
    assert "Les courriels sont dans var/demo/mail/, un dossier par type" in output
    for kind in ("declaration_call", "declaration_reminder", "declaration_escalation"):
        assert f"var/demo/mail/{kind}/" in output
        assert any((folder / "var" / "demo" / "mail" / kind).glob("*.eml"))
    assert "Dernière synthèse mensuelle envoyée, février 2027, telle que reçue le" in output
    assert "Heures par modalité de réalisation" in output


def _steps_by_company(folder: Path) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    settings = Settings(database_url=f"sqlite:///{folder / 'var' / 'demo' / 'clauses.db'}")
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
    assert any((folder / "var" / "demo" / "mail" / "notice_final_report").glob("*.eml"))
    assert any((folder / "var" / "demo" / "mail" / "notice_abandoned").glob("*.eml"))


def test_the_reported_lot_counts_its_outcomes_in_the_report_and_the_last_summary(
    demo: tuple[Path, str],
) -> None:
    folder, output = demo
    settings = Settings(database_url=f"sqlite:///{folder / 'var' / 'demo' / 'clauses.db'}")
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
    [report] = (folder / "var" / "demo" / "mail" / "notice_final_report").glob("*.eml")
    assert "Sorties des participants (2 connues)" in report.read_text()
    summary = output.split("Sorties par groupe", 1)[1]
    assert "Emploi durable" in summary.split("Clauses par étape", 1)[0]
