"""A contract terminated during the works (« marché résilié », event ``terminate``), read back.

The termination ends the lot as a finish does (its date is the lot's end date: the months after
it are released, those before it still owed), but what everybody reads must say it was
terminated, with its reason: the buyer's end notice and final report, the companies' email, the
lot's page and listings. Its history row holds it (``domain.terminations``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, ClauseHistory
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.terminations import Termination, reason_of, termination_reason

#: The stages a terminated lot may be in (its termination stands until it is closed).
ENDED_STAGES = frozenset({Stage.FOLLOW_UP.value, Stage.CLOSED.value})

__all__ = [
    "TerminatedLot",
    "Termination",
    "terminated_lots",
    "termination_of",
    "termination_reason",
    "terminations_of",
]


def termination_of(session: Session, clause: Clause) -> Termination | None:
    """The termination of a lot ended by one (follow-up or closed), else None."""
    return terminations_of(session, [clause]).get(clause.id)


def terminations_of(session: Session, clauses: list[Clause]) -> dict[int, Termination]:
    """``termination_of`` for many lots in one query (the listings)."""
    ended = {c.id: c for c in clauses if c.stage in ENDED_STAGES and c.end_date is not None}
    if not ended:
        return {}
    found: dict[int, Termination] = {}
    for clause_id, text in session.execute(
        select(ClauseHistory.clause_id, ClauseHistory.reason)
        .where(
            ClauseHistory.clause_id.in_(sorted(ended)),
            ClauseHistory.event == ClauseEvent.TERMINATE.value,
        )
        .order_by(ClauseHistory.at, ClauseHistory.id)
    ):
        reason = reason_of(text)
        end = ended[clause_id].end_date
        if reason is not None and end is not None:
            found[clause_id] = Termination(end, reason)
    return found


@dataclass(frozen=True)
class TerminatedLot:
    """A lot ended by a termination, as its readers need it: the termination day (its end as it
    stands) and reason (``termination``: the board and ``clause list``), its planned end (the
    time the monthly summaries count its pace against) and when the termination was recorded
    (its history row: ``at``, ``history_id``)."""

    on: date
    reason: str
    planned_end: date | None
    at: datetime
    history_id: int

    @property
    def termination(self) -> Termination:
        """The termination as the lot's page and listings say it (« résilié le … »)."""
        return Termination(self.on, self.reason)


def terminated_lots(
    session: Session, clause_ids: Collection[int], among: Any | None = None
) -> dict[int, TerminatedLot]:
    """The terminated lots among ``clause_ids`` (``termination_of``'s rule: ended, follow-up or
    closed, with an end date and a termination row, the latest kept), in one query over the
    lots ended that have a termination row (the partial index ``ix_clause_history_terminations``
    holds those rows alone): a handful among thousands, so the ids asked for are filtered here
    rather than sent to the database. ``among``: the clause ids the database reads only, a
    subquery (one buyer's lots, the monthly summaries) or a short list (a page of the board,
    ``app.terminated_lots``); filtered here all the same."""
    wanted = set(clause_ids)
    if not wanted:
        return {}
    statement = (
        select(
            ClauseHistory.clause_id,
            ClauseHistory.reason,
            ClauseHistory.at,
            ClauseHistory.id,
            Clause.end_date,
            Clause.planned_end_date,
        )
        .join(Clause, Clause.id == ClauseHistory.clause_id)
        .where(
            ClauseHistory.event == ClauseEvent.TERMINATE.value,
            Clause.stage.in_(sorted(ENDED_STAGES)),
            Clause.end_date.is_not(None),
        )
        # Oldest first: a lot's latest termination row is the one kept.
        .order_by(ClauseHistory.at, ClauseHistory.id)
    )
    if among is not None:
        statement = statement.where(ClauseHistory.clause_id.in_(among))
    found: dict[int, TerminatedLot] = {}
    for clause_id, text, at, history_id, end, planned in session.execute(statement):
        reason = reason_of(text)
        if clause_id in wanted and end is not None and reason is not None:
            found[clause_id] = TerminatedLot(end, reason, planned, at, history_id)
    return found
