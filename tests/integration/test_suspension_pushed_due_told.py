"""A month called before a suspension is told the date the suspension pushed, by every reader.

A lot (holder Bâtiments Garonne, co-contractor Gimone Second Œuvre SAS) started 1 September
2026. October is called on Monday 2 November, due Tuesday 10 November. The lot is suspended on
Wednesday 4 November and resumes on Friday 6 November: three working days the company could not
use. The ladder pushes the date by them (``calendar.pushed_due``): October is due on Monday 16
November (the 11th is a holiday), its reminders counted from it, and ``declaration list`` shows
it. The company's emails read ``notices.owed_due_dates``, which gave the call's bare date: the
departure (9 November) said « octobre 2026 : à envoyer au plus tard le 10 novembre 2026 », the
receipt the same day « 10 novembre », the termination (10 November) « à déclarer au plus tard le
10 novembre 2026 », while the reminder that followed held the company to 16 November. The rule
gives the pushed date now, so all of them say 16 November.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import pytest

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_left_site import GONE, HOLDER, SEP, _cli, local
from tests.integration.test_suspension_dates_told import _texts
from workflow.bootstrap import App
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

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
        12,
        "départ",
        (
            "clause",
            "company-left",
            "{lot}",
            "--company",
            GONE,
            "--last-month",
            "10/2026",
            "--reason",
            "Part terminée",
        ),
    ),
    (
        date(2026, 11, 10),
        12,
        "résilier",
        (
            "clause",
            "advance",
            "{lot}",
            "resilier",
            "--end-date",
            "10/11/2026",
            "--reason",
            "Défaillance du titulaire",
        ),
    ),
]


def _scenario(app: App) -> tuple[Lot, list[dict[str, Any]]]:
    """The lot through ``STEPS``, the passes running to 20 November; ``declaration list``
    read on 9 November at 14:00, after the departure, before the termination."""
    lots: list[Lot] = []
    listed: list[dict[str, Any]] = []

    def lot(app: App, at: datetime) -> None:
        lots.append(
            make_lot(app, start=SEP, end=date(2027, 6, 30), companies=(HOLDER, GONE), at=at)
        )

    def cli(args: Sequence[str]) -> Callable[[App, datetime], None]:
        def run(app: App, at: datetime) -> None:
            _cli(app, at, *[a.format(lot=lots[0].clause_id) for a in args])

        return run

    def holder_declares_september(app: App, at: datetime) -> None:
        declare(app, lots[0], SEP, at)

    def list_declarations(app: App, at: datetime) -> None:
        out = _cli(app, at, "declaration", "list", "--clause", str(lots[0].clause_id), "--json")
        listed.extend(json.loads(out)["lignes"])

    actions = [TimedAction(local(app, date(2026, 8, 25), 10), "lot", lot)]
    actions += [
        TimedAction(local(app, day, hour), name, cli(args)) for day, hour, name, args in STEPS
    ]
    actions += [
        # The holder declares September, late: its receipt lists October, still owed.
        TimedAction(local(app, date(2026, 11, 9), 11), "déclarer", holder_declares_september),
        TimedAction(local(app, date(2026, 11, 9), 14), "lister", list_declarations),
    ]
    actions.sort(key=lambda action: action.at)
    simulate(app, date(2026, 8, 25), date(2026, 11, 20), actions=actions)
    return lots[0], listed


def test_every_reader_gives_october_the_date_the_suspension_pushed(app: App) -> None:
    lot, listed = _scenario(app)
    october = [row for row in listed if row["mois"] == "2026-10-01"]
    assert len(october) == 2 and {row["echeance"] for row in october} == {"2026-11-16"}, listed
    # The departure of the co-contractor: October by the pushed date, not the call's.
    (left,) = _texts(app, lot, "company_left")
    assert "- octobre 2026 : à envoyer au plus tard le 16 novembre 2026" in left, left
    assert "10 novembre 2026" not in left, left
    # The holder's receipt of September: October, still owed, by the same date.
    (receipt,) = _texts(app, lot, "declaration_receipt", company=0)
    assert "octobre 2026" in receipt and "16 novembre 2026" in receipt, receipt
    assert "10 novembre 2026" not in receipt, receipt
    # The termination, to each company: the same date.
    for company in (0, 1):
        (ended,) = _texts(app, lot, "company_lot_terminated", company=company)
        assert "- octobre 2026 : à déclarer au plus tard le 16 novembre 2026." in ended, ended
        assert "plus tard le 10 novembre" not in ended, ended
    # The ladder's truth: October's reminder holds the holder to that date.
    reminders = [
        t
        for t in _texts(app, lot, "declaration_reminder", company=0)
        if "- octobre 2026 : http" in t
    ]
    assert reminders and "Elle était attendue le 16 novembre 2026." in reminders[0], reminders
