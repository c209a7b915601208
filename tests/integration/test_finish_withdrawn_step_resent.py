"""A reminder the finish withdrew before it left is sent again once the end is corrected later.

The user's case: November called on 1 December; its first reminder queued on the morning of
15 December, not sent yet, when the facilitator records the end « le 31/10/2026 » (a typo for
30/11): November is released, the reminder withdrawn (« Retiré … »). Two days later she corrects
the end to 30/11/2026: November is owed again at that very reminder, which the company never
got. The command names the day it leaves and the due date the call gave; the company reads the
same two dates (``company_months_owed_again``); the passes send the reminder under the key of
its second sending (``…:reminder_1~2``) on that day, once, then the second reminder and only
then the buyer's alert. Before the change, the month stayed stopped and the facilitator was
told « relancez vous-même l'entreprise ».

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL; the buyer's
alert 25 working days after the due date (as in ``test_end_date_correction``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import ladder_emails, ladders, make_lot
from tests.integration.ladder_invariants import assert_ladder_invariants
from tests.text import squash
from workflow.adapters.mail.memory import MemoryTransport
from workflow.adapters.orm import OutboxMessage
from workflow.app.audit import verify_database
from workflow.bootstrap import App, bootstrap
from workflow.domain.calendar import at_local, local_date
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.services.ticks import simulate
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"
SEP, NOV = date(2026, 9, 1), date(2026, 11, 1)
COMPANY = "Bâtiments Test"
#: The call of 1 December gives 10 December; the first reminder is planned on 15 December.
DUE_ON, REMINDER_DAY = date(2026, 12, 10), date(2026, 12, 15)
#: Corrected on Thursday 17 December at 11:00, past the call hour: the reminder leaves on
#: Friday 18 December at 09:00.
CORRECTED_ON, RESENT_ON = date(2026, 12, 17), date(2026, 12, 18)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    application.transport = MemoryTransport()
    yield application
    application.close()


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), Settings().zone)


def run_cli(settings: Settings, clock: Clock, at: datetime, *args: str) -> str:
    clock.set(at)
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)
    result = CliRunner().invoke(cli, list(args), obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def november(app: App, prefix: str) -> list[tuple[str, str, datetime, str, str]]:
    """(key's step part, state, queued at, subject, text) of November's ladder emails."""
    return [
        (m.key.removeprefix(prefix), m.state, m.created_at, squash(m.subject), squash(m.body_text))
        for m in ladder_emails(app)
        if m.key.startswith(prefix)
    ]


def owed_again_notices(app: App) -> list[OutboxMessage]:
    with app.transaction() as session:
        found = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "company_months_owed_again")
                .order_by(OutboxMessage.id)
            )
        )
        for message in found:
            session.expunge(message)
        return found


def test_a_reminder_withdrawn_by_the_finish_is_sent_again_on_the_day_the_correction_names(
    app: App, settings: Settings, clock: Clock
) -> None:
    zone = app.settings.zone
    lot = make_lot(app, start=SEP, end=date(2027, 3, 31), at=paris(SEP, 10))
    simulate(app, SEP, date(2026, 12, 2))
    [ladder] = [ladder for ladder in ladders(app) if ladder.month == NOV]
    assert ladder.called_at == paris(date(2026, 12, 1), 9) and ladder.due_on == DUE_ON
    assert ladder.next_step == "reminder_1" and ladder.next_step_at == paris(REMINDER_DAY, 9)
    simulate(app, date(2026, 12, 3), date(2026, 12, 14))
    simulate(app, REMINDER_DAY, REMINDER_DAY, dispatch=False)  # queued, not sent yet
    prefix = f"reminder:{lot.clause_id}:{lot.company_ids[0]}:2026-11:"
    assert [(step, state) for step, state, *_ in november(app, prefix)] == [
        ("call", "sent"),
        ("reminder_1", "pending"),
    ]

    said = run_cli(settings, clock, paris(REMINDER_DAY, 10), "clause", "advance",
                   str(lot.clause_id), "achever", "--end-date", "31/10/2026")  # fmt: skip
    assert "1 courriel en attente retiré (rappel n° 1)" in said, said
    with app.transaction() as session:
        [(state, why)] = session.execute(
            select(OutboxMessage.state, OutboxMessage.last_error).where(
                OutboxMessage.key == f"{prefix}reminder_1"
            )
        ).all()
    assert state == "cancelled" and (why or "").startswith("Retiré"), why
    # Finished: the passes of the next day send nothing for November.
    simulate(app, REMINDER_DAY, date(2026, 12, 16))
    assert len(november(app, prefix)) == 2

    said = run_cli(settings, clock, paris(CORRECTED_ON, 11), "clause", "end-date",
                   str(lot.clause_id), "--end-date", "30/11/2026", "--reason",
                   "Erreur de saisie")  # fmt: skip

    # The command names the day the reminder leaves again, and the due date of the call.
    assert said.endswith(
        f"Novembre 2026 est désormais demandé à {COMPANY}{NBSP}: l'exécution s'est achevée le "
        f"30/11/2026{NBSP}; novembre 2026{NBSP}: rappel n° 1 le 18/12/2026 à 9\u00a0h, date "
        "limite le 10/12/2026."
    ), said
    assert "relancez vous-même" not in said
    # The company reads the same two dates.
    [told] = owed_again_notices(app)
    text = squash(told.body_text)
    assert (
        "Ce mois, qui vous avait été demandé, vous est donc de nouveau demandé : "
        "- novembre 2026 : à déclarer dès que possible, la date limite était le 10 décembre "
        "2026 ; un rappel vous sera envoyé le 18 décembre 2026 si la déclaration n'est pas "
        "reçue d'ici là." in text
    ), text
    assert "je vous contacterai" not in text

    # Nothing before that day.
    simulate(app, CORRECTED_ON, RESENT_ON - date.resolution)
    assert len(november(app, prefix)) == 2

    # On that day, at the call hour, under the key of its second sending: once, though the
    # passes of the day run twice.
    simulate(app, RESENT_ON, RESENT_ON)
    simulate(app, RESENT_ON, RESENT_ON)
    steps = november(app, prefix)
    assert [(step, state) for step, state, *_ in steps] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
    ]
    _, _, queued_at, _, reminder = steps[2]
    assert queued_at == paris(RESENT_ON, 9)
    assert "Elle était attendue le 10 décembre 2026." in reminder
    # The company heard why November is asked again no later than the reminder left.
    [told] = owed_again_notices(app)
    assert told.state == "sent" and told.sent_at is not None and told.sent_at <= queued_at

    # Then the second reminder, and only after the reminders the buyer's alert.
    simulate(app, date(2026, 12, 19), date(2027, 2, 26))
    steps = november(app, prefix)
    assert [(step, state) for step, state, *_ in steps] == [
        ("call", "sent"),
        ("reminder_1", "cancelled"),
        ("reminder_1~2", "sent"),
        ("reminder_2", "sent"),
        ("escalation", "sent"),
    ]
    times = [at for _, _, at, _, _ in steps]
    assert times == sorted(times) and len(set(times)) == 5
    assert local_date(times[3], zone) > RESENT_ON
    assert "Elle était attendue le 10 décembre 2026 :" in steps[3][4]
    with app.transaction() as session:
        assert_ladder_invariants(session, app.settings, exact=True)
    assert [str(finding) for finding in verify_database(app).findings] == []
