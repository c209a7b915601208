"""The digest's late months name the months really missing, and a closed lot is no task.

A lot awarded from 1 April to 31 December 2026 is started on 15 July: its months from April on
are called. The company declares September (on 5 October) and October (on 5 November) only. On
15 December the digest (and the dashboard's day of tasks, from the same source) names the
months missing one by one (« de mai, juin, juillet, août et novembre 2026 »), never a range
that takes in September and October; a run without a gap stays a range.

The facilitator then finishes the lot, records its report and closes it: its months still
open take no declaration any more (``declaration zero`` refuses them), so the digest, the
dashboard and ``clauses digest`` no longer list them, nor a command that would be refused.

Through the real App, passes and commands, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from workflow.bootstrap import App, bootstrap
from workflow.emails.digest import Category, DigestItem
from workflow.services.digest import compile_digest, compile_tasks
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
DAY = date(2026, 12, 15)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def late_lot(app: App) -> Lot:
    """The lot of the trial: April to December, started mid-July, September and October
    declared, simulated to 15 December."""
    lot = make_lot(
        app, start=date(2026, 4, 1), end=date(2026, 12, 31), at=paris(date(2026, 7, 15), 10)
    )
    declared = [
        TimedAction(paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)),
        TimedAction(paris(date(2026, 11, 5), 11), "octobre", lambda a, at: declare(a, lot, OCT, at)),
    ]  # fmt: skip
    simulate(app, date(2026, 7, 15), DAY, actions=declared)
    return lot


def late_items(app: App, lot: Lot, day: date = DAY) -> tuple[list[DigestItem], list[DigestItem]]:
    """The lot's late months in the digest, and on the dashboard's day of tasks."""
    now = paris(day, 16)
    with app.transaction() as session:
        digest = compile_digest(session, now, app.settings)
        tasks = compile_tasks(session, now, app.settings, 10)
    full = [i for i in digest.items if i.category is Category.DECLARATION]
    shown = [
        item
        for section in tasks.sections
        if section.category is Category.DECLARATION
        for item in section.items
    ]
    assert all(item.clause_id == lot.clause_id for item in full + shown)
    return full, shown


def test_the_months_missing_are_named_one_by_one(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = late_lot(app)
    full, shown = late_items(app, lot)
    assert len(full) == 1 and [i.title for i in shown] == [full[0].title]
    title, detail = full[0].title, full[0].detail
    assert title.startswith(
        "Bâtiments Test : heures d'avril, mai, juin, juillet, août et novembre 2026 "
        "non déclarées – clause n° "
    ), title
    assert " à novembre" not in title
    assert detail.startswith("6 mois en retard, le plus ancien dû le "), detail

    # ``clauses digest`` says the same.
    code, said = run_cli(settings, clock, paris(DAY, 16), "digest")
    assert code == 0, said
    assert "heures d'avril, mai, juin, juillet, août et novembre 2026 non déclarées" in said


def test_a_closed_lot_is_no_declaration_task(app: App, settings: Settings, clock: Clock) -> None:
    lot = late_lot(app)
    assert [len(items) for items in late_items(app, lot)] == [1, 1]

    # Finished, reported, closed: no declaration is taken any more.
    for args in (
        ("clause", "advance", str(lot.clause_id), "achever", "--end-date", "30/11/2026"),
        ("clause", "report", str(lot.clause_id), "--text", "Bilan de l'opération."),
        ("clause", "advance", str(lot.clause_id), "cloturer"),
    ):
        code, said = run_cli(settings, clock, paris(DAY, 17), *args)
        assert code == 0, (args, said)
    code, said = run_cli(settings, clock, paris(DAY, 17), "declaration", "zero",
                         "--clause", str(lot.clause_id), "--company", str(lot.company_ids[0]),
                         "--month", "05/2026")  # fmt: skip
    assert code != 0 and "clôturée" in said, said

    full, shown = late_items(app, lot)
    assert full == [] and shown == []
    code, said = run_cli(settings, clock, paris(DAY, 16), "digest")
    assert code == 0, said
    assert "non déclarées" not in said and "declaration zero" not in said, said


def test_a_run_of_months_without_a_gap_stays_a_range(app: App) -> None:
    lot = make_lot(
        app, start=date(2026, 4, 1), end=date(2026, 12, 31), at=paris(date(2026, 7, 15), 10)
    )
    day = date(2026, 9, 21)
    simulate(app, date(2026, 7, 15), day)
    full, shown = late_items(app, lot, day)
    assert len(full) == 1 and [i.title for i in shown] == [full[0].title]
    assert full[0].title.startswith(
        "Bâtiments Test : heures d'avril à août 2026 non déclarées – clause n° "
    ), full[0].title
    assert full[0].detail.startswith("5 mois en retard"), full[0].detail
