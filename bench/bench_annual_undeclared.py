"""Benchmark (not a test): the annual report's compile, and its statements, on a bench territory.

    .venv/bin/python bench/bench_annual_undeclared.py --database-url sqlite:////tmp/t1000.db \
        [--year 2026] [--runs 3] [--at 2026-12-05T22:00]

The declarations never received (``annual_report._undeclared``) are the one part of the report
whose cost grows with the companies owing months: one company of one lot at a time
(``months_owed.owed_up_to``) cost two statements each. This compiles the whole territory's
report (``compile_annual_report``, what ``clauses report annual`` and ``/bilans/annuel`` run)
``--runs`` times, each in its own transaction, and prints the median wall time, the statements
one compile sends and the months counted. Run it with ``PYTHONPATH`` set to another tree to
time another version of the code on the same territory.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event

from workflow.bootstrap import bootstrap
from workflow.services.annual_report import compile_annual_report
from workflow.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--at", default="2026-12-05T22:00", help="local time, no zone")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url)
    app = bootstrap(settings)
    now = datetime.fromisoformat(args.at).replace(tzinfo=settings.zone)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(app.engine, "before_cursor_execute", count)
    times, sent, months = [], [], 0
    for _ in range(args.runs):
        statements = 0
        started = time.perf_counter()
        with app.transaction() as session:
            report = compile_annual_report(session, args.year, now=now, zone=settings.zone)
        times.append(time.perf_counter() - started)
        sent.append(statements)
        months = getattr(report, "undeclared_months", None)  # None: a version without them
    print(
        f"compile {statistics.median(times) * 1000:.0f} ms (median of {args.runs}: "
        + ", ".join(f"{t * 1000:.0f}" for t in times)
        + f"), {sent[-1]} statements, {months} declarations not received"
    )
    app.close()


if __name__ == "__main__":
    main()
