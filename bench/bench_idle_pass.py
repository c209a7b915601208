"""Benchmark (not a test): a pass of the service with nothing due, against its floor, on a territory.

    .venv/bin/python bench/generate.py --lots 10000 --database-url URL
    .venv/bin/python bench/bench_idle_pass.py --database-url URL [--runs 21] [--json]

Target (issue 12): flat in the size of the territory, and under 50 ms.

The territory is one ``bench/generate.py`` wrote; at its instant (``--as-of``, the generator's
default unless told) nothing is due: no call, no ladder step, no digest, no summary, no email to
send. The bench first checks that a pass there queues and sends nothing, then times, in this one
process, alternately (so that a change of load on the machine touches both alike):

- **the pass**: ``ticks.run_pass(app, now)``, everything the service does once a minute (arm new
  parties, open due months, climb due ladders, digest, summaries, the outbox check), through the
  real ``App`` (its engine, its sessions, the file transport);
- **the floor**: what a pass cannot avoid: as many short transactions as the pass opens (six),
  through the same sessions, each asking one indexed question written by hand (a party with a
  call due, a ladder step due, today's digest done, the last summary done, an email due, a claim
  whose lease is over). It costs the same whatever the size of the territory, so the ratio
  pass / floor shows any part of the pass that grows with it. A bare ``SELECT 1`` transaction
  on the driver's own connection is printed beside it: the round trip itself.

Medians of ``--runs`` runs after three warm-up runs of each; the steps of the pass are also
timed one by one (medians), to say where the time goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (
    None,
    "",
):  # run as a script: the checkout's root holds ``bench`` and ``workflow``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, or_, select

from bench.generate import DEFAULT_AS_OF, parse_as_of
from workflow.adapters.orm import (
    AwardParty,
    Clause,
    DeclarationLadder,
    OutboxMessage,
    PeriodicRun,
)
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import local_date
from workflow.services import digest, summaries, ticks
from workflow.services.reminders import (
    LadderReport,
    arm_daily,
    arm_parties,
    climb_due_ladders,
    open_due_ladders,
)
from workflow.settings import load_settings

TARGET_MS = 50.0
WARMUP = 3


def floor_questions(now: datetime, today: str) -> list[Any]:
    """The indexed questions of a pass with nothing due, one per transaction (see the module's
    docstring)."""
    return [
        select(AwardParty.id).where(AwardParty.next_call_at <= now).limit(1),
        select(DeclarationLadder.id)
        .where(DeclarationLadder.next_step_at <= now, DeclarationLadder.declared_at.is_(None))
        .limit(1),
        select(PeriodicRun.done_at).where(
            PeriodicRun.job == digest.JOB, PeriodicRun.period == today
        ),
        select(func.max(PeriodicRun.period)).where(PeriodicRun.job == summaries.JOB),
        select(OutboxMessage.id)
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
        .limit(1),
        select(OutboxMessage.id)
        .where(
            OutboxMessage.state == "sending",
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        )
        .limit(1),
    ]


class Floor:
    """The floor's transactions, through the service's own sessions; and one ``SELECT 1`` on
    the driver's connection, the round trip itself."""

    def __init__(self, app: App, now: datetime) -> None:
        self.app = app
        self.questions = floor_questions(now, local_date(now, app.settings.zone).isoformat())
        self.raw = app.engine.raw_connection()
        self.connection: Any = self.raw.dbapi_connection
        self.sqlite = app.engine.dialect.name == "sqlite"

    def run(self) -> None:
        for question in self.questions:
            with self.app.transaction() as session:
                session.execute(question).all()

    def select_one(self) -> None:
        cursor = self.connection.cursor()
        if self.sqlite:
            # As the service's sessions do (``db._sqlite_begin``): the write lock up front.
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("SELECT 1").fetchall()
            cursor.execute("COMMIT")
        else:
            cursor.execute("SELECT 1")
            cursor.fetchall()
            self.connection.commit()
        cursor.close()

    def close(self) -> None:
        self.raw.close()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def idle_check(app: App, now: datetime) -> None:
    report = ticks.run_pass(app, now)
    if report.queued or report.dispatch is not None or report.ladders.armed:
        raise SystemExit(
            f"La base n'est pas au repos le {now.isoformat()} : ce passage a écrit ou envoyé "
            f"quelque chose ({report.as_dict()}). Donnez l'instant du territoire (--as-of)."
        )


def measure(app: App, now: datetime, runs: int) -> dict[str, Any]:
    floor = Floor(app, now)
    try:
        pass_samples: list[float] = []
        floor_samples: list[float] = []
        one_samples: list[float] = []
        for index in range(WARMUP + runs):
            spent = timed(lambda: ticks.run_pass(app, now))
            spent_floor = timed(floor.run)
            spent_one = timed(floor.select_one)
            if index >= WARMUP:
                pass_samples.append(spent)
                floor_samples.append(spent_floor)
                one_samples.append(spent_one)
        steps: dict[str, Callable[[], object]] = {
            "armer les entreprises": lambda: arm_daily(app, now),
            # Once a day, not in an idle pass: timed apart (what the first pass of a day adds).
            "(balayage du jour, 1 fois/jour)": lambda: arm_parties(app, now),
            "ouvrir les mois dus": lambda: open_due_ladders(app, now, LadderReport()),
            "monter les échelles dues": lambda: climb_due_ladders(app, now, LadderReport()),
            "récapitulatif du jour": lambda: digest.queue_daily_digest(app, now),
            "synthèse mensuelle": lambda: summaries.queue_monthly_summaries(app, now),
            "courriels à envoyer": lambda: ticks.outbox_has_due(app, now),
        }
        by_step = {}
        for label, call in steps.items():
            samples = [timed(call) for _ in range(WARMUP + runs)][WARMUP:]
            by_step[label] = median_ms(samples)
    finally:
        floor.close()
    ratios = [p / f for p, f in zip(pass_samples, floor_samples, strict=True)]
    return {
        "pass_ms": median_ms(pass_samples),
        "pass_min_ms": min(pass_samples) * 1000,
        "pass_max_ms": max(pass_samples) * 1000,
        "floor_ms": median_ms(floor_samples),
        "select_one_ms": median_ms(one_samples),
        "ratio": statistics.median(ratios),
        "steps_ms": by_step,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Passage sans rien à faire, contre son plancher, sur un territoire généré."
    )
    parser.add_argument("--database-url", required=True, help="territoire de bench/generate.py")
    parser.add_argument(
        "--as-of", default=DEFAULT_AS_OF, help="instant du territoire (celui du générateur)"
    )
    parser.add_argument("--runs", type=int, default=21, help="passages comptés (médiane)")
    parser.add_argument("--json", action="store_true", help="sortie JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as mail_dir:
        settings = load_settings(
            database_url=args.database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        now = parse_as_of(args.as_of, settings.zone)
        app = bootstrap(settings)
        try:
            with app.transaction() as session:
                lots = int(session.scalar(select(func.count()).select_from(Clause)) or 0)
            idle_check(app, now)
            figures = measure(app, now, args.runs)
        finally:
            app.close()
    figures.update(
        lots=lots,
        backend=app.engine.dialect.name,
        runs=args.runs,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        target_ms=TARGET_MS,
    )
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{figures['backend']}, {lots:,} lots".replace(",", "\u202f")
        + f", médianes de {args.runs} passages"
    )
    print(
        f"  passage sans rien à faire : {figures['pass_ms']:7.2f} ms "
        f"(min {figures['pass_min_ms']:.2f}, max {figures['pass_max_ms']:.2f}) ; "
        f"cible < {TARGET_MS:.0f} ms"
    )
    print(f"  plancher (6 transactions)  : {figures['floor_ms']:7.2f} ms")
    print(f"  rapport passage / plancher : {figures['ratio']:6.1f}")
    print(f"  un SELECT 1 sur le pilote  : {figures['select_one_ms']:7.2f} ms")
    print("  étapes du passage, une à une :")
    for label, value in figures["steps_ms"].items():
        print(f"    {label:<28} {value:7.2f} ms")
    print(f"  mémoire maximale : {figures['peak_rss_mb']:.0f} Mo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
