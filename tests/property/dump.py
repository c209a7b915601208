"""The whole database as text, to assert that a refused input changed nothing.

Every table the database holds (reflected, not only the ORM's: a migration's own table counts),
every row ordered by its primary key, each value written with ``repr``: two dumps are equal exactly
when no row was added, removed or changed. Works on SQLite and PostgreSQL alike; on SQLite, the
connection's own ``iterdump`` (schema and rows, twenty times faster) is used instead.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from workflow.adapters.db import make_engine


def dump(database_url: str) -> list[str]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        connection = sqlite3.connect(url.database)
        try:
            return list(connection.iterdump())
        finally:
            connection.close()
    return canonical_dump(database_url)


def canonical_dump(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        lines: list[str] = []
        with engine.connect() as connection:
            for table in sorted(metadata.tables.values(), key=lambda t: t.name):
                order = list(table.primary_key.columns) or list(table.columns)
                lines.append(f"-- {table.name}")
                for row in connection.execute(select(table).order_by(*order)):
                    lines.append(repr(tuple(row)))
        return lines
    finally:
        engine.dispose()
