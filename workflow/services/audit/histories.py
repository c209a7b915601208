"""Every clause's history is a chain of the stage machine's transitions: it starts with the
identification and ends at the clause's current stage; rows that record an action without moving
the clause (award recorded or corrected, declaration recorded or cancelled, calendar, outcome,
hours...) keep the stage they found. An abandon undone (« reopen ») goes back to the stage the
clause was abandoned from (``reopened_stage``).

The chain is read in the order of every reader of « the stage of a lot at an instant » (the
summaries, the notices, the reports): by instant, then N°. Written by ``clauses.add_history``,
that order is the order the rows were written, whatever the clocks of the instances
(``clauses.history_instant``). Rows written before that rule by an instance whose clock was
behind another's can be dated before rows written earlier: a chain broken by such a pair says
so (« écrite après elle mais datée avant ... horloges »), rather than « une ligne manque »."""

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
    row: ClauseHistory, stage: str | None, abandoned_from: str | None = None, clocks: str = ""
) -> str | None:
    """What is wrong with ``row`` following a history that left the clause at ``stage`` (and,
    for an abandon undone, that last abandoned it from ``abandoned_from``). ``clocks``: the
    ``_clock_note`` of the row, the likely cause of a chain broken around it."""
    where = f"ligne d'historique n° {row.id} ({row.event}, {row.at:%d/%m/%Y %H:%M})"
    if stage is None:
        if row.event != FIRST_EVENT or row.from_stage is not None:
            return f"{where} : l'historique ne commence pas par le repérage de la clause{clocks}"
        if row.to_stage != Stage.IDENTIFICATION.value:
            return f"{where} : le repérage mène à « {_stage_label(row.to_stage)} »"
        return None
    if row.from_stage != stage:
        return (
            f"{where} : part de l'étape « {_stage_label(row.from_stage)} » alors que la clause "
            f"était à « {_stage_label(stage)} »"
            + (clocks or " (une ligne manque ou a été changée)")
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


def _clock_note(history: list[ClauseHistory], index: int) -> str:
    """Why the row at ``index`` (of ``history``, by instant then N°) may not follow the one
    before it: a row written after it but dated before, or written before it but dated after
    (the instances' clocks disagreed); "" when every row around it is in its writing order."""
    row = history[index]
    for other in reversed(history[:index]):
        if other.id > row.id:
            return (
                f" ; la ligne n° {other.id} ({other.event}, {other.at:%d/%m/%Y %H:%M}) a été "
                "écrite après elle mais datée avant : les horloges des instances qui les ont "
                "écrites ne concordaient pas"
            )
    for other in history[index + 1 :]:
        if other.id < row.id:
            return (
                f" ; la ligne n° {other.id} ({other.event}, {other.at:%d/%m/%Y %H:%M}) a été "
                "écrite avant elle mais datée après : les horloges des instances qui les ont "
                "écrites ne concordaient pas"
            )
    return ""


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
        for index, row in enumerate(history):
            problem = _row_problem(row, stage, abandoned_from)
            if problem is not None:  # only then the clocks are looked at (a scan of the lot)
                problem = _row_problem(row, stage, abandoned_from, _clock_note(history, index))
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
