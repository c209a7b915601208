"""Every query of the service's passes and of the summaries has an index to use (issue 12, item 4).

On PostgreSQL, a generated territory (``bench/generate.py``, 1,000 lots) goes through the passes
of a month: the first working morning (every company called, the digest, the summaries of every
buyer and the facilitator's, all sent), a pass with nothing due, the alerts, the reminders; then
the summary of a month and one buyer's as ``clauses summary`` asks them. (The annual report is
left out: it counts every lot of the territory by its stage at the year's end, a read of every
lot by nature, once a year.)
Every statement they sent to the database is recorded, then explained with sequential scans
disabled: a plan that still reads one of the large tables from end to end has no index to use,
and at 10^5 lots that is the query that makes a pass slow. The planner may prefer a full scan of
a small table at this size, which is why the scans are forbidden for the check and not read from
the plans the passes actually ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_generate import generate
from workflow.app import reports
from workflow.bootstrap import bootstrap
from workflow.services import ticks

PARIS = ZoneInfo("Europe/Paris")
#: The generator's territory lives on 20 November 2026; December's passes follow.
PASSES = (
    datetime(2026, 12, 1, 9, 5, tzinfo=PARIS),  # calls, digest, October's summaries
    datetime(2026, 12, 1, 9, 35, tzinfo=PARIS),  # nothing due
    datetime(2026, 12, 4, 9, 5, tzinfo=PARIS),  # alerts of the months owed
    datetime(2026, 12, 15, 9, 5, tzinfo=PARIS),  # November's first reminders
)
#: The tables that grow with the territory (10^5 lots: 10^5 to 10^7 rows). The others hold a
#: row per buyer, per setting or per pass, and a full read of them is no cost.
LARGE = frozenset(
    {
        "award_parties",
        "clause_history",
        "clauses",
        "companies",
        "correspondents",
        "declaration_ladders",
        "declaration_lines",
        "declarations",
        "held_notices",
        "markets",
        "operations",
        "outbox",
        "outcomes",
        "participants",
        "record_history",
        "suspensions",
    }
)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def full_scans(connection: Connection, statement: str, parameters: Any) -> list[str]:
    """The large tables ``statement`` would read end to end, sequential scans disabled."""
    explained = connection.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + statement, parameters
    ).scalar()
    document = explained if isinstance(explained, list) else json.loads(explained)
    return sorted(
        {
            str(node["Relation Name"])
            for node in nodes(document[0]["Plan"])
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE
        }
    )


def explainable(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)[0].upper()
    if head in ("SELECT", "WITH", "UPDATE", "DELETE"):
        return True
    # An INSERT … SELECT reads; a plain INSERT … VALUES does not.
    return head == "INSERT" and re.search(r"\bSELECT\b", statement, re.IGNORECASE) is not None


@pytest.mark.postgres
@pytest.mark.slow
def test_every_query_of_the_passes_and_the_summaries_has_an_index_to_use(
    postgres_url: str, tmp_path: Path
) -> None:
    _empty_postgres(postgres_url)
    generate(postgres_url, tmp_path, lots=1000, seed=3)
    moment = [PASSES[0]]
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: moment[0])
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if many:
            parameters = parameters[0] if parameters else {}
        sent.setdefault(statement, parameters)

    try:
        event.listen(app.engine, "before_cursor_execute", record)
        done = []
        for instant in PASSES:
            moment[0] = instant
            done.append(ticks.run_pass(app, instant))
        reports.monthly_summary(app, date(2026, 10, 1))
        reports.monthly_summary(app, date(2026, 10, 1), buyer=1)
        event.remove(app.engine, "before_cursor_execute", record)

        # The passes did their work: the check is over the queries that do it.
        first, idle, alerts, reminders = done
        assert first.ladders.calls > 300 and first.digests == 1 and first.summaries >= 2
        assert idle.ladders.calls == idle.digests == idle.summaries == 0
        assert alerts.ladders.escalations > 0 and reminders.ladders.reminders > 0
        statements = [(s, p) for s, p in sent.items() if explainable(s)]
        assert len(statements) > 80
        # The release of the buyer notices held for want of a contact is asked at every pass.
        assert any("FROM held_notices" in statement for statement, _ in statements)

        with app.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            found = {}
            for statement, parameters in statements:
                tables = full_scans(connection, statement, parameters)
                if tables:
                    found[" ".join(statement.split())[:600]] = tables
            # The check can fail: a query with no index to use is seen as such.
            canary = "SELECT count(*) FROM declaration_lines WHERE hours > %(h)s"
            assert full_scans(connection, canary, {"h": 1}) == ["declaration_lines"]
    finally:
        app.close()

    assert found == {}, "\n\n".join(f"{tables}: {s}" for s, tables in found.items())
