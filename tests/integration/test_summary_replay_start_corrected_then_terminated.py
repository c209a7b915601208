"""A summary replayed after its lot's start was corrected, then the lot terminated, gives its
email's « temps écoulé » (user trial, 6 December 2026: the October summary sent on 23 November
read « 21 % »; the start corrected on 25 November, the lot terminated on 16 December, its replay
read « 12 % », counted from the corrected start, and said nothing: a lot terminated after the
moment lost every date of then, not only its end).

One lot (SQLite and PostgreSQL), from 2 March 2026 to its planned end, 30 June 2027, October's
summaries written on 30 November (``one_lot_sent``). On 28 December its start is corrected to
16 March 2026 (« clause award »); on 4 January it is terminated. Replayed at each email's moment,
each summary gives the email's pace and names the dates changed since; the audit finds neither a
problem nor a remark. A termination that took effect in October itself, recorded after the
email, is said: the replay reads « marché résilié », which the email could not.
"""

from __future__ import annotations

from datetime import date, datetime

from tests.conftest import Clock
from tests.integration._ladders import Lot
from tests.integration.test_outcomes_audit_and_cancel import run_cli
from tests.integration.test_summary_replay_after_correction import summary_cli
from tests.integration.test_summary_replay_dates_then import (
    DECEMBER_28,
    JANUARY_4,
    OCTOBER,
    one_lot_sent,
    pace,
)
from workflow.app.audit import verify_database
from workflow.app.clauses import PartyChoice, award_clause
from workflow.app.reports import summary_as_known
from workflow.bootstrap import App
from workflow.domain.vocabulary import PartyRole
from workflow.settings import Settings


def start_corrected_then_terminated(
    app: App, settings: Settings, clock: Clock, lot: Lot, terminated_on: str
) -> None:
    """The start corrected on 28 December (as « clause award » does it), the lot terminated on
    4 January, effective ``terminated_on``."""
    clause = str(lot.clause_id)
    clock.set(DECEMBER_28)
    holder = PartyChoice(lot.company_ids[0], PartyRole.HOLDER, keep_recorded=True)
    award_clause(
        app,
        lot.clause_id,
        parties=(holder,),
        start_date=date(2026, 3, 16),
        planned_end_date=date(2027, 6, 30),
        actor="test",
    )
    clock.set(JANUARY_4)
    said = run_cli(
        settings, clock, "clause", "advance", clause, "résilier", "--end-date", terminated_on,
        "--reason", "Défaillance du titulaire",
    )  # fmt: skip
    assert "suivi et bilan" in said, said


def test_a_replay_after_the_start_was_corrected_then_the_lot_terminated_gives_the_emails_pace(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, emails = one_lot_sent(app, clock)
    start_corrected_then_terminated(app, settings, clock, lot, "31/12/2026")
    n = lot.clause_id

    for key, (body, at) in emails.items():
        buyer = ["--buyer", str(lot.buyer_id)] if "buyer" in key else []
        replay = summary_cli(settings, clock, "--month", "2026-10", *buyer, "--now", at)
        assert pace(replay) == pace(body), (key, replay)
        assert (
            "1 clause de cette synthèse a changé de dates depuis : son temps écoulé est compté "
            "avec ses dates d'alors, comme dans le courriel." in replay
        ), replay
        assert (
            f"- clause n° {n} : démarrage alors le 02/03/2026, aujourd'hui le 16/03/2026 ; "
            "fin d'exécution alors non enregistrée, aujourd'hui le 31/12/2026" in replay
        ), replay
        assert "marché résilié" not in replay, replay

    # Today, October's time is counted from the corrected start: not the email's.
    body, _ = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    today = summary_cli(settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id))
    assert pace(today) != pace(body), today

    report = verify_database(app)
    assert report.findings == (), report.findings
    assert [r.problem for r in report.remarks] == [], "\n".join(r.problem for r in report.remarks)


def test_a_termination_in_the_month_recorded_after_the_email_is_said_by_the_replay(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Terminated on 20 October, recorded on 4 January: replayed, October's line reads
    « marché résilié le 20/10/2026 » (the summaries' rule for the month of the termination),
    counted from the start of then up to that day, and the replay says why it differs."""
    lot, emails = one_lot_sent(app, clock)
    start_corrected_then_terminated(app, settings, clock, lot, "20/10/2026")
    _, at = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    known = summary_as_known(app, OCTOBER, buyer=lot.buyer_id, now=datetime.fromisoformat(at))
    [line] = [c for c in known.summary.clauses if c.clause_id == lot.clause_id]
    assert line.start_date == date(2026, 3, 2), line
    assert line.terminated_on == date(2026, 10, 20), line
    [told] = known.terminated
    assert (told.clause_id, told.on, told.at) == (lot.clause_id, date(2026, 10, 20), JANUARY_4)
    # Before its day, the lot's time elapsed of October is the email's, from the start of then.
    replay = summary_cli(
        settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id), "--now", at
    )
    assert "marché résilié le 20/10/2026" in replay, replay
    assert "démarrage alors le 02/03/2026, aujourd'hui le 16/03/2026" in replay, replay
