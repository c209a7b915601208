"""What a review of the rewrite of stale emails found (SQLite and PostgreSQL).

- A resumption announced while the service was stopped, the lot suspended again before the
  restart: the rewrite would tell the company « reprend », next call on a day no call comes.
  It is withdrawn, never written again; the suspension's own email says what holds.
- The email written again keeps the first one's place in the queue (its ``next_attempt_at``),
  ahead of the emails written during the stop.
- A rewrite the database refuses leaves that row as it was and stops no other email.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.conftest import Clock
from tests.integration.test_company_pause_notices import (
    RESUMED,
    SUSPENDED,
    a_lot_suspended_with_april_owed,
    advance,
    emails,
)
from tests.integration.test_ladder_scenarios import paris
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.services import promise_rewriters
from workflow.services.promise_rewriters import REWRITERS
from workflow.services.stale_promises import write_stale_again
from workflow.services.ticks import run_pass

pytestmark = pytest.mark.scenario

NBSP = "\u00a0"


def _resumed_while_stopped(app: App, clock: Clock) -> None:
    lot = a_lot_suspended_with_april_owed(app)
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise")
    return None


def test_a_resumption_suspended_again_during_the_stop_is_withdrawn_not_rewritten(
    app: App, clock: Clock
) -> None:
    lot = a_lot_suspended_with_april_owed(app)
    resumed = paris(date(2026, 5, 20), 10)
    clock.set(resumed)
    advance(app, lot, ClauseEvent.RESUME, resumed, "Reprise")
    again = paris(date(2026, 6, 3), 10)
    clock.set(again)
    advance(app, lot, ClauseEvent.SUSPEND, again, "Intempéries")
    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    resumptions = emails(app, RESUMED)
    assert resumptions and all(m.state == "cancelled" for m in resumptions), [
        (m.key, m.state) for m in resumptions
    ]
    assert not any(m.key.endswith("~2") for m in resumptions)
    for message in resumptions:
        assert message.last_error is not None
        assert message.last_error.startswith(f"Retiré{NBSP}: il annonçait le "), message.last_error
        assert "le lot a changé d'étape depuis la reprise qu'il annonçait" in message.last_error
    # What holds, the lot suspended again, is what the companies read.
    suspensions = [m for m in emails(app, SUSPENDED) if m.created_at >= again]
    assert suspensions and all(m.state == "sent" for m in suspensions)
    # The buyer's notice of that resumption likewise.
    notices = emails(app, "notice_resumed")
    assert notices and all(m.state == "cancelled" for m in notices)
    assert not any(m.key.endswith("~2") for m in notices)


def test_the_email_written_again_keeps_the_first_one_s_place_in_the_queue(
    app: App, clock: Clock
) -> None:
    _resumed_while_stopped(app, clock)
    first = {m.key: m.next_attempt_at for m in emails(app, RESUMED)}
    assert first and all(at is not None for at in first.values())
    restart = paris(date(2026, 6, 15), 9)
    with app.transaction() as session:
        written = write_stale_again(app, session, restart, restart, REWRITERS)
    assert written >= len(first)  # the buyer's notice of the resumption too
    again = {m.key: m.next_attempt_at for m in emails(app, RESUMED) if m.key.endswith("~2")}
    assert {key.removesuffix("~2"): at for key, at in again.items()} == first


def test_a_rewrite_the_database_refuses_stops_no_other_email(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resumed_while_stopped(app, clock)

    def refused(*_: object) -> object:
        raise OperationalError("SELECT …", {}, Exception("canceling statement due to timeout"))

    monkeypatch.setitem(REWRITERS, RESUMED, refused)
    assert promise_rewriters.REWRITERS[RESUMED] is refused
    restart = paris(date(2026, 6, 15), 9)
    clock.set(restart)
    run_pass(app, restart)

    with app.transaction() as session:
        states = dict(
            session.execute(
                select(OutboxMessage.kind, OutboxMessage.state).where(
                    OutboxMessage.kind != RESUMED, OutboxMessage.created_at >= restart
                )
            ).all()
        )
    # The catch-up's calls and reminders left; the resumption emails wait, untouched.
    assert states and set(states.values()) == {"sent"}, states
    waiting = emails(app, RESUMED)
    assert waiting and all(m.state == "pending" and m.last_error is None for m in waiting), [
        (m.state, m.last_error) for m in waiting
    ]
    assert not any(m.key.endswith("~2") for m in waiting)
