"""The day the work ended, recorded by « achever », corrected (« clause end-date »).

The user's case: the works ended on 30 November 2026; the facilitator typed 31/10/2026 on 3
December, after the service had called the company for November on 1 December. The finish
released November (its ladder stopped, no reminder). Corrected to 30/11 the next day, November
is owed again: its reminders take up where they stood (the call had left), at the moment they
would have had, with the due date the call gave; never an alert before the reminders. Corrected
back to 31/10 (the first date was right after all), November is released again. Each step
leaves its history row; the audit finds nothing wrong.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL. The buyer's
alert comes 25 working days after the due date here (as in ``test_finish_before_called_month``).
"""

from __future__ import annotations

import json
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
from workflow.adapters.orm import AwardParty, Clause, ClauseHistory
from workflow.adapters.templates import french_date, french_time
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.reminder_emails import key_months
from workflow.services.ticks import TimedAction, simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
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


def run_cli(settings: Settings, clock: Clock, at: datetime, *args: str) -> tuple[int, str]:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    return result.exit_code, squash(result.output)


def correct(settings: Settings, clock: Clock, lot: Lot, at: datetime, end: str) -> str:
    code, said = run_cli(settings, clock, at, "clause", "end-date", str(lot.clause_id),
                         "--end-date", end, "--reason", "Erreur de saisie")  # fmt: skip
    assert code == 0, said
    return said


def steps_of(app: App, month: date) -> list[tuple[str, datetime, str, str]]:
    """(step, queued at, state, text) of every ladder email covering ``month``."""
    found = []
    for message in ladder_emails(app):
        parsed = key_months(message.key)
        assert parsed is not None
        if month in parsed.months:
            found.append(
                (parsed.step, message.created_at, message.state, squash(message.body_text))
            )
    return found


def corrections(app: App, lot: Lot) -> list[tuple[datetime, str, str | None]]:
    with app.transaction() as session:
        return [
            (row.at, row.actor, row.reason)
            for row in session.scalars(
                select(ClauseHistory)
                .where(
                    ClauseHistory.clause_id == lot.clause_id,
                    ClauseHistory.event == "end_date_corrected",
                )
                .order_by(ClauseHistory.id)
            )
        ]


def a_lot_finished_a_month_too_early(
    app: App, settings: Settings, clock: Clock
) -> tuple[Lot, datetime, date]:
    """September to March 2027, started on 1 September; September declared on 5 October,
    October never; November called on 1 December; finished on 3 December « le 31/10/2026 »
    (a typo for 30/11). Returns the lot, when November's first reminder was planned before
    the finish, and the due date the call gave."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    september = TimedAction(
        paris(date(2026, 10, 5), 11), "septembre", lambda a, at: declare(a, lot, SEP, at)
    )
    simulate(app, SEP, date(2026, 12, 2), actions=[september])
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.called_at == paris(date(2026, 12, 1), 9)
    assert november.next_step == "reminder_1" and november.next_step_at is not None

    # Not finished yet: nothing to correct.
    code, said = run_cli(settings, clock, paris(date(2026, 12, 2), 15), "clause", "end-date",
                         str(lot.clause_id), "--end-date", "30/11/2026", "--reason", "x")  # fmt: skip
    assert code != 0
    assert f"--end-date{NBSP}: " in said and "son exécution n'a pas été achevée" in said, said

    code, said = run_cli(settings, clock, paris(date(2026, 12, 3), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    assert f"Novembre 2026 n'est plus demandé à {COMPANY}" in said
    return lot, november.next_step_at, november.due_on


def test_a_later_end_asks_november_again_where_its_reminders_stood(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder_at, due_on = a_lot_finished_a_month_too_early(app, settings, clock)
    corrected_at = paris(date(2026, 12, 4), 10)
    zone = app.settings.zone

    said = correct(settings, clock, lot, corrected_at, "30/11/2026")

    local = reminder_at.astimezone(zone)
    owed = (
        f"Novembre 2026 est désormais demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"30/11/2026{NBSP}; novembre 2026{NBSP}: rappel n° 1 le {local:%d/%m/%Y} à "
        f"{french_time(local)}, date limite le {due_on:%d/%m/%Y}."
    )
    assert said == (
        f"Clause n° {lot.clause_id} : date de fin d'exécution corrigée du 31/10/2026 au "
        f"30/11/2026 ; l'historique garde le motif. {owed}"
    )
    assert corrections(app, lot) == [
        (
            corrected_at,
            "Camille Martin",
            f"fin d'exécution{NBSP}: 31/10/2026 → 30/11/2026{NBSP}; Erreur de saisie. {owed}",
        )
    ]
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).end_date == date(2026, 11, 30)
        # The company, parked by the finish on November, is called from there again: November
        # is opened already, so nothing new is called (the pass parks it past the end).
        party = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id)
        ).one()
        assert party.next_call_month == NOV and party.next_call_at is not None
    # November's reminders wait where they stood before the finish.
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert (november.next_step, november.next_step_at, november.due_on) == (
        "reminder_1",
        reminder_at,
        due_on,
    )

    # Typed again: nothing changes, nothing is written.
    said = correct(settings, clock, lot, paris(date(2026, 12, 4), 11), "30/11/2026")
    assert said == (
        f"Rien à changer : la date de fin d'exécution de la clause n° {lot.clause_id} est déjà "
        "le 30/11/2026."
    )
    code, given = run_cli(settings, clock, paris(date(2026, 12, 4), 11), "clause", "end-date",
                          str(lot.clause_id), "--end-date", "2026-11-30", "--reason", "x",
                          "--json")  # fmt: skip
    assert code == 0 and json.loads(given)["modifiee"] is False, given
    assert len(corrections(app, lot)) == 1

    simulate(app, date(2026, 12, 5), date(2027, 2, 26))

    november_steps = steps_of(app, NOV)
    assert [step for step, *_ in november_steps] == [
        "call",
        "reminder_1",
        "reminder_2",
        "escalation",
    ]
    times = [at for _, at, _, _ in november_steps]
    assert times == sorted(times) and len(set(times)) == 4
    assert times[1] == reminder_at  # the first reminder at the moment planned by the call
    assert all(state == "sent" for _, _, state, _ in november_steps)
    # What the company reads is the date its call gave: the call, then each reminder.
    given = french_date(due_on)
    call, first, second, _ = (text for *_, text in november_steps)
    assert f"le {given}" in call
    assert f"Elle était attendue le {given}." in first
    assert f"Elle était attendue le {given} :" in second
    # December is never called: the company is parked past the new end.
    assert steps_of(app, date(2026, 12, 1)) == []
    with app.transaction() as session:
        party = session.scalars(
            select(AwardParty).where(AwardParty.clause_id == lot.clause_id)
        ).one()
        assert (party.next_call_month, party.next_call_at) == (date(2026, 12, 1), None)
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_corrected_back_to_the_first_date_november_is_released_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot, reminder_at, _ = a_lot_finished_a_month_too_early(app, settings, clock)
    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    reminder_day = local_date(reminder_at, app.settings.zone)
    simulate(app, date(2026, 12, 5), reminder_day)
    assert [(step, state) for step, _, state, _ in steps_of(app, NOV)] == [
        ("call", "sent"),
        ("reminder_1", "sent"),
    ]
    back_at = paris(reminder_day + timedelta(days=1), 10)

    said = correct(settings, clock, lot, back_at, "31/10/2026")

    released = (
        f"Novembre 2026 n'est plus demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        "31/10/2026."
    )
    assert said == (
        f"Clause n° {lot.clause_id} : date de fin d'exécution corrigée du 30/11/2026 au "
        f"31/10/2026 ; l'historique garde le motif. {released}"
    )
    history = corrections(app, lot)
    assert [reason for _, _, reason in history][1] == (
        f"fin d'exécution{NBSP}: 30/11/2026 → 31/10/2026{NBSP}; Erreur de saisie. {released}"
    )
    assert [at for at, _, _ in history][1] == back_at

    # The refusals name the field, and change nothing.
    for end, why in (
        ("05/12/2027", "n'est pas encore arrivé"),
        ("31/08/2026", "est avant le démarrage (01/09/2026)"),
    ):
        code, told = run_cli(settings, clock, back_at + timedelta(hours=1), "clause", "end-date",
                             str(lot.clause_id), "--end-date", end, "--reason", "x")  # fmt: skip
        assert code != 0 and f"--end-date{NBSP}: le {end} {why}" in told, told
    code, told = run_cli(settings, clock, back_at + timedelta(hours=1), "clause", "end-date",
                         str(lot.clause_id), "--end-date", "15/10/2026", "--reason", " ")  # fmt: skip
    assert code != 0 and f"--reason{NBSP}: indiquez pourquoi" in told, told
    assert len(corrections(app, lot)) == 2

    simulate(app, reminder_day + timedelta(days=1), date(2027, 2, 26))

    # November: its call and first reminder, nothing after the end was corrected back.
    assert [step for step, *_ in steps_of(app, NOV)] == ["call", "reminder_1"]
    # October, before either end, climbed to its alert.
    assert [step for step, *_ in steps_of(app, OCT)] == [
        "call",
        "reminder_1",
        "reminder_2",
        "escalation",
    ]
    with app.transaction() as session:
        assert session.get_one(Clause, lot.clause_id).end_date == date(2026, 10, 31)
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_reminder_withdrawn_by_the_finish_is_not_skipped_when_november_is_owed_again(
    app: App, settings: Settings, clock: Clock
) -> None:
    """The finish recorded on the morning November's first reminder was queued, before it
    left: withdrawn (« Retiré … »). Owed again, November takes up at that reminder, which the
    company never got: the pass sends it again under the key of its second sending
    (``…:reminder_1~2``), never skipping it for the second one or the alert, which would tell
    the company of a reminder it never got."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 12, 2))
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert november.next_step_at is not None and november.due_on is not None
    due_on = november.due_on
    reminder_day = local_date(november.next_step_at, app.settings.zone)
    simulate(app, date(2026, 12, 3), reminder_day - timedelta(days=1))
    simulate(app, reminder_day, reminder_day, dispatch=False)  # queued, not sent yet
    code, said = run_cli(settings, clock, paris(reminder_day, 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0 and "1 courriel en attente retiré (rappel n° 1)" in said, said
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}:2026-11:"

    said = correct(settings, clock, lot, paris(reminder_day, 11), "30/11/2026")

    # Past the call hour of that day: the reminder leaves on the next working day's.
    again_on = reminder_day + timedelta(days=1)
    while again_on.weekday() >= 5:
        again_on += timedelta(days=1)
    assert said.endswith(
        f"Novembre 2026 est désormais demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"30/11/2026{NBSP}; novembre 2026{NBSP}: rappel n° 1 le {again_on:%d/%m/%Y} à 9\u00a0h, "
        f"date limite le {due_on:%d/%m/%Y}."
    ), said
    assert "relancez vous-même" not in said

    simulate(app, reminder_day, date(2027, 2, 26))

    # November's first reminder sent again on that day, then the second, then the alert.
    steps = [
        (m.key.removeprefix(prefix), m.state, m.created_at)
        for m in ladder_emails(app)
        if m.key.startswith(prefix)
    ]
    assert [(step, state) for step, state, _ in steps] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
        ("reminder_2", "sent"),
        ("escalation", "sent"),
    ]
    times = [at for _, _, at in steps]
    assert times == sorted(times) and len(set(times)) == 5
    assert times[2] == paris(again_on, 9)
    given = french_date(due_on)
    texts = [text for step, _, _, text in steps_of(app, NOV) if step.startswith("reminder")]
    assert f"Elle était attendue le {given}." in texts[1]  # the one sent again
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_month_never_called_is_called_at_its_date_once_the_end_is_corrected(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Finished on 20 November « le 31/10/2026 », before November was called: the company is
    parked, November never opened. Corrected on 30 November to 30/11: the company is armed
    again and November called on its usual day, 1 December, with the date announced."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 11, 19))
    code, said = run_cli(settings, clock, paris(date(2026, 11, 20), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    assert [ladder.month for ladder in ladders(app)] == [SEP, OCT]

    said = correct(settings, clock, lot, paris(date(2026, 11, 30), 10), "30/11/2026")

    prefix = (
        f"Novembre 2026 est désormais demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"30/11/2026{NBSP}; novembre 2026{NBSP}: appel à déclaration le 01/12/2026 à 9\u00a0h, "
        "date limite le "
    )
    assert prefix in said, said
    announced = said[said.index(prefix) + len(prefix) :].rstrip(".")

    simulate(app, date(2026, 11, 30), date(2026, 12, 2))

    [(step, at, state, text)] = steps_of(app, NOV)
    assert (step, at, state) == ("call", paris(date(2026, 12, 1), 9), "sent")
    [november] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert f"{november.due_on:%d/%m/%Y}" == announced
    assert f"le {french_date(november.due_on)}" in text
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []


def test_a_summary_sent_before_the_correction_is_explained_by_it(
    app: App, settings: Settings, clock: Clock
) -> None:
    """Finished on 20 November « le 31/10/2026 », October's summary then gives the lot 100 %
    of its time elapsed; corrected on 8 December to 30/11, the same summary compiled again
    gives 67 %: the audit names the correction as the change, as it names a finish."""
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 11, 19))
    code, said = run_cli(settings, clock, paris(date(2026, 11, 20), 10), "clause", "advance",
                         str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert code == 0, said
    simulate(app, date(2026, 11, 20), date(2026, 12, 7))

    correct(settings, clock, lot, paris(date(2026, 12, 8), 10), "30/11/2026")

    assert [str(finding) for finding in verify_database(app).findings] == []
