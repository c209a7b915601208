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
