"""« Résilier »: the contract of a lot terminated during the works, from the lot's web page, and
how a lot terminated is said on its page and in the command line's show.

``clause advance N resilier --end-date … --reason …`` goes through ``clauses.advance_clause`` as
any event; the web page's « Étape suivante » offers it beside the next stage, with its date and
reason (``terminate_from_page``), checked against the stage the page showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from workflow.adapters.orm import Clause
from workflow.app.clause_views import HistoryRow
from workflow.app.clauses import Advanced, advance_clause
from workflow.app.unit import reading
from workflow.domain.stages import LABELS, ClauseEvent, Stage
from workflow.domain.terminations import Termination, termination_in
from workflow.errors import NotFound, TransitionRefused
from workflow.runtime import App

#: What the page's form calls the termination's date and reason, as its refusals name them.
DATE_FIELD = "Date de résiliation"
#: The stages a lot may be terminated from (``domain.stages.TRANSITIONS``).
FROM_STAGES = frozenset({Stage.EXECUTION, Stage.SUSPENDED})


def terminate_from_page(
    app: App,
    clause_id: int,
    *,
    seen_stage: str,
    end_date: date | None,
    reason: str,
    actor: str,
) -> Advanced:
    """Terminate the lot's contract, provided it is still at ``seen_stage`` (the stage its page
    showed): a form sent twice, or after someone else moved it, does nothing."""
    with reading(app) as session:
        stage = session.scalar(select(Clause.stage).where(Clause.id == clause_id))
    if stage is None:
        raise NotFound(f"Clause n° {clause_id} introuvable.")
    if seen_stage != stage:
        raise TransitionRefused(
            f"La clause n° {clause_id} est passée à l'étape «\u00a0{LABELS[Stage(stage)]}\u00a0» "
            "depuis que sa page a été affichée\u00a0: rien n'a été fait. Rechargez la page pour "
            "voir où elle en est."
        )
    return advance_clause(
        app,
        clause_id,
        ClauseEvent.TERMINATE,
        reason=reason.strip() or None,
        end_date=end_date,
        actor=actor,
        end_field=DATE_FIELD,
    )


def termination_shown(
    stage: Stage, history: Sequence[HistoryRow], end_date: date | None
) -> Termination | None:
    """The termination of a lot ended by one, from its history as ``clause show`` holds it."""
    if stage not in (Stage.FOLLOW_UP, Stage.CLOSED):
        return None
    ordered = sorted(history, key=lambda row: row.at)
    return termination_in([(row.event, row.reason) for row in ordered], end_date)
