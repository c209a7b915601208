"""Benchmark (not a test): the CPU of building the 08:00 pass's summary emails, figures aside.

    .venv/bin/python bench/bench_summary_render.py --database-url URL [--month 2026-10] \\
        [--now 2026-12-01T09:05] [--runs 3] [--profile /tmp/render.prof]

Compiles the month's summaries once as ``summaries._queue_month`` does (the figures, the
contacts, what changed since each recipient's previous summary), not timed, in a transaction
rolled back; then, ``--runs`` times, builds every email of the pass, the facilitator's and each
buyer's: its context and attached files (``emails.summaries.summary_email``) and its subject,
text and HTML (``TemplateRenderer.render``), nothing written. Prints the CPU seconds
(``time.process_time``) of each part, per run, and their medians: what the 08:00 pass spends
on its emails beside the queries and the outbox inserts (``bench_summaries.py --part emails``
times the whole pass).

Run it from the tree to measure (``python <tree>/bench/bench_summary_render.py``): the tree's
own ``workflow`` package and templates are used, so that two trees compare in one session.
``--profile FILE`` writes a cProfile of the timed runs (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the checkout's root holds ``workflow``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class _Undo(Exception):
    """Rolls the compiling transaction back."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--now", default="2026-12-01T09:05")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args(argv)

    from workflow.bootstrap import bootstrap
    from workflow.domain.monthly_summary import MonthlySummary
    from workflow.emails.summaries import KIND_BUYER, KIND_FACILITATOR, SinceLast, summary_email
    from workflow.services import summaries
    from workflow.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="render-") as mail_dir:
        settings = load_settings(
            database_url=args.database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        app = bootstrap(settings)
        now = datetime.fromisoformat(args.now).replace(tzinfo=settings.zone)
        month = datetime.strptime(args.month, "%Y-%m").date()
        started = time.perf_counter()
        # What ``_queue_month`` reads before its emails, the same calls in the same order.
        emails: list[tuple[str, MonthlySummary, SinceLast]] = []
        try:
            with app.transaction() as session:
                compiled = summaries.compile_month(
                    session,
                    month,
                    now=now,
                    zone=settings.zone,
                    outcome_groups=settings.outcome_groups,
                )
                contacts = summaries._contacts(session, compiled.informed)
                previous, previous_of = summaries._previous_summaries(session, now, month)
                informed = set(compiled.informed)
                previous_of = {b: p for b, p in previous_of.items() if b in informed}
                moments = [p.at for p in (previous, *previous_of.values()) if p is not None]
                known = (
                    summaries._changed_declarations(session, min(moments), now, month)
                    if moments
                    else []
                )
                skipped = summaries.skipped_months(session, now)
                labels = summaries.lot_labels(session, (f.clause_id for f in known))
                known_of: dict[int, list[Any]] = defaultdict(list)
                for facts in known:
                    known_of[facts.buyer_id].append(facts)

                def told(summary: MonthlySummary, since: Any, mine: list[Any]) -> Any:
                    found = summaries.since_last(summary, mine, since, now, skipped, labels)
                    if found.changes:
                        summary = replace(summary, changes=found.changes)
                    return summary, found

                summary, found = told(compiled.summary, previous, known)
                emails.append((KIND_FACILITATOR, summary, found))
                for buyer_id in compiled.informed:
                    if not contacts.get(buyer_id):
                        continue
                    summary, found = told(
                        compiled.of_buyer(buyer_id),
                        previous_of.get(buyer_id),
                        known_of.get(buyer_id, []),
                    )
                    emails.append((KIND_BUYER, summary, found))
                raise _Undo
        except _Undo:
            pass
        compiled_in = time.perf_counter() - started
        renderer = app.renderer
        print(f"{len(emails)} courriels ; chiffres établis en {compiled_in:.1f} s (non mesuré)")

        # CPU time, not wall time: the machine may be busy with other work.
        profile = cProfile.Profile(time.process_time) if args.profile else None
        rows: list[tuple[float, float, float]] = []
        for run in range(args.runs):
            context_cpu = render_cpu = 0.0
            wall = time.perf_counter()
            if profile:
                profile.enable()
            for kind, summary, found in emails:
                before = time.process_time()
                context, _attachments = summary_email(summary, found)
                middle = time.process_time()
                renderer.render(kind, context)
                context_cpu += middle - before
                render_cpu += time.process_time() - middle
            if profile:
                profile.disable()
            wall = time.perf_counter() - wall
            rows.append((context_cpu, render_cpu, wall))
            print(
                f"run {run + 1}: contexte et pièces jointes {context_cpu:.2f} s, "
                f"rendu {render_cpu:.2f} s, processeur {context_cpu + render_cpu:.2f} s, "
                f"horloge {wall:.2f} s"
            )
        app.close()
    if profile and args.profile:
        profile.dump_stats(args.profile)
    context_median = statistics.median(r[0] for r in rows)
    render_median = statistics.median(r[1] for r in rows)
    total_median = statistics.median(r[0] + r[1] for r in rows)
    print(
        f"médiane : contexte et pièces jointes {context_median:.2f} s, rendu "
        f"{render_median:.2f} s, processeur {total_median:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
