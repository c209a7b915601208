"""The end of the work recorded after a month past it was called: that month is no longer owed.

The user's case: the works ended on 15 October 2026; the facilitator records it (« achever
--end-date 15/10/2026 ») on 3 December, after the service called the company for November on
1 December (the end was not known then). November can no longer be declared (it follows the
end), so its ladder stops in the finish's transaction: no reminder, no alert to the buyer « n'a
pas transmis sa déclaration », not late in the day's tasks, in ``declaration list`` nor in the
summaries; a reminder of it still waiting in the outbox is withdrawn. October, before the end,
still climbs. A month after the end already declared refuses the end instead, changing nothing.

On the real passes of a simulated clock, on SQLite and PostgreSQL. The buyer's alert comes 25
working days after the due date here (instead of 15), so that October's alert leaves after the
finish, as November's reminders would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, declare, ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.text import squash
from workflow.adapters.orm import AwardParty, Clause, ClauseHistory, OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import LadderStep, at_local, local_date
from workflow.emails.digest import Category
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.declaration_views import DeclarationState, expected_declarations
from workflow.services.digest import compile_digest
from workflow.services.reminder_emails import key_months
from workflow.services.summaries import compile_for
from workflow.services.ticks import PassReport, TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
END = date(2026, 10, 15)
COMPANY = "Bâtiments Test"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def run_cli(settings: Settings, clock: Clock, *args: str) -> tuple[int, str]:
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    return result.exit_code, squash(result.output)


def finish(settings: Settings, clock: Clock, lot: Lot, at: datetime, *extra: str) -> str:
    clock.set(at)
    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", f"{END:%d/%m/%Y}", *extra)  # fmt: skip
    assert code == 0, said
    return said


def steps_of(app: App, month: date) -> list[tuple[str, datetime, str]]:
    """(step, queued at, state) of every ladder email covering ``month``."""
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        assert parsed is not None
        if month in parsed.months:
            found.append((parsed.step, message.created_at, message.state))
    return found


def a_lot_called_for_november(app: App) -> Lot:
    """September to March 2027, started on 1 September; September declared on 5 October,
    October never; November called on 1 December."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    september = TimedAction(
        paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)
    )
    simulate(app, SEP, date(2026, 12, 2), actions=[september])
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.called_at == paris(date(2026, 12, 1), 9)
    assert november.declared_at is None and november.next_step == "reminder_1"
    return lot


def owed(app: App, lot: Lot, today: date) -> dict[date, DeclarationState]:
    with app.transaction() as session:
        return {
            line.month: line.state
            for line in expected_declarations(
                session, app.settings, today=today, clause_id=lot.clause_id
            )
        }


def test_november_called_before_the_end_was_recorded_is_never_reminded_nor_late(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot_called_for_november(app)
    finished_at = paris(date(2026, 12, 3), 10)

    said = finish(settings, clock, lot, finished_at)

    assert said == (
        f"Clause n° {lot.clause_id} : mise en œuvre → suivi et bilan "
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        "15/10/2026."
    )
    with app.transaction() as session:
        history = session.scalars(
            select(ClauseHistory)
            .where(ClauseHistory.clause_id == lot.clause_id)
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        ).one()
        assert (history.event, history.at) == ("finish", finished_at)
        assert history.reason == (
            f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
            "15/10/2026."
        )
        # The company is parked on November: a later end would call it again from there.
        party = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id)
        ).one()
        assert (party.next_call_month, party.next_call_at) == (NOV, None)
        # The buyer's notice of the end counts September and October, not November.
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_execution_ended")
        ).one()
        assert "Mois déclarés : 1 sur 2 (1 reste à déclarer)" in squash(notice.body_text)

    seen: list[tuple[datetime, dict[date, DeclarationState]]] = []

    def look(report: PassReport) -> None:
        """After each day's digest pass: the day's tasks and ``declaration list`` never say
        November late."""
        if report.now.astimezone(app.settings.zone).time() != app.settings.digest_time:
            return
        with app.transaction() as session:
            digest = compile_digest(session, report.now, app.settings)
        late = [item for item in digest.items if item.category is Category.DECLARATION]
        assert [(item.title.split(" – ")[0], item.detail.split(",")[0]) for item in late] == [
            (f"{COMPANY} : heures d'octobre 2026 non déclarées", "1 mois en retard")
        ], report.now
        seen.append((report.now, owed(app, lot, local_date(report.now, app.settings.zone))))

    simulate(app, date(2026, 12, 4), date(2027, 2, 26), on_pass=look)

    # November: its call of 1 December, and nothing after it, ever.
    assert [(step, at) for step, at, _ in steps_of(app, NOV)] == [
        ("call", paris(date(2026, 12, 1), 9))
    ]
    # October, before the end, still climbs: its alert leaves after the finish.
    october = steps_of(app, OCT)
    assert [step for step, _, _ in october] == ["call", "reminder_1", "reminder_2", "escalation"]
    alert_at = october[-1][1]
    assert alert_at > finished_at
    assert all(state == "sent" for _, _, state in october)
    # ``declaration list``: September declared, October late, November never listed.
    assert seen and all(set(lines) == {SEP, OCT} for _, lines in seen)
    assert seen[-1][1] == {SEP: DeclarationState.ZERO, OCT: DeclarationState.LATE}
    # The day's tasks, as sent: October late, November never.
    with app.transaction() as session:
        digests = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "facilitator_digest", OutboxMessage.created_at > finished_at
            )
        ).all()
        texts = [squash(message.body_text) for message in digests]
    assert texts and all(
        f"{COMPANY} : heures d'octobre 2026 non déclarées" in text
        and "à novembre 2026 non déclarées" not in text
        and "2 mois en retard" not in text
        for text in texts
    )
    # The summary of November expects nothing of the lot, misses nothing.
    november = compile_for(app, NOV, now=paris(date(2027, 2, 26), 12))
    assert (november.overall.declarations.expected, november.overall.declarations.missing) == (
        0,
        (),
    )
    october_summary = compile_for(app, OCT, now=paris(date(2027, 2, 26), 12))
    assert [m.company for m in october_summary.overall.declarations.missing] == [COMPANY]
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_reminder_of_november_waiting_in_the_outbox_is_withdrawn_with_its_reason(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Recorded on the morning November's first reminder was queued, before it left."""
    lot = a_lot_called_for_november(app)
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.next_step_at is not None
    reminder_day = local_date(november.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)  # queued, not sent yet
    [(step, _, state)] = steps_of(app, NOV)[1:]
    assert (step, state) == ("reminder_1", "pending")
    finished_at = paris(reminder_day, 10)

    said = finish(settings, clock, lot, finished_at, "--reason", "Réception des travaux")

    sentence = (
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"15/10/2026{NBSP}; 1 courriel en attente retiré (rappel n° 1)."
    )
    assert said == f"Clause n° {lot.clause_id} : mise en œuvre → suivi et bilan {sentence}"
    with app.transaction() as session:
        reason = session.scalars(
            select(ClauseHistory.reason).where(
                ClauseHistory.clause_id == lot.clause_id, ClauseHistory.event == "finish"
            )
        ).one()
        assert reason == f"Réception des travaux. {sentence}"
        [withdrawn] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.endswith(":2026-11:reminder_1"))
        ).all()
        assert (withdrawn.state, withdrawn.next_attempt_at) == ("cancelled", None)
        assert withdrawn.last_error == (
            f"Retiré{NBSP}: l'exécution s'est achevée le 15/10/2026, novembre 2026 n'est plus "
            f"demandé{NBSP}; ce courriel n'avait plus lieu d'être."
        )
        assert session.get_one(Clause, lot.clause_id).end_date == END

    simulate(app, reminder_day, date(2027, 1, 29))

    # The reminder withdrawn never left; nothing else of November was queued.
    assert [(step, state) for step, _, state in steps_of(app, NOV)] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
    ]
    with app.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.endswith(":2026-11:reminder_1"))
        ).one()
        assert row.sent_at is None
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert (november.next_step, november.next_step_at) == (LadderStep.DONE, None)


def test_an_end_before_a_month_declared_is_refused_and_changes_nothing(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = a_lot_called_for_november(app)
    declare(app, lot, NOV, paris(date(2026, 12, 2), 11))

    def state() -> tuple[object, ...]:
        emails = tuple((m.key, m.state) for m in ladder_emails(app))
        rows = tuple((lad.month, lad.next_step, lad.next_step_at) for lad in ladders(app))
        with app.transaction() as session:
            clause = session.get_one(Clause, lot.clause_id)
            history = session.scalars(
                select(ClauseHistory.id).where(ClauseHistory.clause_id == lot.clause_id)
            ).all()
            parties = session.scalars(
                select(AwardParty).where(AwardParty.clause_id == lot.clause_id)
            ).all()
            return (
                clause.stage,
                clause.version,
                clause.end_date,
                tuple(history),
                emails,
                rows,
                tuple((p.next_call_month, p.next_call_at) for p in parties),
            )

    before = state()
    clock.set(paris(date(2026, 12, 3), 10))
    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", "15/10/2026")  # fmt: skip

    assert code == 1
    assert said == (
        f"Refusé : --end-date{NBSP}: le 15/10/2026 est avant novembre 2026, mois déjà déclaré par "
        f"{COMPANY}{NBSP}; l'exécution ne peut pas s'achever avant un mois déclaré. Vérifiez la "
        f"date de fin, ou annulez d'abord cette déclaration{NBSP}: clauses declaration cancel "
        f"--clause {lot.clause_id} --company {lot.company_ids[0]} --month 11/2026 --reason "
        f"«{NBSP}…{NBSP}»."
    )
    assert state() == before

    # The right date, in November: accepted, nothing to release.
    code, said = run_cli(settings, clock, "clause", "advance", str(lot.clause_id), "achever",
                         "--end-date", "27/11/2026")  # fmt: skip
    assert (code, said) == (0, f"Clause n° {lot.clause_id} : mise en œuvre → suivi et bilan")
