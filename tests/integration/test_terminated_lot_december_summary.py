"""A buyer whose only lot was terminated in November, declarations still missing, gets its
December summary, and it says what ``clauses summary --month 2026-12 --buyer N`` says then.

User trial: the lot of ``test_lot_terminated`` (two companies from September 2026, the holder's
September and October declared, the co-contractor's September; terminated on 20 November,
effective on the 15th). The passes ran on: November's summary left on 22 December, then nothing,
neither a December summary nor a month recorded as skipped, while the README says a buyer with a
lot in follow-up gets one, and the co-contractor's October and both companies' November were
still missing. ``services.summaries._has_followed_clause`` asked only for a lot working in
December or hours declared in it: a territory whose only lot was in follow-up had no summary at
all, though ``compile_month`` writes to that lot's buyer.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_end_date_correction import paris, run_cli
from tests.integration.test_lot_terminated import app, plain, running_lot, settings, terminate
from tests.integration.test_summary_truth import figure_lines, summary_emails
from workflow.adapters.orm import PeriodicRun
from workflow.bootstrap import App
from workflow.services.summaries import JOB, JOB_SKIPPED
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

__all__ = ["app", "settings"]  # the fixtures, imported to be used here


def test_the_buyer_of_a_lot_terminated_in_november_gets_its_december_summary(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = running_lot(app, date(2026, 11, 19))
    terminate(settings, clock, lot, paris(date(2026, 11, 20), 10), "15/11/2026")
    simulate(app, date(2026, 11, 20), date(2027, 1, 25))

    with app.transaction() as session:
        runs = {(j, p) for j, p in session.execute(select(PeriodicRun.job, PeriodicRun.period))}
    assert (JOB, "2026-12") in runs and (JOB_SKIPPED, "2026-12") not in runs, runs
    key = f"summary:2026-12:buyer:{lot.buyer_id}"
    (email,) = [e for e in summary_emails(app) if e.key == key]
    assert email.created_at == paris(date(2027, 1, 21), 7)
    said = figure_lines(email.body_text)
    text = plain(email.body_text)
    # The months still missing named, and the lot's termination said in place of a verdict.
    assert plain(said["Déclarations des mois précédents toujours manquantes"]).startswith(
        "3 ; Cotraitant (M-"
    ), said
    assert "octobre et novembre 2026" in text and "Titulaire (M-" in text, text
    assert plain(said["Rythme à fin décembre 2026"]).endswith(
        "marché résilié le 15 novembre 2026"
    ), said

    # The invariant: each figure the email gave is the one the command prints at that moment.
    moment = email.created_at
    code, printed = run_cli(settings, clock, moment, "summary", "--month", "2026-12",
                            "--buyer", str(lot.buyer_id))  # fmt: skip
    assert code == 0, printed
    printed = plain(printed)
    assert said, email.body_text
    for label, value in said.items():
        assert f"{plain(label)} : {plain(value)}" in printed, (label, value, printed)
