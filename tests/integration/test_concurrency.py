"""Two transitions racing on one clause, on PostgreSQL with two real connections: exactly one wins,
the other gets ``ConcurrentChange`` and leaves nothing behind.

SQLite is left out on purpose: its ``BEGIN IMMEDIATE`` queues writers, so the two sessions can
never both hold a transaction at once there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Clock, _empty_postgres, make_settings
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.bootstrap import App, bootstrap
from workflow.domain.events import ClauseAdvanced
from workflow.domain.stages import ClauseEvent
from workflow.errors import ConcurrentChange
from workflow.services import catalog
from workflow.services import clauses as service
from workflow.services.clauses import ClauseParameters, no_publish

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path, clock: Clock) -> Iterator[App]:
    _empty_postgres(postgres_url)
    application = bootstrap(make_settings(tmp_path, postgres_url), clock=clock, handlers={})
    yield application
    application.close()


@pytest.fixture
def clause_id(pg_app: App) -> int:
    now = pg_app.clock()
    with pg_app.transaction() as session:
        buyer = catalog.add_buyer(
            session, name="Agglomération de l'Exemple", now=now, settings=pg_app.settings
        )
        operation = catalog.add_operation(session, buyer.id, name="Piscine", now=now)
        market = catalog.add_market(session, operation.id, reference="P-2026-03")
        clause = catalog.add_lot(
            session,
            market.id,
            lot_number="1",
            lot_title="Gros œuvre",
            params=ClauseParameters(),
            actor="Camille Martin",
            now=now,
            publish=no_publish,
            settings=pg_app.settings,
        )
        return clause.id


def attempt(
    app: App, session: Session, clause_id: int, event: ClauseEvent, actor: str
) -> ClauseAdvanced:
    return service.advance_clause(
        session,
        clause_id,
        event,
        actor=actor,
        reason=None,
        now=app.clock(),
        publish=app.publish,
    )


def state(app: App, clause_id: int) -> tuple[str, int, list[str]]:
    with app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        actors = session.scalars(
            select(ClauseHistory.actor)
            .where(ClauseHistory.clause_id == clause_id)
            .order_by(ClauseHistory.id)
        ).all()
        return clause.stage, clause.version, list(actors)


def test_it_lets_the_first_commit_win_when_both_read_the_same_version(
    pg_app: App, clause_id: int
) -> None:
    first, second = pg_app.sessions(), pg_app.sessions()
    try:
        first.begin()
        second.begin()
        # Both sessions read version 1 before either writes (and keep what they read: the
        # session's identity map holds loaded objects only while someone refers to them).
        seen_first = service.get_clause(first, clause_id)
        seen_second = service.get_clause(second, clause_id)
        assert seen_first.version == seen_second.version == 1

        attempt(pg_app, first, clause_id, ClauseEvent.DRAFT, "Alice")
        first.commit()

        with pytest.raises(ConcurrentChange) as conflict:
            attempt(pg_app, second, clause_id, ClauseEvent.ABANDON, "Bruno")
        second.rollback()
    finally:
        first.close()
        second.close()

    message = conflict.value.message
    assert f"Clause n° {clause_id} (marché P-2026-03 lot 1 – Gros œuvre)" in message
    assert "modifiée en même temps par quelqu'un d'autre" in message
    assert "rien n'a été enregistré, recommencez" in message
    assert state(pg_app, clause_id) == ("drafting", 2, ["Camille Martin", "Alice"])


def test_it_lets_exactly_one_of_two_threads_win_a_real_race(pg_app: App, clause_id: int) -> None:
    """Both threads read version 1, meet at the barrier, then both UPDATE: PostgreSQL makes the
    second wait for the first's commit, then finds the version moved on and matches no row."""
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[str, str] = {}

    def run(actor: str, event: ClauseEvent) -> None:
        try:
            with pg_app.transaction() as session:
                seen = service.get_clause(session, clause_id)
                assert seen.version == 1
                barrier.wait()
                attempt(pg_app, session, clause_id, event, actor)
            outcomes[actor] = "won"
        except ConcurrentChange as exc:
            outcomes[actor] = exc.message
        except Exception as exc:  # surfaced by the assertion below, never swallowed
            outcomes[actor] = f"unexpected {exc!r}"

    threads = [
        threading.Thread(target=run, args=("Alice", ClauseEvent.DRAFT)),
        threading.Thread(target=run, args=("Bruno", ClauseEvent.ABANDON)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    winners = [actor for actor, outcome in outcomes.items() if outcome == "won"]
    losers = [outcome for outcome in outcomes.values() if outcome != "won"]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert "modifiée en même temps par quelqu'un d'autre" in losers[0]

    stage, version, actors = state(pg_app, clause_id)
    assert stage == {"Alice": "drafting", "Bruno": "abandoned"}[winners[0]]
    assert version == 2
    assert actors == ["Camille Martin", winners[0]]


def test_it_refuses_a_version_the_caller_read_earlier(pg_app: App, clause_id: int) -> None:
    """A screen shown at version 1 must not overwrite a change made since."""
    with pg_app.transaction() as session:
        attempt(pg_app, session, clause_id, ClauseEvent.DRAFT, "Alice")
    with pg_app.transaction() as session, pytest.raises(ConcurrentChange, match="version 1"):
        service.advance_clause(
            session,
            clause_id,
            ClauseEvent.ABANDON,
            actor="Bruno",
            reason=None,
            now=pg_app.clock(),
            publish=pg_app.publish,
            expected_version=1,
        )
    assert state(pg_app, clause_id) == ("drafting", 2, ["Camille Martin", "Alice"])


def test_it_keeps_the_end_date_of_a_losing_finish_out(pg_app: App, clause_id: int) -> None:
    """The loser had set an end date before its compare-and-set failed: none of it is kept."""
    with pg_app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        clause.stage = "execution"
        clause.start_date = date(2026, 4, 1)
    first, second = pg_app.sessions(), pg_app.sessions()
    try:
        first.begin()
        second.begin()
        seen = [service.get_clause(first, clause_id), service.get_clause(second, clause_id)]
        assert [c.stage for c in seen] == ["execution", "execution"]
        attempt(pg_app, first, clause_id, ClauseEvent.SUSPEND, "Alice")
        first.commit()
        with pytest.raises(ConcurrentChange):
            service.advance_clause(
                second,
                clause_id,
                ClauseEvent.FINISH,
                actor="Bruno",
                reason=None,
                now=pg_app.clock(),
                publish=pg_app.publish,
                end_date=date(2027, 5, 31),
            )
        second.rollback()
    finally:
        first.close()
        second.close()
    with pg_app.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        assert (clause.stage, clause.end_date) == ("suspended", None)
        count = session.scalar(
            select(func.count())
            .select_from(ClauseHistory)
            .where(ClauseHistory.clause_id == clause_id)
        )
        assert count == 2
