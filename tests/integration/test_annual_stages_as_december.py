"""The annual report's « Clauses par étape » is December's « Clauses par étape », compiled at the
same moment, for the territory and for each buyer.

Both say each lot's stage at the end of the year. User trial (7 December 2026): a funder holding
December's summary and the annual report, both read in February, found them disagreeing as soon
as the facilitator had recorded something after the year's end with an earlier date: a lot's
end back-dated into December (« suivi et bilan » in the summary, « mise en œuvre » in the
report), a termination dated in December (the report listed it « marché résilié le … » and still
counted it in execution), a lot recorded in January with a December start date (in execution in
the summary, whose companies were called for December, absent from the report's stages and
clauses followed though its December hours were in the report's total).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.conftest import Clock
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import (
    app,
    declare_hours,
    plain,
    running_lot,
    settings,
    terminate,
)
from workflow.adapters.annual_report_files import render_annual_report
from workflow.bootstrap import App
from workflow.services.annual_report import compile_annual_report
from workflow.services.summaries import compile_for
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures, imported to be used here

DEC = date(2026, 12, 1)


def stages(app: App, at: datetime, buyer_id: int | None = None) -> tuple[dict, dict]:
    """(the annual report's stage table, December's), both compiled at ``at``."""
    with app.transaction() as session:
        report = compile_annual_report(
            session, 2026, buyer_id=buyer_id, now=at, zone=app.settings.zone
        )
    december = compile_for(app, DEC, buyer_id=buyer_id, now=at)
    yearly = {line.code: line.value for line in report.clauses_by_stage if line.value}
    monthly = {
        line.code: line.clauses for line in december.overall.clauses_by_stage if line.clauses
    }
    return yearly, monthly


def end(settings: Settings, clock: Clock, lot: Lot, at: datetime, day: str) -> None:
    code, said = run_cli(settings, clock, at, "clause", "advance", str(lot.clause_id),
                         "achever", "--end-date", day)  # fmt: skip
    assert code == 0, said


def test_the_annual_stages_are_decembers_after_late_records(
    app: App, settings: Settings, clock: Clock
) -> None:
    ended = running_lot(app, date(2026, 11, 19))
    terminated = make_lot(
        app, start=date(2026, 9, 1), end=date(2027, 6, 30), at=paris(date(2026, 9, 1), 10)
    )
    simulate(app, date(2026, 11, 20), date(2027, 1, 11))
    # Recorded in January, dated in December.
    end(settings, clock, ended, paris(date(2027, 1, 12), 10), "18/12/2026")
    terminate(settings, clock, terminated, paris(date(2027, 1, 12), 11), "31/12/2026")
    late = make_lot(app, start=DEC, end=date(2027, 6, 30), at=paris(date(2027, 1, 12), 12))
    simulate(app, date(2027, 1, 12), date(2027, 2, 10))
    declare_hours(app, late, DEC, paris(date(2027, 2, 10), 14), "42")
    at = paris(date(2027, 2, 11), 9)
    for buyer in (None, ended.buyer_id, terminated.buyer_id, late.buyer_id):
        yearly, monthly = stages(app, at, buyer)
        assert yearly == monthly, buyer
    assert yearly == {"execution": 1}  # the lot started late, in execution at the end of 2026
    assert stages(app, at)[0] == {"execution": 1, "follow_up": 2}

    # The lot started late was followed in 2026, its company accompanied, as its December
    # hours (in the report's total) say.
    with app.transaction() as session:
        report = compile_annual_report(session, 2026, now=at, zone=app.settings.zone)
        mine = compile_annual_report(
            session, 2026, buyer_id=late.buyer_id, now=at, zone=app.settings.zone
        )
    assert (report.clauses_followed, report.companies) == (3, 4)
    assert (mine.clauses_followed, mine.companies) == (1, 1)
    assert mine.hours == 42
    # The funder reads how the stages are counted.
    printed = plain(render_annual_report(report, "text").decode("utf-8"))
    assert (
        "Clauses par étape : l'étape de chaque clause au 31 décembre 2026, comme la synthèse "
        "mensuelle de décembre la compte" in printed
    ), printed
