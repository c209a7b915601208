"""A replayed summary names what it put back as its email had it: a lot's hours target imposed
since (« clause hours ») and a company that left since (« company-left ») (user trial,
6 December 2026: the replay silently differed from the email, where it names each declaration
corrected since). ``test_summary_replay_restores`` compares the replay's text with the email's.

One lot of two companies (SQLite and PostgreSQL), 450 h imposed on 20 October, its months called
on 2 November, October's summaries written on the 30th, Charpentes Test's October still owed. On
28 December the target becomes 400 h and Charpentes Test leaves, its last month September: the
replay of October at the email's moment names both, with the target of then and of today, and
counts the target and the company's months of then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.conftest import Clock
from tests.integration._ladders import declare, ladder_pass, make_lot
from tests.integration.test_summary_replay_after_correction import sent
from tests.integration.test_summary_replay_dates_then import DECEMBER_28, OCTOBER
from workflow.app.clauses import impose_hours
from workflow.app.company_departures import record_departure
from workflow.app.reports import summary_as_known
from workflow.bootstrap import App
from workflow.domain.calendar import add_months
from workflow.services.summaries import queue_monthly_summaries
from workflow.services.summary_replays import CompanyLeft, TargetChanged


def test_a_replay_names_the_target_imposed_and_the_company_left_since(
    app: App, clock: Clock
) -> None:
    lot = make_lot(
        app,
        start=date(2026, 3, 2),
        end=date(2027, 6, 30),
        companies=("Bâtiments Test", "Charpentes Test"),
    )
    clock.set(datetime(2026, 10, 20, 9, tzinfo=UTC))
    impose_hours(app, lot.clause_id, 450, reason="avenant n° 1", actor="test")
    calls = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock.set(calls)
    ladder_pass(app, calls)
    month = date(2026, 3, 1)
    while month <= OCTOBER:
        declare(app, lot, month, datetime(2026, 11, 5, 9, tzinfo=UTC))
        if month < OCTOBER:
            declare(app, lot, month, datetime(2026, 11, 5, 9, tzinfo=UTC), company=1)
        month = add_months(month, 1)
    written = datetime(2026, 11, 30, 9, tzinfo=UTC)
    clock.set(written)
    assert queue_monthly_summaries(app, written) > 0
    body, at = sent(app, f"summary:2026-10:buyer:{lot.buyer_id}")
    moment = datetime.fromisoformat(at)
    before = summary_as_known(app, OCTOBER, buyer=lot.buyer_id, now=moment)
    assert (before.targets, before.departures) == ((), ())
    assert "450" in body.replace("\u00a0", " "), body

    clock.set(DECEMBER_28)
    impose_hours(app, lot.clause_id, 400, reason="avenant n° 2", actor="test")
    record_departure(app, lot.clause_id, lot.company_ids[1], date(2026, 9, 1), reason="Liquidation")

    replay = summary_as_known(app, OCTOBER, buyer=lot.buyer_id, now=moment)
    assert replay.targets == (TargetChanged(lot.clause_id, 450, 400, DECEMBER_28),)
    assert replay.departures == (
        CompanyLeft(
            lot.clause_id,
            "Charpentes Test",
            date(2026, 9, 1),
            DECEMBER_28,
            lot.company_ids[1],
            last_then=None,
            expected=True,
        ),
    )
    # Counted as the email counted them: the target and the declarations expected of then.
    [line] = [c for c in replay.summary.clauses if c.clause_id == lot.clause_id]
    assert line.progress.hours_target == 450, line
    declarations = replay.summary.overall.declarations
    assert (declarations.expected, declarations.received) == (2, 1), declarations
    assert [p.company for p in declarations.pending] == ["Charpentes Test"], declarations
    # A summary of today names nothing: nothing changed after its moment.
    today = summary_as_known(app, OCTOBER, buyer=lot.buyer_id)
    assert (today.targets, today.departures) == ((), ())
