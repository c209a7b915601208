"""A lot recorded late, its start back-dated, its planned end already past, its end not
recorded: not « achevée ».

Stop 31 made a lot past its planned end with no end recorded followed in the summaries (« mise en
œuvre – fin prévue le … dépassée ») rather than counted among the achieved. A lot recorded in May
with a start on 2 March and a planned end on 31 March has no history at the end of April: its stage
then was implied by its dates alone, and any end before the month's last day, planned or
recorded, implied follow-up. Its buyer read « 1 clause achevée avant avril 2026 » and the stage
« suivi et bilan » for works nobody said had ended. Now only a recorded end (or a lot finished
since) implies follow-up; a lot still running with only its planned end past is in execution then,
followed as stop 31 follows it.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_summary_late_start import declare_hours, plain
from tests.integration.test_summary_truth import figure_lines, summary_emails, text_tables
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.services.clauses import advance_clause
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

MAR, APR = date(2026, 3, 1), date(2026, 4, 1)
STAGE = "mise en œuvre – fin prévue le 31/03/2026 dépassée"


def local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def test_a_back_dated_lot_past_its_planned_end_is_followed_not_achieved(app: App) -> None:
    # Recorded, awarded and started on 11 May, its works from 2 to 31 March; March declared on
    # 12 May; the real passes up to 31 May send April's summaries.
    lots: list[Lot] = []
    actions = [
        TimedAction(
            local(app, date(2026, 5, 11), 9),
            "lot saisi en retard",
            lambda app, at: lots.append(
                make_lot(app, start=date(2026, 3, 2), end=date(2026, 3, 31), at=at)
            ),
        ),
        TimedAction(
            local(app, date(2026, 5, 12), 10),
            "mars déclaré",
            lambda app, at: declare_hours(app, lots[0], MAR, "120", at),
        ),
    ]
    simulate(app, date(2026, 5, 11), date(2026, 5, 31), actions=actions, dispatch=False)
    (lot,) = lots
    april = {e.key: e for e in summary_emails(app) if e.month == APR}
    buyer = april[f"summary:2026-04:buyer:{lot.buyer_id}"]

    # The buyer's April summary: the lot followed, where it stands; nothing achieved, nothing
    # asked of its company for April.
    shown = figure_lines(buyer.body_text)
    assert shown["Clauses comptées"] == "1, dont 1 suivie dans le mois"
    assert shown["Déclarations d'avril 2026"] == "aucune attendue"
    assert "achevée" not in buyer.body_text and "suivi et bilan" not in buyer.body_text
    (row,) = text_tables(buyer.body_text)["Avancement par clause"]
    assert plain(row["Clause"]).endswith(f"Gros œuvre ({STAGE})")
    assert plain(row["Cumul / prévues"]) == "120 h / 500 h (24 %)"

    # ``clauses summary`` at the email's moment says the same.
    summary = compile_for(app, APR, now=buyer.created_at)
    (line,) = [c for c in summary.clauses if c.clause_id == lot.clause_id]
    assert (line.followed, line.stage_label) == (True, STAGE)
    assert summary.earlier_clauses.clauses == 0
    assert [(s.code, s.clauses) for s in summary.overall.clauses_by_stage if s.clauses] == [
        ("execution", 1)
    ]
    # March, when its works were planned: followed, its declaration received.
    march = compile_for(app, MAR, now=buyer.created_at)
    (line,) = [c for c in march.clauses if c.clause_id == lot.clause_id]
    assert (line.followed, line.stage_label) == (True, "mise en œuvre")
    assert march.overall.declarations.received == 1
    assert verify_database(app).findings == ()

    # Its end recorded: April counts it among the achieved, as any lot ended in March, and
    # the audit explains the email sent before as a remark.
    finished = local(app, date(2026, 6, 1), 10)
    with app.transaction() as session:
        advance_clause(
            session,
            lot.clause_id,
            ClauseEvent.FINISH,
            actor="test",
            reason=None,
            now=finished,
            publish=app.publish,
            end_date=date(2026, 3, 31),
            today=finished.date(),
        )
    april_again = compile_for(app, APR, now=local(app, date(2026, 6, 2), 10))
    (line,) = [c for c in april_again.clauses if c.clause_id == lot.clause_id]
    assert not line.followed and line.stage_label == "suivi et bilan"
    assert april_again.earlier_clauses.clauses == 1
    report = verify_database(app)
    assert report.findings == ()
    assert any("fin d'exécution le 01/06/2026" in r.problem for r in report.remarks)
