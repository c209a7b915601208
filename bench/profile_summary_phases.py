"""Tool (not a test): where the 08:00 pass's time and peak memory go, phase by phase.

    .venv/bin/python bench/profile_summary_phases.py --database-url URL [--month 2026-10] \\
        [--now 2026-12-01T09:05] [--trail _queue_batch]

Runs ``summaries._queue_month`` (what ``bench_summaries.py --part emails`` times) in a
transaction rolled back at the end, with each of its phases (the queries of ``compile_month``,
the reads before the emails, the rendering and writing of each batch) wrapped: for each, the
wall time, the resident memory at its start and end, and its peak (Linux ``VmHWM``, reset
through ``/proc/self/clear_refs`` between phases, folded into the phases that enclose it).
The peak of the whole process is the figure the target (250 MB) is about. ``--trail PHASE``
also prints, after each call of PHASE, the RSS then and the peak so far: when the peak is
reached. Never run it while another pass runs on the same database: the outbox keys make the
second wait for the first to roll back.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _status(name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


@dataclass
class _Phase:
    name: str
    calls: int = 0
    seconds: float = 0.0
    peak_mb: float = 0.0
    start_mb: float = 0.0
    end_mb: float = 0.0
    #: (RSS at the end, peak so far) after each call of the phases named in ``--trail``.
    trail: list[tuple[float, float]] = field(default_factory=list)


_STACK: list[_Phase] = []
_PHASES: dict[str, _Phase] = {}
_ORDER: list[str] = []
_TRACE: set[str] = set()


def _fold() -> None:
    peak = _status("VmHWM")
    for phase in _STACK:
        phase.peak_mb = max(phase.peak_mb, peak)
    _reset_peak()


def _wrap(owner: Any, attribute: str, name: str | None = None) -> None:
    function: Callable[..., Any] = getattr(owner, attribute)
    label = name or attribute

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _fold()
        phase = _PHASES.get(label)
        if phase is None:
            phase = _PHASES[label] = _Phase(label, start_mb=_status("VmRSS"))
            _ORDER.append(label)
        phase.calls += 1
        _STACK.append(phase)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phase.seconds += time.perf_counter() - started
            _fold()
            _STACK.pop()
            phase.end_mb = _status("VmRSS")
            if label in _TRACE:
                phase.trail.append((round(phase.end_mb, 1), round(phase.peak_mb, 1)))

    setattr(owner, attribute, wrapper)


class _Undo(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--now", default="2026-12-01T09:05")
    parser.add_argument("--trail", action="append", default=[], help="phase to follow call by call")
    args = parser.parse_args(argv)
    _TRACE.update(args.trail)

    from workflow.bootstrap import bootstrap
    from workflow.services import outbox, summaries
    from workflow.settings import load_settings

    for attribute in (
        "compile_month",
        "_clauses",
        "_declarations",
        "_earlier_missing",
        "_line_figures",
        "_hours_by_month",
        "_figures",
        "_contacts",
        "_previous_summaries",
        "_changed_declarations",
        "skipped_months",
        "lot_labels",
        "since_last",
    ):
        _wrap(summaries, attribute)
    _wrap(summaries, "summary_email", "summary_email")
    _wrap(summaries, "queue_emails", "queue_emails")
    _wrap(outbox, "_queue_batch", "_queue_batch")
    _wrap(outbox, "_outbox_values", "render (_outbox_values)")

    with tempfile.TemporaryDirectory(prefix="phases-") as mail_dir:
        settings = load_settings(
            database_url=args.database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        app = bootstrap(settings)
        now = datetime.fromisoformat(args.now).replace(tzinfo=settings.zone)
        month = datetime.strptime(args.month, "%Y-%m").date()
        before = _status("VmRSS")
        _reset_peak()
        root = _Phase("_queue_month (whole)", start_mb=before)
        _STACK.append(root)
        started = time.perf_counter()
        try:
            with app.transaction() as session:
                count = summaries._queue_month(app, session, month, now)
                root.seconds = time.perf_counter() - started
                _fold()
                raise _Undo
        except _Undo:
            pass
        finally:
            app.close()
    print(f"{count} emails; RSS before the pass {before:.1f} MB")
    print(f"{'phase':32} {'calls':>6} {'s':>8} {'start MB':>9} {'end MB':>8} {'peak MB':>8}")
    for phase in (root, *(_PHASES[n] for n in _ORDER)):
        print(
            f"{phase.name:32} {phase.calls:6} {phase.seconds:8.2f} {phase.start_mb:9.1f}"
            f" {phase.end_mb:8.1f} {phase.peak_mb:8.1f}"
        )
    for name in args.trail:
        print(name, _PHASES[name].trail if name in _PHASES else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
