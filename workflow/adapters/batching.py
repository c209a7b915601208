"""Lookups by a list of values, cut into chunks so no list reaches a database's variable limit.

SQLite refuses a statement with more bound values than ``SQLITE_MAX_VARIABLE_NUMBER`` (32,766 on
recent builds, 250,000 on Debian's, 999 on old ones) and PostgreSQL's protocol stops at 65,535. A
file of declarations may name more participants than that: every ``IN (...)`` built from a file
goes through ``chunked`` or ``select_in``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Values per ``IN (...)``: far below every limit above, and still few round trips.
IN_BATCH = 500


def chunked(values: Iterable[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, in their order; duplicates kept."""
    if size < 1:
        raise ValueError("size must be >= 1")
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def select_in(
    session: Session,
    statement: Callable[[Sequence[Any]], Select[Any]],
    values: Iterable[Any],
    size: int = IN_BATCH,
) -> list[Any]:
    """Every scalar ``statement(chunk)`` returns, for each chunk of the distinct ``values``.

    ``statement`` builds the query for one chunk, e.g.
    ``lambda chunk: select(Participant).where(Participant.reference.in_(chunk))``.
    """
    found: list[Any] = []
    for chunk in chunked(sorted(set(values)), size):
        found.extend(session.scalars(statement(chunk)))
    return found


def stream_rows(session: Session, statement: Any) -> Iterator[Any]:
    """The rows of a large result a thousand at a time, as the driver gives them: the
    session's ``execute`` would first build every row of the result as a Python object (10^5
    clauses). Streamed (a server-side cursor on PostgreSQL): psycopg would otherwise receive
    the whole result before the first row, tens of MB for 10^5 clauses."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # A cursor is planned to give its first rows fast (``cursor_tuple_fraction`` 0.1):
        # nested loops over 10^5 clauses, twice as slow as the plan of the whole result.
        connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    result = connection.execute(statement, execution_options={"yield_per": 1000})
    for rows in result.partitions():
        yield from rows
