"""A declaration the facilitator records for a month after the planned end of a lot still in
execution (its real end not recorded) counts among the summary's expected and received
declarations, as ``declaration list`` counts it.

The gap left on 6 December 2026 (``test_summary_unasked_declarations``): the lot past its planned
end is followed, its companies are not called for the months after it, and the facilitator may
record one all the same (the works went on: ``declarations.column_problems`` refuses a month
after the *recorded* end only). Its hours were in « Heures réalisées dans le mois » but the
declaration was not among the expected: « toutes reçues (1 sur 1) » to the facilitator while
``declaration list --month 12/2026`` said the month's two declarations expected and declared. A
lot whose end is recorded, or terminated, cannot have that (a month after the recorded end is
refused, and so is an end before a month declared: ``lot_ends.refuse_declared_after``), nor an
abandoned lot (abandoned before its execution, it has no declaration).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_end_date_correction import paris
from tests.integration.test_lot_terminated import plain
from tests.integration.test_summary_truth import figure_lines
from tests.integration.test_summary_unasked_declarations import (
    declare_hours,
    email,
    listed,
    rewrite,
    with_count,
)
from workflow.adapters.orm import Clause, OutboxMessage
from workflow.adapters.reports import figure_lines as printed_lines
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.services.summaries import compile_for
from workflow.services.ticks import TimedAction, simulate

pytestmark = pytest.mark.scenario

OCT, NOV, DEC = (date(2026, m, 1) for m in (10, 11, 12))
DECEMBER = "Déclarations de décembre 2026"


def scenario(app: App) -> tuple[Lot, Lot]:
    """Two buyers' lots started in October 2026. Lot A's planned end is 30 November 2026 and
    nobody records its real end: its holder declares October and November, the facilitator
    records its December (35 h) on 5 January 2027. Lot B runs to March 2027, its holder declares
    every month. The real passes run up to 31 January 2027."""
    lot_a = make_lot(app, start=OCT, end=date(2026, 11, 30), at=paris(OCT, 10))
    lot_b = make_lot(app, start=OCT, end=date(2027, 3, 31), at=paris(OCT, 10))
    (holder_a,) = lot_a.company_ids
    (holder_b,) = lot_b.company_ids

    def monthly(lot: Lot, company: int, month: date, hours: str) -> TimedAction:
        day = date(month.year + month.month // 12, month.month % 12 + 1, 3)
        return TimedAction(
            paris(day, 11, company % 50),
            f"{lot.clause_id}-{company}-{month:%m}",
            lambda a, at: declare_hours(a, lot, company, month, at, hours),
        )

    actions = [
        monthly(lot_a, holder_a, OCT, "100"),
        monthly(lot_b, holder_b, OCT, "50"),
        monthly(lot_a, holder_a, NOV, "120"),
        monthly(lot_b, holder_b, NOV, "60"),
        monthly(lot_b, holder_b, DEC, "70"),
        TimedAction(
            paris(date(2027, 1, 5), 15),
            "past-end-dec",
            lambda a, at: declare_hours(a, lot_a, holder_a, DEC, at, "35"),
        ),
    ]
    simulate(app, OCT, date(2027, 1, 31), actions=actions)
    return lot_a, lot_b


def test_a_declaration_after_the_planned_end_is_expected_and_received(app: App) -> None:
    lot_a, lot_b = scenario(app)
    with app.transaction() as session:
        # Still in execution, past its planned end, no end recorded: the case of the gap.
        lot = session.get_one(Clause, lot_a.clause_id)
        assert (lot.stage, lot.end_date, lot.planned_end_date) == (
            "execution",
            None,
            date(2026, 11, 30),
        )
    facilitator = email(app, "summary:2026-12:facilitator")
    at = facilitator.created_at
    # What ``declaration list`` counts for December at the email's moment: lot A's declaration
    # recorded after its planned end, lot B's holder's.
    assert listed(app, lot_a, "12/2026", at) == (1, 1)
    assert listed(app, lot_b, "12/2026", at) == (1, 1)
    figures = figure_lines(facilitator.body_text)
    assert plain(figures[DECEMBER]) == "toutes reçues (2 sur 2)", figures
    assert plain(figures["Heures réalisées dans le mois"]) == "105 h", figures
    overall = compile_for(app, DEC, now=at)
    assert (overall.overall.declarations.expected, overall.overall.declarations.received) == (2, 2)
    assert plain(dict(printed_lines(overall))[DECEMBER]) == "toutes reçues (2 sur 2)"
    # Lot A's buyer: its one declaration of December, expected and received.
    buyer = email(app, f"summary:2026-12:buyer:{lot_a.buyer_id}")
    assert plain(figure_lines(buyer.body_text)[DECEMBER]) == "toutes reçues (1 sur 1)"
    scoped = compile_for(app, DEC, buyer_id=lot_a.buyer_id, now=buyer.created_at)
    assert (scoped.overall.declarations.expected, scoped.overall.declarations.received) == (1, 1)
    # November, before the planned end: the holder's, asked as usual.
    november = compile_for(app, NOV, buyer_id=lot_a.buyer_id, now=at)
    assert november.overall.declarations.expected == 1
    # And the audit finds every email true.
    assert [f.problem for f in verify_database(app).findings] == []


def test_an_email_written_with_the_older_count_is_a_remark(app: App) -> None:
    scenario(app)
    key = "summary:2026-12:facilitator"
    sent = email(app, key)
    # As written before: the declaration after the planned end was in the hours, not among the
    # expected.
    text, html = with_count(sent, 2, 1)
    rewrite(app, key, text, html)
    report = verify_database(app)
    assert [f.problem for f in report.findings] == []
    noted = [r.problem for r in report.remarks if "après la fin prévue de son lot" in r.problem]
    assert len(noted) == 1, [r.problem for r in report.remarks]
    assert "1 déclaration y était comptée dans les heures, non parmi les attendues" in noted[0]
    # A count neither rule gives is still a problem.
    text, html = with_count(sent, 2, 4)
    rewrite(app, key, text, html)
    found = [f.problem for f in verify_database(app).findings]
    assert found and all(DECEMBER in f for f in found), found
    with app.transaction() as session:
        assert session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.key == key))
