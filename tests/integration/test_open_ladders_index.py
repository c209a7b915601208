"""Migration 0013: the open ladders' partial index also holds each month's due date and call,
which the dashboard's late months are read from (``digest._overdue``); a downgrade gives 0012's
index back, and an upgrade the wider one again."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import inspect

from workflow.adapters.db import alembic_config, current_revision, make_engine

INDEX = "ix_declaration_ladders_open"


def open_index(engine: Any) -> dict[str, Any]:
    with engine.connect() as connection:
        found = [
            index
            for index in inspect(connection).get_indexes("declaration_ladders")
            if index["name"] == INDEX
        ]
    assert len(found) == 1
    return found[0]


def partial_condition(index: dict[str, Any]) -> str:
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return " ".join(str(where).lower().replace("(", "").replace(")", "").split())


def test_the_open_ladders_index_holds_due_dates_and_calls_and_comes_back_on_downgrade(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    try:
        assert current_revision(engine) is not None
        command.upgrade(config, "head")
        index = open_index(engine)
        assert index["column_names"] == ["clause_id", "company_id", "month", "due_on", "called_at"]
        assert partial_condition(index) == "declared_at is null"  # still the open months only

        command.downgrade(config, "0012")
        assert current_revision(engine) == "0012"
        index = open_index(engine)
        assert index["column_names"] == ["clause_id", "company_id", "month"]
        assert partial_condition(index) == "declared_at is null"

        command.upgrade(config, "0013")
        assert open_index(engine)["column_names"][-2:] == ["due_on", "called_at"]
    finally:
        # The PostgreSQL database is shared by the session's tests: leave it at head.
        command.upgrade(config, "head")
        engine.dispose()
