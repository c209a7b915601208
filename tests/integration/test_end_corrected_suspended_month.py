"""The notice of an end corrected later names only the months really asked again.

A lot from September 2026 to March 2027, September declared; suspended from 20 October to
1 December 2026 (November spent suspended whole: nobody is asked for it); finished on 3 December
« le 31/10/2026 », a typo for 2 December; corrected on 4 December. Between the two ends lie
November and December, but November is asked of nobody (``company_pauses._skipped``,
``calendar.month_fully_within``): the buyer reads that December is now awaited, not November,
and the figures count the months asked (September, October, December), as ``declaration list``
lists them.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_company_pause_notices import advance
from tests.integration.test_end_corrected_notice import correct, notices_of, plain
from tests.integration.test_end_date_correction import SEP, paris, run_cli
from tests.text import visible
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def suspended_over_november(app: App, settings: Settings, clock: Clock) -> Lot:
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    september = TimedAction(
        paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)
    )
    simulate(app, SEP, date(2026, 10, 19), actions=[september])
    advance(app, lot, ClauseEvent.SUSPEND, paris(date(2026, 10, 20), 10), "Fouilles")
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 12, 1), 10), None)
    code, said = run_cli(settings, clock, paris(date(2026, 12, 3), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    return lot


def test_a_month_suspended_whole_is_not_named_as_asked_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = suspended_over_november(app, settings, clock)
    at = paris(date(2026, 12, 4), 10)
    correct(settings, clock, lot, at, "02/12/2026")
    [notice] = notices_of(app, lot, "notice_end_corrected")
    text = plain(notice.body_text)
    assert (
        "s'est achevée le 2 décembre 2026, et non le 31 octobre 2026 comme je vous l'avais "
        "indiqué. La déclaration de décembre 2026 est désormais attendue de l'entreprise."
    ) in text, text
    # September declared; October and December owed; November asked of nobody.
    assert "Mois déclarés : 1 sur 3 (2 restent à déclarer)" in text, text
    page = plain(visible(notice.body_html or ""))
    assert "La déclaration de décembre 2026 est désormais attendue de l'entreprise." in page
    assert "Mois déclarés 1 sur 3 (2 restent à déclarer)" in page, page
    for said in (text, page):
        assert "novembre" not in said, said

    # What the notice says is what the service asks: November is not listed as owed.
    code, listed = run_cli(settings, clock, at, "declaration", "list", "--clause",
                           str(lot.clause_id))  # fmt: skip
    assert code == 0, listed
    # (December opens on its last working day: not listed yet.)
    assert "novembre 2026" not in listed, listed
    assert "2 déclarations attendues" in listed, listed


def test_the_command_names_only_the_months_asked(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The command line says what the passes will do: a month suspended whole is asked of
    nobody, so it is not among the months « désormais demandés »."""
    lot = suspended_over_november(app, settings, clock)
    said = correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "02/12/2026")
    assert "ovembre" not in said, said
    assert "Décembre 2026 est désormais demandé à Bâtiments Test" in said, said
