"""The final reports the buyer was told and the lot's figures changed since: closing is refused
until the report is recorded again (``services.clauses``'s guard, ``ClauseFacts
.final_report_outdated_by``), and the day's tasks list them (« Bilans à mettre à jour »,
``services.digest``) so that the facilitator learns it before she tries to close.

Both read the same rule: the lot's last report (its ``final_report`` history row), its notice
under the key the notice has (``report_notices``) in one of the states ``REPORT_TOLD``, and a
history row of ``domain.report_changes.FIGURE_EVENTS`` after it in the history's order (instant,
then row)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, literal, or_, select, text, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from workflow.adapters.orm import Clause, ClauseHistory, OutboxMessage
from workflow.domain.report_changes import FIGURE_EVENTS, FINAL_REPORT_EVENT, figure_changes
from workflow.domain.stages import Stage
from workflow.emails.envelope import OutboxState

#: The kind of the buyer's notice of a final report (``services.notices.FINAL_REPORT_NOTICE``).
REPORT_NOTICE_KIND = "notice_final_report"

#: A report's notice in these states reached the buyer, or may have (on the wire, uncertain):
#: a report recorded again says it replaces that one (``notices.report_replaced``).
REPORT_LEFT = tuple(
    state.value for state in (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNCERTAIN)
)
#: A report's notice in these states reached the buyer, may have, or may still leave as it was
#: written (refused or given up: « Renvoyer » sends it as it is; the closure writes again only
#: one waiting): its figures outdated, the report is to be recorded again.
REPORT_TOLD = (*REPORT_LEFT, OutboxState.FAILED.value, OutboxState.DEAD.value)


#: The predicates of the partial indexes this reads (migration 0027: ``ix_clauses_reported``,
#: ``ix_clause_history_reports``, ``ix_outbox_report_notices``), written as in their
#: definitions (``adapters.orm``): SQLite uses a partial index only for a WHERE term identical
#: to its own, and PostgreSQL's plan for a parameter (``stage = $1``) cannot use one at all.
REPORTED_LOTS = f"stage = '{Stage.FOLLOW_UP.value}' AND final_report_at IS NOT NULL"
REPORT_ROWS = f"event = '{FINAL_REPORT_EVENT}'"
REPORT_NOTICES = f"kind = '{REPORT_NOTICE_KIND}'"


def report_notice_key(clause_id: int, history_id: int) -> str:
    """The key of the notice of the report recorded by history row ``history_id``; one written
    again from it adds ``@<instant>``."""
    return f"notice:{clause_id}:{REPORT_NOTICE_KIND}:h{history_id}"


def report_notices(clause_id: Any, history_id: Any) -> ColumnElement[bool]:
    """SQL: an outbox row is a notice of the report recorded by history row ``history_id`` of
    lot ``clause_id``, under its key or one written again from it, whatever its state. Both
    given as numbers (the closure guard) or as columns (the day's tasks, for every lot)."""
    if isinstance(clause_id, int) and isinstance(history_id, int):
        key: Any = literal(report_notice_key(clause_id, history_id))
    else:
        key = (
            literal("notice:")
            + cast(clause_id, String)
            + literal(f":{REPORT_NOTICE_KIND}:h")
            + cast(history_id, String)
        )
    return and_(
        OutboxMessage.clause_id == clause_id,
        OutboxMessage.kind == REPORT_NOTICE_KIND,
        or_(OutboxMessage.key == key, OutboxMessage.key.like(key + literal("@%"))),
    )


def report_told(session: Session, clause_id: int, history_id: int, *, lock: bool) -> bool:
    """Whether the notice of that report left, may have, or may still leave as written. With
    ``lock``, every notice of it is locked, those waiting too: a dispatcher cannot take one
    between this answer and a closure that writes it again (``FOR UPDATE SKIP LOCKED``)."""
    statement = select(OutboxMessage.state).where(report_notices(clause_id, history_id))
    if lock:
        statement = statement.with_for_update()
    return any(state in REPORT_TOLD for state in session.scalars(statement))


@dataclass(frozen=True)
class OutdatedReport:
    clause_id: int
    report_id: int  # its history row
    report_at: datetime  # the instant it was recorded
    #: Whether a notice of it reached the buyer or may have (``REPORT_LEFT``); False when every
    #: one failed or is dead: the buyer never read it, and the new one replaces nothing.
    reached: bool = True


def outdated_reports(session: Session) -> list[OutdatedReport]:
    """Every lot in follow-up whose last report the buyer was told and whose figures changed
    since, in one query that looks only at the lots in follow-up with a report recorded
    (``ix_clauses_reported``): each one's last report read from its reports alone
    (``ix_clause_history_reports``), the rows after it from the newest end of its history
    (``ix_clause_history_latest``), its report's notices from their own index
    (``ix_outbox_report_notices``). At 10^5 lots on PostgreSQL: 0.04 ms with none (18 ms before
    migration 0027, every lot in follow-up read), 35 ms for 2,000 lots with a report."""
    # The lot's last report, from the newest end of its reports (``REPORT_ROWS``: only the
    # inner ``clause_history`` has an ``event`` in scope).
    last = (
        select(ClauseHistory.id)
        .where(ClauseHistory.clause_id == Clause.id, text(REPORT_ROWS))
        .order_by(ClauseHistory.at.desc(), ClauseHistory.id.desc())
        .limit(1)
        .correlate(Clause)
        .scalar_subquery()
    )
    report = aliased(ClauseHistory, name="report")
    change = aliased(ClauseHistory, name="change")
    changed = (
        select(change.id)
        .where(
            change.clause_id == report.clause_id,
            tuple_(change.at, change.id) > tuple_(report.at, report.id),
            change.event.in_(FIGURE_EVENTS),
        )
        .exists()
    )
    told = (
        select(OutboxMessage.id)
        .where(
            text(REPORT_NOTICES),
            report_notices(report.clause_id, report.id),
            OutboxMessage.state.in_(REPORT_TOLD),
        )
        .exists()
    )
    reached = (
        select(OutboxMessage.id)
        .where(
            text(REPORT_NOTICES),
            report_notices(report.clause_id, report.id),
            OutboxMessage.state.in_(REPORT_LEFT),
        )
        .exists()
    )
    statement = (
        select(Clause.id, report.id, report.at, reached)
        .join(report, report.id == last)
        .where(text(REPORTED_LOTS), changed, told)
    )
    return [
        OutdatedReport(cid, rid, at, bool(left))
        for cid, rid, at, left in session.execute(statement)
    ]


def changes_since(
    session: Session, reports: Iterable[OutdatedReport]
) -> dict[int, tuple[str, ...]]:
    """By lot: what changed its figures since its report (« déclaration mensuelle »…), for the
    lots whose task is written: one query a thousand lots, in the history's order."""
    ids = sorted({report.report_id for report in reports})
    report = aliased(ClauseHistory, name="report")
    events: dict[int, list[str]] = {}
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(ClauseHistory.clause_id, ClauseHistory.event)
            .join(report, report.clause_id == ClauseHistory.clause_id)
            .where(
                report.id.in_(ids[start : start + 1000]),
                tuple_(ClauseHistory.at, ClauseHistory.id) > tuple_(report.at, report.id),
                ClauseHistory.event.in_(FIGURE_EVENTS),
            )
            .order_by(ClauseHistory.clause_id, ClauseHistory.at, ClauseHistory.id)
        )
        for clause_id, event in rows:
            events.setdefault(clause_id, []).append(event)
    return {clause_id: figure_changes(found) for clause_id, found in events.items()}
