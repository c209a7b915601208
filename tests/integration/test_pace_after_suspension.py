"""The pace (« rythme ») of a lot that was suspended counts only the time it could be worked.

A lot of twelve months (1 November 2025 to 31 October 2026, 365 days, 500 h) suspended from 2
February to 4 May 2026 (« suspendre » at 10:00, « reprendre » at 10:00: 92 dates touched, as
the ladders count them) could be worked 273 days. At the end of June 2026, 242 days after its
start, 150 of them workable: 150 / 273 = 54.9 % of its time has passed, not 242 / 365 = 66.3 %.
Its company, having done 275 h (55 %), is on pace: the summary used to tell its buyer and the
facilitator « en retard », though no work was possible for three months. At the end of September:
242 / 273 = 88.6 % (not 334 / 365 = 91.5 %).

Three lots, each its own buyer: A (suspended, hours on its workable pace), B (suspended, behind
whatever the count) and N (never suspended: its figures are what they always were). Through the
real passes and services, as they are read: the summary email queued by the monthly pass, the
command ``clauses summary``, the facilitator's daily tasks (digest), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.text import squash
from workflow.adapters.orm import Buyer, Declaration, OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent
from workflow.domain.summary import Pace, summary_due_at
from workflow.emails.digest import Category
from workflow.emails.summaries import KIND_BUYER, KIND_FACILITATOR
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.clauses import advance_clause
from workflow.services.digest import compile_digest
from workflow.services.summaries import compile_for, queue_monthly_summaries, summary_timing
from workflow.settings import Settings

NBSP = "\u00a0"
START, END = date(2025, 11, 1), date(2026, 10, 31)
JUN, SEP = date(2026, 6, 1), date(2026, 9, 1)
#: The share of time elapsed, by hand: days from the start to the month's end less the days
#: suspended in them, over the 365 days of the lot less its 92 suspended days.
WORKABLE_JUNE = Decimal(242 - 92) / Decimal(365 - 92)  # 54.9 %
WORKABLE_SEPTEMBER = Decimal(334 - 92) / Decimal(365 - 92)  # 88.6 %
#: A lot never suspended: the share it always had.
PLAIN_JUNE = Decimal(242) / Decimal(365)  # 66.3 %


def close(share: Decimal | None, by_hand: Decimal) -> bool:
    """The same share to 20 digits (the last of Decimal's 28 is a rounding's)."""
    return share is not None and round(share, 20) == round(by_hand, 20)


def paris(day: date, hour: int = 10) -> datetime:
    return at_local(day, time(hour), Settings().zone)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


@dataclass(frozen=True)
class Lots:
    suspended_on_pace: Lot  # A
    suspended_behind: Lot  # B
    never_suspended: Lot  # N


def month(number: int) -> date:
    return date(2025 + (number < 11), number, 1)


def a_lot(app: App, hours: dict[int, int], *, suspended: bool) -> Lot:
    """Started on 1 November 2025, each month's hours declared on the 5th of the next."""
    lot = make_lot(app, start=START, end=END, at=paris(date(2025, 10, 20)))
    if suspended:
        for event, day in ((ClauseEvent.SUSPEND, date(2026, 2, 2)), (ClauseEvent.RESUME, date(2026, 5, 4))):  # fmt: skip
            with app.transaction() as session:
                advance_clause(session, lot.clause_id, event, actor="test", reason="arrêt du chantier",
                               now=paris(day), publish=app.publish)  # fmt: skip
    with app.transaction() as session:
        for number, h in hours.items():
            worked = month(number)
            session.add(
                Declaration(
                    clause_id=lot.clause_id, company_id=lot.company_ids[0], month=worked,
                    total_hours=Decimal(h), recorded_by="test",
                    recorded_at=paris(date(worked.year + (worked.month == 12), worked.month % 12 + 1, 5)),
                )
            )  # fmt: skip
    return lot


@pytest.fixture
def lots(app: App) -> Lots:
    return Lots(
        # 275 h by June (55 %), 425 h by September (85 %): the pace of its workable days.
        a_lot(
            app, {11: 55, 12: 55, 1: 55, 2: 0, 5: 55, 6: 55, 7: 50, 8: 50, 9: 50}, suspended=True
        ),
        # 200 h by June (40 %), 300 h by September (60 %): behind, whatever the count.
        a_lot(
            app, {11: 40, 12: 40, 1: 40, 2: 0, 5: 40, 6: 40, 7: 40, 8: 30, 9: 30}, suspended=True
        ),
        # 320 h by June (64 %), every month worked.
        a_lot(app, {m: 40 for m in (11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9)}, suspended=False),
    )


def run_cli(settings: Settings, clock: Clock, *args: str) -> str:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def pace_line(text: str, month_name: str) -> str:
    """The « Rythme à fin … » line of a summary, as read."""
    [line] = [
        squash(row) for row in text.splitlines() if row.startswith(f"- Rythme à fin {month_name}")
    ]
    return line


def queued_summaries(app: App) -> dict[str | None, str]:
    """The summary emails queued, by buyer name (None: the facilitator's)."""
    with app.transaction() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.in_((KIND_FACILITATOR, KIND_BUYER)))
        ).all()
        return {
            (None if m.kind == KIND_FACILITATOR else _buyer_of(m.body_text)): m.body_text
            for m in messages
        }


def _buyer_of(body: str) -> str:
    start = body.index("vos marchés (") + len("vos marchés (")
    return body[start : body.index(")", start)]


def buyer_name(app: App, lot: Lot) -> str:
    with app.transaction() as session:
        return session.get_one(Buyer, lot.buyer_id).name


def test_the_june_summary_counts_only_the_workable_time(
    app: App, settings: Settings, clock: Clock, lots: Lots
) -> None:
    due = summary_due_at(JUN, summary_timing(app.settings))
    clock.set(due)
    assert queue_monthly_summaries(app, due) == 4  # the facilitator and three buyers
    emails = queued_summaries(app)
    a, b, n = lots.suspended_on_pace, lots.suspended_behind, lots.never_suspended

    # The figures, against the hand-computed shares.
    summary = compile_for(app, JUN, now=due)
    line = {c.clause_id: c.progress for c in summary.clauses}
    assert close(line[a.clause_id].time_fraction, WORKABLE_JUNE)
    assert line[a.clause_id].pace is Pace.ON_PACE
    assert close(line[b.clause_id].time_fraction, WORKABLE_JUNE)
    assert line[b.clause_id].pace is Pace.BEHIND
    # Never suspended: the share it always had, to the last digit.
    assert close(line[n.clause_id].time_fraction, PLAIN_JUNE)
    assert line[n.clause_id].pace is Pace.ON_PACE

    # What the buyers read, in the email the pass queued and from the command.
    said_a = f"- Rythme à fin juin 2026{NBSP}: 55,0{NBSP}% des heures prévues réalisées pour 54,9{NBSP}% du temps écoulé, dans le rythme"  # fmt: skip
    said_b = f"- Rythme à fin juin 2026{NBSP}: 40{NBSP}% des heures prévues réalisées pour 55{NBSP}% du temps écoulé, en retard"  # fmt: skip
    said_n = f"- Rythme à fin juin 2026{NBSP}: 64{NBSP}% des heures prévues réalisées pour 66{NBSP}% du temps écoulé, dans le rythme"  # fmt: skip
    for lot, said in ((a, said_a), (b, said_b), (n, said_n)):
        assert pace_line(emails[buyer_name(app, lot)], "juin 2026") == said
        printed = run_cli(settings, clock, "summary", "--month", "2026-06", "--buyer", str(lot.buyer_id))  # fmt: skip
        assert said in printed
        assert "Chiffres arrêtés le 23 juillet 2026" in printed  # the email's moment

    # The territory: its time elapsed is the target-weighted combination of its lots'.
    expected = 500 * WORKABLE_JUNE + 500 * WORKABLE_JUNE + 500 * PLAIN_JUNE
    assert summary.overall.progress.expected == expected
    assert close(summary.overall.progress.time_fraction, expected / 1500)  # 58.7 %
    overall = f"- Rythme à fin juin 2026{NBSP}: 53{NBSP}% des heures prévues réalisées pour 59{NBSP}% du temps écoulé, en retard"  # fmt: skip
    assert pace_line(emails[None], "juin 2026") == overall
    assert overall in run_cli(settings, clock, "summary", "--month", "2026-06")
    # Each buyer's row of the facilitator's table: A on pace, B behind.
    rows = {row.split("  ")[0]: squash(row) for row in emails[None].splitlines()}
    assert rows[buyer_name(app, a)].endswith(f"275{NBSP}h 55{NBSP}% dans le rythme")
    assert rows[buyer_name(app, b)].endswith(f"200{NBSP}h 40{NBSP}% en retard")


def test_the_digest_and_the_september_summary_agree_on_the_workable_time(
    app: App, settings: Settings, clock: Clock, lots: Lots
) -> None:
    # 13 October: September is the last month due (due on Monday 12 October), the lots end
    # within 30 days: the facilitator's pace section checks them.
    now = paris(date(2026, 10, 13), 9)
    clock.set(now)
    with app.transaction() as session:
        digest = compile_digest(session, now, app.settings)
    pace = {
        item.clause_id: squash(item.detail)
        for item in digest.items
        if item.category is Category.PACE
    }
    a, b = lots.suspended_on_pace, lots.suspended_behind
    # A (85 % for 88.6 %) is on pace: not in the section. B is, with its workable time.
    assert set(pace) == {b.clause_id}
    assert pace[b.clause_id] == (
        f"300{NBSP}h déclarées jusqu'à fin septembre 2026 (dernier mois dû) sur 500{NBSP}h "
        f"prévues (60{NBSP}% de l'objectif pour 89{NBSP}% du temps écoulé à fin septembre 2026, "
        f"hors 92 jours de suspension) ; reste 200{NBSP}h."
    )

    # The summary of September, compiled at the same moment, says the same of both.
    summary = compile_for(app, SEP, now=now)
    line = {c.clause_id: c.progress for c in summary.clauses}
    assert close(line[a.clause_id].time_fraction, WORKABLE_SEPTEMBER)
    assert line[a.clause_id].pace is Pace.ON_PACE
    assert close(line[b.clause_id].time_fraction, WORKABLE_SEPTEMBER)
    assert line[b.clause_id].pace is Pace.BEHIND
    printed_b = run_cli(settings, clock, "summary", "--month", "2026-09", "--buyer", str(b.buyer_id))  # fmt: skip
    assert (
        f"- Rythme à fin septembre 2026{NBSP}: 60{NBSP}% des heures prévues réalisées pour "
        f"89{NBSP}% du temps écoulé, en retard"
    ) in printed_b
    printed_a = run_cli(settings, clock, "summary", "--month", "2026-09", "--buyer", str(a.buyer_id))  # fmt: skip
    assert (
        f"- Rythme à fin septembre 2026{NBSP}: 85{NBSP}% des heures prévues réalisées pour "
        f"89{NBSP}% du temps écoulé, dans le rythme"
    ) in printed_a


def test_a_suspension_still_running_counts_up_to_the_summary_moment(app: App, clock: Clock) -> None:
    """Suspended on 2 February and not resumed: the summary of June compiled on 23 July counts
    the days suspended up to that day, 2 February to 23 July (172 dates), the rest of the period
    as workable: (242 - 149) / (365 - 172)."""
    lot = make_lot(app, start=START, end=END, at=paris(date(2025, 10, 20)))
    with app.transaction() as session:
        advance_clause(session, lot.clause_id, ClauseEvent.SUSPEND, actor="test", reason="arrêt",
                       now=paris(date(2026, 2, 2)), publish=app.publish)  # fmt: skip
    now = paris(date(2026, 7, 23), 7)
    summary = compile_for(app, JUN, now=now)
    [line] = summary.clauses
    assert close(line.progress.time_fraction, Decimal(242 - 149) / Decimal(365 - 172))
