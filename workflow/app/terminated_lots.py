"""Which of the lots a listing shows were ended by a termination (« marché résilié »), in one
query: the board's cards and ``clause list`` say « résilié le 15/11/2026 » beside the stage, so a
terminated lot never reads as one whose work simply finished.

A lot is terminated when it is past the end of its works (follow-up or closed), has an end date,
and its history holds the termination's row (``domain.terminations``): the date said is the end
as it stands (an end corrected since is the termination date corrected), as ``clause show`` and
the lot's page say it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH
from workflow.adapters.orm import Clause, ClauseHistory
from workflow.app.unit import reading
from workflow.domain.stages import ClauseEvent, Stage
from workflow.domain.terminations import Termination, reason_of
from workflow.runtime import App

#: The stages a terminated lot may be in (its termination stands until it is closed).
ENDED_STAGES = (Stage.FOLLOW_UP.value, Stage.CLOSED.value)


def terminated_among(session: Session, ids: Collection[int]) -> dict[int, Termination]:
    """The lots of ``ids`` ended by a termination, with its date and reason, in one query
    whatever their number: a page of cards names its lots; a longer list (``clause list``, every
    lot) reads the terminated lots of the territory, a few, and keeps those listed."""
    wanted = set(ids)
    if not wanted:
        return {}
    statement = (
        select(Clause.id, Clause.end_date, ClauseHistory.reason)
        .join(ClauseHistory, ClauseHistory.clause_id == Clause.id)
        .where(
            Clause.stage.in_(ENDED_STAGES),
            Clause.end_date.is_not(None),
            ClauseHistory.event == ClauseEvent.TERMINATE.value,
        )
        # Oldest first: a lot's latest termination row is the one kept.
        .order_by(ClauseHistory.at, ClauseHistory.id)
    )
    if len(wanted) <= IN_BATCH:
        statement = statement.where(Clause.id.in_(sorted(wanted)))
    found: dict[int, Termination] = {}
    for clause_id, end, text in session.execute(statement):
        reason = reason_of(text)
        if clause_id in wanted and reason is not None and end is not None:
            found[clause_id] = Termination(end, reason)
    return found


def terminated_lots(app: App, ids: Collection[int]) -> dict[int, Termination]:
    """``terminated_among`` in a reading of its own (``clause list``)."""
    if not ids:
        return {}
    with reading(app) as session:
        return terminated_among(session, ids)
