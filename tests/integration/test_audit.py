"""``clauses audit verify`` after a restore: a whole simulated year verifies clean, and each kind of
damage a bad restore or a hand edit leaves is reported, in French, on the line that names it.

The demo (``run_demo``: 14 months through the real passes, every kind of email) is lived once per
backend; each test works on its own copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL), damages it with plain SQL as a person or a partial restore would, and audits it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Engine, make_url

from tests.conftest import PG_ENV, make_settings
from workflow.adapters.db import make_engine, normalise_url, upgrade
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    ClauseHistory,
    Declaration,
    DeclarationLadder,
    DeclarationLine,
    OutboxMessage,
    Outcome,
)
from workflow.adapters.reports import figure_lines
from workflow.bootstrap import App, bootstrap
from workflow.services.audit import (
    CHECK_HISTORY,
    CHECK_OUTBOX,
    CHECK_SUMMARY,
    AuditReport,
    printed_figures,
    verify,
)
from workflow.services.reminder_emails import key_months
from workflow.services.summaries import compile_for


def _pg_admin() -> tuple[str, Engine]:
    base = normalise_url(os.environ[PG_ENV])
    return base, create_engine(base, isolation_level="AUTOCOMMIT")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The lived demo, as (backend, where): a SQLite file, or a PostgreSQL database name."""
    folder = tmp_path_factory.mktemp("audit-demo")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'demo.db'}"
        name = str(folder / "demo.db")
    else:
        request.getfixturevalue("postgres_url")  # skips without PostgreSQL, as the others do
        base, admin = _pg_admin()
        name = f"clauses_audit_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap(make_settings(folder, url, mail_transport="file"))
    from workflow.services.demo import run_demo

    run_demo(app)
    app.close()  # a template database takes no connection while it is copied
    yield request.param, name
    if request.param == "postgres":
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def restored(demo_source: tuple[str, str], tmp_path: Path) -> Iterator[App]:
    """A fresh copy of the demo, as a restore gives it back."""
    backend, source = demo_source
    if backend == "sqlite":
        shutil.copy(source, tmp_path / "restored.db")
        url = f"sqlite:///{tmp_path / 'restored.db'}"
        copy = None
    else:
        base, admin = _pg_admin()
        copy = f"clauses_restored_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"'))
        url = make_url(base).set(database=copy).render_as_string(hide_password=False)
    app = bootstrap(make_settings(tmp_path, url, mail_transport="file"))
    yield app
    app.close()
    if copy is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()


def hours(printed: str) -> Decimal:
    """``1\u202f916,50\u00a0h`` -> 1916.50."""
    digits = printed.removesuffix("h").replace("\u202f", "").replace("\u00a0", "")
    return Decimal(digits.replace(" ", "").replace(",", "."))


def lines(report: AuditReport, check: str | None = None) -> list[str]:
    return [f.line for f in report.findings if check is None or f.check == check]


def clause_at(app: App, stage: str) -> int:
    with app.transaction() as session:
        found = session.scalars(select(Clause.id).where(Clause.stage == stage).order_by(Clause.id))
        return found.first() or pytest.fail(f"the demo has no clause at {stage}")


# --- Clean ---------------------------------------------------------------------------------------


def test_a_whole_simulated_year_verifies_clean(restored: App) -> None:
    report = verify(restored)
    assert report.findings == ()
    with restored.transaction() as session:
        assert report.clauses == session.scalar(select(func.count()).select_from(Clause))
        assert report.messages == session.scalar(select(func.count()).select_from(OutboxMessage))
        kinds = set(session.scalars(select(OutboxMessage.kind)))
    # Every kind of key was read, not an outbox of one kind: the check is not vacuous.
    assert {"declaration_call", "declaration_reminder", "declaration_escalation"} <= kinds
    assert {"company_welcome", "declaration_receipt", "monthly_summary"} <= kinds
    assert any(k.startswith("notice_") for k in kinds) and "facilitator_digest" in kinds
    assert report.summary_key == "summary:2027-02:facilitator"


# --- Histories -----------------------------------------------------------------------------------


def test_a_history_row_lost_from_the_middle_breaks_the_chain(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        award = session.scalars(
            select(ClauseHistory).where(
                ClauseHistory.clause_id == clause_id, ClauseHistory.event == "award"
            )
        ).one()
        lost = award.id
        following = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id, ClauseHistory.id > lost)
            .order_by(ClauseHistory.at, ClauseHistory.id)
        ).first()
        assert following is not None
        broken = (following.id, following.event, following.at)
        session.execute(delete(ClauseHistory).where(ClauseHistory.id == lost))
    report = verify(restored)
    row_id, event, at = broken
    assert lines(report, CHECK_HISTORY) == [
        f"Clause n° {clause_id} : ligne d'historique n° {row_id} ({event}, {at:%d/%m/%Y %H:%M}) : "
        "part de l'étape « attribution » alors que la clause était à « calibrage et rédaction » "
        "(une ligne manque ou a été changée)"
    ]
    # The buyer's notice of that step named the lost row: it has lost its cause too.
    outbox = lines(report, CHECK_OUTBOX)
    assert outbox and all(f"la ligne d'historique n° {lost} n'existe pas" in o for o in outbox)


def test_a_stage_changed_by_hand_is_not_where_the_history_ends(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        session.execute(update(Clause).where(Clause.id == clause_id).values(stage="closed"))
    report = verify(restored)
    assert lines(report, CHECK_HISTORY) == [
        f"Clause n° {clause_id} : l'historique finit à l'étape « mise en œuvre » mais la "
        "clause est à « clôturée »"
    ]


# --- Outbox --------------------------------------------------------------------------------------


def test_messages_of_a_deleted_clause_are_reported(restored: App) -> None:
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        # A partial restore: the clause and all it owns are gone, its outbox rows are not.
        declarations = select(Declaration.id).where(Declaration.clause_id == clause_id)
        session.execute(
            delete(DeclarationLine).where(DeclarationLine.declaration_id.in_(declarations))
        )
        for table in (Declaration, DeclarationLadder, AwardParty, ClauseHistory):
            session.execute(delete(table).where(table.clause_id == clause_id))
        session.execute(
            update(Outcome).where(Outcome.clause_id == clause_id).values(clause_id=None)
        )
        orphans = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.clause_id == clause_id)
        ).all()
        session.execute(
            update(OutboxMessage).where(OutboxMessage.clause_id == clause_id).values(clause_id=None)
        )
        session.execute(delete(Clause).where(Clause.id == clause_id))
    assert orphans
    report = verify(restored)
    outbox = [f for f in report.findings if f.check == CHECK_OUTBOX]
    missing = f"la clause n° {clause_id} n'existe pas"
    reported = {int(f.subject.split()[2]) for f in outbox if f.problem == missing}
    # Each of its messages whose key names it is reported (receipts name the declaration).
    with restored.transaction() as session:
        naming = {
            i
            for i, key in session.execute(
                select(OutboxMessage.id, OutboxMessage.key).where(OutboxMessage.id.in_(orphans))
            )
            if not key.startswith("receipt:")
        }
    assert reported == naming and naming
    assert all(f.line.startswith(f"Courriel n° {f.subject.split()[2]} (") for f in outbox)


def test_a_reminder_naming_a_month_the_ladder_no_longer_has(restored: App) -> None:
    with restored.transaction() as session:
        row_id, key = session.execute(
            select(OutboxMessage.id, OutboxMessage.key)
            .where(OutboxMessage.kind == "declaration_call", OutboxMessage.state == "sent")
            .order_by(OutboxMessage.id)
        ).first() or pytest.fail("no call sent in the demo")
        parsed = key_months(key)
        assert parsed is not None
        month = parsed.months[0]
        session.execute(
            delete(DeclarationLadder).where(
                DeclarationLadder.clause_id == parsed.clause_id,
                DeclarationLadder.company_id == parsed.company_id,
                DeclarationLadder.month == month,
            )
        )
        others = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.key.like("reminder:%"))
        ).all()
    report = verify(restored)
    expected = (
        f"Courriel n° {row_id} (sent, clé {key}) : aucun suivi des déclarations de "
        f"{month:%m/%Y} pour l'entreprise n° {parsed.company_id} sur la clause n° "
        f"{parsed.clause_id}"
    )
    assert expected in lines(report, CHECK_OUTBOX)
    # Only the emails of that month's ladder are concerned (its call, reminders, alert).
    for finding in report.findings:
        assert finding.check == CHECK_OUTBOX and f"de {month:%m/%Y} pour" in finding.problem
    assert len(report.findings) < len(others)


def test_a_message_whose_kind_disagrees_with_its_key(restored: App) -> None:
    with restored.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "declaration_receipt")
        ).first()
        assert row is not None
        row.kind, key, row_id = "company_welcome", row.key, row.id
    assert lines(verify(restored)) == [
        f"Courriel n° {row_id} (sent, clé {key}) : type « company_welcome » alors que la clé "
        "dit « declaration_receipt »"
    ]


# --- The last summary ----------------------------------------------------------------------------


def test_hours_changed_after_the_summary_are_reported(restored: App) -> None:
    with restored.transaction() as session:
        summary = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key == "summary:2027-02:facilitator")
        ).one()
        written, row_id, body = summary.created_at, summary.id, summary.body_text
        declaration = session.scalars(
            select(Declaration)
            .where(Declaration.month == date(2027, 2, 1), Declaration.recorded_at <= written)
            .order_by(Declaration.id)
        ).first()
        assert declaration is not None
        declaration.total_hours += Decimal("10")
    before = printed_figures(body)["Heures réalisées dans le mois"]
    now = dict(figure_lines(compile_for(restored, date(2027, 2, 1), now=written)))
    # The email said the truth when it left; the rows now say 10 h more.
    assert hours(now["Heures réalisées dans le mois"]) == hours(before) + 10
    report = verify(restored)
    found = lines(report, CHECK_SUMMARY)
    assert (
        f"Synthèse 2027-02 (courriel n° {row_id}) : « Heures réalisées dans le mois » disait "
        f"« {before} », les données disent maintenant « {now['Heures réalisées dans le mois']} »"
    ) in found
    assert any("« Heures cumulées depuis le début »" in line for line in found)
    assert lines(report) == found  # nothing else is wrong


# --- The command ---------------------------------------------------------------------------------


def run_command(app: App, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSES_")}
    env.update(CLAUSES_DATABASE_URL=app.settings.database_url, CLAUSES_CONFIG="")
    clauses = Path(sys.executable).parent / "clauses"
    return subprocess.run(
        [str(clauses), "audit", "verify", *args],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_command_exits_0_when_clean_and_1_with_a_line_per_problem(
    restored: App, tmp_path: Path
) -> None:
    clean = run_command(restored, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("Aucun problème (8 clauses, ")
    clause_id = clause_at(restored, "execution")
    with restored.transaction() as session:
        session.execute(update(Clause).where(Clause.id == clause_id).values(stage="follow_up"))
    damaged = run_command(restored, tmp_path)
    assert damaged.returncode == 1, damaged.stderr
    assert damaged.stdout.splitlines() == [
        f"Clause n° {clause_id} : l'historique finit à l'étape « mise en œuvre » mais la clause "
        "est à « suivi et bilan »",
        damaged.stdout.splitlines()[-1],
    ]
    assert damaged.stdout.splitlines()[-1].startswith("1 problème trouvé (8 clauses, ")
    as_json = run_command(restored, tmp_path, "--json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["conforme"] is False and data["synthese"] == "summary:2027-02:facilitator"
    assert data["problemes"] == [
        {
            "controle": CHECK_HISTORY,
            "objet": f"Clause n° {clause_id}",
            "probleme": "l'historique finit à l'étape « mise en œuvre » mais la clause est à "
            "« suivi et bilan »",
        }
    ]
