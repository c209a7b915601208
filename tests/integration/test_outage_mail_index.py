"""The emails an outage holds back have an index of their own (``ix_outbox_outage``, migration
0033): after each pass that sent nothing the service looks for them (``outbox.outage_waiting``),
and read every email waiting for its retry slot to check its error, the one step of an idle pass
still growing with the territory on SQLite (issue 12). Found the same, with or without it."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, func, select, update

from tests.integration.test_dispatch import queue
from tests.integration.test_migration_0029_departure_company import table_indexes
from workflow.adapters.db import alembic_config, current_revision, make_engine
from workflow.adapters.orm import OutboxMessage
from workflow.bootstrap import App
from workflow.services.outbox import OUTAGE_ERROR_PREFIX, outage_rows, outage_waiting

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _queue(app: App, key: str, error: str) -> None:
    queue(app, key, now=NOW)
    with app.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.key == key).values(last_error=error)
        )


def test_the_outage_s_emails_are_found_through_their_index(app: App) -> None:
    _queue(app, "retry-slot", "Échec temporaire : 421 4.7.0 Réessayez plus tard")
    with app.transaction() as session:
        assert outage_waiting(session) is None  # an email waiting for its slot: no outage
    _queue(app, "held", f"{OUTAGE_ERROR_PREFIX}serveur injoignable")
    with app.transaction() as session:
        waiting = outage_waiting(session)
        assert waiting is not None and waiting.count == 1
        assert waiting.cause == "serveur injoignable"
        if app.engine.dialect.name == "sqlite":
            # The statement ``outage_waiting`` sends, its parameters bound as it binds them.
            statement = select(func.count()).where(outage_rows())
            compiled = statement.compile(app.engine)
            plan = " | ".join(
                row[-1]
                for row in session.connection().exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
                )
            )
            assert "ix_outbox_outage" in plan, plan
    # The index's condition holds every outage's error: were the prefix reworded, the index
    # would hide them all.
    assert OUTAGE_ERROR_PREFIX[:16] == "Envoi impossible"


def test_migration_0033_adds_the_outage_index_and_takes_it_back(database_url: str) -> None:
    engine: Engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "head")
        indexes = table_indexes(engine, "outbox")
        outage = {sql for sql in indexes if "ix_outbox_outage" in sql}
        assert len(outage) == 1 and "ENVOI IMPOSSIBLE" in next(iter(outage)).upper(), outage
        command.downgrade(config, "0032")
        assert current_revision(engine) == "0032"
        assert table_indexes(engine, "outbox") == indexes - outage
        command.upgrade(config, "0033")
        assert table_indexes(engine, "outbox") == indexes
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
