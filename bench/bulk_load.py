"""Writing batches of rows fast: ``COPY`` on PostgreSQL (psycopg 3), ``executemany`` on SQLite.

Both write through the driver's own connection, under the schema the project's migrations made
(``workflow.adapters.db.upgrade``), with the values the database stores (scaled integers, naive UTC
instants: ``bench.territory``), so no SQLAlchemy type runs per value. On SQLite the instants are
written in SQLAlchemy's own text format, microseconds included, since its columns compare them as
text.

On SQLite a batch is one transaction; on PostgreSQL the whole load is one (see
``PostgresWriter``). The ids are given, not drawn from the sequences: ``finish`` moves each
PostgreSQL sequence past the largest id (SQLite's rowid needs nothing) and gathers the planner's
statistics (``ANALYZE``), as autovacuum would soon after such a load. SQLite gets no ``ANALYZE``:
the service never runs it, so its plans are those without statistics.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.schema import CreateIndex

from workflow.adapters.orm import Base

Row = tuple[Any, ...]

#: SQLAlchemy's SQLite DATETIME text (``sqlalchemy.dialects.sqlite.DATETIME``).
SQLITE_INSTANT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _sqlite_instant(value: datetime) -> str:
    return SQLITE_INSTANT % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _driver_connection(raw: Any) -> Any:
    connection = raw.driver_connection
    assert connection is not None
    return connection


class Writer(Protocol):
    def write(
        self, batch: Mapping[str, Sequence[Row]], columns: Mapping[str, Sequence[str]]
    ) -> None: ...

    def finish(self, tables: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


class SQLiteWriter:
    def __init__(self, engine: Engine) -> None:
        # The adapter is global to the sqlite3 module: this process only writes territories.
        sqlite3.register_adapter(datetime, _sqlite_instant)
        self.raw = engine.raw_connection()
        self.connection: Any = _driver_connection(self.raw)

    def write(
        self, batch: Mapping[str, Sequence[Row]], columns: Mapping[str, Sequence[str]]
    ) -> None:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in batch.items():
                if not rows:
                    continue
                names = columns[table]
                marks = ", ".join("?" * len(names))
                cursor.executemany(
                    f'INSERT INTO "{table}" ({_quoted(names)}) VALUES ({marks})', rows
                )
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    def finish(self, tables: Sequence[str]) -> None:
        """Nothing: SQLite's rowid goes on from the largest id by itself."""

    def close(self) -> None:
        self.raw.close()


#: The constraints and indexes of the schema, other than primary keys, as PostgreSQL would
#: write them again: ``pg_restore``'s way of loading fast, index builds after the rows.
_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relnamespace = current_schema()::regnamespace AND c.contype IN ('f', 'u')
ORDER BY c.contype DESC, c.conrelid::regclass::text, c.conname
"""
_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
  AND t.relname <> 'alembic_version'
ORDER BY 1
"""


def _as_declared(engine: Engine, indexes: Sequence[Row]) -> list[tuple[str, str]]:
    """Each index's definition as the models declare it, the catalog's where they do not.

    The catalog's text does not always make the same index again word for word: the partial
    index ``ix_clauses_final`` (``stage IN ('closed', 'abandoned')`` on a ``VARCHAR``) reads back
    with its array cast to ``text[]``, and made again from that text, reads back with each
    element cast instead. The same index for the planner, but not the schema the migrations
    made, which a load must leave as it found it."""
    declared = {
        index.name: str(CreateIndex(index).compile(dialect=engine.dialect))
        for table in Base.metadata.tables.values()
        for index in table.indexes
    }
    return [(name, declared.get(name, definition)) for name, definition in indexes]


class PostgresWriter:
    """``COPY`` into tables stripped of their foreign keys, unique constraints and secondary
    indexes, which ``finish`` puts back exactly as they were (their own definitions, read from
    the catalog), the way ``pg_restore`` loads: one sort per index instead of a descent per row.
    ``close`` puts them back too if the load stopped halfway."""

    def __init__(self, engine: Engine, tables: Sequence[str]) -> None:
        self.raw = engine.raw_connection()
        self.connection: Any = _driver_connection(self.raw)
        self.constraints: list[tuple[str, str, str, str]] = []
        self.indexes: list[tuple[str, str]] = []
        self.types: dict[str, dict[str, int]] = {}
        with self.connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            cursor.execute(_CONSTRAINTS)
            self.constraints = list(cursor.fetchall())
            cursor.execute(_INDEXES)
            self.indexes = _as_declared(engine, cursor.fetchall())
            for table, name, _, _ in self.constraints:  # foreign keys first (the order read)
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in self.indexes:
                cursor.execute(f"DROP INDEX {name}")
            for table in tables:
                cursor.execute(
                    "SELECT attname, atttypid FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (f'"{table}"',),
                )
                self.types[table] = dict(cursor.fetchall())
        self.connection.commit()
        self.stripped = True
        with self.connection.cursor() as cursor:
            # The whole load is one transaction that starts by emptying the (empty) tables: rows
            # copied into a table truncated in the same transaction may be written frozen, so
            # nothing rewrites every page later to set their hint bits.
            cursor.execute(f"TRUNCATE {', '.join(f'{chr(34)}{t}{chr(34)}' for t in tables)}")

    def write(
        self, batch: Mapping[str, Sequence[Row]], columns: Mapping[str, Sequence[str]]
    ) -> None:
        with self.connection.cursor() as cursor:
            for table, rows in batch.items():
                if not rows:
                    continue
                names = columns[table]
                statement = f'COPY "{table}" ({_quoted(names)}) FROM STDIN (FORMAT BINARY, FREEZE)'
                with cursor.copy(statement) as copy:
                    copy.set_types([self.types[table][name] for name in names])
                    for row in rows:
                        copy.write_row(row)

    def _put_back(self) -> None:
        if not self.stripped:
            return
        self.connection.rollback()
        with self.connection.cursor() as cursor:
            for _, definition in self.indexes:
                cursor.execute(definition)
            # Unique constraints before the foreign keys (the reverse of the order read).
            for table, name, _, definition in reversed(self.constraints):
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        self.connection.commit()
        self.stripped = False

    def finish(self, tables: Sequence[str]) -> None:
        self.connection.commit()
        self._put_back()
        with self.connection.cursor() as cursor:
            for table in tables:
                cursor.execute(
                    "SELECT 1 FROM information_schema.columns"
                    " WHERE table_name = %s AND column_name = 'id'",
                    (table,),
                )
                if cursor.fetchone() is None:  # keyed otherwise (periodic_runs)
                    continue
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1,"
                    f' false) FROM "{table}"',
                    (f'"{table}"',),
                )
        self.connection.commit()
        self.connection.autocommit = True
        with self.connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.connection.autocommit = False

    def close(self) -> None:
        try:
            self._put_back()
        finally:
            self.raw.close()


def writer_for(engine: Engine, tables: Sequence[str]) -> Writer:
    if engine.dialect.name == "postgresql":
        return PostgresWriter(engine, tables)
    if engine.dialect.name == "sqlite":
        return SQLiteWriter(engine)
    raise ValueError(f"base non prise en charge : {engine.dialect.name}")
