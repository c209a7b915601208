"""The incomplete awards of the day's tasks, ranked and counted by the database (issue 12).

At 10^5 lots the dashboard and the API read every lot at the award stage (7,035) and which of
them had a holder ready, then told each one's days in Python, to show the first few: now the
lots awarded on the day of the ``limit``-th longest waiting or before are read, the others
counted (``services.digest_awards``).

On a generated territory (SQLite and PostgreSQL):
- the awards section and the waiting section (which says of an award-stage lot whether its
  award is to complete) of ``compile_tasks`` are the first tasks of the full digest, with its
  counts, at several instants and numbers shown;
- whether a lot's award is incomplete is told right for every lot of the territory, those read
  and those asked afterwards;
- the day's tasks read a few award-stage lots, not all of them (row counts on PostgreSQL, whose
  driver gives them for a SELECT).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_generate import generate
from workflow.adapters.orm import Clause
from workflow.app import dashboard as dashboard_view
from workflow.app.unit import reading
from workflow.bootstrap import App, bootstrap
from workflow.emails.digest import Category
from workflow.services.digest import compile_digest, compile_tasks
from workflow.services.digest_awards import every_incomplete_award, first_incomplete_awards

PARIS = ZoneInfo("Europe/Paris")
#: The generator's territory lives on 20 November 2026.
DAY = datetime(2026, 11, 20, 10, 30, tzinfo=PARIS)
SECTIONS = (Category.AWARD, Category.WAITING)


@pytest.fixture(params=["sqlite", "postgresql"])
def territory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """A generated territory of 1,500 lots (about a hundred at the award stage)."""
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
def test_the_first_incomplete_awards_are_the_full_digest_first(territory: App) -> None:
    settings = territory.settings
    with reading(territory) as session:
        every = {row[0] for row in every_incomplete_award(session)}
        award_lots = set(session.scalars(select(Clause.id).where(Clause.stage == "award")))
        first = first_incomplete_awards(session, settings, 3)
        assert first is not None and first.count == len(every)
        # Read: a few lots; told: every lot, read or not, at the award stage or not.
        assert len(first.rows) < len(every) / 4
        assert {cid for cid in award_lots | {1, 2, 3} if cid in first} == every
        for shift in (-30, 0, 45):
            now = DAY + timedelta(days=shift)
            digest = compile_digest(session, now, settings)
            for shown in (0, 1, 3, 30):
                tasks = compile_tasks(session, now, settings, shown)
                expected = digest.first(shown)
                assert [s for s in tasks.sections if s.category in SECTIONS] == [
                    s for s in expected.sections if s.category in SECTIONS
                ], (shift, shown)
    # The case ranked by the database: far more awards to complete than shown, with and
    # without a start date, and award-stage lots among those waiting.
    assert len(every) > 40 and len(award_lots - every) > 10
    awards = next(s for s in digest.first(3).sections if s.category == Category.AWARD)
    assert awards.count == len(every)
    assert [item.title.split(" : ")[1] for item in awards.items] == ["attribution incomplète"] * 3


@pytest.mark.postgres
@pytest.mark.slow
def test_the_day_tasks_read_a_few_award_stage_lots(postgres_url: str, tmp_path: Path) -> None:
    _empty_postgres(postgres_url)
    generate(postgres_url, tmp_path, lots=1500, seed=5)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: DAY)
    app.init_database()
    fetched: list[int] = []

    def count(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        # The statements that read lots by their stage being the award's.
        if isinstance(parameters, dict) and "award" in {str(v) for v in parameters.values()}:
            fetched.append(cursor.rowcount)

    try:
        with reading(app) as session:
            award_lots = len(
                session.scalars(select(Clause.id).where(Clause.stage == "award")).all()
            )
        event.listen(app.engine, "after_cursor_execute", count)
        tasks = dashboard_view.day_tasks(app, per_section=3)
        event.remove(app.engine, "after_cursor_execute", count)
    finally:
        app.close()
    awards = next(s for s in tasks.sections if s.category == Category.AWARD)
    assert len(awards.items) == 3 and awards.count > 40
    assert award_lots > 80
    # The count is one row; the lots read are those of the first days (a few ties at most), in
    # the two sections that read award-stage lots (the awards to complete, the starts passed).
    assert fetched and sum(fetched) < 30, (fetched, award_lots)
