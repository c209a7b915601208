"""Migration 0029 gives the history row of a company's departure the company's number
(``clause_history.company_id``, nullable) and takes it back, the table's partial indexes kept
as they were, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from workflow.adapters.db import alembic_config, current_revision, make_engine


def table_indexes(engine: Engine, table: str = "clause_history") -> set[str]:
    """The table's indexes as the database writes them, WHERE clause and all."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = :table AND sql IS NOT NULL"
                ),
                {"table": table},
            )
        else:
            rows = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = :table"), {"table": table}
            )
        return {row[0] for row in rows}


def test_migration_0029_adds_the_departures_company_and_takes_it_back(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)

    def columns() -> dict[str, dict[str, object]]:
        with engine.connect() as connection:
            return {c["name"]: c for c in inspect(connection).get_columns("clause_history")}

    try:
        command.upgrade(config, "head")
        column = columns()["company_id"]
        assert column["nullable"] is True
        assert "INT" in str(column["type"]).upper()
        indexes = table_indexes(engine)
        assert any("WHERE" in sql.upper() for sql in indexes), indexes
        command.downgrade(config, "0028")
        assert current_revision(engine) == "0028"
        assert "company_id" not in columns()
        assert "reason" in columns()
        assert table_indexes(engine) == indexes
        command.upgrade(config, "0029")
        assert "company_id" in columns()
        assert table_indexes(engine) == indexes
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
