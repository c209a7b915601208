"""Benchmark (not a test): the month-start call burst, against a hand-written ``INSERT … SELECT``.

    .venv/bin/python bench/generate.py --lots 10000 --database-url URL
    .venv/bin/python bench/bench_call_burst.py --database-url URL [--runs 3] [--json]

Target (issue 12): the burst at most 2× a hand-written ``INSERT … SELECT`` producing the same rows.

The territory is one ``bench/generate.py`` wrote (its instant is 20 November 2026); the next call
of every company in execution is due on the first working day of December, for November. Each
run works on a fresh copy of that territory (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE``
on PostgreSQL; not timed), alternately:

- **the service**: what the pass does at the call instant, ``reminders.open_due_ladders`` (a
  ladder for each due month, each party moved to its next month) then
  ``reminders.climb_due_ladders`` (each call rendered from its templates and queued in the
  outbox, its ladder moved to the reminder), through the real ``App``;
- **the baseline**: the same rows written by three set statements on a bare connection, in one
  transaction: ``INSERT INTO declaration_ladders … SELECT`` from the due parties, ``UPDATE
  award_parties`` to the next month, ``INSERT INTO outbox … SELECT`` one call per new ladder to its
  correspondent, with a subject and bodies of the size the service's calls have (a set statement
  cannot render a template: that is the cost the ratio shows).

Before timing, each run's rows are compared: as many ladders and as many calls on both sides,
else the bench stops (the baseline would not be doing the same work).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the checkout's root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    cast,
    create_engine,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from workflow.adapters.db import make_engine, normalise_url
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    Correspondent,
    DeclarationLadder,
    OutboxMessage,
)
from workflow.adapters.types import UTCDateTime
from workflow.bootstrap import bootstrap
from workflow.services.reminders import (
    CALLING_STAGES,
    LadderReport,
    climb_due_ladders,
    open_due_ladders,
)
from workflow.settings import load_settings

TARGET_RATIO = 2.0
#: The call instant of the generated territory: December's first working day, 09:00 in Paris.
CALL_AT = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)
#: What the baseline writes where the service computes per lot (same types, same sizes).
DUE_ON = date(2026, 12, 14)
REMINDER_AT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
FOLLOWING_MONTH = date(2026, 12, 1)
FOLLOWING_CALL_AT = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)


@contextmanager
def territory_copy(database_url: str) -> Iterator[str]:
    """A throwaway copy of the territory, dropped afterwards."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite":
        assert url.database
        with tempfile.TemporaryDirectory(prefix="bench-burst-") as folder:
            copy = Path(folder) / "territory.db"
            shutil.copy(url.database, copy)
            yield f"sqlite:///{copy}"
        return
    name = f"burst_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def counts(database_url: str) -> dict[str, Any]:
    """What a burst leaves: ladders opened, calls queued, their sizes."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            ladders = connection.scalar(
                select(func.count()).where(DeclarationLadder.called_at == CALL_AT)
            )
            calls = connection.execute(
                select(
                    func.count(),
                    func.avg(func.length(OutboxMessage.body_text)),
                    func.avg(func.length(OutboxMessage.body_html)),
                    func.avg(func.length(OutboxMessage.subject)),
                ).where(
                    OutboxMessage.kind == "declaration_call",
                    OutboxMessage.created_at == CALL_AT,
                )
            ).one()
            parties = connection.scalar(
                select(func.count()).where(AwardParty.next_call_at == FOLLOWING_CALL_AT)
            )
    finally:
        engine.dispose()
    return {
        "ladders": int(ladders or 0),
        "calls": int(calls[0] or 0),
        "text_chars": int(calls[1] or 0),
        "html_chars": int(calls[2] or 0),
        "subject_chars": int(calls[3] or 0),
        "parties_moved": int(parties or 0),
    }


def run_service(database_url: str) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-burst-mail-") as mail_dir:
        settings = load_settings(
            database_url=database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        app = bootstrap(settings, clock=lambda: CALL_AT)
        try:
            report = LadderReport()
            started = time.perf_counter()
            open_due_ladders(app, CALL_AT, report)
            climb_due_ladders(app, CALL_AT, report)
            return time.perf_counter() - started
        finally:
            app.close()


def run_baseline(database_url: str, sizes: dict[str, int]) -> float:
    """The same rows by three set statements (see the module's docstring)."""
    engine = make_engine(database_url)
    ladders, parties = DeclarationLadder.__table__, AwardParty.__table__
    outbox, people = OutboxMessage.__table__, Correspondent.__table__
    when = UTCDateTime()
    due = and_(
        parties.c.next_call_at <= literal(CALL_AT, when),
        exists().where(
            Clause.__table__.c.id == parties.c.clause_id,
            Clause.__table__.c.stage.in_(CALLING_STAGES),
        ),
    )
    sqlite = engine.dialect.name == "sqlite"
    token = func.hex(func.randomblob(8)) if sqlite else func.md5(cast(func.random(), String))
    subject = "S" * sizes["subject_chars"]
    body_text = "T" * sizes["text_chars"]
    body_html = "H" * sizes["html_chars"]
    try:
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(
                insert(ladders).from_select(
                    [
                        ladders.c.clause_id,
                        ladders.c.company_id,
                        ladders.c.month,
                        ladders.c.due_on,
                        ladders.c.next_step,
                        ladders.c.next_step_at,
                        ladders.c.called_at,
                        ladders.c.stepped_at,
                    ],
                    select(
                        parties.c.clause_id,
                        parties.c.company_id,
                        parties.c.next_call_month,
                        literal(DUE_ON, Date),
                        literal("reminder"),
                        literal(REMINDER_AT, when),
                        literal(CALL_AT, when),
                        literal(CALL_AT, when),
                    ).where(due),
                )
            )
            connection.execute(
                update(parties)
                .where(due)
                .values(
                    next_call_month=literal(FOLLOWING_MONTH, Date),
                    next_call_at=literal(FOLLOWING_CALL_AT, when),
                )
            )
            connection.execute(
                insert(outbox).from_select(
                    [
                        outbox.c.key,
                        outbox.c.kind,
                        outbox.c.clause_id,
                        outbox.c.recipients,
                        outbox.c.subject,
                        outbox.c.body_text,
                        outbox.c.body_html,
                        outbox.c.state,
                        outbox.c.attempts,
                        outbox.c.next_attempt_at,
                        outbox.c.created_at,
                        outbox.c.message_token,
                    ],
                    select(
                        literal("call:") + cast(ladders.c.id, String),
                        literal("declaration_call"),
                        ladders.c.clause_id,
                        people.c.name + literal(" <") + people.c.email + literal(">"),
                        literal(subject),
                        literal(body_text),
                        literal(body_html),
                        literal("pending"),
                        literal(0, Integer),
                        literal(CALL_AT, when),
                        literal(CALL_AT, when),
                        token,
                    )
                    .select_from(
                        ladders.join(
                            parties,
                            and_(
                                parties.c.clause_id == ladders.c.clause_id,
                                parties.c.company_id == ladders.c.company_id,
                            ),
                        ).join(people, people.c.id == parties.c.correspondent_id)
                    )
                    .where(ladders.c.called_at == literal(CALL_AT, when)),
                )
            )
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rafale d'appels du début de mois, contre un INSERT … SELECT écrit à la main."
    )
    parser.add_argument("--database-url", required=True, help="un territoire de generate.py")
    parser.add_argument("--runs", type=int, default=3, help="mesures de chaque côté (médiane)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    service_s: list[float] = []
    baseline_s: list[float] = []
    found: dict[str, Any] = {}
    for _ in range(args.runs):
        with territory_copy(args.database_url) as copy:
            service_s.append(run_service(copy))
            service = counts(copy)
        with territory_copy(args.database_url) as copy:
            baseline_s.append(run_baseline(copy, service))
            baseline = counts(copy)
        if (service["ladders"], service["calls"]) != (baseline["ladders"], baseline["calls"]):
            print(
                "Le service et la référence n'écrivent pas les mêmes lignes : "
                f"service {service}, référence {baseline}.",
                file=sys.stderr,
            )
            return 1
        found = service
    service_median = statistics.median(service_s)
    baseline_median = statistics.median(baseline_s)
    figures = {
        **found,
        "runs": args.runs,
        "service_s": service_s,
        "baseline_s": baseline_s,
        "service_median_s": service_median,
        "baseline_median_s": baseline_median,
        "ratio": service_median / baseline_median,
        "calls_per_s": found["calls"] / service_median,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "target_ratio": TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"Rafale du {CALL_AT:%d/%m/%Y} : {found['ladders']} mois ouverts, {found['calls']} appels "
        f"(texte {found['text_chars']} car., HTML {found['html_chars']} car. en moyenne)."
    )
    print(
        f"  service {service_median:.2f} s ({figures['calls_per_s']:.0f} appels/s), "
        f"INSERT … SELECT {baseline_median:.3f} s : rapport {figures['ratio']:.1f} "
        f"(cible ≤ {TARGET_RATIO:g}) ; médianes de {args.runs} ; "
        f"pic mémoire {figures['peak_rss_mb']:.0f} Mo."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
