"""``adapters/dialects``: the one place SQLite and PostgreSQL differ, on both backends.

An insert that meets an existing key writes nothing and says so (its row count), which is how
exactly one instance claims an outbox key, a ladder or a month's summaries; claiming rows skips
those another transaction holds on PostgreSQL and is left to the update's condition on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from workflow.adapters.dialects import insert_ignoring, is_postgresql, skipping_locked
from workflow.adapters.orm import OutboxMessage, PeriodicRun
from workflow.bootstrap import App

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_an_existing_key_is_not_written_again_and_the_count_says_so(app: App) -> None:
    with app.transaction() as session:
        values = {"job": "monthly_summary", "period": "2026-10", "done_at": NOW}
        first = session.execute(insert_ignoring(session, PeriodicRun, "job", "period"), values)
        again = session.execute(insert_ignoring(session, PeriodicRun, "job", "period"), values)
        rows = session.scalars(select(PeriodicRun.period)).all()

    assert (first.rowcount, again.rowcount) == (1, 0)
    assert rows == ["2026-10"]
    # Built once per table and engine: the same statement object each time.
    with app.transaction() as session:
        assert insert_ignoring(session, PeriodicRun, "job", "period") is insert_ignoring(
            session, PeriodicRun.__table__, "job", "period"
        )


def test_claims_skip_locked_rows_on_postgresql_only(app: App) -> None:
    query = select(OutboxMessage.id)
    with app.transaction() as session:
        claimed = skipping_locked(query, session)
        sql = str(claimed.compile(dialect=session.get_bind().dialect))
        postgres = is_postgresql(session)

    assert ("FOR UPDATE SKIP LOCKED" in sql) is postgres
    assert (claimed is query) is not postgres
