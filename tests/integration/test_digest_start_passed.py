"""A lot awarded whose planned start has passed, its start not recorded, is a task of the day of
its own (user trial, 7 December 2026: the digest said only « attend à l'étape attribution depuis
388 jours »): no month is asked of its companies until the start is recorded, and the task says
which months recording it today would ask, on which day and with which due date. A facilitator
who follows it gets the call it announced: the day, the months and the due date are those the
ladder gives, read after the start is recorded and the passes have run."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, ladder_emails, ladder_pass, make_lot
from workflow.adapters.orm import DeclarationLadder
from workflow.adapters.templates import french_date
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App
from workflow.domain.calendar import at_local, local_date
from workflow.domain.stages import ClauseEvent
from workflow.emails.digest import Category, DigestItem
from workflow.emails.ladder import KIND_CALL
from workflow.services.digest import compile_digest, compile_tasks
from workflow.settings import Settings

#: Awarded on Monday 16 March 2026, to start on Wednesday 1 April 2026.
AWARDED = date(2026, 3, 16)
START = date(2026, 4, 1)
END = date(2026, 12, 31)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """A lot at the award stage for more than a day is also a clause waiting at its stage: the
    case where one lot could read as two tasks."""
    return make_settings(tmp_path, database_url, stage_wait_days={"award": 1})


def paris(day: date, hour: int = 8) -> datetime:
    return at_local(day, time(hour), Settings().zone)


def awarded_lot(app: App) -> Lot:
    return make_lot(app, start=START, end=END, at=paris(AWARDED, 10), started=False)


def items(app: App, day: date) -> list[DigestItem]:
    with app.transaction() as session:
        return list(compile_digest(session, paris(day), app.settings).items)


def about(found: list[DigestItem], lot: Lot) -> list[Category]:
    """The sections that say where the lot stands."""
    standing = (Category.START_PASSED, Category.WAITING, Category.AWARD)
    return [i.category for i in found if i.clause_id == lot.clause_id and i.category in standing]


def test_from_the_day_after_the_planned_start_the_task_replaces_the_waiting_one(
    app: App,
) -> None:
    lot = awarded_lot(app)
    # On the start day itself the start may still be recorded that day: the lot only waits.
    assert about(items(app, START), lot) == [Category.WAITING]

    found = items(app, START + timedelta(days=1))
    assert about(found, lot) == [Category.START_PASSED]
    [item] = [i for i in found if i.category == Category.START_PASSED]
    assert item.weight == item.days == 1
    assert item.title.endswith(
        " : démarrage prévu le 1er avril 2026, passé depuis 1 jour, non enregistré"
    ), item.title
    # Its first call still leaves on time (Monday 4 May, after the 1 May holiday) if the start
    # is recorded by the day before.
    assert item.detail == (
        "Aucun mois n'est demandé aux entreprises tant que le démarrage n'est pas enregistré. "
        "Avril 2026 leur sera demandé le 4 mai 2026, comme prévu, si le démarrage est "
        "enregistré au plus tard le 3 mai 2026."
    )
    assert f"clauses clause advance {lot.clause_id} demarrer" in item.action
    assert item.web is not None and item.web.clause_id == lot.clause_id


def test_a_company_gets_the_call_the_task_announced_once_the_start_is_recorded(
    app: App, clock: Clock
) -> None:
    lot = awarded_lot(app)
    # Friday 19 June 2026: April's and May's calls would have left on 4 May and 1 June.
    today = date(2026, 6, 19)
    [item] = [i for i in items(app, today) if i.category == Category.START_PASSED]
    with app.transaction() as session:
        tasks = compile_tasks(session, paris(today), app.settings, 1)
    [section] = [s for s in tasks.sections if s.category == Category.START_PASSED]
    assert section.count == 1 and section.items == (item,)

    # The facilitator follows it: the start recorded that morning, the passes of the days after.
    clock.set(paris(today, 10))
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    day = today
    while not [m for m in ladder_emails(app) if m.kind == KIND_CALL]:
        day += timedelta(days=1)
        assert day < date(2026, 7, 1), "no call left"
        ladder_pass(app, paris(day, 9) + timedelta(minutes=30))  # in the call hour
    calls = [m for m in ladder_emails(app) if m.kind == KIND_CALL]
    zone = app.settings.zone
    [call_day] = {local_date(m.created_at, zone) for m in calls}
    with app.transaction() as session:
        ladders = session.scalars(
            select(DeclarationLadder).where(DeclarationLadder.called_at.is_not(None))
        ).all()
    months = sorted({ladder.month for ladder in ladders})
    [due] = {ladder.due_on for ladder in ladders}
    assert months == [date(2026, 4, 1), date(2026, 5, 1)]
    assert item.detail == (
        "Aucun mois n'est demandé aux entreprises tant que le démarrage n'est pas enregistré. "
        f"Enregistré aujourd'hui, avril et mai 2026 leur seront demandés ensemble le "
        f"{french_date(call_day)}, à déclarer au plus tard le {french_date(due)}."
    )
    assert (call_day, due) == (date(2026, 6, 22), date(2026, 7, 1))
    # Started: no longer a task.
    assert about(items(app, day), lot) == []
