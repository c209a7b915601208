"""Which of the lots a listing shows were ended by a termination (« marché résilié »), in one
query: the board's cards and ``clause list`` say « résilié le 15/11/2026 » beside the stage, so a
terminated lot never reads as one whose work simply finished.

A lot is terminated when it is past the end of its works (follow-up or closed), has an end date,
and its history holds the termination's row (``services.terminations.terminated_lots``, the
query the monthly summaries read too): the date said is the end as it stands (an end corrected
since is the termination date corrected), as ``clause show`` and the lot's page say it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from workflow.adapters.batching import IN_BATCH
from workflow.app.unit import reading
from workflow.domain.terminations import Termination
from workflow.runtime import App
from workflow.services.terminations import terminated_lots as terminated_rows


def terminated_among(session: Session, ids: Collection[int]) -> dict[int, Termination]:
    """The lots of ``ids`` ended by a termination, with its date and reason, in one query
    whatever their number: a page of cards names its lots; a longer list (``clause list``, every
    lot) reads the terminated lots of the territory, a few, and keeps those listed."""
    wanted = set(ids)
    named = sorted(wanted) if len(wanted) <= IN_BATCH else None
    return {
        clause_id: lot.termination
        for clause_id, lot in terminated_rows(session, wanted, named).items()
    }


def terminated_lots(app: App, ids: Collection[int]) -> dict[int, Termination]:
    """``terminated_among`` in a reading of its own (``clause list``)."""
    if not ids:
        return {}
    with reading(app) as session:
        return terminated_among(session, ids)
