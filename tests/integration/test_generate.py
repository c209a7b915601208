"""``bench/generate.py``: a synthetic territory the service accepts, the same for the same seed.

The generator runs as people run it (its own process), then the real ``clauses`` commands run on
what it wrote: the audit finds nothing wrong, a pass at the territory's instant has nothing to do,
the pass of the next month's first morning calls every company due and sends the summary, whose
figures are the rows'. The same seed gives the same rows, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from tests.text import squash
from workflow.adapters.db import make_engine
from workflow.adapters.orm import (
    AwardParty,
    Base,
    Clause,
    Declaration,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.adapters.templates import french_hours
from workflow.services.outbox import OutboxState

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "bench" / "generate.py"
PARIS = ZoneInfo("Europe/Paris")
#: The generator's default instant, and the first call time of the month after it.
AS_OF = datetime(2026, 11, 20, 10, 30, tzinfo=PARIS)
MONTH_START = datetime(2026, 12, 1, 9, 5, tzinfo=PARIS)
CALLING = ("execution", "follow_up")


def _environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSES_")}
    env.update(
        CLAUSES_DATABASE_URL=database_url,
        CLAUSES_CONFIG="",
        CLAUSES_MAIL_DIR=str(tmp_path / "mail"),
    )
    return env


def generate(
    database_url: str, tmp_path: Path, *, lots: int, seed: int
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(GENERATE), "--lots", str(lots), "--seed", str(seed),
         "--database-url", database_url],
        env=_environment(database_url, tmp_path), cwd=tmp_path, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def clauses(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "clauses"
    return subprocess.run(
        [str(command), *args], env=_environment(database_url, tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def due_at(engine: Engine, moment: datetime) -> tuple[int, int, int]:
    """What the service should do at ``moment``, counted on the rows themselves: parties whose
    next call is due, ladder steps due, emails waiting for a retry by then."""
    with engine.connect() as connection:
        parties = connection.scalar(
            select(func.count())
            .select_from(AwardParty)
            .join(Clause, Clause.id == AwardParty.clause_id)
            .where(AwardParty.next_call_at <= moment, Clause.stage.in_(CALLING))
        )
        steps = connection.scalar(
            select(func.count())
            .select_from(DeclarationLadder)
            .join(Clause, Clause.id == DeclarationLadder.clause_id)
            .where(
                DeclarationLadder.next_step_at <= moment,
                DeclarationLadder.declared_at.is_(None),
                Clause.stage.in_(CALLING),
            )
        )
        retries = connection.scalar(
            select(func.count()).where(
                OutboxMessage.state == OutboxState.PENDING.value,
                OutboxMessage.next_attempt_at <= moment,
            )
        )
    return int(parties or 0), int(steps or 0), int(retries or 0)


@pytest.mark.slow
def test_the_service_accepts_a_generated_territory(database_url: str, tmp_path: Path) -> None:
    generate(database_url, tmp_path, lots=1000, seed=3)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            states: dict[str, int] = dict(
                connection.execute(text("SELECT state, count(*) FROM outbox GROUP BY state")).all()
            )
            stages = dict(
                connection.execute(select(Clause.stage, func.count()).group_by(Clause.stage)).all()
            )
        # Every state a row rests in, every stage of the pipeline.
        assert set(states) == {s.value for s in OutboxState} - {OutboxState.SENDING.value}
        assert set(stages) == {
            "identification", "drafting", "award", "execution", "suspended", "follow_up",
            "closed", "abandoned",
        }  # fmt: skip
        assert sum(stages.values()) == 1000

        with engine.connect() as connection:
            declarations = connection.scalar(select(func.count()).select_from(Declaration))
            # The receipts that left or will: one withdrawn before it left told nobody anything
            # and is not checked (the generator writes rows in every state, cancelled too).
            withdrawn = connection.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.kind == "declaration_receipt",
                    OutboxMessage.state == OutboxState.CANCELLED.value,
                )
            )
        audit = clauses(database_url, tmp_path, "audit", "verify", "--json")
        assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr
        found = json.loads(audit.stdout)
        assert found["conforme"] is True
        assert (found["clauses"], found["declarations"]) == (1000, declarations)
        # One receipt per declaration, each checked unless withdrawn before it left.
        assert withdrawn < declarations
        assert found["accuses"] == declarations - withdrawn

        # At the territory's instant nothing is due: the pass writes and sends nothing.
        assert due_at(engine, AS_OF) == (0, 0, 0)
        idle = clauses(database_url, tmp_path, "tick", "--now", "2026-11-20T10:31", "--json")
        assert idle.returncode == 0, idle.stderr
        report = json.loads(idle.stdout)
        counts = {k: v for k, v in report.items() if k not in ("instant", "envoi", "interrompu")}
        assert counts and set(counts.values()) == {0}, report
        assert report["envoi"] is None

        # The first morning of December: November's call to every company due, the steps due,
        # the digest and October's summaries, all sent.
        parties, steps, retries = due_at(engine, MONTH_START)
        assert parties > 300
        first = clauses(database_url, tmp_path, "tick", "--now", "2026-12-01T09:05", "--json")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert report["mois_ouverts"] == parties
        assert report["appels"] == parties
        assert report["rappels"] + report["alertes"] == steps
        assert report["recapitulatifs"] == 1
        assert report["syntheses"] >= 2  # the facilitator's and at least one buyer's
        queued = parties + steps + report["recapitulatifs"] + report["syntheses"]
        assert report["envoi"]["envoyes"] == queued + retries

        # The summary just written says what the rows say, and so does the command.
        after = clauses(database_url, tmp_path, "audit", "verify", "--json")
        assert after.returncode == 0, after.stdout[-3000:] + after.stderr
        found = json.loads(after.stdout)
        assert found["conforme"] is True
        assert found["syntheses"] == report["syntheses"]
        assert "2026-10" in found["synthese"]
        with engine.connect() as connection:
            hours = connection.scalar(
                select(func.sum(Declaration.total_hours)).where(
                    Declaration.month == date(2026, 10, 1)
                )
            )
        summary = clauses(database_url, tmp_path, "summary", "--month", "2026-10")
        assert summary.returncode == 0, summary.stderr
        month = next(
            line
            for line in summary.stdout.splitlines()
            if line.startswith("- Heures réalisées dans le mois")
        )
        assert month.split(":", 1)[1].strip() == french_hours(Decimal(hours or 0))
    finally:
        engine.dispose()


def dump_digest(database_url: str) -> str:
    """Every row of every table, read through the project's column types (so that SQLite's
    text and PostgreSQL's timestamps compare as the same values), hashed."""
    engine = make_engine(database_url)
    digest = hashlib.sha256()
    try:
        with engine.connect() as connection:
            for table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
                order = list(table.primary_key.columns)
                for row in connection.execute(select(table).order_by(*order)):
                    digest.update(repr((table.name, tuple(row))).encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def schema_of(database_url: str) -> list[tuple[str, ...]]:
    """PostgreSQL's own words for every constraint and index of the schema."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            constraints = connection.execute(
                text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                    " FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
                    " ORDER BY 1, 2"
                )
            ).all()
            indexes = connection.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE schemaname = current_schema() ORDER BY 1"
                )
            ).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in [*constraints, *indexes]]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_rows(database_url: str, tmp_path: Path) -> None:
    """Once on SQLite against another SQLite file, once on PostgreSQL against SQLite: the same
    rows whatever the database, and PostgreSQL's schema put back as its migration made it."""
    before = schema_of(database_url) if database_url.startswith("postgres") else None
    generate(database_url, tmp_path, lots=60, seed=7)
    twin = f"sqlite:///{tmp_path / 'twin.db'}"
    generate(twin, tmp_path, lots=60, seed=7)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    generate(other, tmp_path, lots=60, seed=8)

    same = dump_digest(database_url)
    assert same == dump_digest(twin)
    assert same != dump_digest(other)
    if before is not None:
        assert schema_of(database_url) == before


def test_a_territory_is_never_loaded_over_another(sqlite_url: str, tmp_path: Path) -> None:
    generate(sqlite_url, tmp_path, lots=5, seed=1)
    again = subprocess.run(
        [sys.executable, str(GENERATE), "--lots", "5", "--database-url", sqlite_url],
        env=_environment(sqlite_url, tmp_path), cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert again.returncode != 0
    assert "contient déjà des clauses" in squash(again.stderr)
