"""Migration 0030 gives a month's ladder the day it was asked again after a cancelled
declaration (``declaration_ladders.asked_again_on``, nullable, with a partial index) and takes
it back, the table's other indexes kept as they were, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from tests.integration.test_migration_0029_departure_company import table_indexes
from workflow.adapters.db import alembic_config, current_revision, make_engine


def _indexes(engine: Engine) -> set[str]:
    return table_indexes(engine, "declaration_ladders")


def test_migration_0030_adds_the_day_asked_again_and_takes_it_back(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)

    def columns() -> dict[str, dict[str, object]]:
        with engine.connect() as connection:
            return {c["name"]: c for c in inspect(connection).get_columns("declaration_ladders")}

    try:
        command.upgrade(config, "head")
        column = columns()["asked_again_on"]
        assert column["nullable"] is True
        assert "DATE" in str(column["type"]).upper()
        indexes = _indexes(engine)
        asked = {sql for sql in indexes if "asked_again" in sql}
        assert len(asked) == 1 and "IS NOT NULL" in next(iter(asked)).upper(), asked
        assert any(
            "ix_declaration_ladders_open" in sql and "WHERE" in sql.upper() for sql in indexes
        )
        # The indexes of later migrations (0032: the climb's) come and go with them.
        later = {sql for sql in indexes if "ix_declaration_ladders_due" in sql}
        command.downgrade(config, "0029")
        assert current_revision(engine) == "0029"
        assert "asked_again_on" not in columns()
        assert _indexes(engine) == indexes - asked - later
        command.upgrade(config, "0030")
        assert "asked_again_on" in columns()
        assert _indexes(engine) == indexes - later
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
