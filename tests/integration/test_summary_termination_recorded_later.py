"""A termination recorded after the month it takes effect in (user trial, 6 December 2026).

A lot terminated on 2 December with effect on 15 November: the November summary, written after
the recording, read « (mise en œuvre – marché résilié le 15/11/2026) » and counted the lot under
« mise en œuvre » in its stage table, its history at the end of November saying execution. A
lot terminated on a day of the month was not in execution at its end: the line and the table
say « suivi et bilan », the October summary (written before) reads what it read, and the CLI
and ``audit verify`` agree with the emails.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import Clock
from tests.integration._ladders import make_lot
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_truth import text_tables
from tests.integration.test_terminated_lot_pace import (
    NOV,
    OCT,
    PLANNED_END,
    SEP,
    app,
    buyer_email,
    months_declared,
    settings,
)
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures


def stages(body: str) -> dict[str, str]:
    (table,) = [rows for title, rows in text_tables(body).items() if "par étape" in title]
    return {plain(row["Étape"]): plain(row["Clauses"]) for row in table}


def test_a_termination_recorded_after_its_month_reads_follow_up_in_that_month(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = make_lot(
        app, start=SEP, end=PLANNED_END, at=paris(SEP, 10), companies=("Titulaire", "Cotraitant")
    )
    terminated_at = paris(date(2026, 12, 2), 14)
    simulate(app, SEP, date(2026, 12, 31), actions=months_declared(lot, terminated_at))
    oct_, nov = buyer_email(app, lot, OCT), buyer_email(app, lot, NOV)
    assert oct_.created_at < terminated_at < nov.created_at

    # November: terminated on the 15th, recorded in December; the line and the table agree.
    (row,) = text_tables(nov.body_text)["Avancement par clause"]
    assert plain(row["Clause"]).endswith("(suivi et bilan – marché résilié le 15/11/2026)"), row
    assert "mise en œuvre – marché résilié" not in plain(nov.body_text)
    assert stages(nov.body_text) == {"suivi et bilan": "1"}

    # October, before the termination day: in execution, as it was written.
    (row,) = text_tables(oct_.body_text)["Avancement par clause"]
    assert plain(row["Clause"]).endswith("(mise en œuvre)"), row
    assert stages(oct_.body_text) == {"mise en œuvre": "1"}

    # The CLI made at November's moment says the same.
    moment = nov.created_at.astimezone(settings.zone).strftime("%Y-%m-%dT%H:%M")
    code, said = run_cli(
        settings, clock, paris(date(2027, 1, 5), 10), "summary", "--month", "2026-11",
        "--buyer", str(lot.buyer_id), "--now", moment,
    )  # fmt: skip
    assert code == 0, said
    assert "suivi et bilan – marché résilié le 15/11/2026" in plain(said), said
    assert "mise en œuvre" not in plain(said), said

    report = verify_database(app)
    assert report.findings == (), [f.problem for f in report.findings]
