"""A summary replayed after its lot's end was recorded, then corrected, gives its email's « temps
écoulé » (user trial F7: the replay counted the time against the end recorded since, the audit
called the difference a remark, at odds with the replay that « redonne ceux du courriel »).

One lot (SQLite and PostgreSQL), from 2 March 2026 to its planned end, 30 June 2027: its months
called on 2 November, declared on the 5th, October's summaries written on the 30th (« 50 % du
temps écoulé »). On 28 December the facilitator records its end (« achever », 15/12/2026), on
4 January corrects it (18/12/2026): counted against that end, October reads 84 %. Replayed at
each email's moment through the CLI, each summary gives the email's pace and time elapsed and
names the change; the audit finds neither a problem nor a remark in them. The same for a planned
end moved by an amendment. An end changed without its history row is said, not guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import update

from tests.conftest import Clock
from tests.integration._ladders import Lot, declare, ladder_pass, make_lot
from tests.integration.test_outcomes_audit_and_cancel import run_cli
from tests.integration.test_summary_replay_after_correction import sent, summary_cli
from workflow.adapters.orm import Clause
from workflow.app.audit import verify_database
from workflow.app.reports import summary_as_known
from workflow.bootstrap import App
from workflow.domain.calendar import add_months
from workflow.services.summaries import queue_monthly_summaries
from workflow.settings import Settings

DECEMBER_28 = datetime(2026, 12, 28, 9, tzinfo=UTC)
JANUARY_4 = datetime(2027, 1, 4, 9, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
_PACE = re.compile(r"Rythme à fin [^:]+ : .*")


def pace(text: str) -> str:
    """« Rythme à fin octobre 2026 : 30,1 % des heures prévues réalisées pour 35,6 % du temps
    écoulé, … », as the email and the CLI write it."""
    found = _PACE.search(text.replace("\u00a0", " "))
    assert found is not None, text
    return found.group(0).strip()


def one_lot_sent(app: App, clock: Clock) -> tuple[Lot, dict[str, tuple[str, str]]]:
    """A lot from 2 March 2026 to its planned end, 30 June 2027: its months called on
    2 November, declared on the 5th, October's summaries written on the 30th. The emails'
    text and instant, by key."""
    lot = make_lot(app, start=date(2026, 3, 2), end=date(2027, 6, 30))
    calls = datetime(2026, 11, 2, 9, tzinfo=UTC)
    clock.set(calls)
    ladder_pass(app, calls)
    month = date(2026, 3, 1)
    while month <= OCTOBER:
        declare(app, lot, month, datetime(2026, 11, 5, 9, tzinfo=UTC))
        month = add_months(month, 1)
    written = datetime(2026, 11, 30, 9, tzinfo=UTC)
    clock.set(written)
    assert queue_monthly_summaries(app, written) > 0
    keys = (f"summary:2026-10:buyer:{lot.buyer_id}", "summary:2026-10:facilitator")
    return lot, {key: sent(app, key) for key in keys}


def end_recorded_then_corrected(settings: Settings, clock: Clock, lot: Lot) -> None:
    clause = str(lot.clause_id)
    clock.set(DECEMBER_28)
    said = run_cli(
        settings, clock, "clause", "advance", clause, "achever", "--end-date", "15/12/2026"
    )
    assert "suivi" in said.lower(), said
    clock.set(JANUARY_4)
    said = run_cli(
        settings, clock, "clause", "end-date", clause, "--end-date", "18/12/2026",
        "--reason", "Procès-verbal de réception du 18/12/2026",
    )  # fmt: skip
    assert "18/12/2026" in said, said


def test_a_replay_after_the_end_was_recorded_gives_the_emails_time_elapsed(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, emails = one_lot_sent(app, clock)
    end_recorded_then_corrected(settings, clock, lot)
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
            f"- clause n° {n} : fin d'exécution alors non enregistrée, aujourd'hui le 18/12/2026"
            in replay
        ), replay

    # Today, October's time is counted against the end recorded: not the email's.
    body, _ = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    today = summary_cli(settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id))
    assert "pour 50 % du temps écoulé" in pace(body), body
    assert "pour 84 % du temps écoulé" in pace(today), today
    assert "changé de dates" not in today, today

    report = verify_database(app)
    assert report.findings == (), report.findings
    assert [r.problem for r in report.remarks] == [], "\n".join(r.problem for r in report.remarks)


def test_a_replay_between_the_finish_and_its_correction_reads_the_first_end(
    app: App, settings: Settings, clock: Clock
) -> None:
    """At a moment between the finish (15/12) and its correction (18/12), the lot's end was the
    first one: read from the correction's row, which keeps the end it replaced."""
    lot, _ = one_lot_sent(app, clock)
    end_recorded_then_corrected(settings, clock, lot)
    between = datetime(2026, 12, 30, 9, tzinfo=UTC)
    replay = summary_as_known(app, OCTOBER, now=between)
    [line] = [c for c in replay.summary.clauses if c.clause_id == lot.clause_id]
    assert line.end_date == date(2026, 12, 15), line
    [dated] = replay.dates
    assert (dated.then.end, dated.now.end) == (date(2026, 12, 15), date(2026, 12, 18))
    assert replay.untold == ()


def test_an_end_changed_without_its_history_row_is_said_not_guessed(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The end moved by hand after the correction (18/12 → 21/12, no row), then corrected again
    (21/12 → 24/12): on 5 January it was 18/12 or 21/12, nobody knows; the replay counts
    today's and says so. October's email, before all of it, still gets its own figures."""
    lot, emails = one_lot_sent(app, clock)
    body, at = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    end_recorded_then_corrected(settings, clock, lot)
    with app.transaction() as session:
        session.execute(
            update(Clause).where(Clause.id == lot.clause_id).values(end_date=date(2026, 12, 21))
        )
    clock.set(datetime(2027, 1, 10, 9, tzinfo=UTC))
    run_cli(
        settings, clock, "clause", "end-date", str(lot.clause_id), "--end-date", "24/12/2026",
        "--reason", "Second procès-verbal",
    )  # fmt: skip
    buyer = ("--buyer", str(lot.buyer_id))
    replay = summary_cli(settings, clock, "--month", "2026-10", *buyer, "--now", "2027-01-05T10:00")
    assert (
        f"Clause n° {lot.clause_id} : l'historique ne dit pas sa date (fin d'exécution) à cet "
        "instant (un changement enregistré sans sa ligne d'historique) ; son temps écoulé est "
        "compté avec sa date d'aujourd'hui et peut différer de celui du courriel." in replay
    ), replay
    october = summary_cli(settings, clock, "--month", "2026-10", *buyer, "--now", at)
    assert pace(october) == pace(body), october
    assert "l'historique ne dit pas" not in october, october


def test_a_replay_after_the_planned_end_moved_gives_the_emails_time_elapsed(
    app: App, settings: Settings, clock: Clock
) -> None:
    """An amendment cuts the works (« lot set-end » on 28 December, 30 juin 2027 → 31 mars
    2027): October's replay counts the time against the planned end of then, read from the
    row « fin prévue : 30 juin 2027 → 31 mars 2027 ; … », and the audit says nothing of it."""
    lot, emails = one_lot_sent(app, clock)
    clock.set(DECEMBER_28)
    said = run_cli(
        settings, clock, "lot", "set-end", str(lot.clause_id), "31/03/2027",
        "--reason", "avenant n° 2",
    )  # fmt: skip
    assert "31" in said, said
    body, at = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    replay = summary_cli(
        settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id), "--now", at
    )
    assert pace(replay) == pace(body), replay
    assert (
        f"- clause n° {lot.clause_id} : fin prévue alors le 30/06/2027, aujourd'hui le "
        "31/03/2027" in replay
    ), replay
    today = summary_cli(settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id))
    assert pace(today) != pace(body), today
    report = verify_database(app)
    assert report.findings == (), report.findings
    assert [r.problem for r in report.remarks] == [], "\n".join(r.problem for r in report.remarks)


def test_a_replay_asked_for_a_moment_ahead_of_the_clock_still_gives_the_emails_figures(
    app: App, settings: Settings, clock: Clock
) -> None:
    """A moment after the clock (a demo's world ahead of today, a facilitator who faked the
    clock to record a change) was compiled as the present, the changes recorded after it left
    unread: the trial's replay of February after « lot set-end » said 64 % where the email had
    said 65 %, nothing named. Any moment asked for is replayed."""
    lot, emails = one_lot_sent(app, clock)
    end_recorded_then_corrected(settings, clock, lot)
    clock.set(datetime(2026, 11, 1, 9, tzinfo=UTC))  # back before the emails were written
    body, at = emails[f"summary:2026-10:buyer:{lot.buyer_id}"]
    replay = summary_cli(
        settings, clock, "--month", "2026-10", "--buyer", str(lot.buyer_id), "--now", at
    )
    assert pace(replay) == pace(body), replay
    assert "changé de dates depuis" in replay, replay
