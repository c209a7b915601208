"""The day's tasks of a large territory (issue 12: the dashboard and the API at 10^5 lots).

The dashboard and the API show the first tasks of each section (``compile_tasks``) without
reading every month overdue: the database finds each company x lot's oldest month owed and
counts them by due date, and only the companies x lots of the first dates are read
(``digest._first_overdue``); the lots once suspended, and the months called after their due
date, are read whole as before. The awards to complete are found in two reads, the hours of the
contracts ending soon summed by the database.

- on territories made by the generator (SQLite and PostgreSQL), at instants from before the
  territory's day to weeks after it, every section of ``compile_tasks`` for every number shown
  is exactly the first tasks of the full digest (``compile_digest``, which still reads them all)
  and its count; the scenario of ``test_dashboard_tasks`` (a lot once suspended, months called
  late, ties) is checked the same way there;
- on PostgreSQL the lots ended and the lots ending soon are read from the indexes of migration
  0019, so that at 10^5 lots neither is a read of every lot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_generate import generate
from tests.integration.test_query_plans import nodes
from workflow.app import dashboard as dashboard_view
from workflow.app.unit import reading
from workflow.bootstrap import App, bootstrap
from workflow.services.digest import compile_digest, compile_tasks

PARIS = ZoneInfo("Europe/Paris")
#: The generator's territory lives on 20 November 2026.
DAY = datetime(2026, 11, 20, 10, 30, tzinfo=PARIS)
#: From months before it (fewer months overdue) to weeks after it (more, and the pace section).
SHIFTS = (-120, -3, 0, 1, 10, 45)
SHOWN = (0, 1, 2, 5, 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def territory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """A generated territory of 1,500 lots (a few dozen suspended, hundreds ended)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'territory.db'}"
    generate(url, tmp_path, lots=1500, seed=5)
    app = bootstrap(make_settings(tmp_path, url), clock=lambda: DAY)
    app.init_database()
    try:
        yield app
    finally:
        app.close()


@pytest.mark.slow
def test_the_first_tasks_of_a_generated_territory_are_the_full_digest_first(
    territory: App,
) -> None:
    settings = territory.settings
    checked = 0
    for shift in SHIFTS:
        now = DAY + timedelta(days=shift)
        with reading(territory) as session:
            digest = compile_digest(session, now, settings)
            for shown in SHOWN:
                tasks = compile_tasks(session, now, settings, shown)
                assert tasks == digest.first(shown), (shift, shown)
        counts = {section.category.value: section.count for section in digest.first(1).sections}
        # Late companies of never suspended lots cut by lot within one due date, with hundreds
        # more behind them: the case the database ranks.
        checked += counts.get("declaration", 0) > 2 * max(SHOWN)
    assert checked >= 4


@pytest.mark.postgres
@pytest.mark.slow
def test_the_lots_ended_and_ending_soon_are_read_from_their_indexes(
    postgres_url: str, tmp_path: Path
) -> None:
    """The plans PostgreSQL makes for them, sequential scans allowed (as in service): a lot's
    end is read from ``ix_clauses_ended``, the contracts ending soon from
    ``ix_clauses_stage_planned_end``."""
    _empty_postgres(postgres_url)
    generate(postgres_url, tmp_path, lots=1500, seed=5)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: DAY)
    app.init_database()
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.setdefault(statement, parameters)

    try:
        with app.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        event.listen(app.engine, "before_cursor_execute", record)
        dashboard_view.day_tasks(app, per_section=30, now=DAY + timedelta(days=10))
        event.remove(app.engine, "before_cursor_execute", record)
        used: dict[str, set[str]] = {}
        with app.engine.connect() as connection:
            for statement, parameters in sent.items():
                explained = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement, parameters
                ).scalar()
                document = explained if isinstance(explained, list) else json.loads(explained)
                used[statement] = {
                    str(node["Index Name"])
                    for node in nodes(document[0]["Plan"])
                    if "Index Name" in node
                }
    finally:
        app.close()
    ended = [s for s in sent if "end_date IS NOT NULL" in s and "declaration_ladders" in s]
    ending = [s for s in sent if "planned_end_date <=" in s]
    assert ended and ending
    assert all("ix_clauses_ended" in used[s] for s in ended), [used[s] for s in ended]
    assert all("ix_clauses_stage_planned_end" in used[s] for s in ending), [used[s] for s in ending]
