"""What the company and the buyer read is what really happened to the emails before.

A review found two notices that could say something untrue:

- a lot suspended while a month's call waits for its slot (the pass opened the month outside
  the call hour: its ladder exists, no email was queued yet) told the company « vous êtes à
  jour » and nothing of that month, though the call leaves at the resumption. The waiting call
  does not leave while the lot is suspended (the climb skips a suspended lot): the suspension
  email now announces the month among those asked after the resumption, and the passes do so.
  A call already queued, still waiting in the outbox, is withdrawn by the suspension and sent
  again after the resumption: the month is told among those asked after the resumption;
- a buyer whose notice of the end was withdrawn before it left was told, at the end's
  correction, « et non le … comme je vous l'avais indiqué »: it now reads the end only.

On the real commands and passes of a simulated clock, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import ladder_emails, ladders, make_lot
from tests.integration.test_company_pause_notices import RESUMED, SUSPENDED, advance, emails
from tests.integration.test_end_corrected_notice import (
    correct,
    finished_on_31_october,
    notices_of,
    plain,
)
from tests.integration.test_end_date_correction import run_cli
from tests.integration.test_ladder_scenarios import paris
from tests.text import squash, visible
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.emails.envelope import OutboxState
from workflow.emails.ladder import KIND_CALL
from workflow.services.ticks import run_pass
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The end's scenario (``test_end_corrected_notice``) runs with a 25-day escalation.
    return make_settings(tmp_path, database_url, escalation_offset=25)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    application = bootstrap(settings, clock=clock)
    yield application
    application.close()


def calls(app: App) -> list[OutboxMessage]:
    return [m for m in ladder_emails(app) if m.kind == KIND_CALL]


def test_a_call_waiting_for_its_slot_is_announced_for_after_the_resumption(app: App) -> None:
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    # Wednesday 1 April, 15:00: March's call time (09:00) has passed, the pass opens March and
    # its call waits for the next call hour, Thursday 09:00. No email is queued yet.
    run_pass(app, paris(APRIL, 15), dispatch=False)
    [march] = ladders(app)
    assert (march.month, march.called_at) == (MARCH, None)
    assert march.next_step_at == paris(date(2026, 4, 2), 9)
    assert calls(app) == []

    advance(app, lot, ClauseEvent.SUSPEND, paris(APRIL, 16), "Fouilles archéologiques")
    [sent] = emails(app, SUSPENDED)
    text = squash(sent.body_text)
    assert (
        "Les déclarations de mars et d'avril 2026, pas encore demandées, vous seront demandées "
        "après la reprise (pour avril 2026, les heures réalisées en dehors de la suspension)."
    ) in text, text
    # Nothing was asked before the suspension: « à jour » stays true, March is named above.
    assert "Aucune déclaration demandée avant la suspension n'est en attente" in text
    assert "Les déclarations de mars et d'avril 2026" in squash(sent.body_html or "")

    # True: Thursday's call hour passes, the lot suspended, and no call leaves.
    run_pass(app, paris(date(2026, 4, 2), 9, 5))
    assert calls(app) == []
    # Resumed on Monday 20 April at 10:00 (after the call hour): the resumption names March in
    # the next call, and the next morning's pass sends it.
    advance(app, lot, ClauseEvent.RESUME, paris(date(2026, 4, 20), 10), None)
    [resumed] = emails(app, RESUMED)
    assert "Le 21 avril 2026, vous recevrez l'appel à déclarer" in squash(resumed.body_text)
    assert "mars" in squash(resumed.body_text)
    run_pass(app, paris(date(2026, 4, 21), 9, 5))
    [call] = calls(app)
    assert "mars 2026" in squash(call.body_text)


def test_a_call_queued_before_the_suspension_is_withdrawn_and_told_as_asked_after_it(
    app: App,
) -> None:
    """The other half of the question: a call already in the outbox, not yet sent, is withdrawn
    by the suspension (``suspension_withdrawals``) and its month called again after the
    resumption; so the suspension email tells that month among those asked after the
    resumption, with no date."""
    lot = make_lot(
        app, start=date(2026, 3, 2), end=date(2026, 12, 31), at=paris(date(2026, 3, 2), 8)
    )
    run_pass(app, paris(APRIL, 9), dispatch=False)
    [waiting] = calls(app)
    assert waiting.state == OutboxState.PENDING.value
    advance(app, lot, ClauseEvent.SUSPEND, paris(APRIL, 9, 30), None)
    [sent] = emails(app, SUSPENDED)
    text = squash(sent.body_text)
    assert "Aucune déclaration demandée avant la suspension n'est en attente" in text, text
    assert "10 avril 2026" not in text, text
    assert (
        "Les déclarations de mars et d'avril 2026, pas encore demandées, vous seront demandées "
        "après la reprise (pour avril 2026, les heures réalisées en dehors de la suspension)."
    ) in text, text
    run_pass(app, paris(APRIL, 9, 35))
    [withdrawn] = calls(app)
    assert withdrawn.id == waiting.id and withdrawn.state == OutboxState.CANCELLED.value


def test_a_withdrawn_notice_of_the_end_is_not_corrected_as_told(
    app: App, settings: Settings, clock: Clock
) -> None:
    lot = finished_on_31_october(app, settings, clock)
    [ended] = notices_of(app, lot, "notice_execution_ended")
    assert ended.state == OutboxState.PENDING.value
    code, said = run_cli(settings, clock, paris(date(2026, 12, 3), 12), "mail", "cancel",
                         str(ended.id), "--reason", "Date de fin erronée")  # fmt: skip
    assert code == 0, said
    [ended] = notices_of(app, lot, "notice_execution_ended")
    assert ended.state == OutboxState.CANCELLED.value

    correct(settings, clock, lot, paris(date(2026, 12, 4), 10), "30/11/2026")
    [later] = notices_of(app, lot, "notice_end_corrected")
    assert "s'est achevée le 30 novembre 2026. La déclaration" in plain(later.body_text)
    for text in (plain(later.body_text), plain(visible(later.body_html or ""))):
        assert "s'est achevée le 30 novembre 2026" in text, text
        assert "et non le" not in text and "31 octobre" not in text
        assert "remplace" not in text
    assert "31 octobre" not in later.subject
    with app.transaction() as session:
        assert session.scalar(select(OutboxMessage.state).where(OutboxMessage.id == ended.id)) == (
            OutboxState.CANCELLED.value
        )
