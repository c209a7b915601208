"""The buyer's notice that a month its alert named has arrived also says which other months the
company was asked and has not sent (SQLite and PostgreSQL): the notice is about one month, not
the company's whole record.

User trial: « Ce mois n'est plus manquant : une mise en demeure … n'aurait plus d'objet » read
as a compliant company by a buyer while the same company still owed ten months on the lot."""

from __future__ import annotations

from datetime import date, time

import pytest

from tests.integration._ladders import declare, make_lot
from tests.integration.test_ladder_scenarios import paris
from tests.integration.test_late_declaration_notice_buyer import KIND, SEP, _alerted, _rows, wired
from tests.text import squash, visible
from workflow.bootstrap import App
from workflow.domain.calendar import add_working_days, at_local, local_date

pytestmark = pytest.mark.scenario

__all__ = ["wired"]  # the fixture, used by name

OCT = date(2026, 10, 1)


def test_the_notice_names_the_months_still_owed_outside_its_alert(wired: App) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )
    alert = _alerted(app)  # September alerted; October called on 2 November, not received
    declared_on = add_working_days(local_date(alert.sent_at or alert.created_at, zone), 2)
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))

    [notice] = _rows(app, KIND)
    said = (
        "Bâtiments Gascons SARL ne m'a pas encore transmis sa déclaration d'octobre 2026, déjà "
        "demandée : ce message ne la concerne pas."
    )
    assert said in squash(notice.body_text)
    assert said.replace(" :", "\u00a0:") in visible(notice.body_html)


def test_a_notice_with_nothing_else_owed_says_nothing_of_it(wired: App) -> None:
    app = wired
    zone = app.settings.zone
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 6, 30),
        companies=("Bâtiments Gascons SARL",),
        at=paris(SEP, 10),
    )
    alert = _alerted(app)
    declared_on = add_working_days(local_date(alert.sent_at or alert.created_at, zone), 2)
    declare(app, lot, OCT, at_local(declared_on, time(10), zone))
    declare(app, lot, SEP, at_local(declared_on, time(11), zone))

    [notice] = _rows(app, KIND)
    assert "ne m'a pas encore transmis" not in squash(notice.body_text)
