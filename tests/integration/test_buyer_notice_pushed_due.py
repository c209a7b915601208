"""The buyer's notices give a month called before a suspension the date the suspension pushed,
the one its companies are held to.

A lot (holder Bâtiments Garonne, co-contractor Gimone Second Œuvre SAS) started 1 September
2026, planned to end 30 June 2027. October is called on Monday 2 November, due Tuesday 10
November. The lot is suspended on Wednesday 4 November and resumes on Friday 6 November: three
working days the companies could not use, so October is due on Monday 16 November (the 11th is
a holiday), the date their reminders, the calendar page and ``declaration list`` give it. On
Monday 9 November an amendment ends the works on 31 October: the buyer's notice said « La
dernière déclaration, celle d'octobre 2026, est attendue au plus tard le 10 novembre 2026 »,
the call's bare date (``notices.announced_due_dates``), six days before the companies' own.
It says 16 November now.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import pytest

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.integration.test_suspension_dates_told import _texts
from workflow.app import web_corrections
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

OCTOBER = date(2026, 10, 1)
STEPS = [
    (
        date(2026, 11, 4),
        8,
        "suspendre",
        ("clause", "advance", "{lot}", "suspendre", "--reason", "Intempéries"),
    ),
    (date(2026, 11, 6), 14, "reprendre", ("clause", "advance", "{lot}", "reprendre")),
    (
        date(2026, 11, 9),
        10,
        "avenant",
        ("lot", "set-end", "{lot}", "31/10/2026", "--reason", "Avenant n° 2 : travaux achevés"),
    ),
]


def _scenario(app: App) -> tuple[Lot, list[dict[str, Any]], list[date | None]]:
    """The lot through ``STEPS``, the passes running to 20 November; ``declaration list`` and
    the lot's calendar page read on 9 November at 14:00, after the amendment."""
    lots: list[Lot] = []
    listed: list[dict[str, Any]] = []
    shown: list[date | None] = []

    def lot(app: App, at: datetime) -> None:
        lots.append(
            make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, GONE), at=at)
        )

    def cli(args: Sequence[str]) -> Callable[[App, datetime], None]:
        def run(app: App, at: datetime) -> None:
            _cli(app, at, *[a.format(lot=lots[0].clause_id) for a in args])

        return run

    def read(app: App, at: datetime) -> None:
        out = _cli(app, at, "declaration", "list", "--clause", str(lots[0].clause_id), "--json")
        listed.extend(json.loads(out)["lignes"])
        clock = app.clock
        app.clock = lambda: at
        try:
            sheet = web_corrections.lot_calendar(app, lots[0].clause_id)
        finally:
            app.clock = clock
        shown.extend(row.due_on for row in sheet.running if row.month == OCTOBER)

    actions = [TimedAction(local(app, date(2026, 8, 25), 10), "lot", lot)]
    actions += [
        TimedAction(local(app, day, hour), name, cli(args)) for day, hour, name, args in STEPS
    ]
    actions.append(TimedAction(local(app, date(2026, 11, 9), 14), "lire", read))
    actions.sort(key=lambda action: action.at)
    simulate(app, date(2026, 8, 25), date(2026, 11, 20), actions=actions)
    return lots[0], listed, shown


def test_the_buyers_notice_gives_october_the_date_its_companies_are_held_to(app: App) -> None:
    lot, listed, shown = _scenario(app)
    # What the companies are held to: the list, the calendar page and the ladder's reminder.
    october = [row for row in listed if row["mois"] == "2026-10-01"]
    assert len(october) == 2 and {row["echeance"] for row in october} == {"2026-11-16"}, listed
    assert shown == [date(2026, 11, 16)] * 2, shown
    reminders = [
        t
        for t in _texts(app, lot, "declaration_reminder", company=0)
        if "- octobre 2026 : http" in t
    ]
    assert reminders and "Elle était attendue le 16 novembre 2026." in reminders[0], reminders
    # The buyer's notice of the amendment: the same date, never the call's bare one.
    (notice,) = _texts(app, lot, "notice_planned_end")
    assert (
        "Aucun mois après octobre 2026 ne sera demandé : les déclarations de novembre 2026"
        in notice
    ), notice
    assert (
        "La dernière déclaration, celle d'octobre 2026, est attendue au plus tard le "
        "16 novembre 2026." in notice
    ), notice
    assert "10 novembre 2026" not in notice, notice
