"""A start recorded while the delivery writes the same welcome again (PostgreSQL, two instances).

The welcome, written at the award on 31 March 2027 at 20:00 for a start to record, promised its
first call for a start recorded that day. At the next morning's delivery its day has passed:
the delivery withdraws it and writes it again, still for a start to record (``stale_promises``).
At that very moment the facilitator records the start, whose transaction writes the waiting
welcomes again for the lot started (``notices.rewrite_welcomes_at_start``). The start waits for
the delivery's lock on the first sending, then finds it withdrawn; the new sending, committed
while it waited, was not in its first read. Without a second read it left asking « Les travaux
devaient démarrer le 5 janvier 2027 : s'ils ont commencé, répondez … » of works just recorded
under way."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Clock, _empty_postgres, make_settings
from tests.integration._ladders import make_lot
from tests.integration.test_outcomes import waiting_on_a_lock
from tests.integration.test_welcome_promise import (
    assert_tells_the_lot_started,
    no_outbox_problem,
    paris,
    welcomes,
)
from tests.text import squash
from workflow.app.clauses import advance_clause
from workflow.bootstrap import bootstrap
from workflow.domain.stages import ClauseEvent
from workflow.services.promise_rewriters import REWRITERS
from workflow.services.stale_promises import write_stale_again

NBSP = "\u00a0"


@pytest.mark.postgres
def test_a_start_recorded_while_the_delivery_writes_the_welcome_again_writes_it_for_the_start(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=clock)
    results: dict[str, object] = {}
    try:
        awarded = paris(date(2027, 3, 31), 20)
        clock.set(awarded)
        lot = make_lot(
            app, start=date(2027, 1, 5), end=date(2027, 9, 30), at=awarded, started=False
        )
        [first] = welcomes(app)
        morning = paris(date(2027, 4, 1), 8, 30)
        clock.set(morning)

        def record_the_start() -> None:
            try:
                advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
                results["start"] = "recorded"
            except Exception as exc:  # surfaced by the assertion below, never swallowed
                results["start"] = exc

        with app.transaction() as delivery:
            # The delivery withdraws the first sending (its row locked until it commits) and
            # writes the second, for a start still to record.
            assert write_stale_again(app, delivery, morning, morning, REWRITERS) == 1
            thread = threading.Thread(target=record_the_start)
            thread.start()
            # Commit only once the start waits on that lock (or, were there none, is done).
            give_up = time.monotonic() + 30
            while thread.is_alive() and not waiting_on_a_lock(app) and time.monotonic() < give_up:
                time.sleep(0.01)
            assert waiting_on_a_lock(app), "the start did not wait for the delivery's lock"
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert results == {"start": "recorded"}

        [withdrawn, second, third] = welcomes(app)
        assert withdrawn.id == first.id and withdrawn.state == "cancelled"
        # The second sending, written by the delivery for a start to record, is written again
        # by the start for the lot started; only the third leaves.
        assert second.key == f"{first.key}~2" and second.state == "cancelled"
        assert second.last_error is not None
        assert second.last_error.startswith(
            "Remplacé : le démarrage de l'exécution a été enregistré le 1er avril 2027"
        ), second.last_error
        assert third.key == f"{first.key}~3" and third.state == "pending"
        assert (third.promised_until, third.promise_facts) == (None, None)
        assert_tells_the_lot_started(squash(third.body_text).replace(NBSP, " "))
        no_outbox_problem(app)
    finally:
        app.close()
