"""Every clause's history is a chain of the stage machine's transitions: it starts with the
identification and ends at the clause's current stage; rows that record an action without moving
the clause (award recorded or corrected, declaration recorded or cancelled, calendar, outcome,
hours...) keep the stage they found. An abandon undone (« reopen ») goes back to the stage the
clause was abandoned from (``reopened_stage``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import Clause, ClauseHistory
from workflow.domain.stages import (
    LABELS,
    REOPEN,
    TRANSITIONS,
    ClauseEvent,
    Stage,
    reopened_stage,
)
from workflow.errors import TransitionRefused
from workflow.services.audit.findings import CHECK_HISTORY, Finding

#: The history event that opens every clause's history (``create_clause``).
FIRST_EVENT = "identify"


def _stage_label(code: str | None) -> str:
    if code is None:
        return "aucune"
    try:
        return LABELS[Stage(code)]
    except ValueError:
        return f"{code} (inconnue)"


# --- 1. Histories -----------------------------------------------------------------------------


def _reopen_problem(row: ClauseHistory, where: str, abandoned_from: str | None) -> str | None:
    """An abandon undone goes from « abandonnée » back to the stage of the last abandon."""
    try:
        target = reopened_stage(where, Stage(row.from_stage or ""), abandoned_from)
    except (TransitionRefused, ValueError):
        target = None
    if target is None or target.value != row.to_stage:
        return (
            f"{where} : réouverture de « {_stage_label(row.from_stage)} » vers « "
            f"{_stage_label(row.to_stage)} », alors que la clause avait été abandonnée à "
            f"l'étape « {_stage_label(abandoned_from)} »"
        )
    return None


def _row_problem(
    row: ClauseHistory, stage: str | None, abandoned_from: str | None = None
) -> str | None:
    """What is wrong with ``row`` following a history that left the clause at ``stage`` (and,
    for an abandon undone, that last abandoned it from ``abandoned_from``)."""
    where = f"ligne d'historique n° {row.id} ({row.event}, {row.at:%d/%m/%Y %H:%M})"
    if stage is None:
        if row.event != FIRST_EVENT or row.from_stage is not None:
            return f"{where} : l'historique ne commence pas par le repérage de la clause"
        if row.to_stage != Stage.IDENTIFICATION.value:
            return f"{where} : le repérage mène à « {_stage_label(row.to_stage)} »"
        return None
    if row.from_stage != stage:
        return (
            f"{where} : part de l'étape « {_stage_label(row.from_stage)} » alors que la clause "
            f"était à « {_stage_label(stage)} » (une ligne manque ou a été changée)"
        )
    if row.event == REOPEN:
        return _reopen_problem(row, where, abandoned_from)
    try:
        event: ClauseEvent | None = ClauseEvent(row.event)
    except ValueError:
        event = None
    if event is None:
        if row.to_stage != row.from_stage:
            return (
                f"{where} : l'action « {row.event} » change l'étape de « "
                f"{_stage_label(row.from_stage)} » à « {_stage_label(row.to_stage)} », ce "
                "qu'aucune transition ne permet"
            )
        return None
    try:
        rule = TRANSITIONS.get((Stage(stage), event))
    except ValueError:
        rule = None
    if rule is None or rule[0].value != row.to_stage:
        return (
            f"{where} : passage de « {_stage_label(row.from_stage)} » à « "
            f"{_stage_label(row.to_stage)} » par « {row.event} », transition non permise"
        )
    return None


def check_histories(session: Session) -> tuple[int, list[Finding]]:
    rows: dict[int, list[ClauseHistory]] = defaultdict(list)
    for row in session.scalars(select(ClauseHistory).order_by(ClauseHistory.at, ClauseHistory.id)):
        rows[row.clause_id].append(row)
    findings: list[Finding] = []
    clauses = session.execute(select(Clause.id, Clause.stage).order_by(Clause.id)).all()
    for clause_id, current in clauses:
        subject = f"Clause n° {clause_id}"
        history = rows.get(clause_id, [])
        if not history:
            findings.append(Finding(CHECK_HISTORY, subject, "aucun historique"))
            continue
        stage: str | None = None
        abandoned_from: str | None = None
        for row in history:
            problem = _row_problem(row, stage, abandoned_from)
            if problem is not None:
                findings.append(Finding(CHECK_HISTORY, subject, problem))
            if row.event == ClauseEvent.ABANDON.value:
                abandoned_from = row.from_stage
            stage = row.to_stage
        if stage != current:
            findings.append(
                Finding(
                    CHECK_HISTORY,
                    subject,
                    f"l'historique finit à l'étape « {_stage_label(stage)} » mais la clause est "
                    f"à « {_stage_label(current)} »",
                )
            )
    return len(clauses), findings
