"""Benchmark (not a test): every monthly summary of a territory, against hand-written GROUP BYs.

    .venv/bin/python bench/bench_summaries.py --lots 10000 --database-url URL [--runs 3] [--json]

The database holds a territory of ``bench/generate.py`` (given ``--lots`` and an empty database,
the bench generates it first, seed ``--seed``). At ``--now`` (by default the first morning of
the month after the generator's instant, 1 December 2026 at 09:05, when October's summaries
leave) the bench times, each in a process of its own (so that each one's peak memory is its
own), alternately, ``--runs`` times:

- **compile**: ``summaries.compile_month``: the figures of every summary of the month, the
  facilitator's and every buyer's, as the service builds them (objects ready to render);
- **emails**: what the 08:00 pass does with them (``summaries._queue_month``): compile, render
  every email, build the CSV files of their long tables, write the outbox rows; in a
  transaction rolled back at the end, so that the territory stays as it was;
- **baseline**: the same figures from hand-written SQL, no ORM (SQLAlchemy ``text()`` on a
  bare connection), rows fetched and nothing built from them: the clauses' stage at the end
  of the month and their hours in a temporary table (one ranked pass over the history per
  instant, one GROUP BY over the declarations), then GROUP BYs over it: the lines of the
  counted clauses, hours and targets by buyer, stages by buyer, the buyers written to, the
  declarations expected by buyer and the missing ones (late or not due yet, by the month's
  ladder); one statement for the declaration
  lines (grouped once by buyer, participant, contract type and delivery mode in a ``WITH``,
  then participants by buyer and over the territory, hours by delivery mode, contracts by
  buyer and over the territory); outcomes by buyer and overall; hours by buyer and month.
  On PostgreSQL with the service's settings for that transaction (no JIT, 64 MB
  ``work_mem``: ``summaries._reporting``).

Before timing, the bench checks (in a process of its own) that the baseline and the service
give the same figures for the territory and for every buyer (``compare``); it refuses to time
otherwise. ``tests/integration/test_summaries.py`` runs the same comparison on a small
generated territory.

One part alone, profiled: ``--part emails --profile /tmp/emails.prof`` (then
``python -m pstats /tmp/emails.prof``); the profiler slows the run down, the ratios of its
parts are what it tells.

Targets (issue 12): the whole set under 10 s at 10^5 lots on PostgreSQL, each summary at most
1.5 times the hand-written GROUP BY queries, peak memory under 250 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (
    None,
    "",
):  # run as a script: the checkout's root holds ``bench`` and ``workflow``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, Date, bindparam, func, select, text

from workflow.adapters.orm import Clause
from workflow.adapters.types import UTCDateTime
from workflow.domain.calendar import add_months, month_start
from workflow.domain.summary import age_band, latest_due_month, month_end
from workflow.services.summaries import REPORTING_WORK_MEM

#: The first morning of the month after the generator's instant: October's summaries leave.
DEFAULT_NOW = "2026-12-01T09:05"
PARTS = ("compile", "emails", "baseline")
TARGET_SECONDS = 10.0
TARGET_RATIO = 1.5
TARGET_RSS_MB = 250.0
STARTED = ("execution", "suspended", "follow_up", "closed")


# --- The hand-written SQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """The month summarised and the instant it is compiled at, as the SQL needs them."""

    month: date
    now: datetime
    zone: ZoneInfo

    @property
    def last(self) -> date:
        return month_end(self.month)

    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, clock_time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def begin(self) -> datetime:
        return self._local_midnight(self.month)

    @property
    def end(self) -> datetime:
        return self._local_midnight(add_months(self.month, 1))

    def params(self) -> dict[str, Any]:
        return {
            "m": self.month,
            "last": self.last,
            "begin_i": self.begin,
            "end_i": self.end,
            "as_of": self.now,
            "today": self.now.astimezone(self.zone).date(),
        }


def _days(dialect: str, later: str, earlier: str) -> str:
    """Days from ``earlier`` to ``later`` (two date expressions), as a number."""
    if dialect == "postgresql":
        return f"({later} - {earlier})::numeric"
    return f"(julianday({later}) - julianday({earlier}))"


_STARTED = ", ".join(f"'{s}'" for s in STARTED)

_FACTS = f"""
CREATE TEMPORARY TABLE bench_facts AS
WITH at_end AS (
  SELECT clause_id, to_stage FROM (
    SELECT clause_id, to_stage,
           row_number() OVER (PARTITION BY clause_id ORDER BY at DESC, id DESC) AS r
    FROM clause_history WHERE at < :end_i) x
  WHERE r = 1),
at_now AS (
  SELECT clause_id, to_stage FROM (
    SELECT clause_id, to_stage,
           row_number() OVER (PARTITION BY clause_id ORDER BY at DESC, id DESC) AS r
    FROM clause_history WHERE at < :as_of) x
  WHERE r = 1),
hours AS (
  SELECT clause_id,
         sum(CASE WHEN month = :m THEN total_hours ELSE 0 END) AS month_hours,
         sum(total_hours) AS cumulated,
         max(CASE WHEN month = :m AND total_hours > 0 THEN 1 ELSE 0 END) AS worked
  FROM declarations WHERE month <= :m AND recorded_at <= :as_of GROUP BY clause_id),
base AS (
  SELECT c.id AS clause_id, o.buyer_id, c.stage, c.created_at, c.start_date,
         coalesce(c.end_date, c.planned_end_date) AS end_date,
         c.end_date AS recorded_end, c.planned_end_date AS planned_end,
         coalesce(c.hours_override, c.hours_computed) AS target,
         e.to_stage AS recorded, coalesce(n.to_stage, c.stage) AS stage_now,
         h.month_hours, h.cumulated, coalesce(h.worked, 0) AS worked,
         CASE WHEN c.created_at <= :as_of THEN 1 ELSE 0 END AS known
  FROM clauses c
  JOIN markets mk ON mk.id = c.market_id
  JOIN operations o ON o.id = mk.operation_id
  LEFT JOIN at_end e ON e.clause_id = c.id
  LEFT JOIN at_now n ON n.clause_id = c.id
  LEFT JOIN hours h ON h.clause_id = c.id),
staged AS (
  SELECT b.*,
    CASE
      -- Running at the month's end by its history, its end recorded since on a day before the
      -- month's last: « suivi et bilan », as its line says (summary rule STAGE_BY_END).
      WHEN recorded IN ('execution', 'suspended') AND recorded_end IS NOT NULL
           AND recorded_end < :last AND stage_now IN ('follow_up', 'closed') THEN 'follow_up'
      WHEN recorded IN ({_STARTED}) THEN recorded
      WHEN stage_now IN ({_STARTED}) AND start_date IS NOT NULL AND start_date <= :last
        THEN CASE WHEN recorded_end IS NOT NULL AND recorded_end < :last THEN 'follow_up'
                  WHEN recorded_end IS NULL AND planned_end < :last
                       AND stage_now NOT IN ('execution', 'suspended') THEN 'follow_up'
                  ELSE 'execution' END
      WHEN recorded IS NOT NULL THEN recorded
      WHEN created_at < :end_i THEN stage
    END AS stage_then
  FROM base b)
SELECT s.*,
  CASE WHEN known = 1 AND start_date IS NOT NULL AND start_date <= :last
        AND stage_then IN ({_STARTED}) THEN 1 ELSE 0 END AS started,
  CASE WHEN end_date IS NULL OR end_date >= :m THEN 1 ELSE 0 END AS runs,
  -- A lot past its planned end, its end not recorded: followed, its companies not asked.
  CASE WHEN recorded_end IS NULL AND stage_then IN ('execution', 'suspended')
       THEN 1 ELSE 0 END AS past_end
FROM staged s
"""

_COUNTED = "(started = 1 OR (known = 1 AND cumulated IS NOT NULL))"
_FOLLOWED = (
    "CASE WHEN (started = 1 AND (runs = 1 OR past_end = 1)) OR month_hours > 0 THEN 1 ELSE 0 END"
)

_LINES = f"""
SELECT f.clause_id, f.buyer_id, b.name, mk.reference, c.lot_number, c.lot_title,
       coalesce(f.stage_then, f.stage), f.target, f.start_date, f.end_date,
       f.month_hours, f.cumulated, {_FOLLOWED}
FROM bench_facts f
JOIN clauses c ON c.id = f.clause_id
JOIN markets mk ON mk.id = c.market_id
JOIN buyers b ON b.id = f.buyer_id
WHERE {_COUNTED}
ORDER BY b.name, f.clause_id
"""


def _progress(dialect: str) -> str:
    # The days a lot spent suspended (``bench_off``) are out of the time elapsed and of its
    # period, as ``summary.elapsed_fraction`` counts them.
    total = f"({_days(dialect, 'end_date', 'start_date')} + 1 - coalesce(off_total, 0))"
    elapsed = (
        "CASE WHEN start_date IS NULL OR end_date IS NULL OR end_date < start_date "
        f"OR {total} <= 0 THEN NULL "
        f"ELSE ({_days(dialect, ':last', 'start_date')} + 1 - coalesce(off_passed, 0)) / "
        f"{total} END"
    )
    low, high = ("greatest", "least") if dialect == "postgresql" else ("max", "min")
    share = f"{high}(1, {low}(0, {elapsed}))"
    paced = f"coalesce(target, 0) > 0 AND ({elapsed}) IS NOT NULL"
    return f"""
SELECT buyer_id, count(*), sum({_FOLLOWED}), sum(coalesce(target, 0)),
       sum(coalesce(month_hours, 0)), sum(coalesce(cumulated, 0)),
       sum(CASE WHEN {paced} THEN target * {share} END),
       sum(CASE WHEN {paced} THEN target ELSE 0 END),
       sum(CASE WHEN {paced} THEN coalesce(cumulated, 0) ELSE 0 END)
FROM bench_facts
LEFT JOIN (
  SELECT o.clause_id AS off_clause, count(*) AS off_total,
         sum(CASE WHEN o.day <= :last THEN 1 ELSE 0 END) AS off_passed
  FROM bench_off o JOIN bench_facts g ON g.clause_id = o.clause_id
  WHERE o.day >= g.start_date AND o.day <= g.end_date
  GROUP BY o.clause_id) off ON off.off_clause = bench_facts.clause_id
WHERE {_COUNTED} GROUP BY buyer_id
"""


#: Every change of stage into or out of a suspension known at ``as_of``, lot by lot (a few
#: rows: ``bench_off`` is built from them).
_SUSPENSIONS = """
SELECT clause_id, at, to_stage FROM clause_history
WHERE (to_stage = 'suspended' OR from_stage = 'suspended')
  AND (from_stage IS NULL OR from_stage <> to_stage) AND at <= :as_of
ORDER BY clause_id, at, id
"""


def _suspended_days(connection: Connection, moment: Moment) -> list[dict[str, Any]]:
    """Each (lot, local date) a suspension known at ``now`` touched, one still running then up
    to that day, as the calendar counts them (``calendar.suspended_days``)."""
    from workflow.domain.calendar import Interval, suspended_days

    statement = _statement(_SUSPENSIONS).columns(at=UTCDateTime())
    stretches: dict[int, list[Interval]] = defaultdict(list)
    for clause_id, at, to_stage in connection.execute(statement, moment.params()):
        if to_stage == "suspended":
            stretches[clause_id].append(Interval(at, None))
        elif stretches[clause_id] and stretches[clause_id][-1].end is None:
            stretches[clause_id][-1] = Interval(stretches[clause_id][-1].start, at)
    today = moment.now.astimezone(moment.zone).date()
    return [
        {"c": clause_id, "d": day}
        for clause_id, intervals in stretches.items()
        for day in sorted(suspended_days(intervals, moment.zone, today))
    ]


_STAGES = """
SELECT buyer_id, stage_then, count(*) FROM bench_facts
WHERE known = 1 AND stage_then IS NOT NULL GROUP BY buyer_id, stage_then
"""

_INFORMED = """
SELECT DISTINCT buyer_id FROM bench_facts
WHERE (known = 1 AND stage_then IN ('execution', 'follow_up')) OR worked = 1
"""

# A month spent entirely suspended: a suspension begun by the month's first instant and not
# ended before its last.
_ASKED = f"""
SELECT ap.clause_id, ap.company_id, f.buyer_id,
       CASE WHEN EXISTS (SELECT 1 FROM declarations d
                         WHERE d.clause_id = ap.clause_id AND d.company_id = ap.company_id
                           AND d.month = :m AND d.recorded_at <= :as_of)
            THEN 1 ELSE 0 END AS got,
       CASE WHEN EXISTS (SELECT 1 FROM clause_history h
                         WHERE h.clause_id = ap.clause_id AND h.to_stage = 'suspended')
            THEN NULL
            WHEN dl.due_on IS NOT NULL
            THEN CASE WHEN dl.called_at IS NOT NULL AND dl.called_at <= :as_of
                           AND dl.due_on < :today THEN 1 ELSE 0 END
            WHEN ap.next_call_month IS NOT NULL AND ap.next_call_month <= :m THEN 0
            ELSE 1 END AS late
FROM award_parties ap
JOIN bench_facts f ON f.clause_id = ap.clause_id
LEFT JOIN declaration_ladders dl
  ON dl.clause_id = ap.clause_id AND dl.company_id = ap.company_id AND dl.month = :m
WHERE f.started = 1 AND f.runs = 1 AND f.stage_now IN ({_STARTED})
  AND NOT EXISTS (
    SELECT 1 FROM clause_history s
    WHERE s.clause_id = ap.clause_id AND s.to_stage = 'suspended'
      AND (s.from_stage IS NULL OR s.from_stage <> 'suspended') AND s.at <= :begin_i
      AND NOT EXISTS (
        SELECT 1 FROM clause_history r
        WHERE r.clause_id = s.clause_id AND r.from_stage = 'suspended'
          AND r.to_stage <> 'suspended' AND r.at < :end_i
          AND (r.at > s.at OR (r.at = s.at AND r.id > s.id))))
"""

_EXPECTED = f"SELECT buyer_id, count(*), sum(1 - got) FROM ({_ASKED}) a GROUP BY buyer_id"

_MISSING = f"""
SELECT a.clause_id, a.buyer_id, b.name, a.company_id, co.name, a.late
FROM ({_ASKED}) a
JOIN buyers b ON b.id = a.buyer_id
JOIN companies co ON co.id = a.company_id
WHERE a.got = 0
ORDER BY b.name, co.name, a.clause_id
"""

_DECLARED = """
WITH declared AS (
  SELECT o.buyer_id, l.participant_id, l.contract_type AS kind, l.delivery_mode AS mode,
         min(d.month) AS first_month, max(CASE WHEN d.month = :m THEN 1 ELSE 0 END) AS active,
         sum(CASE WHEN d.month = :m THEN l.hours ELSE 0 END) AS month_hours,
         sum(l.hours) AS hours
  FROM declaration_lines l
  JOIN declarations d ON d.id = l.declaration_id
  JOIN clauses c ON c.id = d.clause_id
  JOIN markets mk ON mk.id = c.market_id
  JOIN operations o ON o.id = mk.operation_id
  WHERE d.month <= :m AND d.recorded_at <= :as_of AND l.hours > 0
  GROUP BY o.buyer_id, l.participant_id, l.contract_type, l.delivery_mode),
by_buyer AS (
  SELECT buyer_id, participant_id, min(first_month) AS first_month, max(active) AS active
  FROM declared GROUP BY buyer_id, participant_id),
everyone AS (
  SELECT participant_id, min(first_month) AS first_month, max(active) AS active
  FROM declared GROUP BY participant_id)
SELECT 'p', p.buyer_id, pa.criterion, pa.sex, pa.birth_year,
       sum(CASE WHEN p.first_month = :m THEN 1 ELSE 0 END), sum(p.active), count(*)
FROM by_buyer p JOIN participants pa ON pa.id = p.participant_id
GROUP BY p.buyer_id, pa.criterion, pa.sex, pa.birth_year
UNION ALL
SELECT 'P', NULL, pa.criterion, pa.sex, pa.birth_year,
       sum(CASE WHEN e.first_month = :m THEN 1 ELSE 0 END), sum(e.active), count(*)
FROM everyone e JOIN participants pa ON pa.id = e.participant_id
GROUP BY pa.criterion, pa.sex, pa.birth_year
UNION ALL
SELECT 'm', buyer_id, mode, NULL, NULL, sum(month_hours), sum(hours), NULL
FROM declared GROUP BY buyer_id, mode
UNION ALL
SELECT 'c', buyer_id, kind, NULL, NULL, sum(active), count(*), NULL
FROM (SELECT buyer_id, kind, participant_id, max(active) AS active
      FROM declared GROUP BY buyer_id, kind, participant_id) x
GROUP BY buyer_id, kind
UNION ALL
SELECT 'C', NULL, kind, NULL, NULL, sum(active), count(*), NULL
FROM (SELECT kind, participant_id, max(active) AS active
      FROM declared GROUP BY kind, participant_id) x
GROUP BY kind
"""

# Each participant x clause once, by its latest outcome up to the month's end (the service says it
# with a NOT EXISTS: ``outcome_counts.latest_up_to``; here a window, to check one by the other).
_LATEST_OUTCOMES = """
(SELECT * FROM (SELECT oc0.*, row_number() OVER (
     PARTITION BY oc0.participant_id, oc0.clause_id ORDER BY oc0.date DESC, oc0.id DESC) AS rn
   FROM outcomes oc0 WHERE oc0.date <= :last) ranked WHERE rn = 1)"""

# The outcomes counted, found first, then given their buyer: with the buyers' joins in the same
# statement PostgreSQL checked the EXISTS against a join of the whole declarations (43 s at 10^5
# lots against 3 s this way, the same rows; an outcome without a clause has no buyer either way).
_OUTCOMES_BY_BUYER = f"""
WITH counted AS MATERIALIZED (
  SELECT oc.clause_id, oc.type, oc.date FROM {_LATEST_OUTCOMES} oc
  WHERE oc.date <= :last AND oc.clause_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM declaration_lines dl2
       JOIN declarations d2 ON d2.id = dl2.declaration_id
       WHERE d2.clause_id = oc.clause_id AND dl2.participant_id = oc.participant_id
         AND dl2.hours > 0 AND d2.recorded_at <= :as_of))
SELECT o.buyer_id, oc.type, sum(CASE WHEN oc.date >= :m THEN 1 ELSE 0 END), count(*)
FROM counted oc
JOIN clauses c ON c.id = oc.clause_id
JOIN markets mk ON mk.id = c.market_id
JOIN operations o ON o.id = mk.operation_id
GROUP BY o.buyer_id, oc.type
"""

_OUTCOMES = f"""
SELECT oc.type, sum(CASE WHEN oc.date >= :m THEN 1 ELSE 0 END), count(*)
FROM {_LATEST_OUTCOMES} oc WHERE oc.date <= :last
  AND (oc.clause_id IS NULL OR EXISTS (SELECT 1 FROM declaration_lines dl2
       JOIN declarations d2 ON d2.id = dl2.declaration_id
       WHERE d2.clause_id = oc.clause_id AND dl2.participant_id = oc.participant_id
         AND dl2.hours > 0 AND d2.recorded_at <= :as_of))
GROUP BY oc.type
"""

_HOURS_BY_MONTH = """
SELECT o.buyer_id, d.month, sum(d.total_hours)
FROM declarations d
JOIN clauses c ON c.id = d.clause_id
JOIN markets mk ON mk.id = c.market_id
JOIN operations o ON o.id = mk.operation_id
WHERE d.month <= :m AND d.recorded_at <= :as_of
GROUP BY o.buyer_id, d.month
"""


def _statement(sql: str) -> Any:
    """``sql`` with its parameters typed as the service stores them (UTC instants, dates)."""
    names = [n for n in ("m", "last", "begin_i", "end_i", "as_of", "today") if f":{n}" in sql]
    types = {"m": Date(), "last": Date(), "today": Date()}
    return text(sql).bindparams(*(bindparam(n, type_=types.get(n, UTCDateTime())) for n in names))


def baseline(connection: Connection, moment: Moment) -> dict[str, list[Any]]:
    """The month's figures by hand-written SQL: the rows of each query, by name."""
    dialect = connection.dialect.name
    params = moment.params()
    if dialect == "postgresql":
        # The service's settings for its summaries' transaction (``summaries._reporting``).
        connection.execute(text("SET LOCAL jit = off"))
        connection.execute(text(f"SET LOCAL work_mem = '{REPORTING_WORK_MEM}'"))
    queries = {
        "lines": _LINES,
        "progress": _progress(dialect),
        "stages": _STAGES,
        "informed": _INFORMED,
        "expected": _EXPECTED,
        "missing": _MISSING,
        "declared": _DECLARED,
        "outcomes_by_buyer": _OUTCOMES_BY_BUYER,
        "outcomes": _OUTCOMES,
        "hours_by_month": _HOURS_BY_MONTH,
    }
    connection.execute(text("DROP TABLE IF EXISTS bench_facts"))
    connection.execute(text("DROP TABLE IF EXISTS bench_off"))
    connection.execute(_statement(_FACTS), params)
    connection.execute(text("CREATE TEMPORARY TABLE bench_off (clause_id INTEGER, day DATE)"))
    off = _suspended_days(connection, moment)
    if off:
        insert = text("INSERT INTO bench_off (clause_id, day) VALUES (:c, :d)")
        connection.execute(insert.bindparams(bindparam("d", type_=Date())), off)
    if dialect == "postgresql":
        # Nothing analyses a temporary table by itself: without statistics PostgreSQL joined
        # the 40,000 suspended days to the 10^5 clauses' facts in a loop (progress: 10 s at
        # 10^5 lots, 0.6 s with them).
        connection.execute(text("ANALYZE bench_facts"))
        connection.execute(text("ANALYZE bench_off"))
    try:
        return {
            name: list(connection.execute(_statement(sql), params)) for name, sql in queries.items()
        }
    finally:
        connection.execute(text("DROP TABLE bench_facts"))
        connection.execute(text("DROP TABLE bench_off"))


# --- The same figures, from both sides, to compare ------------------------------------------------


def _hours(value: Any) -> Decimal:
    """A sum of hours as the database returns it raw: hundredths of an hour."""
    return Decimal(int(value or 0)) / 100


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _scope() -> dict[str, Any]:
    return {
        "clauses": 0,
        "followed": 0,
        "target": 0,
        "month": Decimal(0),
        "cumulated": Decimal(0),
        "expected": Decimal(0),
        "paced_target": 0,
        "paced_done": Decimal(0),
        "stages": {},
        "declarations": (0, (), (), frozenset()),
        "people": {},
        "modes": {},
        "contracts": {},
        "outcomes": {},
        "months": {},
    }


def _people(rows: Any, year: int) -> dict[str, tuple[int, int, int]]:
    """Participants folded as the summary shows them: overall, by criterion, sex, age band."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for criterion, sex, birth_year, new, active, cumulated in rows:
        for key in ("all", f"criterion:{criterion}", f"sex:{sex or 'unknown'}",
                    f"age:{age_band(birth_year, year).value}"):  # fmt: skip
            for i, value in enumerate((new, active, cumulated)):
                found[key][i] += int(value or 0)
    return {k: (v[0], v[1], v[2]) for k, v in found.items() if any(v)}


def from_baseline(raw: Mapping[str, list[Any]], moment: Moment) -> dict[Any, dict[str, Any]]:
    """The baseline's rows as comparable figures, per scope (None: the territory)."""
    scopes: dict[Any, dict[str, Any]] = defaultdict(_scope)
    year = moment.month.year

    def add(scope: Any, key: str, value: Any) -> None:
        scopes[scope][key] = scopes[scope][key] + value

    for bid, n, followed, target, month_h, cumul, expected, paced_t, paced_d in raw["progress"]:
        for scope in (None, bid):
            add(scope, "clauses", int(n))
            add(scope, "followed", int(followed))
            add(scope, "target", int(target))
            add(scope, "month", _hours(month_h))
            add(scope, "cumulated", _hours(cumul))
            add(scope, "expected", Decimal(str(expected or 0)))
            add(scope, "paced_target", int(paced_t))
            add(scope, "paced_done", _hours(paced_d))
    for bid, stage, count in raw["stages"]:
        for scope in (None, bid):
            stages = scopes[scope]["stages"]
            stages[stage] = stages.get(stage, 0) + int(count)
    # Late (1), not due yet (0), or left to the service (NULL: a lot ever suspended, whose
    # suspended working days push the due date as the digest counts them; ``compare`` checks
    # only that the service says something of each).
    missing: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    pending: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    unjudged: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    for cid, bid, _, company_id, _, late in raw["missing"]:
        bucket = unjudged if late is None else missing if late else pending
        for scope in (None, bid):
            bucket[scope].append((int(cid), int(company_id)))
    expected_by: dict[Any, int] = defaultdict(int)
    for bid, count, _ in raw["expected"]:
        expected_by[None] += int(count)
        expected_by[bid] += int(count)
    for scope, count in expected_by.items():
        scopes[scope]["declarations"] = (
            count,
            tuple(missing.get(scope, ())),
            tuple(pending.get(scope, ())),
            frozenset(unjudged.get(scope, ())),
        )
    people: dict[Any, list[Any]] = defaultdict(list)
    for name, bid, key, sex, birth_year, first, second, third in raw["declared"]:
        if name in ("p", "P"):
            people[bid].append((key, sex, birth_year, first, second, third))
        elif name == "m":
            for scope in (None, bid):
                modes = scopes[scope]["modes"]
                before = modes.get(key, (Decimal(0), Decimal(0)))
                modes[key] = (before[0] + _hours(first), before[1] + _hours(second))
        else:
            scopes[bid]["contracts"][key] = (int(first), int(second))
    for scope, rows in people.items():
        scopes[scope]["people"] = _people(rows, year)
    for bid, kind, month_n, cumul in raw["outcomes_by_buyer"]:
        scopes[bid]["outcomes"][kind] = (int(month_n), int(cumul))
    for kind, month_n, cumul in raw["outcomes"]:
        scopes[None]["outcomes"][kind] = (int(month_n), int(cumul))
    for bid, month, hours in raw["hours_by_month"]:
        for scope in (None, bid):
            months = scopes[scope]["months"]
            day = _day(month)
            months[day] = months.get(day, Decimal(0)) + _hours(hours)
    for figures in scopes.values():
        figures["months"] = {m: h for m, h in figures["months"].items() if h}
        figures["modes"] = {k: v for k, v in figures["modes"].items() if any(v)}
        figures["contracts"] = {k: v for k, v in figures["contracts"].items() if any(v)}
        figures["outcomes"] = {k: v for k, v in figures["outcomes"].items() if any(v)}
        figures["stages"] = {k: v for k, v in figures["stages"].items() if v}
    scopes[None]["informed"] = sorted(int(row[0]) for row in raw["informed"])
    scopes[None]["lines"] = [
        (int(cid), int(bid), stage, int(target) if target else None,
         _hours(month_h), _hours(cumul), bool(followed))
        for cid, bid, _, _, _, _, stage, target, _, _, month_h, cumul, followed in raw["lines"]
    ]  # fmt: skip
    return dict(scopes)


def from_summaries(batch: Any) -> dict[Any, dict[str, Any]]:
    """The service's summaries (``compile_month``) as the same comparable figures."""
    scopes: dict[Any, dict[str, Any]] = {}
    summaries = [(None, batch.summary), *batch.by_buyer.items()]
    for scope, summary in summaries:
        f = summary.overall
        p = f.progress
        people: dict[str, tuple[int, int, int]] = {}
        everyone = f.participants
        if everyone.new or everyone.active or everyone.cumulated:
            people["all"] = (everyone.new, everyone.active, everyone.cumulated)
        for prefix, counts in (("criterion", f.by_criterion), ("sex", f.by_sex),
                               ("age", f.by_age_band)):  # fmt: skip
            for c in counts:
                if c.new or c.active or c.cumulated:
                    people[f"{prefix}:{c.code}"] = (c.new, c.active, c.cumulated)
        scopes[scope] = {
            "clauses": p.clauses,
            "followed": f.followed,
            "target": p.hours_target,
            "month": p.hours_month,
            "cumulated": p.hours_cumulated,
            "expected": p.expected or Decimal(0),
            "paced_target": p.paced_target,
            "paced_done": p.paced_done,
            "stages": {s.code: s.clauses for s in f.clauses_by_stage if s.clauses},
            "declarations": (
                f.declarations.expected,
                tuple((m.clause_id, m.company_id) for m in f.declarations.missing),
                tuple((m.clause_id, m.company_id) for m in f.declarations.pending),
            ),
            "people": people,
            "modes": {
                c.code: (c.month, c.cumulated) for c in f.hours_by_mode if c.month or c.cumulated
            },
            "contracts": {
                c.code: (int(c.month), int(c.cumulated))
                for c in f.contracts_by_type
                if c.month or c.cumulated
            },
            "outcomes": {
                c.code: (c.month, c.cumulated) for c in f.outcomes_by_type if c.month or c.cumulated
            },
            "months": {m.month: m.hours for m in summary.hours_by_month if m.hours},
        }
    scopes[None]["informed"] = list(batch.informed)
    scopes[None]["lines"] = [
        (c.clause_id, c.buyer_id, c.stage, c.progress.hours_target or None,
         c.progress.hours_month, c.progress.hours_cumulated, c.followed)
        for c in batch.summary.clauses
    ]  # fmt: skip
    return scopes


def _same_declarations(mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> bool:
    """(expected, late, not due yet) of the service against the baseline's, whose fourth part
    is the pairs it leaves to the service (lots ever suspended): each of them must be in one of
    the service's two lists, in no particular one."""
    count, late, pending = mine
    their_count, their_late, their_pending, unjudged = theirs

    def judged(pairs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        return tuple(p for p in pairs if p not in unjudged)

    return (
        count == their_count
        and (judged(late), judged(pending)) == (their_late, their_pending)
        and unjudged <= set(late) | set(pending)
    )


def compare(service: Mapping[Any, dict[str, Any]], hand: Mapping[Any, dict[str, Any]]) -> list[str]:
    """The differences between the two sides, scope by scope and figure by figure; the pace's
    expected hours (a sum of products of fractions) to a millionth of an hour."""
    found = []
    for scope in sorted(set(service) | set(hand), key=lambda s: (s is not None, s or 0)):
        mine, theirs = service.get(scope), hand.get(scope)
        if mine is None or theirs is None:
            found.append(
                f"scope {scope}: only in {'the baseline' if mine is None else 'the service'}"
            )
            continue
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key), theirs.get(key)
            if key == "expected":
                same = abs(Decimal(a or 0) - Decimal(b or 0)) < Decimal("0.000001")
            elif key == "declarations" and a is not None and b is not None:
                same = _same_declarations(a, b)
            else:
                same = a == b
            if not same:
                found.append(f"scope {scope}, {key}: service {a!r}, baseline {b!r}")
    return found


# --- Measuring --------------------------------------------------------------------------------


@contextmanager
def _app(database_url: str) -> Iterator[Any]:
    from workflow.bootstrap import bootstrap
    from workflow.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-summaries-") as mail_dir:
        settings = load_settings(
            database_url=database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        app = bootstrap(settings)
        try:
            yield app
        finally:
            app.close()


class _Undo(Exception):
    """Rolls the emails' transaction back: the territory stays as it was."""


def run_part(
    part: str, database_url: str, month: date, now: datetime, profile: str | None = None
) -> dict[str, Any]:
    """One timed run of ``part``, in this process; its figures. With ``profile``, the run is
    also profiled (``cProfile``) and its statistics written to that file (``pstats`` reads
    it): the times then include the profiler's own cost."""
    if profile is None:
        return _run_part(part, database_url, month, now)
    import cProfile

    profiler = cProfile.Profile()
    found = profiler.runcall(_run_part, part, database_url, month, now)
    profiler.dump_stats(profile)
    return found


def _run_part(part: str, database_url: str, month: date, now: datetime) -> dict[str, Any]:
    from workflow.services import summaries

    with _app(database_url) as app:
        settings = app.settings
        moment = Moment(month, now, settings.zone)
        found: dict[str, Any] = {}
        started = time.perf_counter()
        if part == "compile":
            with app.transaction() as session:
                batch = summaries.compile_month(
                    session, month, now=now, zone=settings.zone,
                    outcome_groups=settings.outcome_groups,
                )  # fmt: skip
            found["summaries"] = 1 + len(batch.by_buyer)
            found["clauses"] = len(batch.summary.clauses)
        elif part == "emails":
            try:
                with app.transaction() as session:
                    found["emails"] = summaries._queue_month(app, session, month, now)
                    # Timed up to here: the pass then commits, this bench rolls back.
                    found["seconds"] = time.perf_counter() - started
                    found.update(_outbox_sizes(session, month))
                    raise _Undo
            except _Undo:
                pass
        elif part == "baseline":
            with app.engine.connect() as connection:
                raw = baseline(connection, moment)
                connection.rollback()
            found["rows"] = sum(len(rows) for rows in raw.values())
        elif part == "check":
            with app.transaction() as session:
                batch = summaries.compile_month(
                    session, month, now=now, zone=settings.zone,
                    outcome_groups=settings.outcome_groups,
                )  # fmt: skip
            with app.engine.connect() as connection:
                raw = baseline(connection, moment)
                connection.rollback()
            found["differences"] = compare(from_summaries(batch), from_baseline(raw, moment))
            found["buyers"] = len(batch.by_buyer)
        else:
            raise ValueError(part)
        found.setdefault("seconds", time.perf_counter() - started)
    found["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return found


def _outbox_sizes(session: Any, month: date) -> dict[str, Any]:
    """The emails just written: their sizes, and their attachments'."""
    rows = session.execute(
        text(
            "SELECT o.kind, length(o.body_html), length(o.body_text),"
            " (SELECT coalesce(sum(length(a.content)), 0) FROM outbox_attachments a"
            "  WHERE a.outbox_id = o.id)"
            " FROM outbox o WHERE o.key LIKE :key"
        ),
        {"key": f"summary:{month:%Y-%m}:%"},
    ).all()
    return {
        "html_max_bytes": max((int(r[1]) for r in rows), default=0),
        "html_total_bytes": sum(int(r[1]) for r in rows),
        "text_max_bytes": max((int(r[2]) for r in rows), default=0),
        "attachments_max_bytes": max((int(r[3]) for r in rows), default=0),
        "attachments_total_bytes": sum(int(r[3]) for r in rows),
    }


def _child(part: str, args: argparse.Namespace, month: date, now: datetime) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--database-url", args.database_url, "--part", part,
        "--month", f"{month:%Y-%m}", "--now", now.isoformat(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{part} a échoué :\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _territory(args: argparse.Namespace) -> int:
    """The number of lots in the database; generated first when it is empty and --lots given."""
    from workflow.adapters.db import make_engine

    engine = make_engine(args.database_url)
    try:
        with engine.connect() as connection:
            lots = int(connection.scalar(select(func.count()).select_from(Clause)) or 0)
    except Exception:  # no schema yet
        lots = 0
    finally:
        engine.dispose()
    if lots == 0 and args.lots:
        from bench.generate import generate

        started = time.perf_counter()
        generate(args.lots, args.seed, args.database_url)
        print(f"territoire de {args.lots} lots généré en {time.perf_counter() - started:.0f} s")
        return int(args.lots)
    if args.lots and lots != args.lots:
        raise SystemExit(f"La base contient {lots} lots, pas {args.lots}.")
    return lots


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Synthèses mensuelles d'un territoire, contre des GROUP BY écrits à la main."
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--lots", type=int, help="lots attendus (générés si la base est vide)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--now", default=DEFAULT_NOW, help="instant des synthèses (ISO, heure locale)"
    )
    parser.add_argument("--month", help="mois résumé, AAAA-MM (défaut : le dernier dû à --now)")
    parser.add_argument("--runs", type=int, default=3, help="mesures de chaque partie (médiane)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--part", choices=(*PARTS, "check"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile",
        metavar="FICHIER",
        help="avec --part : profile la partie (cProfile) et écrit ses statistiques dans FICHIER",
    )
    args = parser.parse_args(argv)

    from workflow.settings import load_settings

    settings = load_settings(database_url=args.database_url)
    now = datetime.fromisoformat(args.now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=settings.zone)
    if args.month:
        month = datetime.strptime(args.month, "%Y-%m").date()
    else:
        from workflow.services.summaries import summary_timing

        month = latest_due_month(now, summary_timing(settings))
    month = month_start(month)
    if args.part:
        found = run_part(args.part, args.database_url, month, now, args.profile)
        print(json.dumps(found, default=str))
        return 0

    lots = _territory(args)
    check = _child("check", args, month, now)
    if check["differences"]:
        print("Le service et les requêtes écrites à la main ne donnent pas les mêmes chiffres :")
        for line in check["differences"][:40]:
            print("  " + line)
        return 1
    samples: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
    for index in range(args.runs):
        order = PARTS if index % 2 == 0 else tuple(reversed(PARTS))
        for part in order:
            samples[part].append(_child(part, args, month, now))
    figures: dict[str, Any] = {
        "lots": lots,
        "backend": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "month": f"{month:%Y-%m}",
        "now": now.isoformat(),
        "buyers": check["buyers"],
        "runs": args.runs,
    }
    for part, runs in samples.items():
        seconds = [r["seconds"] for r in runs]
        figures[part] = {
            "median_s": statistics.median(seconds),
            "min_s": min(seconds),
            "max_s": max(seconds),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            **{k: v for k, v in runs[-1].items() if k not in ("seconds", "peak_rss_mb")},
        }
    base = figures["baseline"]["median_s"]
    figures["ratio_compile"] = figures["compile"]["median_s"] / base
    figures["ratio_emails"] = figures["emails"]["median_s"] / base
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{figures['backend']}, {_thousands(lots)} lots, {figures['buyers']} donneurs d'ordre, "
        f"synthèses de {figures['month']} à {figures['now']}, médianes de {args.runs} (min–max)"
    )
    print("  partie                               temps                    mémoire max")
    labels = {
        "compile": "chiffres de toutes les synthèses",
        "emails": "+ courriels, fichiers, file d'envoi",
        "baseline": "GROUP BY écrits à la main",
    }
    for part in PARTS:
        f = figures[part]
        print(
            f"  {labels[part]:<36} {f['median_s']:7.2f} s ({f['min_s']:.2f}–{f['max_s']:.2f})"
            f"   {f['peak_rss_mb']:5.0f} Mo"
        )
    print(
        f"  rapport chiffres / GROUP BY : {figures['ratio_compile']:.2f} ; "
        f"courriels compris : {figures['ratio_emails']:.2f} (cible ≤ {TARGET_RATIO})"
    )
    emails = figures["emails"]
    print(
        f"  {emails['emails']} courriels ; HTML le plus long {emails['html_max_bytes'] / 1000:.0f} ko"
        f", texte {emails['text_max_bytes'] / 1000:.0f} ko ; pièces jointes : la plus lourde "
        f"{emails['attachments_max_bytes'] / 1000:.0f} ko, "
        f"{emails['attachments_total_bytes'] / 1000:.0f} ko en tout"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
