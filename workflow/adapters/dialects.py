"""What SQLite and PostgreSQL do differently, in one place.

The services ask three things of the database that the two engines spell differently:
- an insert that writes nothing when the row's unique key exists (``INSERT … ON CONFLICT DO
  NOTHING``), whose row count says whether it wrote: how an outbox key, a ladder or a periodic
  run is claimed by exactly one instance;
- claiming rows without waiting for those another instance holds (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; SQLite has one writer at a time, ``BEGIN IMMEDIATE``, so the condition of the
  update that follows is the claim);
- settings for one heavy reading transaction (PostgreSQL only).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

Bind = Session | Connection | Engine


def dialect_name(bind: Bind) -> str:
    """``postgresql`` or ``sqlite``."""
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def is_postgresql(bind: Bind) -> bool:
    return dialect_name(bind) == "postgresql"


@cache
def _insert_ignoring(name: str, table: Table, key: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    statement: Insert = (
        insert(table)
        .inline()
        .on_conflict_do_nothing(index_elements=list(key))
        # Without it psycopg's rowcount of an INSERT reads -1: every instance would think it
        # wrote the row.
        .execution_options(preserve_rowcount=True)
    )
    return statement


def insert_ignoring(bind: Bind, table: Any, *key: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` into ``table`` (a Table or a mapped class);
    its row count (or its RETURNING) says what was written. Built once per table and engine:
    building a statement costs more than running it (BENCHMARKS.md, enqueue)."""
    target = table if isinstance(table, Table) else table.__table__
    return _insert_ignoring(dialect_name(bind), target, key)


def skipping_locked(statement: Select[Any], bind: Bind) -> Select[Any]:
    """On PostgreSQL, lock the rows read and skip those another transaction holds; on SQLite
    (one writer at a time) the statement as it is."""
    if is_postgresql(bind):
        return statement.with_for_update(skip_locked=True)
    return statement
